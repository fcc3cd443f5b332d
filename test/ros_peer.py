"""Test peer of ``specprune_policy``: starts the node as a process, feeds it, records outputs.

Used by the node tests (test/ros/policy/test_node.py, test_executor_node.py, test_sim_node.py) and
``scripts/soak.py``. Needs rclpy and the generated ``specprune_ros.msg`` (``source
scripts/ros_env.sh``). The caller runs ``rclpy.init`` with the same ROS_DOMAIN_ID as the node
process (see :func:`ros_env`; :func:`peer_context` does both for a test module).
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
from collections.abc import Iterator
import contextlib
import fcntl
import io
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
from PIL import Image as PILImage
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_services import (  # noqa: F401  (re-exported for the other peers)
    call_service,
    dump_parameters,
    set_parameters_request,
)
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from specprune_ros.ros.policy.io import load_msg_module

REPO = Path(__file__).resolve().parent.parent
NODE = '/specprune_policy'
_MSG = load_msg_module()


_DOMAIN_LOCKS: list[Any] = []  # held open (locked) until this process exits


def claim_domain(first: int = 100, last: int = 200) -> int:
    """A ROS_DOMAIN_ID in [first, last] that no other process on this machine has claimed.

    Test runs of several checkouts on one machine would otherwise share a random domain now
    and then and see each other's nodes: a peer then reads another run's /diagnostics or
    chunks. The claim is an exclusive ``flock`` on a file in the temp folder, held until this
    process ends (the node processes it starts live shorter than it).
    """
    ids = list(range(first, last + 1))
    random.shuffle(ids)
    folder = Path(tempfile.gettempdir())
    for domain in ids:
        handle = open(folder / f'specprune_ros_domain_{domain}.lock', 'a')  # kept open
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _DOMAIN_LOCKS.append(handle)
        return domain
    raise RuntimeError(f'every ROS_DOMAIN_ID in [{first}, {last}] is claimed by another process')


def ros_env(domain_id: int | None = None) -> dict[str, str]:
    """Environment for a node process: one ROS_DOMAIN_ID, this machine only."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id if domain_id is not None else claim_domain())
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_LOCALHOST_ONLY'] = '1'
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    env['PYTHONUNBUFFERED'] = '1'
    return env


@contextlib.contextmanager
def peer_context(domain_id: int) -> Iterator[None]:
    """rclpy in this (peer) process on ``domain_id``, localhost only; shut down on leaving."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    rclpy.init(domain_id=domain_id)
    try:
        yield
    finally:
        rclpy.try_shutdown()


class NodeProcess:
    """``python -m specprune_ros.ros.policy.node`` (or ``module``) as a process, output to a file.

    As a context manager it is stopped (:meth:`stop`) on leaving the block.
    """

    def __init__(self, params: dict[str, Any], env: dict[str, str], log_path: Path,
                 ros_args: tuple[str, ...] = (),
                 module: str = 'specprune_ros.ros.policy.node') -> None:
        """Start the node with ``-p name:=value`` for every entry of ``params``."""
        args = [sys.executable, '-m', module, '--ros-args', *ros_args]
        for name, value in params.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ['-p', f'{name}:={text}']
        self.log_path = log_path
        self._log = open(log_path, 'w+b')  # closed in stop()
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def __enter__(self) -> NodeProcess:
        """The running process."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop it (exceptions propagate)."""
        self.stop()

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text(errors='replace')

    def rss_mb(self) -> float:
        """Resident memory of the node process [MiB]."""
        for line in Path(f'/proc/{self.proc.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
        return float('nan')

    def wait_log(self, text: str, timeout: float) -> bool:
        """Wait until ``text`` appears in the log (False on timeout or exit)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if text in self.log():
                return True
            time.sleep(0.05)
        return text in self.log()

    def signal_and_wait(self, sig: int, timeout: float = 5.0) -> tuple[int | None, float]:
        """Send ``sig``; (exit code or None, seconds until the process ended)."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0

    def stop(self) -> None:
        """End the process (SIGINT, then SIGKILL) and close the log."""
        if self.proc.poll() is None:
            rc, _ = self.signal_and_wait(signal.SIGINT, 5.0)
            if rc is None:
                self.proc.kill()
                self.proc.wait(5.0)
        self._log.close()


def stamp_of(t: float) -> Time:
    """builtin_interfaces/Time of ``t`` seconds."""
    sec = int(t)
    return Time(sec=sec, nanosec=round((t - sec) * 1e9) % 1_000_000_000)


def sec(stamp: Any) -> float:
    """Seconds of a builtin_interfaces/Time."""
    return stamp.sec + stamp.nanosec * 1e-9


def key(stamp: Any) -> tuple[int, int]:
    """A hashable exact stamp."""
    return int(stamp.sec), int(stamp.nanosec)


def jpeg_msg(rgb: np.ndarray) -> CompressedImage:
    """A sensor_msgs/CompressedImage (JPEG) of an RGB array."""
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format='JPEG', quality=90)
    msg = CompressedImage(format='jpeg')
    msg.data = array.array('B', buf.getvalue())
    return msg


