"""``specprune-demo``: SpecPrune-VLA on a synthetic moving sequence from the LIBERO fixture.

Runs the pruned engine and the plain policy side by side on every step and prints the mode,
the reference offset T, kept tokens per source and per layer, the FLOPs ratio and the LLM
time of both, then the action chunk of the last step and a summary per technique.
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
from collections.abc import Sequence
import logging

import numpy as np

from specprune_ros.errors import SpecPruneError
from specprune_ros.specprune.params import preset as suite_preset
from specprune_ros.specprune.params import PRESETS as SUITES
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.config import PRESETS
from specprune_ros.vla.report import StepReport

log = logging.getLogger('specprune_demo')


def format_chunk(actions: np.ndarray) -> str:
    """An H×D action chunk as an aligned table."""
    names = ('dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'grip')[:actions.shape[1]]
    head = '  step ' + ' '.join(f'{n:>8}' for n in names)
    rows = [f'  {h:>4} ' + ' '.join(f'{v:8.4f}' for v in row) for h, row in enumerate(actions)]
    return '\n'.join([head, *rows])


def contributions(report: StepReport) -> dict[str, int]:
    """Tokens each static source kept that no other source kept (and the overlap)."""
    sets = {'global': set(report.v_global.tolist()), 'dynamic': set(report.v_dynamic.tolist()),
            'local': set(report.v_local.tolist())}
    out = {name: len(s - set().union(*(o for n, o in sets.items() if n != name)))
           for name, s in sets.items()}
    out['shared'] = len(set().union(*sets.values())) - sum(out.values())
    return out


def summarize(rows: Sequence[tuple[StepReport, float]]) -> list[str]:
    """Summary lines: pruning before the first pruned layer per mode, contributions, speed."""
    lines = []
    for mode in ('coarse', 'fine'):
        sel = [r for r, _ in rows if r.mode == mode and r.step > 0]
        if sel:
            pruned = np.mean([1 - r.visual_kept / r.visual_tokens for r in sel])
            lines.append(f'{mode:>6}: {len(sel)} steps (first step excluded), '
                         f'{100 * pruned:.1f}% of visual tokens pruned by static pruning')
    contrib = np.mean([list(contributions(r).values()) for r, _ in rows[1:]], axis=0)
    lines.append('unique tokens per source (mean): global %.1f | dynamic %.1f | local %.1f | '
                 'kept by several %.1f' % tuple(contrib))
    speed = np.median([plain / r.llm_ms for r, plain in rows])
    lines.append(f'LLM speedup (median of per-step ratios, same inputs): {speed:.2f}x; '
                 f'FLOPs ratio {np.mean([r.flops_ratio for r, _ in rows]):.3f}')
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--preset', default='tiny', choices=sorted(PRESETS))
    parser.add_argument('--suite', default=None, choices=sorted(SUITES),
                        help='LIBERO suite preset of the pruner (alpha); default: schema')
    parser.add_argument('--steps', type=int, default=16)
    parser.add_argument('--fixture', default=None,
                        help='observation folder (default: ../shared/fixtures, else the sample in '
                        'specprune_ros/tools/sample)')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'auto'")
    parser.add_argument('--checkpoint', default=None,
                        help='OpenVLA-OFT checkpoint folder (default: the built-in --preset)')
    parser.add_argument('--unnorm-key', default=None, help='dataset statistics key')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from specprune_ros.specprune.engine import SpecPruneEngine  # torch: after --help
    from specprune_ros.tools.fixtures import load_observation
    from specprune_ros.tools.sequence import synthetic_sequence
    from specprune_ros.vla.policy import VLAPolicy

    try:
        if args.checkpoint:
            from specprune_ros.vla.checkpoint import load_policy
            policy, load_report = load_policy(args.checkpoint, unnorm_key=args.unnorm_key,
                                              device=args.device)
            log.info('%s', load_report.summary())
        else:
            policy = VLAPolicy.from_preset(args.preset, device=args.device)
    except (SpecPruneError, OSError, ValueError) as exc:
        log.error('specprune-demo: %s', exc)
        return 2
    cfg = suite_preset(args.suite) if args.suite else SpecPruneConfig()
    engine = SpecPruneEngine(policy, cfg)
    base = load_observation(args.fixture)
    seq = synthetic_sequence(base, args.steps, cfg.control_period)
    policy.predict_action_chunk(seq[0].observation)  # warm-up
    log.info('task: %s | model %s | alpha %.2f', base.instruction,
             args.checkpoint or args.preset, cfg.alpha)
    log.info('step phase mode    T global dynamic local kept/all  tokens per layer'
             '             FLOPs  LLM ms pruned/plain')
    rows, actions = [], None
    for item in seq:
        engine.update_pose(item.pose)
        actions, rep = engine.predict_action_chunk(item.observation)
        _, plain = policy.predict_action_chunk(item.observation)
        rows.append((rep, plain.llm_ms))
        log.info('%4d %-5s %-6s %2d %6d %7d %5d %4d/%d  %-28s %5.3f %7.1f/%.1f', rep.step,
                 item.phase, rep.mode, rep.reference_offset, rep.v_global.size,
                 rep.v_dynamic.size, rep.v_local.size, rep.visual_kept, rep.visual_tokens,
                 ','.join(map(str, rep.tokens_per_layer)), rep.flops_ratio, rep.llm_ms,
                 plain.llm_ms)
    log.info('last action chunk (%d x %d, un-normalised):\n%s', *actions.shape,
             format_chunk(actions))
    for line in summarize(rows):
        log.info('%s', line)
    return 0 if np.isfinite(actions).all() else 1


if __name__ == '__main__':
    raise SystemExit(main())
