"""``specprune-ros-demo``: the node and the replay tool over real DDS for a few seconds.

Starts ``specprune_policy`` (built-in model) and ``specprune-replay`` (the LIBERO fixture with
synthetic motion) as separate processes, listens to ``~/action_chunk``, ``~/stats`` and
``~/debug/kept_tokens``, prints what arrives, saves one debug image as PNG (after checking that
its coloured patches are the kept tokens of that step), then stops both processes.
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
import random
import sys
import threading
import time

log = logging.getLogger('specprune_ros_demo')


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--preset', default='tiny', help='built-in model preset of the node')
    parser.add_argument('--chunks', type=int, default=12, help='stop after this many chunks')
    parser.add_argument('--timeout', type=float, default=90.0, help='give up after (s)')
    parser.add_argument('--rate', type=float, default=20.0,
                        help='camera rate of the replay (the sequence is made for 20 Hz)')
    parser.add_argument('--out', type=Path, default=Path('out/kept_tokens.png'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[demo] %(message)s')
    try:
        import rclpy
        from rclpy.signals import SignalHandlerOptions

        from specprune_ros.ros.common.processes import start_process, stop_process
        from specprune_ros.ros.common.signals import stop_on_signals
        from specprune_ros.ros.replay.demo_listener import DemoListener
    except ImportError as exc:
        log.error('the ROS demo needs ROS 2 and the built messages (%s): run `source '
                  'scripts/ros_env.sh` first, or use `bash scripts/demo.sh --replay`', exc)
        return 2

    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 200)))
    py = sys.executable
    node = [py, '-m', 'specprune_ros.ros.policy.node', '--ros-args', '-p',
            f'model_preset:={args.preset}', '-p', 'input_timeout:=2.0']
    replay = [py, '-m', 'specprune_ros.ros.replay.cli', '--rate', str(args.rate),
              '--state-rate', str(4 * args.rate)]
    procs = [start_process(node, env), start_process(replay, env)]
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    with stop_on_signals(threading.Event()) as stop:
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        listener = DemoListener(args.out)
        deadline = time.monotonic() + args.timeout
        try:
            while (not stop.is_set() and time.monotonic() < deadline
                   and all(p.poll() is None for p in procs)
                   and (len(listener.got.chunks) < args.chunks or listener.got.saved is None)):
                rclpy.spin_once(listener, timeout_sec=0.2)
        finally:
            codes = [stop_process(p) for p in procs]
            listener.destroy_node()
            rclpy.try_shutdown()
    got = listener.got
    log.info('received %d action chunks, %d stats, %d debug images; node/replay exit codes %s',
             len(got.chunks), len(got.stats), len(got.debug), codes)
    if not got.chunks or got.saved is None:
        log.error('demo failed: no action chunk or no matching debug image within %.0f s',
                  args.timeout)
        return 1
    if any(codes):
        log.error('demo failed: node/replay did not exit cleanly (exit codes %s)', codes)
        return 1
    log.info('debug image: %s', got.saved)
    return 0


if __name__ == '__main__':
    sys.exit(main())
