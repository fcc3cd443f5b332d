"""The ``specprune_executor`` lifecycle node: one action per control tick from action chunks.

Subscribes ``~/action_chunk`` (specprune_ros/ActionChunk, reliable; remap it to the policy's
``/specprune_policy/action_chunk``). Publishes ``~/action`` (specprune_ros/Action) once per
tick of ``control_rate`` on the node's clock (ROS time: with ``use_sim_time`` it follows
/clock), optionally ``~/twist`` (geometry_msgs/TwistStamped, ``publish_twist``),
``~/request`` (std_msgs/Header: the next chunk is due; remap to the policy's ``~/request``;
``stamp`` zero = from the newest frames, in lockstep the tick time whose frames it must use) and
``/diagnostics``. Serves ``~/enable`` (std_srvs/SetBool): nothing is published while disabled.

``lockstep:=true`` (simulated time only, e.g. behind ``specprune_sim``): the tick that needs a
new chunk asks first and is held until the answer arrives (the bridge does not advance /clock
before it has the tick's action), with ``sim_latency`` of simulated inference time; see
:mod:`specprune_ros.control.lockstep`. An unanswered request is sent again every
:data:`RESEND_S` wall seconds (a policy that was still starting may have missed it).

The logic is :class:`specprune_ros.control.executor.ChunkExecutor` (ROS-free); this node only
converts messages and runs it from its single-threaded executor, so nothing here needs a lock.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import sys
import time
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile
from std_msgs.msg import Header
from std_srvs.srv import SetBool

from specprune_ros.control.executor import Chunk, ChunkError, ChunkExecutor, Tick
from specprune_ros.control.executor_config import executor_specs, ExecutorConfig
from specprune_ros.control.lockstep import Lockstep
from specprune_ros.ros.common.conversions import stamp_to_sec
from specprune_ros.ros.common.node_base import (
    diagnostics_msg,
    load_msg_module,
    NodeLogging,
    SchemaParameters,
)
from specprune_ros.ros.common.node_runner import LifecycleShell, run_node
from specprune_ros.ros.common.sync import LogThrottle, WindowStats

SUCCESS = TransitionCallbackReturn.SUCCESS
NODE_NAME = 'specprune_executor'
_MSG = load_msg_module()
RESEND_S = 1.0  # s (wall): lockstep, ask again while a request is unanswered


def _time_msg(t: float) -> Time:
    """builtin_interfaces/Time of ``t`` seconds."""
    ns = round(t * 1e9)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class ExecutorNode(LifecycleShell, SchemaParameters, NodeLogging, LifecycleNode):
    """Lifecycle node: configure creates the ports, activate starts the control tick."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare every parameter from the schema; raises ConfigError for bad overrides."""
        super().__init__(NODE_NAME, **kwargs)
        self.declare_schema(executor_specs(), ExecutorConfig())
        self.core = ChunkExecutor(self.cfg)
        self.lockstep: Lockstep | None = None
        self.request_sent = 0.0  # monotonic time of the newest request (lockstep resends)
        self.state_label, self.active = 'unconfigured', False
        self.throttle = LogThrottle(2.0)
        self.action_times = WindowStats(10.0)
        self.rejected_chunks = 0
        self.last_error, self.last_error_time = '', -1e9
        self.last_tick: Tick | None = None
        self.tick_count = 0
        self.sub: Any = None
        self.enable_srv: Any = None
        self.action_pub = self.twist_pub = self.request_pub = self.timer = None
        self.resend_timer: Any = None
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(self.cfg.diagnostics_period, self.publish_diagnostics)

    # --- parameters (declared by SchemaParameters) ------------------------------------------
    def apply_config(self, cfg: ExecutorConfig) -> None:
        """A changed config goes to the core first (ConfigError rejects it)."""
        self.core.set_config(cfg)

    # --- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """:func:`run_node`'s close: nothing runs outside the executor thread."""
        self.active = False

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the subscription, publishers and the enable service."""
        qos = QoSProfile(depth=10)
        if self.cfg.lockstep and not self.get_parameter('use_sim_time').value:
            self.get_logger().error('lockstep:=true needs simulated time (use_sim_time:=true and '
                                    'a clock master such as specprune_sim); refusing to configure')
            return TransitionCallbackReturn.FAILURE
        self.sub = self.create_subscription(_MSG.ActionChunk, '~/action_chunk', self._on_chunk,
                                            qos)
        self.enable_srv = self.create_service(SetBool, '~/enable', self._on_enable)
        self.action_pub = self.create_lifecycle_publisher(_MSG.Action, '~/action', qos)
        self.request_pub = self.create_lifecycle_publisher(Header, '~/request', qos)
        if self.cfg.publish_twist:
            self.twist_pub = self.create_lifecycle_publisher(TwistStamped, '~/twist', qos)
        self.state_label = 'inactive'
        lockstep = (f', lockstep (sim_latency {self.cfg.sim_latency:g} s)' if self.cfg.lockstep
                    else '')
        self.get_logger().info(f'configured: {self.cfg.control_rate:g} Hz, blend '
                               f'{self.cfg.blend}, start_enabled {self.cfg.start_enabled}'
                               f'{lockstep}')
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start the control tick; enabled as ``start_enabled`` says."""
        self.core.set_enabled(self.cfg.start_enabled)
        self.tick_count = 0
        if self.cfg.lockstep:
            self.lockstep = Lockstep(self.core, self.cfg.sim_latency)
            self.resend_timer = self.create_timer(
                RESEND_S / 4, self._resend, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.timer = self.create_timer(self.cfg.period, self._on_tick)
        self.active, self.state_label = True, 'active'
        self.get_logger().info('active: ' + ('enabled' if self.core.enabled else
                                             'disabled until ~/enable is called with true'))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the tick; nothing is published while inactive."""
        self._stop_tick()
        self.state_label = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the ports."""
        self._stop_tick()
        if self.sub is not None:
            self.destroy_subscription(self.sub)
        if self.enable_srv is not None:
            self.destroy_service(self.enable_srv)
        for pub in (self.action_pub, self.request_pub, self.twist_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.sub = self.enable_srv = self.action_pub = self.request_pub = self.twist_pub = None
        self.state_label = 'unconfigured'
        return SUCCESS

    def _stop_tick(self) -> None:
        self.active = False
        self.core.set_enabled(False)
        self.lockstep = None
        for timer in (self.timer, self.resend_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self.timer = self.resend_timer = None

    # --- callbacks --------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_chunk(self, msg: Any) -> None:
        if not self.active:
            return
        now = self._now()
        stamp = stamp_to_sec(msg.header.stamp)
        try:
            chunk = Chunk.from_flat(stamp, int(msg.horizon), int(msg.action_dim), msg.actions,
                                    int(msg.step), msg.header.frame_id, msg.header.stamp)
            if self.lockstep is not None:
                self._on_lockstep_chunk(chunk, now)
                return
            result = self.core.add(chunk, now)
        except ChunkError as exc:
            self.rejected_chunks += 1
            self.error('chunk', f'chunk rejected: {exc}')
            return
        if result == 'late':
            self.throttle('late', f'chunk stamped {now - stamp:.3f} s ago arrived after all of '
                          f'its {chunk.horizon} steps (latency, or clocks out of sync); '
                          'skipped', self.log_warning)
        elif result == 'out_of_order':
            self.throttle('order', 'chunk not newer than the last one; ignored',
                          self.log_warning)
        self._maybe_request(now)  # e.g. a chunk that is short already: ask at once

    def _maybe_request(self, now: float) -> None:
        if self.core.request_due(now):
            self._send_request(0.0)
            self.core.requested(now)

    def _send_request(self, stamp: float) -> None:
        """``~/request``: a chunk from the frames stamped ``stamp`` (0: the newest)."""
        msg = Header()
        msg.stamp, msg.frame_id = _time_msg(stamp), self.get_name()
        self.request_pub.publish(msg)
        self.request_sent = time.monotonic()

    def _on_tick(self) -> None:
        if not self.active:
            return
        now = self._now()
        lockstep = self.lockstep
        if lockstep is None:
            self._tick(now)
            self._maybe_request(now)
            return
        if lockstep.awaiting is not None:  # the clock moved on while a tick was held
            self.error('lockstep', f'lockstep: /clock reached {now:.3f} s while the tick at '
                       f'{lockstep.awaiting:.3f} s still waits for its chunk (is another '
                       'clock source running?); that tick is dropped')
            lockstep.reset()
        try:
            due = lockstep.begin_tick(now)
        except ChunkError as exc:
            self.rejected_chunks += 1
            self.error('chunk', f'chunk rejected: {exc}')
            due = False
        if due:  # hold this tick until the chunk of its frames arrives
            self._send_request(now)
            return
        self._tick(now)

    def _on_lockstep_chunk(self, chunk: Chunk, now: float) -> None:
        """Lockstep: a chunk goes in transit; the answer to a held tick releases it."""
        held = self.lockstep.awaiting
        if self.lockstep.receive(chunk, now):
            self._tick(held)
            return
        self.throttle('unasked', 'lockstep: a chunk that answers no open request (stamped '
                      f'{chunk.stamp:.3f} s); used after sim_latency', self.log_warning)

    def _resend(self) -> None:
        """Lockstep (wall clock): ask again while the held tick's request is unanswered."""
        lockstep = self.lockstep
        if (self.active and lockstep is not None and lockstep.awaiting is not None
                and time.monotonic() - self.request_sent >= RESEND_S):
            self._send_request(lockstep.awaiting)

    def _tick(self, now: float) -> None:
        """The core's tick at ``now``, published (in lockstep every tick publishes)."""
        try:
            tick = self.lockstep.tick(now) if self.lockstep is not None else self.core.tick(now)
        except ChunkError as exc:
            self.rejected_chunks += 1
            self.error('chunk', f'chunk rejected: {exc}')
            tick = self.core.tick(now)
        self.tick_count += 1
        self.last_tick = tick
        if tick.values is not None or self.lockstep is not None:
            self._publish(tick, _time_msg(now))
        if tick.kind in ('hold', 'idle', 'nonfinite'):
            self.throttle(tick.kind, tick.reason + ('; publishing the zero-motion hold'
                                                    if tick.hold else '; nothing published'),
                          self.log_warning)

    def _publish(self, tick: Tick, stamp: Time) -> None:
        """``~/action`` (and ``~/twist``); a tick without values is an empty hold (lockstep)."""
        if tick.values is None:  # lockstep: 'nothing this tick', said so the clock can move
            msg = _MSG.Action()
            msg.header.stamp, msg.hold, msg.tick = stamp, True, self.tick_count
            self.action_pub.publish(msg)
            return
        values = np.asarray(tick.values, dtype=np.float32)
        if not np.isfinite(values).all():  # ChunkExecutor never returns one; never send one
            self.error('nonfinite', 'a non-finite action was not published')
            return
        msg = _MSG.Action()
        msg.header.stamp = stamp
        chunk = tick.chunk
        msg.header.frame_id = self.cfg.frame_id or (chunk.frame_id if chunk else '')
        msg.values = values.tolist()
        if chunk is not None:
            msg.chunk_stamp = chunk.source_stamp or _time_msg(chunk.stamp)
            msg.chunk_step = chunk.step
        msg.index, msg.blended, msg.skipped = int(tick.index), tick.blended, int(tick.skipped)
        msg.hold, msg.limited, msg.tick = tick.hold, tick.limited, self.tick_count
        self.action_pub.publish(msg)
        self.action_times.add()
        if self.twist_pub is not None and values.size >= 6:
            twist = TwistStamped()
            twist.header = msg.header
            lin = values[0:3] * self.cfg.twist_linear_scale * self.cfg.control_rate
            ang = values[3:6] * self.cfg.twist_angular_scale * self.cfg.control_rate
            twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = map(float, lin)
            twist.twist.angular.x, twist.twist.angular.y, twist.twist.angular.z = map(float, ang)
            self.twist_pub.publish(twist)

    def _on_enable(self, request: Any, response: Any) -> Any:
        if not self.active:
            response.success, response.message = False, f'not active ({self.state_label})'
            return response
        self.core.set_enabled(bool(request.data))
        response.success = True
        response.message = 'enabled' if request.data else 'disabled: nothing is published'
        self.get_logger().info(f'~/enable: {response.message}')
        return response

    def error(self, key: str, text: str) -> None:
        """Log ``text`` at error level, throttled per ``key``; /diagnostics reports it."""
        self.last_error, self.last_error_time = text, time.monotonic()
        self.throttle(key, text, self.log_error)

    # --- diagnostics ------------------------------------------------------------------------
    def diagnostics(self) -> tuple[str, str, dict[str, Any]]:
        """(level, message, values) of the executor's state."""
        s, core = self.core.stats, self.core
        rate = self.action_times.summary()['rate_hz']
        window = max(2.0, 2 * self.cfg.diagnostics_period)
        recent = time.monotonic() - self.last_error_time < window
        tick = self.last_tick
        values: dict[str, Any] = {
            'lifecycle_state': self.state_label, 'enabled': core.enabled, 'blend': self.cfg.blend,
            'state': tick.kind if tick is not None else 'none', 'action_rate_hz': rate,
            **{k: getattr(s, k) for k in vars(s)}, 'rejected_chunks': self.rejected_chunks,
            'request_at_remaining': core.request_threshold(),
            'latency_ms_max': 1e3 * max(core.rtts, default=0.0),
            'latency_ms_last': 1e3 * (core.rtts[-1] if core.rtts else 0.0),
            'chunk_age_ms_max': 1e3 * max(core.ages, default=0.0),
            'chunk_age_ms_last': 1e3 * (core.ages[-1] if core.ages else 0.0),
            'last_error': self.last_error if recent else ''}
        if not self.active:
            return 'WARN', f'{self.state_label}: no actions published', values
        if not core.enabled:
            return 'WARN', 'disabled: call ~/enable (std_srvs/SetBool) with data: true', values
        if recent and self.last_error:
            return 'ERROR', self.last_error, values
        if tick is not None and tick.kind in ('hold', 'nonfinite'):
            return 'ERROR', tick.reason, values
        if tick is not None and tick.kind in ('waiting', 'idle'):
            return 'WARN', tick.reason, values
        return 'OK', f'{rate:.1f} actions/s', values

    def publish_diagnostics(self) -> None:
        """Timer callback: one DiagnosticStatus on /diagnostics."""
        level, message, values = self.diagnostics()
        self.diag_pub.publish(diagnostics_msg(self.get_clock().now().to_msg(),
                                              self.get_fully_qualified_name(), level, message,
                                              values))


def main(args: list[str] | None = None, fast_exit: bool = True) -> int:
    """Run the node until SIGINT/SIGTERM; returns the exit code (see :func:`run_node`)."""
    return run_node(ExecutorNode, NODE_NAME, args, fast_exit)


if __name__ == '__main__':
    sys.exit(main())
