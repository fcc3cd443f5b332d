"""``specprune-sim``: the scripted LIBERO expert from the command line.

``specprune-sim expert --tasks 0-9 --init-states 0`` prints the per-task success table;
``specprune-sim record --demos-per-task 20 --out demos.hdf5`` writes successful expert
episodes as a LIBERO/robomimic HDF5 file (resumable). ``--help`` imports no simulator.
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
import json
import logging
import sys
import time

from specprune_ros.errors import SpecPruneError
from specprune_ros.sim.config import SimConfig

log = logging.getLogger('specprune_sim')


def parse_ids(text: str) -> list[int]:
    """``'0-9'``, ``'0,3,5-7'`` or ``'4'`` → sorted unique ints."""
    out: set[int] = set()
    try:
        for part in text.split(','):
            lo, _, hi = part.strip().partition('-')
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected ids like 0-9 or 0,3,5-7, got {text!r}'
                                         ) from None
    return sorted(out)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument('--suite', default='libero_spatial', help='LIBERO suite (default: %(default)s)')
    p.add_argument('--tasks', type=parse_ids, default=list(range(10)), help='task ids (0-9)')
    p.add_argument('--workers', type=int, default=1, help='worker processes (default: 1)')
    p.add_argument('--seed', type=int, default=0, help='fixture-placement seed (default: 0)')
    p.add_argument('--camera-size', type=int, default=224, help='policy image side (224)')
    p.add_argument('--render-size', type=int, default=None,
                   help="render at this side, then OFT's JPEG + Lanczos resize (e.g. 256)")
    p.add_argument('--fast-render', action='store_true',
                   help='no MSAA, no reflections: ≈2× faster, visibly different frames')
    p.add_argument('-v', '--verbose', action='store_true', help='log every episode')


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (two subcommands)."""
    parser = argparse.ArgumentParser(prog='specprune-sim', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    ex = sub.add_parser('expert', help='run the scripted expert and print its success table')
    _common(ex)
    ex.add_argument('--init-states', type=parse_ids, default=[0],
                    help='benchmark init state ids (default: 0; all: 0-49)')
    ex.add_argument('--render', action='store_true', help='render both cameras every step')
    ex.add_argument('--json', default=None, help='also write the results to this JSON file')
    rec = sub.add_parser('record', help='record successful expert demos to a LIBERO HDF5 file')
    _common(rec)
    rec.add_argument('--demos-per-task', type=int, required=True, help='successes per task')
    rec.add_argument('--out', required=True, help='output .hdf5 (appended to when it exists)')
    rec.add_argument('--max-init-states', type=int, default=50,
                     help='init states tried per task at most (default: 50)')
    return parser


def _config(args: argparse.Namespace, cameras: bool) -> SimConfig:
    return SimConfig(suite=args.suite, seed=args.seed, cameras=cameras,
                     camera_size=args.camera_size, render_size=args.render_size,
                     fast_render=args.fast_render)


def expert_table(results: Sequence[dict[str, object]], names: dict[int, str]) -> str:
    """The per-task success table."""
    lines = [f'{"task":>4}  {"success":>8}  {"rate":>6}  {"steps":>5}  instruction']
    tasks = sorted({int(r['task_id']) for r in results})
    total = 0
    for t in tasks:
        rows = [r for r in results if r['task_id'] == t]
        ok = sum(bool(r['success']) for r in rows)
        total += ok
        steps = sum(int(r['steps']) for r in rows) / len(rows)
        lines.append(f'{t:>4}  {ok:>3}/{len(rows):<4}  {ok / len(rows):>6.1%}  {steps:>5.0f}  '
                     f'{names.get(t, "")}')
    lines.append(f' all  {total:>3}/{len(results):<4}  {total / max(len(results), 1):>6.1%}')
    return '\n'.join(lines)


def cmd_expert(args: argparse.Namespace) -> int:
    """Run the expert over tasks × init states and print the table."""
    from tqdm import tqdm

    from specprune_ros.sim.env import task_info
    from specprune_ros.sim.runner import jobs, outcome, run_jobs

    config = _config(args, cameras=args.render)
    names = {t: task_info(args.suite, t).instruction for t in args.tasks}
    work = jobs(config, args.tasks, args.init_states)
    results: list[dict[str, object]] = []
    start = time.perf_counter()
    with tqdm(total=len(args.tasks) * len(args.init_states), unit='ep', file=sys.stderr) as bar:
        for chunk in run_jobs(work, args.workers, record=args.render, reduce=outcome):
            for r in chunk:
                results.append(r)  # type: ignore[arg-type]
                log.info('task %s init %s: %s in %s steps', r['task_id'], r['init_state_id'],
                         'success' if r['success'] else 'FAILURE', r['steps'])
            bar.update(len(chunk))
    results.sort(key=lambda r: (r['task_id'], r['init_state_id']))
    print(expert_table(results, names))
    if args.json:
        summary = {'suite': args.suite, 'config': json.loads(config.to_json()),
                   'episodes': len(results), 'successes': sum(bool(r['success']) for r in results),
                   'wall_seconds': round(time.perf_counter() - start, 1), 'workers': args.workers,
                   'per_task': [{'task_id': t, 'instruction': names[t],
                                 'successes': sum(bool(r['success']) for r in results
                                                  if r['task_id'] == t),
                                 'trials': sum(r['task_id'] == t for r in results),
                                 'failed_init_states': [r['init_state_id'] for r in results
                                                        if r['task_id'] == t and not r['success']]}
                                for t in args.tasks],
                   'results': results}
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=1)
            f.write('\n')
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """Record demos (resumable)."""
    from specprune_ros.sim.record import record_demos

    report = record_demos(args.out, _config(args, cameras=True), args.tasks,
                          args.demos_per_task, workers=args.workers,
                          max_init_states=args.max_init_states)
    for task, (kept, tried) in sorted(report.items()):
        print(f'task {task}: {kept} demos stored, {tried} episodes tried')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``specprune-sim`` and ``python -m specprune_ros.sim``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    if args.verbose:  # one line per episode (and the recorder's progress)
        for name in ('specprune_sim', 'specprune_ros.sim'):
            logging.getLogger(name).setLevel(logging.INFO)
    try:
        return cmd_expert(args) if args.command == 'expert' else cmd_record(args)
    except SpecPruneError as exc:
        print(f'specprune-sim: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('specprune-sim: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
