"""The ``specprune_sim`` lifecycle node: the LIBERO benchmark as a ROS 2 robot.

Publishes (relative to the node): ``~/third_person/image_raw`` and ``~/wrist/image_raw``
(sensor_msgs/Image rgb8, the policy view: LIBERO's renders rotated 180° as OpenVLA-OFT feeds
them), ``~/ee_state`` (geometry_msgs/PoseStamped: the grip site position and robosuite's hand
quaternion, exactly what LIBERO's proprio is made of), ``~/ee_twist`` (TwistStamped: the
simulator's MEASURED grip-site velocity, world axes, m/s and rad/s), ``~/gripper_state``
(sensor_msgs/JointState: the two finger positions), ``~/instruction`` (std_msgs/String,
transient local), ``~/episode`` (std_msgs/String, JSON: episode, task, init state, step,
success, done, state) and, with simulated time, ``/clock``. Executes ``~/action``
(specprune_ros/Action, the executor's) or, with ``action_source:=chunk``, the first steps of
each ``~/action_chunk`` (specprune_ros/ActionChunk), asking for the next one on ``~/request``
(std_msgs/Header, stamped with the instant whose frames the chunk must use).

Timing (``real_time``): false (default) publishes /clock in *lockstep*: simulated time advances
0.05 s per step and only once the step's action is in, so a query in flight stops the clock and
an episode is the same on any machine (faster or slower than real time). With the executor the
bridge watches its requests and the policy's chunks (``~/watch/request``, std_msgs/Header, and
``~/watch/action_chunk``; remap them to the policy's ``~/request`` and ``~/action_chunk``) to
render a requested instant and to name the node that went silent. True steps on the wall clock
at ``control_rate`` and executes the newest action. Images are rendered only at the steps
that publish them (``image_every``); every message of a step has the step's stamp.

The simulator runs on its own thread (LIBERO, MuJoCo and the EGL context are used from that
thread only); the subscriptions only hand messages to an :class:`ActionInbox`.
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

from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header, String

from specprune_ros.errors import InputError
from specprune_ros.ros.common.conversions import stamp_to_sec
from specprune_ros.ros.common.node_base import load_msg_module, NodeLogging, SchemaParameters
from specprune_ros.ros.common.node_runner import LifecycleShell, run_node
from specprune_ros.ros.common.sync import LogThrottle
from specprune_ros.ros.sim_bridge.actions import ActionInbox
from specprune_ros.ros.sim_bridge.config import sim_specs, SimNodeConfig
from specprune_ros.ros.sim_bridge.loop import SimLoop, SimPorts

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
NODE_NAME = 'specprune_sim'
_MSG = load_msg_module()


class SimNode(LifecycleShell, SchemaParameters, NodeLogging, LifecycleNode):
    """Lifecycle node: configure builds the LIBERO task, activate starts the episodes."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare every parameter from the schema; raises ConfigError for bad overrides."""
        super().__init__(NODE_NAME, **kwargs)
        self.declare_schema(sim_specs(), SimNodeConfig())
        self.throttle = LogThrottle(2.0)
        self.inbox = ActionInbox(self.cfg.action_source, self.cfg.chunk_steps,
                                 self.cfg.gripper_mode)
        self.env: Any = None
        self.loop: SimLoop | None = None
        self.ports: SimPorts | None = None
        self.subs: list[Any] = []
        self.rejected = 0
        self.state_label = 'unconfigured'

    # --- parameters (declared by SchemaParameters) ------------------------------------------
    def apply_config(self, cfg: SimNodeConfig) -> None:
        """A changed config reaches the inbox and the loop (at their next action or step)."""
        self.inbox.chunk_steps, self.inbox.gripper_mode = cfg.chunk_steps, cfg.gripper_mode
        if self.loop is not None:
            self.loop.cfg = cfg  # image_every, action_timeout, start_on_action: next step

    # --- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """:func:`run_node`'s close: stop the simulation thread, then free the simulator."""
        if self.loop is not None and not self.loop.stop(timeout=5.0):
            self.get_logger().warning('the simulation thread is still in a step; not freeing '
                                      'the simulator (the process ends anyway)')
            return
        if self.env is not None:
            self.env.close()
            self.env = None

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Build the LIBERO task (several seconds) and create the ports."""
        from specprune_ros.sim import libero_missing, LiberoEnv, SimError

        cfg, t0 = self.cfg, time.perf_counter()
        missing = libero_missing()
        if missing:
            self.get_logger().error(f'cannot simulate: {missing}')
            return FAILURE
        try:
            self.env = LiberoEnv.from_config(cfg.sim_config(cfg.init_state))
        except (SimError, InputError, ValueError) as exc:
            self.get_logger().error(f'configure failed: {type(exc).__name__}: {exc}')
            return FAILURE
        self.ports = self._create_ports()
        self.loop = SimLoop(self.env, self.inbox, self.ports, cfg, self.get_clock(),
                            self.get_logger())
        self.state_label = 'inactive'
        mode = ('real time' if cfg.real_time else 'simulated time on /clock (run the other '
                'nodes with use_sim_time:=true)')
        self.get_logger().info(
            f'configured in {time.perf_counter() - t0:.1f} s: {cfg.suite} task {cfg.task_id} '
            f'({self.env.task.name}), {self.env.n_init_states} initial states, {mode}; '
            f'actions from ~/{cfg.action_source}; instruction {self.env.instruction!r}')
        return SUCCESS

    def _create_ports(self) -> SimPorts:
        qos = QoSProfile(depth=10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        status = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        pub = self.create_lifecycle_publisher
        ports = SimPorts(
            third_person=pub(Image, '~/third_person/image_raw', QoSProfile(depth=5)),
            wrist=pub(Image, '~/wrist/image_raw', QoSProfile(depth=5)),
            ee_state=pub(PoseStamped, '~/ee_state', qos),
            ee_twist=pub(TwistStamped, '~/ee_twist', qos),
            gripper=pub(JointState, '~/gripper_state', qos),
            instruction=pub(String, '~/instruction', latched),
            episode=pub(String, '~/episode', status),
            request=pub(Header, '~/request', qos),
            clock=None if self.cfg.real_time else pub(Clock, '/clock', qos))
        sub = self.create_subscription
        if self.cfg.action_source == 'action':
            self.subs.append(sub(_MSG.Action, '~/action', self._on_action, QoSProfile(depth=10)))
            if not self.cfg.real_time:  # lockstep: whose turn is it?
                self.subs.append(sub(Header, '~/watch/request',
                                     lambda m: self.inbox.note_request(stamp_to_sec(m.stamp)),
                                     QoSProfile(depth=10)))
                self.subs.append(sub(_MSG.ActionChunk, '~/watch/action_chunk',
                                     lambda m: self.inbox.note_chunk(
                                         stamp_to_sec(m.header.stamp)), QoSProfile(depth=10)))
            names = {'action': self.subs[0].topic_name}
            if len(self.subs) > 1:
                names |= {'request': self.subs[1].topic_name, 'chunk': self.subs[2].topic_name}
        else:
            self.subs.append(sub(_MSG.ActionChunk, '~/action_chunk', self._on_chunk,
                                 QoSProfile(depth=10)))
            names = {'chunk': self.subs[0].topic_name, 'request': ports.request.topic_name}
        return ports._replace(names=names)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish the instruction and start the episodes on the simulation thread."""
        result = super().on_activate(state)
        self.ports.instruction.publish(String(data=self.env.instruction))
        self.inbox.clear()
        self.loop.start()
        self.state_label = 'active'
        self.get_logger().info(f'active: {self.cfg.episodes or "endless"} episode(s) from '
                               f'init state {self.cfg.init_state}')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the episodes (the current one is abandoned)."""
        self.loop.stop(timeout=5.0)
        self.state_label = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the ports and the simulator."""
        self.close()
        for sub in self.subs:
            self.destroy_subscription(sub)
        self.subs = []
        if self.ports is not None:
            for pub in self.ports.publishers():
                self.destroy_lifecycle_publisher(pub)
        self.ports = self.loop = None
        self.state_label = 'unconfigured'
        return SUCCESS

    # --- subscriptions (executor thread) ---------------------------------------------------------
    def _reject(self, text: str) -> None:
        self.rejected += 1
        self.throttle('reject', f'{text} (rejected so far: {self.rejected})', self.log_error)

    def _on_action(self, msg: Any) -> None:
        try:
            self.inbox.put_action(stamp_to_sec(msg.header.stamp), msg.values, bool(msg.hold))
        except InputError as exc:
            self._reject(str(exc))

    def _on_chunk(self, msg: Any) -> None:
        try:
            self.inbox.put_chunk(stamp_to_sec(msg.header.stamp), int(msg.horizon),
                                 int(msg.action_dim), msg.actions)
        except InputError as exc:
            self._reject(str(exc))


def main(args: list[str] | None = None, fast_exit: bool = True) -> int:
    """Run the node until SIGINT/SIGTERM; returns the exit code (see :func:`run_node`)."""
    return run_node(SimNode, NODE_NAME, args, fast_exit)


if __name__ == '__main__':
    sys.exit(main())
