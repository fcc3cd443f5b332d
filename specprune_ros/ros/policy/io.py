"""ROS side of the policy node: subscriptions, publishers, messages, diagnostics.

:class:`PolicyPorts` is a mixin of
:class:`specprune_ros.ros.policy.node.SpecPrunePolicyNode` holding its message callbacks (run
by the executor: conversion + sync only, they never wait on the model) and the publishing done
by the output and render threads. Split from ``node.py``; like it,
imported only by the node, never by ``import specprune_ros``.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import array
from functools import partial
import math
import re
import time
from typing import Any, NamedTuple

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Header, String

from specprune_ros.control.wire import clamp_actions, SAME_INSTANT
from specprune_ros.errors import InputError
from specprune_ros.ros.common.conversions import (
    compressed_msg_to_rgb,
    image_msg_to_rgb,
    pose_msg_to_ee_state,
    rgb_to_image_msg,
    stamp_to_sec,
)
from specprune_ros.ros.common.node_base import (  # noqa: F401  (re-exported for node, tests)
    descriptor_for,
    diagnostics_msg,
    LEVELS,
    load_msg_module,
    NodeLogging,
    ros_type,
)
from specprune_ros.ros.common.sync import MatchedSet, StalenessMonitor
from specprune_ros.ros.policy.instant import StampWatermark
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import ee_state_to_proprio

CAMERAS = ('third_person', 'wrist')
INPUTS = (*CAMERAS, 'ee_state')  # synchronised and watched; the pivot (set stamp) is first

_MSG = load_msg_module()
INSTANT_WAIT_S = 1.0  # s (wall): simulated time, wait for the set's twist and gripper state
ActionChunk = _MSG.ActionChunk
StepStats = _MSG.StepStats


def action_chunk_msg(actions: np.ndarray, report: StepReport, stamp: Any, frame_id: str
                     ) -> Any:
    """An ActionChunk of a clamped (H, D) chunk; ``stamp`` is the images' header stamp."""
    msg = ActionChunk()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.step = int(report.step)
    msg.horizon, msg.action_dim = int(actions.shape[0]), int(actions.shape[1])
    msg.actions = array.array('f', np.ascontiguousarray(actions, dtype=np.float32).tobytes())
    msg.mode = report.mode
    msg.visual_tokens_total = int(report.visual_tokens)
    msg.visual_tokens_kept = int(report.visual_kept)
    msg.latency_ms = float(report.total_ms)
    return msg


