r"""``specprune-eval``: closed-loop LIBERO success of pruned vs unpruned vs baselines.

Three modes:

* **run** (default): every configuration of ``--configs`` runs the same paired episodes
  (task, the benchmark's initial state ``trial``, seed) with OpenVLA-OFT's protocol
  (:mod:`specprune_ros.tools.eval.protocol`; with ``--via-executor`` the actions go through
  the chunk executor, :mod:`specprune_ros.tools.eval.executor`); episodes stream to
  ``OUT/episodes.jsonl`` (resumable), then the report is written
  (:mod:`specprune_ros.tools.eval.report`).
* ``--report DIR``: rebuild the tables and PNGs of a run from its JSONL.
* ``--replay BAG_OR_DIR``: offline fidelity on a recording, no simulator
  (:mod:`specprune_ros.tools.eval.replay`).

Example (CPU, built-in tiny model, a minute or two)::

    specprune-eval --suite libero_spatial --tasks 0 --trials 2 --max-steps 40 \
        --configs unpruned specprune random --out out/eval

See docs/eval.md for the GPU recipe that reproduces the paper's table.
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
import os
from pathlib import Path
import sys

from specprune_ros.errors import InputError, SpecPruneError
from specprune_ros.sim.config import MAX_STEPS
from specprune_ros.tools.eval.configs import DEFAULT_CONFIGS, NAMES
from specprune_ros.vla.config import PRESETS

log = logging.getLogger('specprune_eval')
_CONFIG_HELP = (f'configurations, each name[:key=value,...]; names: {", ".join(NAMES)}. '
                'E.g. unpruned specprune specprune:alpha=0.8 random:budget=match frame_diff '
                'attention_only static_only layer_level (see tools/eval/configs.py). '
                f'Default: {" ".join(DEFAULT_CONFIGS)}')


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (building it loads no model and no simulator)."""
    p = argparse.ArgumentParser(prog='specprune-eval', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument('--report', metavar='DIR', help='rebuild the report of a run folder')
    mode.add_argument('--replay', metavar='BAG_OR_DIR', help='offline fidelity on a recording')
    p.add_argument('--suite', default='libero_spatial', choices=sorted(MAX_STEPS))
    p.add_argument('--tasks', default='0-9', help="task ids: '0', '0-9', '0,3,5-7'")
    p.add_argument('--trials', type=int, default=50,
                   help='trials per task; trial i starts from init state i (OFT: 50)')
    p.add_argument('--first-trial', type=int, default=0,
                   help='first trial (init state); e.g. 40 evaluates on states a policy '
                        'trained on 0-39 never saw (OFT: 0)')
    p.add_argument('--max-steps', type=int, default=None,
                   help='control steps per episode after the wait (default: the suite limit, '
                        'spatial 220, object 280, goal 300, libero_10 520)')
    p.add_argument('--open-loop-steps', type=int, default=8,
                   help="actions executed per query (OFT's num_open_loop_steps)")
    p.add_argument('--via-executor', action='store_true',
                   help="run the actions through the project's chunk executor in simulated "
                        "time, set up as the main job's (instead of OFT's open loop; "
                        'inference takes zero sim time; docs/eval.md)')
    p.add_argument('--executor-params', default='', metavar='KEY=VALUE,...',
                   help='with --via-executor: executor parameters over the main job\'s, e.g. '
                        'blend=latest,request_at_remaining=2 (config/executor.yaml)')
    add_model_arguments(p)
    p.add_argument('--device', default='auto', help="'cpu', 'cuda', 'cuda:1' or 'auto'")
    p.add_argument('--configs', nargs='+', default=list(DEFAULT_CONFIGS), help=_CONFIG_HELP)
    p.add_argument('--seed', type=int, default=7, help='episode seed (OFT: 7)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='worker processes, one env + one model each (default: core count)')
    p.add_argument('--threads', type=int, default=0,
                   help='torch threads per worker (default: cores // workers)')
    p.add_argument('--ray', nargs='?', const='local', default=None, metavar='ADDRESS',
                   help="run the workers as Ray actors: no ADDRESS starts a local Ray, 'auto' "
                   "joins this machine's cluster, or give the head's address (docs/eval.md)")
    p.add_argument('--gpus-per-worker', type=float, default=0.0,
                   help='with --ray: GPU share of each worker (0.25: four workers per GPU)')
    p.add_argument('--render-size', type=int, default=None,
                   help="render side before OFT's JPEG + Lanczos resize to 224 (OFT: 256); "
                        "default: as a --model's training demos (its data.json), else 256")
    p.add_argument('--fast-render', action=argparse.BooleanOptionalAction, default=None,
                   help='no MSAA/reflections (faster; frames differ from real LIBERO); '
                        "default: as a --model's training demos, else off")
    p.add_argument('--video', type=int, default=0, metavar='K',
                   help='MP4 (GIF without ffmpeg) of the first K episodes per configuration')
    p.add_argument('--out', default='eval_out', help='output folder (resumable)')
    rep = p.add_argument_group('--replay options')
    for role in ('third-person', 'wrist', 'pose', 'instruction'):
        rep.add_argument(f'--{role}-topic', default=None, help=f'{role} topic of the bag')
    rep.add_argument('--instruction', default=None, help='task text (overrides the recording)')
    rep.add_argument('--slop', type=float, default=0.02, help='image pairing tolerance [s]')
    p.add_argument('-v', '--verbose', action='store_true')
    return p


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Which policy: --checkpoint (with --unnorm-key), --model or --model-preset."""
    model = p.add_mutually_exclusive_group()
    model.add_argument('--checkpoint', metavar='DIR', help='OpenVLA-OFT checkpoint folder')
    model.add_argument('--model-preset', '--preset', dest='model_preset', default=None,
                       choices=sorted(PRESETS),
                       help='built-in random-initialised model (default: tiny)')
    model.add_argument('--model', metavar='DIR', help='built-in model saved with model_io')
    p.add_argument('--unnorm-key', default=None, help='dataset statistics key (--checkpoint)')


def model_spec(args: argparse.Namespace) -> dict[str, object]:
    """``RunSpec.model`` of the arguments of :func:`add_model_arguments`."""
    if args.checkpoint:
        return {'checkpoint': str(Path(args.checkpoint).resolve()),
                'unnorm_key': args.unnorm_key}
    if args.model:
        return {'model': str(Path(args.model).resolve())}
    return {'preset': args.model_preset or 'tiny'}


def _run(args: argparse.Namespace) -> int:
    if (args.gpus_per_worker and args.ray is None) or args.gpus_per_worker < 0:
        raise InputError('--gpus-per-worker needs --ray and must be >= 0')
    if args.ray is not None:
        from specprune_ros.tools.eval.ray_backend import ray_missing

        if ray_missing():  # before the simulator is imported: one line, nothing else
            raise InputError(ray_missing())
    from specprune_ros.sim.env import task_info
    from specprune_ros.tools.eval.configs import parse_configs
    from specprune_ros.tools.eval.executor import executor_config, parse_executor_params
    from specprune_ros.tools.eval.protocol import (
        episode_plan,
        parse_tasks,
        RENDER_SIZE,
        sim_config,
    )
    from specprune_ros.tools.eval.report import overall_table, write_report
    from specprune_ros.tools.eval.runner import run_eval, RunSpec
    from specprune_ros.tools.train.data import render_for

    configs = parse_configs(args.configs, args.suite)  # errors before anything starts
    given = args.render_size
    size, args.fast_render = render_for(args.model, given, args.fast_render,
                                        (RENDER_SIZE, False))
    args.render_size = size if given is not None else size or 224  # model's 0: 224 directly
    tasks = parse_tasks(args.tasks)
    n_init = min(task_info(args.suite, t).n_init_states for t in tasks)
    keys = episode_plan(tasks, args.trials, args.seed, n_init, args.first_trial)
    sim_config(args.suite, keys[0], args.max_steps, args.render_size)  # validates the sizes
    if args.open_loop_steps < 1 or args.video < 0:
        raise InputError('--open-loop-steps must be >= 1 and --video >= 0')
    if args.executor_params and not args.via_executor:
        raise InputError('--executor-params needs --via-executor')
    executor = parse_executor_params(args.executor_params)
    executor_config(executor)  # validates them
    spec = RunSpec(suite=args.suite, tasks=tuple(tasks), trials=args.trials,
                   configs=tuple(''.join(t.split()) for t in args.configs),  # user order
                   model=model_spec(args),
                   seed=args.seed, max_steps=args.max_steps,
                   open_loop_steps=args.open_loop_steps, device=args.device,
                   render_size=args.render_size, fast_render=args.fast_render,
                   video=args.video, out=str(Path(args.out)),
                   workers=max(1, min(args.workers, len(keys))), threads=args.threads,
                   via_executor=args.via_executor, executor=executor, ray=args.ray,
                   gpus_per_worker=args.gpus_per_worker)
    log.info('%d episodes x %d configurations (%s) on %d worker(s)%s -> %s', len(keys),
             len(configs), ' '.join(spec.configs), spec.workers,
             ' via the chunk executor' if spec.via_executor else '', spec.out)
    run_eval(spec, keys)
    summary, _ = write_report(spec.out)
    print(overall_table(summary))
    print(f'\nreport: {Path(spec.out) / "report.md"}')
    return 0


def _report(args: argparse.Namespace) -> int:
    from specprune_ros.tools.eval.report import overall_table, per_task_table, write_report
    summary, _ = write_report(args.report)
    print(overall_table(summary))
    print()
    print(per_task_table(summary))
    print(f'\nreport: {Path(args.report) / "report.md"}')
    return 0


def _replay(args: argparse.Namespace) -> int:
    from specprune_ros.tools.eval.configs import parse_configs
    from specprune_ros.tools.eval.replay import (
        format_fidelity,
        read_recording,
        run_replay,
        write_fidelity,
    )
    from specprune_ros.tools.eval.runner import load_policy_from

    configs = parse_configs(args.configs, args.suite)
    topics = {role: value for role, value in (
        ('third_person', args.third_person_topic), ('wrist', args.wrist_topic),
        ('pose', args.pose_topic), ('instruction', args.instruction_topic)) if value}
    steps = read_recording(args.replay, topics, args.slop)
    policy = load_policy_from(model_spec(args), args.device)
    results = run_replay(policy, configs, steps, args.instruction)
    n_visual = policy.cfg.num_views * policy.cfg.patches_per_view
    print(format_fidelity(results, args.replay, n_visual))
    out = Path(args.out if args.out != 'eval_out' else 'eval_replay')
    for path in write_fidelity(results, out):
        print(f'wrote {path}')
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 with a clear message for bad input)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    for noisy in ('robosuite', 'libero', 'matplotlib', 'PIL'):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.report:
            return _report(args)
        if args.replay:
            return _replay(args)
        return _run(args)
    except (SpecPruneError, ValueError, OSError) as exc:
        print(f'specprune-eval: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    raise SystemExit(main())
