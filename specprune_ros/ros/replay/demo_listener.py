"""The listener of ``specprune-ros-demo``: chunks, stats and one checked debug image.

Subscribes to the policy node's ``~/action_chunk``, ``~/stats`` and ``~/debug/kept_tokens``,
prints what arrives and saves one debug image as PNG once its coloured patches are the kept
tokens of that step.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from specprune_ros.msg import ActionChunk, StepStats
from specprune_ros.ros.common.conversions import image_msg_to_rgb, stamp_to_sec
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
