"""Test peer of ``specprune_executor``: publishes action chunks, records actions and requests.

Used by ``test/ros/executor/test_executor_node.py`` and ``scripts/soak.py --executor``. Needs
rclpy, std_srvs and the generated ``specprune_ros.msg``; the caller runs ``rclpy.init`` on the same
ROS_DOMAIN_ID as the node processes (``ros_peer.ros_env``).
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
import collections
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
import numpy as np
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from ros_peer import call_service, Peer, set_parameters_request, stamp_of
from std_msgs.msg import Empty
from std_srvs.srv import SetBool

from specprune_ros.ros.policy.io import load_msg_module

EXECUTOR = '/specprune_executor'
_MSG = load_msg_module()


class ExecutorPeer:
    """Publishes chunks to the executor; records its actions, twists, requests, diagnostics."""

    def __init__(self, node: str = EXECUTOR, name: str = 'specprune_executor_peer') -> None:
        """Create the peer node and spin it in a background thread (rclpy.init first)."""
        self.target = node
        self.node = rclpy.create_node(name)
        qos = QoSProfile(depth=10)
        self.chunk_pub = self.node.create_publisher(_MSG.ActionChunk, f'{node}/action_chunk', qos)
        self.actions: collections.deque[tuple[float, Any]] = collections.deque(maxlen=20000)
        self.twists: collections.deque[Any] = collections.deque(maxlen=20000)
        self.requests: collections.deque[float] = collections.deque(maxlen=20000)
        self.diags: collections.deque[Any] = collections.deque(maxlen=500)
        self.node.create_subscription(_MSG.Action, f'{node}/action',
                                      lambda m: self.actions.append((time.time(), m)), 100)
        self.node.create_subscription(TwistStamped, f'{node}/twist',
                                      lambda m: self.twists.append(m), 100)
        self.node.create_subscription(Empty, f'{node}/request',
                                      lambda m: self.requests.append(time.time()), 100)
        self.node.create_subscription(DiagnosticArray, '/diagnostics',
                                      lambda m: self.diags.extend(m.status), 50)
        self.enable_cli = self.node.create_client(SetBool, f'{node}/enable')
        self.set_cli = self.node.create_client(SetParameters, f'{node}/set_parameters')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()

    def close(self) -> None:
        """Stop the executor and destroy the node."""
        self.executor.shutdown(1.0)
        self.node.destroy_node()

    def chunk(self, stamp: float, actions: np.ndarray, step: int = 0,
              frame_id: str = 'base') -> None:
        """Publish one ActionChunk of ``actions`` (H, D) with header stamp ``stamp``."""
        msg = _MSG.ActionChunk()
        msg.header.stamp = stamp_of(stamp)
        msg.header.frame_id = frame_id
        msg.step = step
        msg.horizon, msg.action_dim = int(actions.shape[0]), int(actions.shape[1])
        msg.actions = array.array('f', np.asarray(actions, dtype=np.float32).ravel().tobytes())
        self.chunk_pub.publish(msg)

    def enable(self, on: bool, timeout: float = 10.0) -> Any:
        """Call ``~/enable``; the response."""
        return call_service(self.enable_cli, SetBool.Request(data=on), timeout)

    def set_params(self, values: dict[str, Any], timeout: float = 10.0) -> list[Any]:
        """Set parameters of the executor; asserts that every one was accepted."""
        results = list(call_service(self.set_cli, set_parameters_request(values), timeout)
                       .results)
        assert all(r.successful for r in results), [r.reason for r in results]
        return results

    def last_diag(self) -> Any:
        """The newest DiagnosticStatus of the executor (None before the first)."""
        found = [s for s in list(self.diags) if s.name == self.target]
        return found[-1] if found else None

    def diag_values(self) -> dict[str, str]:
        """Key/values of the newest diagnostics (empty before the first)."""
        status = self.last_diag()
        return Peer.diag_values(status) if status is not None else {}

    def actions_since(self, t0: float) -> list[Any]:
        """Action messages received at or after ``t0`` (time.time())."""
        return [m for t, m in list(self.actions) if t >= t0]

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Poll ``predicate`` until true or ``timeout`` s passed."""
        return Peer.wait_for(predicate, timeout)
