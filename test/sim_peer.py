"""Test peer of ``specprune_sim``: records what the bridge publishes, sends it actions.

Used by ``test/ros/sim_bridge/test_sim_node.py``. The caller runs ``rclpy.init`` on the bridge's
ROS_DOMAIN_ID. The peer spins in a background thread; every recorded message is kept.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable
import json
import threading
import time
from typing import Any

from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from specprune_ros.ros.common.conversions import stamp_to_sec
from specprune_ros.ros.common.node_base import load_msg_module

SIM = '/specprune_sim'
_MSG = load_msg_module()


class SimPeer:
    """Subscribes to every output of the bridge; publishes ``~/action``."""

    def __init__(self, node: str = SIM) -> None:
        """Create the peer node and spin it in a background thread (rclpy.init first)."""
        self.node = rclpy.create_node('specprune_sim_peer')
        self.lock = threading.Lock()
        self.got: dict[str, list[Any]] = {}
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        for name, kind, topic, qos in (
                ('third_person', Image, 'third_person/image_raw', QoSProfile(depth=50)),
                ('wrist', Image, 'wrist/image_raw', QoSProfile(depth=50)),
                ('ee_state', PoseStamped, 'ee_state', QoSProfile(depth=100)),
                ('ee_twist', TwistStamped, 'ee_twist', QoSProfile(depth=100)),
                ('gripper', JointState, 'gripper_state', QoSProfile(depth=100)),
                ('instruction', String, 'instruction', latched),
                ('episode', String, 'episode', latched)):
            self.got[name] = []
            self.node.create_subscription(kind, f'{node}/{topic}', self._keep(name), qos)
        self.got['clock'] = []
        self.node.create_subscription(Clock, '/clock', self._keep('clock'), QoSProfile(depth=100))
        self.action_pub = self.node.create_publisher(_MSG.Action, f'{node}/action',
                                                     QoSProfile(depth=10))
        self._used_clock = -1.0
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _keep(self, name: str) -> Callable[[Any], None]:
        def keep(msg: Any) -> None:
            with self.lock:
                self.got[name].append(msg)
        return keep

    # --- reading -------------------------------------------------------------------------
    def messages(self, name: str) -> list[Any]:
        """Everything received on one output so far."""
        with self.lock:
            return list(self.got[name])

    @staticmethod
    def stamp(msg: Any) -> float:
        """The header stamp of ``msg`` (s)."""
        return round(stamp_to_sec(msg.header.stamp), 6)

    def clock_values(self) -> list[float]:
        """Every /clock value received, in order."""
        return [round(stamp_to_sec(m.clock), 6) for m in self.messages('clock')]

    def statuses(self) -> list[dict[str, Any]]:
        """Every ``~/episode`` status, decoded."""
        return [json.loads(m.data) for m in self.messages('episode')]

    def status(self, state: str) -> bool:
        """Whether a status with ``state`` came."""
        return any(s['state'] == state for s in self.statuses())

    def by_stamp(self, name: str) -> dict[float, Any]:
        """The messages of one output keyed by stamp."""
        return {self.stamp(m): m for m in self.messages(name)}

    def pose_at(self, t: float) -> np.ndarray:
        """The EE position published with stamp ``t``."""
        p = self.by_stamp('ee_state')[round(t, 6)].pose.position
        return np.array([p.x, p.y, p.z])

    def positions_by_step(self) -> dict[int, np.ndarray]:
        """EE position after each step (step 0: the last before the first action)."""
        out = {}
        for status in self.statuses():
            if status['state'] in ('waiting', 'running', 'done'):
                out[status['step']] = self.pose_at(status['sim_time'])
        return out

    def twists_by_step(self) -> dict[int, np.ndarray]:
        """Measured linear EE velocity (m/s) after each step."""
        twists, out = self.by_stamp('ee_twist'), {}
        for status in self.statuses():
            if status['state'] in ('waiting', 'running', 'done'):
                v = twists[round(status['sim_time'], 6)].twist.linear
                out[status['step']] = np.array([v.x, v.y, v.z])
        return out

    def steps_with_images(self) -> set[int]:
        """Steps (waiting or running) whose stamp has a third-person image."""
        images = self.by_stamp('third_person')
        return {s['step'] for s in self.statuses()
                if s['state'] in ('waiting', 'running') and round(s['sim_time'], 6) in images}

    # --- waiting and sending --------------------------------------------------------------
    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll ``condition`` until true or ``timeout`` s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.02)
        return condition()

    def wait_clock(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` more /clock values came."""
        start = len(self.messages('clock'))
        return self.wait(lambda: len(self.messages('clock')) >= start + count, timeout)

    def next_clock(self, timeout: float) -> float | None:
        """The newest /clock value not acted on yet (waits for one), or None."""
        if not self.wait(lambda: bool(self.messages('clock')) and
                         self.clock_values()[-1] > self._used_clock, timeout):
            return None
        self._used_clock = self.clock_values()[-1]
        return self._used_clock

    def send(self, t: float, values: Any, hold: bool = False) -> None:
        """Publish one Action stamped ``t``."""
        msg = _MSG.Action()
        msg.header.stamp = rclpy.time.Time(nanoseconds=round(t * 1e9)).to_msg()
        msg.values = [float(v) for v in values]
        msg.hold = hold
        self.action_pub.publish(msg)

    def close(self) -> None:
        """Stop spinning and destroy the node."""
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