def step_stats_msg(report: StepReport, stamp: Any, frame_id: str, patches_per_view: int,
                   extra: dict[str, float] | None = None) -> Any:
    """A StepStats of one step; ``extra`` sets node_overhead_ms and dropped_sets."""
    msg = StepStats()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.step = int(report.step)
    msg.mode = report.mode
    msg.v_t, msg.v_r, msg.dz = (float(x) if math.isfinite(x) else 0.0
                                for x in (report.v_t, report.v_r, report.dz))
    msg.reference_offset = int(report.reference_offset)
    msg.kept_global = int(report.v_global.size)
    msg.kept_dynamic = int(report.v_dynamic.size)
    msg.kept_local = int(report.v_local.size)
    msg.kept_total = int(report.visual_kept)
    num_views = max(1, report.visual_tokens // max(1, patches_per_view))
    msg.kept_per_view = [int(v) for v in report.kept_per_view(patches_per_view, num_views)]
    msg.tokens_per_layer = [int(v) for v in report.tokens_per_layer]
    msg.visual_per_layer = [int(v) for v in report.visual_per_layer]
    msg.flops_ratio = float(report.flops_ratio)
    for name in ('preprocess_ms', 'vision_ms', 'llm_ms', 'head_ms', 'overhead_ms',
                 'total_ms'):
        setattr(msg, name, float(getattr(report, name)))
    for name, value in (extra or {}).items():  # node_overhead_ms, dropped_sets
        setattr(msg, name, type(getattr(msg, name))(value))
    return msg


def receipt_time(info: Any, now_mono: float, now_wall: float) -> float:
    """When the middleware received a message, on the monotonic clock of ``now_mono``.

    ``info`` is rclpy's MessageInfo (``received_timestamp`` in ns of the system clock). A
    message that waited in the subscription queue (a busy executor) is as old as its receipt,
    not as the callback: the watchdog must not call an input fresh because old messages were
    taken late. Without a usable timestamp the callback time is used.
    """
    received = (info or {}).get('received_timestamp', 0) * 1e-9
    if received <= 0.0:
        return now_mono
    return now_mono - min(max(now_wall - received, 0.0), 60.0)


class Frame(NamedTuple):
    """One converted input message: RGB image or proprio vector, and its header."""

    data: np.ndarray
    header: Any


class Result(NamedTuple):
    """One finished policy step, on its way to the output and render threads."""

    matched: MatchedSet
    sync_s: float
    actions: np.ndarray
    report: StepReport


class PolicyPorts(NodeLogging):
    """Subscriptions, publishers and diagnostics of the policy node (a mixin)."""

    def init_ports(self) -> None:
        """Publishers that exist in every lifecycle state (/diagnostics)."""
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.subs: list[Any] = []
        self.chunk_pub = self.stats_pub = self.debug_pub = None
        self.last_pose_stamp = -math.inf
        self.twist_seen, self.gripper_seen = StampWatermark(), StampWatermark()
        self.instant_streams: dict[str, tuple[Any, StampWatermark]] = {}

    def create_ports(self) -> None:
        """Subscriptions and the lifecycle publishers (enabled while active)."""
        compressed = self.node_cfg.compressed_images
        for cam in CAMERAS:
            topic = f'~/{cam}/image_raw' + ('/compressed' if compressed else '')
            self.subs.append(self.create_subscription(
                CompressedImage if compressed else Image, topic,
                partial(self._on_image, cam, compressed), qos_profile_sensor_data))
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        twist = self.create_subscription(TwistStamped, '~/ee_twist', self._on_twist,
                                         qos_profile_sensor_data)
        gripper = self.create_subscription(JointState, '~/gripper_state', self._on_gripper,
                                           qos_profile_sensor_data)
        self.subs += [
            self.create_subscription(PoseStamped, '~/ee_state', self._on_pose,
                                     qos_profile_sensor_data), twist, gripper,
            self.create_subscription(String, '~/instruction', self._on_instruction, latched),
            self.create_subscription(Header, '~/request', self._on_request, QoSProfile(depth=10))]
        self.instant_streams = {'ee_twist': (twist, self.twist_seen),
                                'gripper_state': (gripper, self.gripper_seen)}
        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, '~/action_chunk',
                                                         QoSProfile(depth=10))
        self.stats_pub = self.create_lifecycle_publisher(StepStats, '~/stats',
                                                         QoSProfile(depth=10))
        self.debug_pub = self.create_lifecycle_publisher(Image, '~/debug/kept_tokens',
                                                         QoSProfile(depth=1))

    def destroy_ports(self) -> None:
        """Undo :meth:`create_ports`."""
        for sub in self.subs:
            self.destroy_subscription(sub)
        self.subs = []
        for pub in (self.chunk_pub, self.stats_pub, self.debug_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.chunk_pub = self.stats_pub = self.debug_pub = None

    # --- callbacks (executor thread) -------------------------------------------------------
    def _input_error(self, name: str, text: str) -> None:
        """Count and log (throttled per input and kind of error) a rejected message."""
        self.counters['input_errors'] += 1
        self.error(f'input:{name}:' + re.sub(r'[0-9]+', '#', text)[:80], text)

    def _add(self, name: str, stamp: float, item: Frame, t0: float, info: Any) -> None:
        """Watchdog, sync and handoff of one valid message (``t0``: callback start)."""
        self.monitor.mark(name, receipt_time(info, time.monotonic(), time.time()))
        t1 = time.perf_counter()
        matched = self.sync.add(name, stamp, item, cost_s=t1 - t0)
        if matched is None:
            return
        entry = (matched, time.perf_counter() - t1)
        if self.gate.offer(matched.stamp, entry,
                           self.node_cfg.trigger_mode == 'on_request') is not None:
            self.sets.put(entry)  # a pending set is dropped

    def _on_request(self, msg: Header) -> None:
        """``~/request``: in on_request mode, infer on the newest set (or the next one).

        A non-zero ``msg.stamp`` names the instant the chunk must see: a set stamped at or
        after it (lockstep simulation); zero takes the newest set.
        """
        if not self.active or self.node_cfg.trigger_mode != 'on_request':
            return
        stamp = stamp_to_sec(msg.stamp)
        entry = self.gate.request(stamp - SAME_INSTANT if stamp > 0.0 else -math.inf)
        if entry is not None:
            self.sets.put(entry)

    def _on_image(self, name: str, compressed: bool, msg: Any, info: Any) -> None:
        if not self.active:
            return
        t0 = time.perf_counter()
        try:
            rgb = compressed_msg_to_rgb(msg) if compressed else image_msg_to_rgb(msg)
        except InputError as exc:
            self._input_error(name, f'{name} image rejected, no action from it: {exc}')
            return
        self._add(name, stamp_to_sec(msg.header.stamp), Frame(rgb, msg.header), t0, info)

    def _on_pose(self, msg: PoseStamped, info: Any) -> None:
        if not self.active:
            return
        t0 = time.perf_counter()
        try:
            state = pose_msg_to_ee_state(msg)
            # the fingers of this pose's instant (by stamp), filled in if they come later
            proprio = self.gripper_track.proprio_gripper(
                state.stamp, ee_state_to_proprio(state, self.gripper_track.latest))
        except (InputError, ValueError) as exc:
            self._input_error('ee_state', f'EE state rejected, no action from it: {exc}')
            return
        if state.stamp != self.last_pose_stamp:  # the same instant again: a republish
            try:
                self.engine.update_pose(state)
            except ValueError as exc:  # e.g. a stamp that does not increase
                self.throttle('pose_order', f'EE pose not used for the speed: {exc}',
                              self.log_warning)
            self.last_pose_stamp = state.stamp
        self._add('ee_state', state.stamp, Frame(proprio, msg.header), t0, info)

    def _on_twist(self, msg: TwistStamped) -> None:
        if not self.active:
            return
        lin, ang = msg.twist.linear, msg.twist.angular
        stamp = stamp_to_sec(msg.header.stamp)
        if stamp == self.twist_seen.newest:
            return  # the same instant again (a republish)
        try:
            self.engine.update_twist(stamp, [lin.x, lin.y, lin.z], [ang.x, ang.y, ang.z])
        except ValueError as exc:
            self.throttle('twist', f'EE twist ignored: {exc}', self.log_warning)
        self.twist_seen.mark(stamp)

    def _on_gripper(self, msg: JointState) -> None:
        pos = [float(p) for p in msg.position]
        value = np.array(pos[:2] if len(pos) >= 2 else pos * 2, dtype=np.float64)
        if len(pos) == 1:
            value[1] = -value[1]  # LIBERO's fingers move in opposite directions
        if value.shape != (2,) or not np.isfinite(value).all():
            self._input_error('gripper', f'gripper_state needs 1 or 2 finite positions, got '
                              f'{pos}; keeping {self.gripper_track.latest.tolist()}')
            return
        stamp = stamp_to_sec(msg.header.stamp)
        self.gripper_track.add(stamp, value)
        self.gripper_seen.mark(stamp)

    def wait_for_instant(self, stamp: float) -> None:
        """Simulated time: wait for the twist and gripper state of the set's instant.

        A simulator stamps them like the pose; they travel on their own topics, so the
        cameras can complete a set before they are handled. Waiting (for the streams that have
        a publisher, at most :data:`INSTANT_WAIT_S` wall seconds) makes the step see the same
        measurements on any machine. On a robot (wall time) nothing waits.
        """
        for name, (sub, mark) in self.instant_streams.items():
            if self.count_publishers(sub.topic_name) == 0:
                continue
            if not mark.wait_for(stamp - SAME_INSTANT, INSTANT_WAIT_S):
                self.throttle(f'instant:{name}', f'no {name} stamped {stamp:.3f} s within '
                              f'{INSTANT_WAIT_S:g} s; stepping with the newest', self.log_warning)

    def _on_instruction(self, msg: String) -> None:
        self.set_instruction(msg.data, 'topic ~/instruction')

    # --- publishing (output and render threads) ----------------------------------------------
    def publish_result(self, result: Result) -> None:
        """Clamp and publish the chunk (never a non-finite one) and the step's stats."""
        t0 = time.perf_counter()
        cfg, items = self.node_cfg, result.matched.items
        image_header = items['third_person'].header
        low, high = cfg.action_bounds(result.actions.shape[1])
        actions = clamp_actions(result.actions, low, high)
        if actions is None:
            self.counters['nonfinite_actions'] += 1
            self.error('nonfinite', f'step {result.report.step}: the policy produced '
                       'non-finite actions; chunk not published')
        else:
            frame_id = cfg.action_frame_id or items['ee_state'].header.frame_id
            self.chunk_pub.publish(action_chunk_msg(actions, result.report,
                                                    image_header.stamp, frame_id))
        inputs_s = result.matched.costs_s + result.sync_s  # conversion + sync (callbacks)
        node_ms = (inputs_s + time.perf_counter() - t0) * 1e3
        stats = step_stats_msg(result.report, image_header.stamp, image_header.frame_id,
                               self.policy.cfg.patches_per_view,
                               {'node_overhead_ms': node_ms, 'dropped_sets': self.sets.dropped})
        self.stats_pub.publish(stats)
        self.node_ms.add(node_ms)
        if cfg.publish_debug_image:
            self.renders.put(result)  # the render thread draws the newest step only

    def publish_debug_image(self, image: np.ndarray, frame: Frame) -> None:
        """Publish a rendered kept-tokens image with the camera set's stamp."""
        self.debug_pub.publish(rgb_to_image_msg(image, stamp=frame.header.stamp,
                                                frame_id=frame.header.frame_id))

    # --- diagnostics (executor thread) ---------------------------------------------------------
    def diagnostics(self) -> tuple[str, str, dict[str, Any]]:
        """(level, message, values) of the node's health."""
        ages = self.monitor.ages()
        stale = self.monitor.stale() if self.active else []
        steps, node_ms, render_ms = (w.summary() for w in (self.step_times, self.node_ms,
                                                           self.render_ms))
        recent = time.monotonic() - self.last_error_time < max(
            2.0, 2 * self.node_cfg.diagnostics_period)  # an error not repeated since is over
        values: dict[str, Any] = {
            'lifecycle_state': self.state_label, 'instruction': self.instruction,
            'steps': self.step_times.total, 'step_rate_hz': steps['rate_hz'],
            'step_ms_mean': steps['mean'], 'node_overhead_ms_mean': node_ms['mean'],
            'node_overhead_ms_max': node_ms['max'], 'render_ms_mean': render_ms['mean'],
            'render_ms_max': render_ms['max'], 'dropped_sets': self.sets.dropped,
            'dropped_renders': self.renders.dropped, 'sync_matched': self.sync.counters.matched,
            'trigger_mode': self.node_cfg.trigger_mode, 'requests': self.gate.requests,
            'requests_served': self.gate.served,
            'sync_overflow': self.sync.counters.overflow, 'sync_late': self.sync.counters.late,
            **self.counters, 'stale_inputs': ','.join(stale),
            **{f'age_{n}_s': ('never' if a is None else a) for n, a in ages.items()},
            'last_error': self.last_error if recent else ''}
        if self.config_error:
            return 'ERROR', self.config_error, values
        if not self.active:
            return 'WARN', f'{self.state_label}: no actions published', values
        if stale:
            text = f'no actions: {StalenessMonitor.describe(ages, stale)}'
            self.throttle('stale', f'watchdog: {text}', self.log_warning)
            return 'ERROR', text, values
        if recent and self.last_error:
            return 'ERROR', self.last_error, values
        if not self.instruction:
            return 'WARN', 'waiting for an instruction', values
        return 'OK', f'{steps["rate_hz"]:.1f} steps/s', values

    def publish_diagnostics(self) -> None:
        """Timer callback: one DiagnosticStatus on /diagnostics."""
        level, message, values = self.diagnostics()
        self.diag_pub.publish(diagnostics_msg(self.get_clock().now().to_msg(),
                                              self.get_fully_qualified_name(), level, message,
                                              values))

    def log_summary(self) -> None:
        """Timer callback: periodic timing summary in the log."""
        if not self.active:
            return
        steps, node_ms, render_ms = (w.summary() for w in (self.step_times, self.node_ms,
                                                           self.render_ms))
        self.get_logger().info(
            f'{steps["count"]} steps in the last 10 s ({steps["rate_hz"]:.1f}/s, '
            f'{steps["mean"]:.0f} ms each); node overhead {node_ms["mean"]:.2f} ms mean / '
            f'{node_ms["max"]:.2f} ms max per step; debug image {render_ms["mean"]:.1f} ms; '
            f'dropped sets {self.sets.dropped}, renders {self.renders.dropped}')
