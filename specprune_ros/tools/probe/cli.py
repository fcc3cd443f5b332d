r"""``specprune-probe``: measure SpecPrune-VLA's premises on a checkpoint, open loop.

Run this before you prune on your robot: it tells whether the visual tokens of *this*
checkpoint are redundant (the paper's Fig. 3e), whether its early-layer attention predicts the
last layer's (Fig. 5), whether importance is consistent over time (Fig. 4), and whether
attention-ranked tokens matter more than random ones, with the error every signal's tokens
cause against the unpruned chunk and SpecPrune's own configurations along each episode.

Examples::

    specprune-probe --model models/libero_spatial_demo --tasks 0 --init-states 40 \\
        --json out/probe.json
    specprune-probe --checkpoint /ckpt/openvla-7b-oft-finetuned-libero-spatial \\
        --unnorm-key libero_spatial_no_noops --device cuda --tasks 0-9 --init-states 0
    specprune-probe --model DIR --hdf5 demos.hdf5
    specprune-probe --model DIR --recording run.mcap --instruction "pick up the bowl"

Writes ``--out``: report.md (one verdict per premise), summary.json, queries.jsonl,
errors.png and hit_rate.png. See docs/probe.md.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys
import time

from specprune_ros.errors import SpecPruneError
from specprune_ros.sim.cli import parse_ids
from specprune_ros.sim.config import MAX_STEPS
from specprune_ros.tools.eval.cli import add_model_arguments, model_spec

log = logging.getLogger('specprune_probe')


def build_parser() -> argparse.ArgumentParser:
    """The command line (building it loads nothing)."""
    p = argparse.ArgumentParser(prog='specprune-probe', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:1' or 'auto'")
    source = p.add_mutually_exclusive_group()
    source.add_argument('--hdf5', nargs='+', type=Path, metavar='FILE',
                        help='LIBERO-layout HDF5 demonstrations instead of rollouts')
    source.add_argument('--recording', type=Path, metavar='BAG_OR_DIR',
                        help='a rosbag2/MCAP recording (or image folder) instead of rollouts')
    p.add_argument('--suite', default='libero_spatial', choices=sorted(MAX_STEPS))
    p.add_argument('--tasks', type=parse_ids, default=[0], help="rollouts: '0', '0-1', '0,3'")
    p.add_argument('--init-states', type=parse_ids, default=[40, 41, 42],
                   help='rollouts: initial states (default 40-42, never trained on here)')
    p.add_argument('--max-steps', type=int, default=None, help='rollouts: step limit')
    p.add_argument('--render-size', type=int, default=None,
                   help="rollouts: render size (default: the model's training demos, else 256)")
    p.add_argument('--fast-render', action=argparse.BooleanOptionalAction, default=None)
    p.add_argument('--every', type=int, default=8, help='hdf5/recording: a query every N steps')
    p.add_argument('--instruction', default=None, help='recording: the task text')
    p.add_argument('--ks', type=parse_ids, default=None,
                   help='kept-token counts (default 32,64,128,192,256,384,448)')
    p.add_argument('--configs', nargs='*', default=['specprune'],
                   help='SpecPrune configurations run along each episode (specprune-eval '
                   'names, e.g. specprune specprune:alpha=0.8 static_only)')
    p.add_argument('--random-draws', type=int, default=3)
    p.add_argument('--attribution', type=int, default=3,
                   help='random output projections of the attribution reference (0: none)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    p.add_argument('--out', type=Path, default=Path('out/probe'))
    p.add_argument('--json', type=Path, default=None, help='also write the summary here')
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the report was written, 2 for an unusable request."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    try:
        return _run(args)
    except (SpecPruneError, OSError, ValueError) as exc:
        log.error('specprune-probe: %s', exc)
        return 2


def _run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from specprune_ros.errors import InputError
    from specprune_ros.tools.eval.configs import parse_configs
    from specprune_ros.tools.eval.runner import load_policy_from
    from specprune_ros.tools.probe import report, run

    for path in [*(args.hdf5 or []), *([args.recording] if args.recording else [])]:
        if not Path(path).exists():
            raise InputError(f'{path} does not exist')
    if args.checkpoint and not Path(args.checkpoint).is_dir():
        raise InputError(f'--checkpoint {args.checkpoint} is not a folder')
    if args.model and not (Path(args.model) / 'config.json').is_file():
        raise InputError(f'--model {args.model}: no config.json there')
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = parse_configs(args.configs, args.suite) if args.configs else []
    wrong = [c.label for c in configs if c.baseline is not None or c.is_unpruned]
    if wrong:
        raise InputError(f'--configs takes SpecPrune configurations only, not {wrong}')
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    policy = load_policy_from(model_spec(args), device)
    static_layer = configs[0].pruner.static_layer if configs else 2
    settings = run.ProbeSettings(ks=tuple(args.ks or run.DEFAULT_KS), static_layer=static_layer,
                                 random_draws=args.random_draws, attribution=args.attribution)
    n = policy.cfg.num_views * policy.cfg.patches_per_view
    if max(settings.ks) > n:
        raise InputError(f'--ks {max(settings.ks)} is larger than the {n} visual tokens')
    if args.hdf5:
        queries, title = run.hdf5_queries(args.hdf5, args.every,
                                          image_size=policy.cfg.image_size), 'HDF5 demos'
    elif args.recording:
        queries = run.recording_queries(args.recording, args.instruction, args.every,
                                        policy.cfg.proprio_dim)
        title = str(args.recording)
    else:
        from specprune_ros.tools.train.data import render_for

        render = render_for(args.model, args.render_size, args.fast_render, (256, False))
        queries = run.rollout_queries(policy, args.suite, args.tasks, args.init_states,
                                      args.max_steps, render)
        title = f'{args.suite} tasks {args.tasks}, init states {args.init_states} (rollouts)'
    name = args.model or args.checkpoint or f'preset {args.model_preset or "tiny"}'
    t0 = time.perf_counter()
    with tqdm(desc='queries', unit='q', file=sys.stderr) as bar:
        records = run.measure(policy, queries, settings, configs, progress=bar.update)
    summary = report.summarize(records, settings.ks, n)
    summary['model'], summary['seconds'] = str(name), round(time.perf_counter() - t0, 1)
    paths = report.write(summary, records, args.out, f'{name}, {title}', args.json)
    for premise, v in summary['verdicts'].items():
        log.info('%-16s %s  %s', premise, 'holds' if v['holds'] else 'FAILS', v['figure'])
    log.info('%d queries in %.0f s; report: %s', summary['queries'], summary['seconds'],
             paths[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
