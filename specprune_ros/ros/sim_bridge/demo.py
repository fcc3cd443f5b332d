"""``specprune-sim-demo``, the main job: one LIBERO episode in closed loop over real DDS.

Starts three processes, wired as ``launch/sim_demo.launch.py`` wires them: ``specprune_sim``
(the LIBERO bridge, simulated time on /clock), ``specprune_policy`` (the trained model of
``models/libero_spatial_demo/`` when it exists, else the built-in ``tiny`` preset) and
``specprune_executor`` (enabled, zero-motion holds). This process listens: it prints one line
per action chunk (mode, kept visual tokens by source, latency), writes a video of the episode
(the two live camera views over the newest kept-token image) and one checked debug PNG of a
mid-episode step to ``--out-dir``, and ends with a summary block (outcome, length, held steps,
kept tokens, FLOPs ratio, median timings, the files). The nodes' own output (and the
simulator's library warnings) goes to ``--out-dir``/nodes.log.

Simulated time is lockstep (see :mod:`specprune_ros.ros.sim_bridge.loop`): /clock stands
still while the policy computes, so the same command gives the same episode on a quiet and on
a loaded machine, and the same episode as ``specprune-eval --via-executor`` (``--no-executor``: as
``specprune-eval``'s OpenVLA-OFT protocol) for the same task, init state, model and settings.
``--sim-latency S`` gives each query S seconds of simulated inference time instead of 0.
``--out-dir``/episode.json keeps the final status and every query (stamp, mode, kept tokens).
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
import json
import logging
import os
from pathlib import Path
import random
import statistics
import sys
import threading
import time
from typing import Any

from specprune_ros.ros.sim_bridge import wiring as sim_wiring

log = logging.getLogger('specprune_sim_demo')
REPO = Path(__file__).resolve().parents[3]
DEFAULT_MODEL = REPO / 'models' / 'libero_spatial_demo'
RENDER_SIZE = 256  # OFT renders LIBERO at 256 and resizes to 224
DRAIN_S = 3.0  # s: how long the final camera frames may trail the final status


def _ros_args(params: dict[str, Any], remaps: list[tuple[str, str]]) -> list[str]:
    args = ['--ros-args']
    for name, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{name}:={text}']
    for topic, target in remaps:
        args += ['-r', f'{topic}:={target}']
    return args


def commands(args: argparse.Namespace, model: Path | None) -> dict[str, list[str]]:
    """The command lines of the nodes (wired as sim_demo.launch.py wires them)."""
    py, sim_time, with_executor = [sys.executable, '-m'], not args.real_time, not args.no_executor
    sim = {'suite': 'libero_spatial', 'task_id': args.task, 'init_state': args.init_state,
           'episodes': 1, 'max_steps': args.max_steps, 'image_every': args.image_every,
           'render_size': args.render_size, 'fast_render': args.fast_render,
           'real_time': args.real_time, 'action_source': 'action' if with_executor else 'chunk'}
    policy: dict[str, Any] = {**sim_wiring.POLICY_SETTINGS, 'use_sim_time': sim_time,
                              'input_timeout': args.input_timeout}
    if args.unpruned:
        policy['enabled'] = False  # the plain model: the reference a pruned run compares to
    if model is not None:
        policy['checkpoint'] = str(model)
    else:
        policy['model_preset'] = args.preset
    preset = REPO / 'config' / 'presets' / 'libero_spatial.yaml'
    out = {
        'specprune_sim': [*py, 'specprune_ros.ros.sim_bridge.node',
                          *_ros_args(sim, sim_wiring.sim_remaps(with_executor, sim_time))],
        'specprune_policy': [*py, 'specprune_ros.ros.policy.node',
                             *_ros_args(policy, sim_wiring.policy_remaps()),
                             '--params-file', str(preset)]}
    if with_executor:
        executor = {**sim_wiring.executor_settings(sim_time)}
        if sim_time:
            executor['sim_latency'] = args.sim_latency
        out['specprune_executor'] = [*py, 'specprune_ros.ros.executor.node',
                                     *_ros_args(executor, sim_wiring.executor_remaps())]
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', type=int, default=0, help='LIBERO-Spatial task (0..9)')
    parser.add_argument('--init-state', type=int, default=40,
                        help="benchmark's initial state (default 40: the shipped model was "
                        'trained on demos from states 0-39 only)')
    parser.add_argument('--max-steps', type=int, default=220,
                        help='episode step limit (after the 10 wait steps; the suite: 220)')
    parser.add_argument('--model', type=Path, default=None,
                        help=f'trained model folder (default: {DEFAULT_MODEL} if it exists)')
    parser.add_argument('--preset', default='tiny',
                        help='built-in model preset when there is no trained model')
    parser.add_argument('--untrained', action='store_true',
                        help='use --preset even when the trained model exists')
    parser.add_argument('--image-every', type=int, default=2,
                        help='render both cameras every N-th step (video at 20/N fps)')
    parser.add_argument('--render-size', type=int, default=None,
                        help='render at this size, then resize to 224 as OFT does (0: 224); '
                        "default: the trained model's data (its data.json), else 256")
    parser.add_argument('--fast-render', action=argparse.BooleanOptionalAction, default=None,
                        help="no MSAA/reflections; default: as the trained model's data, else "
                        'off')
    parser.add_argument('--input-timeout', type=float,
                        default=sim_wiring.POLICY_SETTINGS['input_timeout'],
                        help="policy watchdog (wall s): the simulation runs slower than real "
                        'time on a CPU')
    parser.add_argument('--unpruned', action='store_true',
                        help='run the policy with pruning disabled (enabled:=false)')
    parser.add_argument('--no-executor', action='store_true',
                        help="no executor: the bridge runs each chunk's first 8 steps itself "
                        '(OFT open loop)')
    parser.add_argument('--real-time', action='store_true',
                        help='step on the wall clock at 20 Hz instead of lockstep simulated '
                        'time (the outcome then depends on the machine)')
    parser.add_argument('--sim-latency', type=float, default=0.0,
                        help='simulated seconds a query takes (executor lockstep; 0: the chunk '
                        'is used at the tick that asked for it; e.g. 0.07 for OFT-7B on an '
                        'H100)')
    parser.add_argument('--out-dir', type=Path, default=Path('out'))
    parser.add_argument('--timeout', type=float, default=600.0, help='give up after (s)')
    return parser.parse_args(argv)


def _model(args: argparse.Namespace) -> Path | None:
    if args.untrained:
        return None
    if args.model is not None:
        return args.model
    return DEFAULT_MODEL if (DEFAULT_MODEL / 'config.json').is_file() else None


def render_settings(args: argparse.Namespace, model: Path | None) -> tuple[int, bool]:
    """(render_size, fast_render): the command line's, else the model's training data's.

    A model trained by ``specprune-train`` keeps, in ``data.json``, the simulator settings its
    demonstrations were rendered with; a policy must be run on frames rendered the same way.
    """
    from specprune_ros.tools.train.data import render_for

    return render_for(model, args.render_size, args.fast_render, (RENDER_SIZE, False))


def check_args(args: argparse.Namespace, model: Path | None) -> str | None:
    """Why these arguments cannot run (one line), or None."""
    if model is not None and not (model / 'config.json').is_file():
        return (f'--model {model}: no trained model there (expected {model / "config.json"}, '
                'as specprune-train writes)')
    if not 0.0 <= args.sim_latency <= 10.0:
        return f'--sim-latency must be within 0..10 s, got {args.sim_latency:g}'
    if args.sim_latency and (args.real_time or args.no_executor):
        return '--sim-latency needs the executor in simulated time (not --real-time or ' \
            '--no-executor)'
    if args.max_steps < 1 or args.image_every < 1:
        return '--max-steps and --image-every must be >= 1'
    return None


def summary(final: dict[str, Any], listener: Any, files: dict[str, Path | None],
            model: Path | None, preset: str, unpruned: bool = False) -> list[str]:
    """The closing block: what happened, in a few explained numbers."""
    stats = listener.stats_list()
    kept = [s.kept_total for s in stats]
    flops = [s.flops_ratio for s in stats]
    outcome = 'SUCCESS' if final['success'] else 'FAILURE'
    lines = [f'outcome:      {outcome} after {final["step"]} steps (limit {final["max_steps"]}) '
             f'on task {final["task_id"]}, init state {final["init_state"]}'
             + ('' if model else f' (untrained {preset!r}: success is meaningless)'),
             f'held steps:   {final["held_steps"]} (steps that executed a zero-motion hold)']
    if kept:
        lines += [f'queries:      {len(kept)} (one action chunk each)',
                  f'kept tokens:  mean {statistics.mean(kept):.0f}, min {min(kept)}, max '
                  f'{max(kept)} of 512 visual tokens per query',
                  f'FLOPs ratio:  {statistics.mean(flops):.2f} of the unpruned LLM FLOPs (mean)',
                  f'timing:       median LLM {statistics.median(s.llm_ms for s in stats):.0f} '
                  f'ms, whole policy step {statistics.median(s.total_ms for s in stats):.0f} '
                  'ms (wall, this CPU; not simulated time)']
    png = files.get('debug_png') or ('none (pruning disabled)' if unpruned else 'NOT WRITTEN')
    lines += [f'video:        {files.get("video") or "NOT WRITTEN"}',
              f'kept tokens:  {png} (one mid-episode query)']
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the episode ran to its end and the files were written."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[demo] %(message)s')
    model = _model(args)
    problem = check_args(args, model)
    if problem:
        log.error(problem)
        return 2
    try:
        import rclpy
        from rclpy.signals import SignalHandlerOptions

        from specprune_ros.ros.common.conversions import stamp_to_sec
        from specprune_ros.ros.common.processes import start_process, stop_process
        from specprune_ros.ros.common.signals import stop_on_signals
        from specprune_ros.ros.sim_bridge.listener import EpisodeListener
    except ImportError as exc:
        log.error('the main job needs ROS 2 and the built messages (%s): run `source '
                  'scripts/ros_env.sh` first, or use `bash scripts/demo.sh`', exc)
        return 2
    args.render_size, args.fast_render = render_settings(args, model)
    if model is None:
        log.info('policy: the built-in %r preset with RANDOM weights (no trained model at %s):'
                 ' the loop, the pruning and the timing are real, success is meaningless',
                 args.preset, DEFAULT_MODEL)
    else:
        log.info('policy: trained model %s', model)
    mode = ('real time (wall clock)' if args.real_time else
            f'lockstep simulated time (a query takes {args.sim_latency:g} s of it)')
    log.info('task %d, init state %d, %s, %s; each line below is one query of the policy',
             args.task, args.init_state, mode,
             'OFT open loop (no executor)' if args.no_executor else 'through the executor')
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 200)))
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    args.out_dir.mkdir(parents=True, exist_ok=True)
    node_log_path = args.out_dir / 'nodes.log'
    t0 = time.monotonic()
    with open(node_log_path, 'w', encoding='utf-8') as node_log:
        procs = {name: start_process(cmd, env, node_log)
                 for name, cmd in commands(args, model).items()}
        log.info('started %s (their output: %s)', ', '.join(procs), node_log_path)
        with stop_on_signals(threading.Event()) as stop:
            rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
            listener = EpisodeListener(args.out_dir, fps=20.0 / args.image_every)
            deadline = time.monotonic() + args.timeout
            try:
                while (not stop.is_set() and time.monotonic() < deadline
                       and all(p.poll() is None for p in procs.values())
                       and listener.final is None):
                    rclpy.spin_once(listener, timeout_sec=0.2)
                drain = time.monotonic() + DRAIN_S  # the last frames may trail the status
                while listener.final is not None and not listener.has_last_frame() and \
                        time.monotonic() < drain:
                    rclpy.spin_once(listener, timeout_sec=0.1)
            finally:
                codes = {name: stop_process(p) for name, p in procs.items()}
                files = listener.finish()
                listener.destroy_node()
                rclpy.try_shutdown()
    final, seconds = listener.final, time.monotonic() - t0
    log.info('%d chunks in %.0f s (wall); exit codes %s', listener.chunks, seconds, codes)
    if final is None or final.get('error'):
        why = (final or {}).get('error') or f'the episode did not end within {args.timeout:.0f} s'
        log.error('demo failed: %s (node output: %s)', why, node_log_path)
        return 1
    record = {**final, 'queries': [
        {'stamp': round(stamp_to_sec(q.header.stamp), 6), 'mode': q.mode,
         'visual_kept': int(q.kept_total), 'flops_ratio': round(float(q.flops_ratio), 6)}
        for q in listener.stats_list()]}
    (args.out_dir / 'episode.json').write_text(json.dumps(record, indent=1) + '\n')
    for line in summary(final, listener, files, model, args.preset, args.unpruned):
        log.info('%s', line)
    png_missing = not files.get('debug_png') and not args.unpruned  # unpruned: nothing to show
    if any(codes.values()) or not files.get('video') or png_missing:
        log.error('demo failed: a node did not exit cleanly or a file is missing (%s; node '
                  'output: %s)', json.dumps({k: str(v) for k, v in files.items()}),
                  node_log_path)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
