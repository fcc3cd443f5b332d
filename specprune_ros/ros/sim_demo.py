"""``specprune-sim-demo``, the main job: one LIBERO episode in closed loop over real DDS.

Starts three processes, wired as ``launch/sim_demo.launch.py`` wires them: ``specprune_sim``
(the LIBERO bridge, simulated time on /clock), ``specprune_policy`` (the trained model of
``models/libero_spatial_demo/`` when it exists, else the built-in ``tiny`` preset) and
``specprune_executor`` (enabled, zero-motion holds). This process listens: it prints one line
per action chunk (mode, kept visual tokens by source, latency), writes a video of the episode
(the two live camera views over the newest kept-token image) and one checked debug PNG to
``--out-dir``, and ends with the episode's outcome and length.
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
import sys
import threading
import time
from typing import Any

import rclpy
from rclpy.signals import SignalHandlerOptions

from specprune_ros.ros import sim_wiring
from specprune_ros.ros.ros_demo import _start, _stop
from specprune_ros.ros.signals import stop_on_signals
from specprune_ros.ros.sim_listener import EpisodeListener

log = logging.getLogger('specprune_sim_demo')
REPO = Path(__file__).resolve().parents[2]
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
        'specprune_sim': [*py, 'specprune_ros.ros.sim_node',
                          *_ros_args(sim, sim_wiring.sim_remaps(with_executor))],
        'specprune_policy': [*py, 'specprune_ros.ros.node',
                             *_ros_args(policy, sim_wiring.policy_remaps()),
                             '--params-file', str(preset)]}
    if with_executor:
        executor = {**sim_wiring.EXECUTOR_SETTINGS, 'use_sim_time': sim_time}
        out['specprune_executor'] = [*py, 'specprune_ros.ros.executor_node',
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
                        help='step on the wall clock at 20 Hz instead of simulated time')
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
    from specprune_ros.tools.train_data import render_for

    return render_for(model, args.render_size, args.fast_render, (RENDER_SIZE, False))


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the episode ran to its end and the files were written."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[demo] %(message)s')
    model = _model(args)
    args.render_size, args.fast_render = render_settings(args, model)
    if model is None:
        log.info('policy: the built-in %r preset with RANDOM weights (no trained model at %s):'
                 ' the loop, the pruning and the timing are real, success is meaningless',
                 args.preset, DEFAULT_MODEL)
    else:
        log.info('policy: trained model %s', model)
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 200)))
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    t0 = time.monotonic()
    procs = {name: _start(cmd, env) for name, cmd in commands(args, model).items()}
    with stop_on_signals(threading.Event()) as stop:
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        listener = EpisodeListener(args.out_dir, fps=20.0 / args.image_every)
        deadline = time.monotonic() + args.timeout
        try:
            while (not stop.is_set() and time.monotonic() < deadline
                   and all(p.poll() is None for p in procs.values())
                   and listener.final is None):
                rclpy.spin_once(listener, timeout_sec=0.2)
            drain = time.monotonic() + DRAIN_S  # the last frames may come after the status
            while listener.final is not None and not listener.has_last_frame() and \
                    time.monotonic() < drain:
                rclpy.spin_once(listener, timeout_sec=0.1)
        finally:
            codes = {name: _stop(p) for name, p in procs.items()}
            files = listener.finish()
            listener.destroy_node()
            rclpy.try_shutdown()
    final, seconds = listener.final, time.monotonic() - t0
    log.info('exit codes %s; %d chunks; %.0f s in all', codes, listener.chunks, seconds)
    if final is None:
        log.error('demo failed: the episode did not end within %.0f s', args.timeout)
        return 1
    outcome = 'SUCCESS' if final['success'] else 'FAILURE'
    log.info('outcome: %s after %d steps (limit %d) on task %d, init state %d; %d held '
             'steps; %s', outcome, final['step'], final['max_steps'], final['task_id'],
             final['init_state'], final['held_steps'],
             'trained model' if model else f'untrained {args.preset!r}: success meaningless')
    for name in ('video', 'debug_png'):
        log.info('%s: %s', name, files.get(name) or 'NOT WRITTEN')
    if any(codes.values()) or not files.get('video') or not files.get('debug_png'):
        log.error('demo failed: a node did not exit cleanly or a file is missing (%s)',
                  json.dumps({k: str(v) for k, v in files.items()}))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
