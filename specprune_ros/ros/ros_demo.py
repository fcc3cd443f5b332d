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
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
from PIL import Image as PILImage
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from specprune_ros.msg import ActionChunk, StepStats
from specprune_ros.ros.conversions import image_msg_to_rgb, stamp_to_sec
from specprune_ros.ros.signals import stop_on_signals
from specprune_ros.specprune.debug_image import decode_kept_tokens

log = logging.getLogger('specprune_ros_demo')
NODE = '/specprune_policy'


@dataclass
class Received:
    """What the listener has seen, keyed by the images' stamp."""

    chunks: list[Any] = field(default_factory=list)
    stats: dict[float, Any] = field(default_factory=dict)
    debug: dict[float, np.ndarray] = field(default_factory=dict)
    saved: Path | None = None


class DemoListener(Node):
    """Prints chunks and stats; saves the first debug image that matches its step's stats."""

    def __init__(self, out: Path) -> None:
        super().__init__('specprune_demo_listener')
        self.out = out
        self.got = Received()
        self.create_subscription(ActionChunk, f'{NODE}/action_chunk', self._on_chunk, 10)
        self.create_subscription(StepStats, f'{NODE}/stats', self._on_stats, 10)
        self.create_subscription(Image, f'{NODE}/debug/kept_tokens', self._on_debug,
                                 qos_profile_sensor_data)

    def _on_chunk(self, msg: ActionChunk) -> None:
        actions = np.asarray(msg.actions, dtype=np.float32).reshape(msg.horizon, msg.action_dim)
        self.got.chunks.append(msg)
        self.get_logger().info(
            f'chunk #{len(self.got.chunks)} stamp {stamp_to_sec(msg.header.stamp):.3f} '
            f'{msg.horizon}x{msg.action_dim} mode {msg.mode} kept {msg.visual_tokens_kept}/'
            f'{msg.visual_tokens_total} latency {msg.latency_ms:.0f} ms\n'
            + np.array2string(actions, precision=4, suppress_small=True, max_line_width=100))

    def _on_stats(self, msg: StepStats) -> None:
        t = stamp_to_sec(msg.header.stamp)
        self.got.stats[t] = msg
        self.get_logger().info(
            f'stats step {msg.step}: mode {msg.mode} T={msg.reference_offset} global '
            f'{msg.kept_global} dynamic {msg.kept_dynamic} local {msg.kept_local} kept '
            f'{msg.kept_total} FLOPs {msg.flops_ratio:.3f} llm {msg.llm_ms:.0f} ms '
            f'overhead {msg.overhead_ms:.1f} ms tokens/layer {list(msg.tokens_per_layer)}')
        self._try_save(t)

    def _on_debug(self, msg: Image) -> None:
        t = stamp_to_sec(msg.header.stamp)
        self.got.debug[t] = image_msg_to_rgb(msg)
        self._try_save(t)

    def _try_save(self, t: float) -> None:
        if self.got.saved is not None or t not in self.got.stats or t not in self.got.debug:
            return
        stats, image = self.got.stats[t], self.got.debug[t]
        if stats.mode == 'off' or stats.step == 0:
            return  # show a step with global, dynamic and local tokens
        kept = decode_kept_tokens(image)['retain']
        if len(kept) != stats.kept_total:
            self.get_logger().error(f'debug image shows {len(kept)} kept patches, stats say '
                                    f'{stats.kept_total}')
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(image).save(self.out)
        self.got.saved = self.out
        self.get_logger().info(f'debug image of step {stats.step} saved to {self.out} '
                               f'({len(kept)} kept patches, coloured by source)')


def _start(cmd: list[str], env: dict[str, str], output: Any = None) -> subprocess.Popen:
    """Start a node process; ``output``: a file for its stdout and stderr (None: ours)."""
    (log.debug if output is not None else log.info)('starting: %s', ' '.join(cmd))
    if output is not None:
        output.write(f'$ {" ".join(cmd)}\n')
        output.flush()
    return subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT if output
                            else None)


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


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

    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 200)))
    py = sys.executable
    procs = [_start([py, '-m', 'specprune_ros.ros.node', '--ros-args', '-p',
                     f'model_preset:={args.preset}', '-p', 'input_timeout:=2.0'], env),
             _start([py, '-m', 'specprune_ros.ros.replay', '--rate', str(args.rate),
                     '--state-rate', str(4 * args.rate)], env)]
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
            codes = [_stop(p) for p in procs]
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