def image_msg(rgb: np.ndarray, encoding: str = 'rgb8') -> Image:
    """A sensor_msgs/Image of an RGB array (``encoding`` is written as given)."""
    msg = Image()
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = encoding
    msg.step = int(rgb.shape[1]) * 3
    msg.data = array.array('B', np.ascontiguousarray(rgb).tobytes())
    return msg


class Peer:
    """Publishes cameras, EE state and instruction; records what the node publishes."""

    def __init__(self, images: tuple[np.ndarray, np.ndarray], name: str = 'specprune_peer',
                 node: str = NODE, compressed: bool = False) -> None:
        """Create the peer node and spin it in a background thread (rclpy.init first)."""
        self.target = node
        self.node = rclpy.create_node(name)
        qos = QoSProfile(depth=5)
        kind, suffix = (CompressedImage, '/compressed') if compressed else (Image, '')
        self.pub_tp = self.node.create_publisher(
            kind, f'{node}/third_person/image_raw{suffix}', qos)
        self.pub_wr = self.node.create_publisher(kind, f'{node}/wrist/image_raw{suffix}', qos)
        self.pub_state = self.node.create_publisher(PoseStamped, f'{node}/ee_state', qos)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_instr = self.node.create_publisher(String, f'{node}/instruction', latched)
        self.lock = threading.Lock()
        self.chunks: collections.deque[tuple[float, Any]] = collections.deque(maxlen=5000)
        self.stats: collections.deque[Any] = collections.deque(maxlen=5000)
        self.debug: collections.deque[Any] = collections.deque(maxlen=50)
        self.diags: collections.deque[Any] = collections.deque(maxlen=200)
        self.node.create_subscription(_MSG.ActionChunk, f'{node}/action_chunk',
                                      self._on_chunk, 50)
        self.node.create_subscription(_MSG.StepStats, f'{node}/stats',
                                      lambda msg: self.stats.append(msg), 50)
        self.node.create_subscription(Image, f'{node}/debug/kept_tokens',
                                      lambda msg: self.debug.append(msg), 5)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.set_cli = self.node.create_client(SetParameters, f'{node}/set_parameters')
        self.change_cli = self.node.create_client(ChangeState, f'{node}/change_state')
        self.state_cli = self.node.create_client(GetState, f'{node}/get_state')
        # synthetic motion: each view shifted by a few pixels per frame
        make = jpeg_msg if compressed else image_msg
        self.frames = [tuple(make(np.roll(img, 2 * k, axis=1)) for img in images)
                       for k in range(6)]
        self.published: collections.deque[tuple[int, int]] = collections.deque(maxlen=20000)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()
        self._stream: threading.Thread | None = None
        self._stop = threading.Event()
        self.state_on = threading.Event()
        self.state_on.set()
        self.tick = 0

    def _on_chunk(self, msg: Any) -> None:
        self.chunks.append((time.time(), msg))

    def _call(self, client: Any, request: Any, timeout: float) -> Any:
        return call_service(client, request, timeout)

    def transition(self, label: str, timeout: float = 60.0) -> bool:
        """Request a lifecycle transition by label; True on success.

        ``label`` is ``configure``, ``activate``, ``deactivate`` or ``cleanup`` (what
        ``ros2 lifecycle set`` calls).
        """
        ids = {'configure': Transition.TRANSITION_CONFIGURE,
               'activate': Transition.TRANSITION_ACTIVATE,
               'deactivate': Transition.TRANSITION_DEACTIVATE,
               'cleanup': Transition.TRANSITION_CLEANUP}
        req = ChangeState.Request(transition=Transition(id=ids[label]))
        return bool(self._call(self.change_cli, req, timeout).success)

    def lifecycle_state(self, timeout: float = 10.0) -> str:
        """The node's lifecycle state label (``unconfigured``, ``inactive``, ``active``)."""
        return self._call(self.state_cli, GetState.Request(), timeout).current_state.label

    def _on_diag(self, msg: DiagnosticArray) -> None:
        self.diags.extend(msg.status)

    def close(self) -> None:
        """Stop streaming and the executor; destroy the node."""
        self.stop_stream()
        self.executor.shutdown(1.0)
        self.node.destroy_node()

    # --- publishing -------------------------------------------------------------------------
    def instruct(self, text: str) -> None:
        """Publish the (latched) instruction."""
        self.pub_instr.publish(String(data=text))

    def publish_state(self, t: float, position: tuple[float, float, float] = (0.1, 0.0, 1.0),
                      frame_id: str = 'base') -> None:
        """One EE pose with stamp ``t``."""
        msg = PoseStamped()
        msg.header.stamp = stamp_of(t)
        msg.header.frame_id = frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = position
        msg.pose.orientation.w = 1.0
        self.pub_state.publish(msg)

    def publish_images(self, t: float, encoding: str = 'rgb8', truncate: bool = False
                       ) -> tuple[int, int]:
        """Both views with stamp ``t`` (optionally a wrong encoding / truncated data)."""
        tp, wr = self.frames[self.tick % len(self.frames)]
        self.tick += 1
        stamp = stamp_of(t)
        if encoding != 'rgb8' or truncate:  # raw images only
            bad = Image(height=tp.height, width=tp.width, step=tp.step, encoding=encoding)
            bad.data = tp.data[:len(tp.data) // 2] if truncate else tp.data
            tp = bad
        for msg, pub, frame in ((tp, self.pub_tp, 'third_person'), (wr, self.pub_wr, 'wrist')):
            msg.header.stamp = stamp
            msg.header.frame_id = frame
            pub.publish(msg)
        self.published.append(key(stamp))
        return key(stamp)

    def start_stream(self, camera_hz: float = 30.0, state_hz: float = 100.0,
                     **image_kwargs: Any) -> None:
        """Publish cameras and (while ``state_on`` is set) EE state in a thread."""
        self.stop_stream()
        self._stop.clear()

        def run() -> None:
            t0 = time.monotonic()
            next_cam = next_state = t0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_state:
                    if self.state_on.is_set():
                        self.publish_state(time.time())
                    next_state += 1.0 / state_hz
                if now >= next_cam:
                    self.publish_images(time.time(), **image_kwargs)
                    next_cam += 1.0 / camera_hz
                time.sleep(max(0.0, min(next_cam, next_state) - time.monotonic()))

        self._stream = threading.Thread(target=run, daemon=True)
        self._stream.start()

    def stop_stream(self) -> None:
        """Stop :meth:`start_stream`."""
        self._stop.set()
        if self._stream is not None:
            self._stream.join(2.0)
            self._stream = None

    # --- parameters and waiting ----------------------------------------------------------------
    def set_params(self, values: dict[str, Any], timeout: float = 10.0) -> list[Any]:
        """Call ``/specprune_policy/set_parameters`` (what ``ros2 param set`` does)."""
        return list(self._call(self.set_cli, set_parameters_request(values), timeout).results)

    @staticmethod
    def wait_for(predicate: Any, timeout: float, period: float = 0.05) -> bool:
        """Poll ``predicate`` until true or ``timeout`` s passed."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(period)
        return bool(predicate())

    def last_diag(self, name: str | None = None) -> Any:
        """The newest DiagnosticStatus of the node ``name`` (default: this peer's target)."""
        name = name or self.target
        found = [s for s in list(self.diags) if s.name == name]
        return found[-1] if found else None

    @staticmethod
    def diag_values(status: Any) -> dict[str, str]:
        """Return the key/value pairs of a DiagnosticStatus as a dict."""
        return {kv.key: kv.value for kv in status.values}
