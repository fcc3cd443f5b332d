# Copyright 2026 The specprune_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""``specprune-replay``: publish camera images, EE poses and the instruction for the node.

Sources (ROS-free iterables of :class:`ReplayFrame`): ``--fixture`` (default) the synthetic
moving LIBERO sequence of :mod:`specprune_ros.sequence`, looped by default; ``--images DIR``
pairs ``third_person_<key>.{png,jpg,jpeg}`` with ``wrist_<key>.<ext>`` in natural order of
``<key>`` (``DIR/instruction.txt`` is the task when present); ``--bag PATH`` reads a rosbag2
(sqlite3 or MCAP) with ``rosbags``: Image/CompressedImage topics paired by header stamp within
``--bag-slop``, each pair with the newest PoseStamped seen so far. Sources without poses use
``--pose`` (static fixture pose, synthetic fast-then-slow trajectory, or none).

The images and the pose of one frame share ONE header stamp (``--stamp now``: node clock at
publication; ``source``: the source stamp, shifted by the sequence length on every loop). With
``--state-rate`` above ``--rate`` poses interpolated between frames go out in between; below it,
poses go with every n-th frame only. rclpy is imported only when publishing.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from specprune_ros.controller import EEState
from specprune_ros.conversions import (compressed_msg_to_rgb, image_msg_to_rgb,
                                       pose_msg_to_ee_state, stamp_to_sec)
from specprune_ros.errors import SpecPruneError

_LOG = logging.getLogger(__name__)
DEFAULT_TOPICS = {'third_person': '/specprune_policy/third_person/image_raw',
                  'wrist': '/specprune_policy/wrist/image_raw',
                  'pose': '/specprune_policy/ee_state',
                  'instruction': '/specprune_policy/instruction'}
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
_IMAGES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
_TYPES = {'third_person': _IMAGES, 'wrist': _IMAGES, 'pose': ('geometry_msgs/msg/PoseStamped',),
          'instruction': ('std_msgs/msg/String',)}


class ReplayError(SpecPruneError, ValueError):
    """A replay source that cannot be used (missing folder or bag, missing topics, ...)."""


class ReplayFrame(NamedTuple):
    """One step: both views (H, W, 3 uint8 RGB) and the pose, all at ``stamp`` [s]."""

    stamp: float
    third_person: np.ndarray
    wrist: np.ndarray
    pose: EEState | None
    instruction: str | None


@lru_cache(maxsize=1)
def _default_state() -> tuple[np.ndarray, np.ndarray, str]:
    """Position, axis-angle and task of the LIBERO fixture (origin/identity without it)."""
    try:
        from specprune_ros.fixtures import load_observation
        obs = load_observation()
    except FileNotFoundError:
        return np.zeros(3), np.zeros(3), 'pick up the object'
    state = np.asarray(obs.proprio, dtype=np.float64)
    return state[:3], state[3:6], obs.instruction


def make_poses(stamps: Sequence[float], mode: str) -> list[EEState | None]:
    """Poses for sources without any: ``static``, ``synthetic`` (fast, then slow) or ``none``."""
    if mode == 'none':
        return [None] * len(stamps)
    position, rotvec, _ = _default_state()
    if mode == 'static':
        return [EEState.from_axis_angle(t, position, rotvec) for t in stamps]
    if mode != 'synthetic':
        raise ReplayError(f"pose mode must be 'static', 'synthetic' or 'none', got {mode!r}")
    from specprune_ros.sequence import ee_trajectory
    traj = ee_trajectory(len(stamps), position)
    return [EEState.from_axis_angle(t, p, rotvec) for t, (_, p) in zip(stamps, traj)]


class FixtureSource:
    """The synthetic moving sequence built from the LIBERO fixture."""

    def __init__(self, steps: int = 24, period: float = 0.05) -> None:
        """Build ``steps`` frames ``period`` seconds apart (raises ReplayError)."""
        from specprune_ros.fixtures import load_observation
        from specprune_ros.sequence import synthetic_sequence
        if steps < 1:
            raise ReplayError(f'--steps must be >= 1, got {steps}')
        try:
            base = load_observation()
        except FileNotFoundError as exc:
            raise ReplayError(str(exc)) from exc
        self.instruction, self.period = base.instruction, period
        self._frames = [ReplayFrame(s.observation.stamp, *s.observation.images, s.pose, None)
                        for s in synthetic_sequence(base, steps, period)]

    def __iter__(self) -> Iterator[ReplayFrame]:
        """Iterate over the frames in order."""
        return iter(self._frames)


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'), dtype=np.uint8).copy()


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', text)]


class ImageFolderSource:
    """Paired ``third_person_<key>`` / ``wrist_<key>`` images of a folder (see module)."""

    def __init__(self, folder: str | Path, period: float = 0.05, pose: str = 'static',
                 instruction: str | None = None) -> None:
        """Find and pair the images (loaded lazily); raises ReplayError with what is wrong."""
        root = Path(folder)
        if not root.is_dir():
            raise ReplayError(f'image folder not found: {str(root)!r}')
        found: dict[str, dict[str, Path]] = {'third_person': {}, 'wrist': {}}
        for path in root.iterdir():
            for view in found:
                if path.name.startswith(view + '_') and path.suffix.lower() in IMAGE_EXTENSIONS:
                    found[view][path.stem[len(view) + 1:]] = path
        third, wrist = found['third_person'], found['wrist']
        if not third:
            raise ReplayError(f'no third_person_<key>.png/.jpg images in {str(root)!r} '
                              '(expected pairs third_person_<key>.png + wrist_<key>.png)')
        unpaired = sorted(set(third) ^ set(wrist), key=_natural_key)
        if unpaired:
            raise ReplayError(f'unpaired images in {str(root)!r}: keys {unpaired[:5]} have only '
                              'one of third_person_<key> / wrist_<key>')
        keys = sorted(third, key=_natural_key)
        self._paths = [(third[k], wrist[k]) for k in keys]
        text = root / 'instruction.txt'
        self.instruction = instruction or (text.read_text().strip() if text.is_file()
                                           else _default_state()[2])
        self.period = period
        self._stamps = [i * period for i in range(len(keys))]
        self._poses = make_poses(self._stamps, pose)

    def __iter__(self) -> Iterator[ReplayFrame]:
        """Load and yield the frames in order."""
        for stamp, pose, (third, wrist) in zip(self._stamps, self._poses, self._paths):
            yield ReplayFrame(stamp, _load_rgb(third), _load_rgb(wrist), pose, None)


class BagSource:
    """Image pairs (and poses, instruction) of a rosbag2 read with ``rosbags``."""

    def __init__(self, path: str | Path, third_topic: str, wrist_topic: str, pose_topic: str,
                 instruction_topic: str = '', slop: float = 0.02, pose: str = 'static',
                 instruction: str | None = None) -> None:
        """Check the bag and its topics; raises ReplayError naming what is missing."""
        self.path = Path(path)
        if not self.path.exists():
            raise ReplayError(f'rosbag2 not found: {str(self.path)!r}')
        self._topics = {'third_person': third_topic, 'wrist': wrist_topic,
                        'pose': pose_topic, 'instruction': instruction_topic}
        self._slop = float(slop)
        with self._reader() as reader:
            available = {c.topic: c.msgtype for c in reader.connections}
            listing = ', '.join(f'{t} [{m}]' for t, m in sorted(available.items())) or 'none'
            for role, topic in ((r, t) for r, t in self._topics.items() if t):
                hint = " (pass --bag-pose-topic '' to use --pose)" if role == 'pose' else ''
                if topic not in available:
                    raise ReplayError(f'{role} topic {topic!r} not in bag {str(self.path)!r}; '
                                      f'topics in the bag: {listing}{hint}')
                if available[topic] not in _TYPES[role]:
                    raise ReplayError(f'{role} topic {topic!r} has type {available[topic]}, '
                                      f'expected {" or ".join(_TYPES[role])}')
            frames = sum(c.msgcount for c in reader.connections if c.topic == third_topic)
            self._fallback = [] if pose_topic else make_poses(range(frames), pose)
            first = None
            if instruction_topic:
                conns = [c for c in reader.connections if c.topic == instruction_topic]
                for conn, _, raw in reader.messages(connections=conns):
                    first = str(reader.deserialize(raw, conn.msgtype).data)
                    break
        self.instruction = instruction or first or _default_state()[2]
        self._fixed_task = bool(instruction)  # --instruction overrides the bag's topic

    def _reader(self) -> closing[Any]:
        """Open the bag with ``AnyReader`` (closed when the ``with`` block ends)."""
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.typesys import get_typestore, Stores
        try:
            reader = AnyReader([self.path], default_typestore=get_typestore(Stores.LATEST))
            reader.open()
        except (AnyReaderError, OSError, ValueError, KeyError) as exc:
            raise ReplayError(f'cannot read rosbag2 {str(self.path)!r}: {exc}') from exc
        return closing(reader)

    def __iter__(self) -> Iterator[ReplayFrame]:
        """Yield image pairs in log-time order (each pair's stamp: the third-person one)."""
        by_topic = {t: r for r, t in self._topics.items() if t}
        with self._reader() as reader:
            conns = [c for c in reader.connections if c.topic in by_topic]
            pending: dict[str, tuple[float, Any] | None] = {'third_person': None, 'wrist': None}
            pose: EEState | None = None
            instruction: str | None = None
            index = 0
            for conn, log_ns, raw in reader.messages(connections=conns):
                role = by_topic[conn.topic]
                msg = reader.deserialize(raw, conn.msgtype)
                if role == 'instruction':
                    instruction = None if self._fixed_task else str(msg.data)
                    continue
                stamp = stamp_to_sec(msg.header.stamp) or log_ns * 1e-9
                if role == 'pose':
                    try:
                        pose = pose_msg_to_ee_state(msg)
                    except ValueError as exc:
                        _LOG.warning('skipping pose at %.3f s: %s', stamp, exc)
                    continue
                pending[role] = (stamp, msg)
                other = pending['wrist' if role == 'third_person' else 'third_person']
                if other is None or abs(other[0] - stamp) > self._slop:
                    continue
                (t3, m3), (_, mw) = pending['third_person'], pending['wrist']  # type: ignore
                pending = {'third_person': None, 'wrist': None}
                if self._fallback:
                    pose = self._fallback[min(index, len(self._fallback) - 1)]
                index += 1
                try:
                    third, wrist = _decode(m3), _decode(mw)
                except ValueError as exc:
                    _LOG.warning('skipping image pair at %.3f s: %s', t3, exc)
                    continue
                yield ReplayFrame(t3, third, wrist, _restamp(pose, t3), instruction)


def _restamp(pose: EEState | None, stamp: float) -> EEState | None:
    return None if pose is None else EEState(stamp, pose.position, pose.orientation)


def _decode(msg: Any) -> np.ndarray:
    return compressed_msg_to_rgb(msg) if hasattr(msg, 'format') else image_msg_to_rgb(msg)


def iterate_frames(source: Iterable[ReplayFrame], loop: bool = False) -> Iterator[ReplayFrame]:
    """Yield the source's frames, repeated when ``loop``; stamps keep increasing."""
    offset = 0.0
    while True:
        first = last = None
        count = 0
        for frame in source:
            first = frame.stamp if first is None else first
            last, count = frame.stamp, count + 1
            if offset:
                frame = frame._replace(stamp=frame.stamp + offset,
                                       pose=_restamp(frame.pose, frame.stamp + offset))
            yield frame
        if not loop or first is None:
            return
        span = last - first  # type: ignore[operator]
        offset += span + (span / (count - 1) if count > 1 else getattr(source, 'period', 1.0))


def interpolate_pose(a: EEState, b: EEState, fraction: float, stamp: float) -> EEState:
    """Pose ``fraction`` of the way from ``a`` to ``b`` (lerp, normalised quaternion lerp)."""
    qb = b.orientation if float(np.dot(a.orientation, b.orientation)) >= 0 else -b.orientation
    return EEState(stamp, a.position + fraction * (b.position - a.position),
                   a.orientation + fraction * (qb - a.orientation))


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser of ``specprune-replay``."""
    p = argparse.ArgumentParser(prog='specprune-replay', description='Publish camera images, '
                                'EE poses and the task for specprune_policy.',
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument('--fixture', action='store_true', help='synthetic LIBERO sequence (default)')
    src.add_argument('--images', metavar='DIR', help='folder of third_person_*/wrist_* images')
    src.add_argument('--bag', metavar='PATH', help='rosbag2 folder or file (sqlite3 or MCAP)')
    p.add_argument('--steps', type=int, default=24, help='fixture sequence length')
    p.add_argument('--pose', choices=('static', 'synthetic', 'none'), default='static',
                   help='poses for --images and for a bag without a pose topic')
    p.add_argument('--instruction', help='task text (default: from the source)')
    for role, default in DEFAULT_TOPICS.items():
        p.add_argument(f'--{role.replace("_", "-")}-topic', default=default)
    for role in ('third_person', 'wrist', 'pose'):
        p.add_argument(f'--bag-{role.replace("_", "-")}-topic', default=DEFAULT_TOPICS[role])
    p.add_argument('--bag-instruction-topic', default='', help="'' = none")
    p.add_argument('--bag-slop', type=float, default=0.02, help='max image stamp difference [s]')
    p.add_argument('--rate', type=float, default=10.0, help='camera rate [Hz]')
    p.add_argument('--state-rate', type=float, help='pose rate [Hz] (default: --rate)')
    p.add_argument('--duration', type=float, help='stop after this many seconds')
    p.add_argument('--count', type=int, help='stop after this many frames')
    p.add_argument('--loop', action=argparse.BooleanOptionalAction,
                   help='repeat the source (default: only the fixture)')
    p.add_argument('--stamp', choices=('now', 'source'), default='now')
    p.add_argument('--third-person-frame', default='third_person_camera')
    p.add_argument('--wrist-frame', default='wrist_camera')
    p.add_argument('--pose-frame', default='world')
    p.add_argument('--wait-subscribers', type=float, default=0.0, metavar='S',
                   help='wait up to S seconds for image subscribers before publishing')
    return p


def build_source(ns: argparse.Namespace) -> Iterable[ReplayFrame]:
    """Build the source selected by the parsed arguments (raises ReplayError)."""
    period = 1.0 / ns.rate
    if ns.images:
        return ImageFolderSource(ns.images, period, ns.pose, ns.instruction)
    if ns.bag:
        return BagSource(ns.bag, ns.bag_third_person_topic, ns.bag_wrist_topic,
                         ns.bag_pose_topic, ns.bag_instruction_topic, ns.bag_slop, ns.pose,
                         ns.instruction)
    src = FixtureSource(ns.steps, period)
    src.instruction = ns.instruction or src.instruction
    return src


def parse(args: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``args`` (default sys.argv); returns the namespace and the ``--ros-args`` part."""
    argv = list(sys.argv[1:] if args is None else args)
    i = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    argv, ros_argv = argv[:i], argv[i:]
    parser = build_parser()
    ns = parser.parse_args(argv)
    for name in ('rate', 'state_rate', 'duration'):
        value = getattr(ns, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            parser.error(f'--{name.replace("_", "-")} must be a positive number, got {value}')
    if ns.count is not None and ns.count < 1:
        parser.error(f'--count must be >= 1, got {ns.count}')
    ns.state_rate = ns.state_rate or ns.rate
    ns.loop = not (ns.images or ns.bag) if ns.loop is None else ns.loop
    return ns, ros_argv


class Event(NamedTuple):
    """One publication of the replay schedule.

    At ``at`` seconds after the start: the frame's images (``frame`` None: pose only) and a
    pose (None: no pose). A frame's pose carries the frame's stamp.
    """

    at: float
    frame: ReplayFrame | None
    pose: EEState | None


def schedule(frames: Iterable[ReplayFrame], rate: float, state_rate: float,
             count: int | None = None) -> Iterator[Event]:
    """Plan the publications of ``count`` frames (all when None); see the module docstring."""
    period, state_period = 1.0 / rate, 1.0 / state_rate
    it = iter(frames)
    cur, index, pose_due = next(it, None), 0, 0.0
    while cur is not None and index != count:
        nxt = next(it, None)
        t = index * period
        due = cur.pose is not None and t >= pose_due - 0.25 * period
        pose_due = t + state_period if due else pose_due
        yield Event(t, cur, cur.pose if due else None)
        index += 1
        k = 1
        while (cur.pose is not None and index != count
               and k * state_period < period - 0.25 * state_period):
            if nxt is not None and nxt.pose is not None:
                frac = k * state_period / period
                src_t = cur.stamp + frac * (nxt.stamp - cur.stamp)
                pose = interpolate_pose(cur.pose, nxt.pose, frac, src_t)
            else:
                pose = _restamp(cur.pose, cur.stamp + k * state_period)
            yield Event(t + k * state_period, None, pose)
            k += 1
        cur = nxt


def _publish(ns: argparse.Namespace, events: Iterator[Event], node: Any, pubs: dict[str, Any],
             stop: threading.Event, instruction: str) -> int:
    """Publish the events on the wall clock; returns the number of frames published."""
    from std_msgs.msg import String

    from specprune_ros.conversions import ee_state_to_pose_msg, rgb_to_image_msg, sec_to_stamp

    start = time.monotonic()
    deadline = start + ns.duration if ns.duration else math.inf
    last_instruction, count = instruction, 0
    for event in events:
        at = start + event.at
        if time.monotonic() > at + 1.0 / ns.rate:  # fell behind (slow source): re-anchor
            start += time.monotonic() - at
            at = time.monotonic()
        if at >= deadline or stop.wait(max(0.0, at - time.monotonic())):
            break
        src_t = event.frame.stamp if event.frame else event.pose.stamp  # type: ignore[union-attr]
        stamp = node.get_clock().now().to_msg() if ns.stamp == 'now' else sec_to_stamp(src_t)
        if event.frame is not None:
            frame = event.frame
            pubs['third_person'].publish(rgb_to_image_msg(frame.third_person, stamp,
                                                          ns.third_person_frame))
            pubs['wrist'].publish(rgb_to_image_msg(frame.wrist, stamp, ns.wrist_frame))
            if frame.instruction and frame.instruction != last_instruction:
                pubs['instruction'].publish(String(data=frame.instruction))
                last_instruction = frame.instruction
            count += 1
        if event.pose is not None:
            pubs['pose'].publish(ee_state_to_pose_msg(event.pose, ns.pose_frame, stamp))
    return count


def _run(ns: argparse.Namespace, source: Iterable[ReplayFrame], ros_argv: list[str],
         stop: threading.Event) -> None:
    """Create the node and publishers, publish, and shut down cleanly on SIGINT/SIGTERM."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import (DurabilityPolicy, QoSProfile, ReliabilityPolicy,
                           qos_profile_sensor_data)
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    rclpy.init(args=['specprune-replay', *ros_argv],
               signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('specprune_replay')
    log = node.get_logger()
    try:
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        pubs = {'third_person': node.create_publisher(Image, ns.third_person_topic,
                                                      qos_profile_sensor_data),
                'wrist': node.create_publisher(Image, ns.wrist_topic, qos_profile_sensor_data),
                'pose': node.create_publisher(PoseStamped, ns.pose_topic, 10),
                'instruction': node.create_publisher(String, ns.instruction_topic, latched)}
        instruction = getattr(source, 'instruction', '')
        pubs['instruction'].publish(String(data=instruction))
        log.info(f'instruction: {instruction!r} on {ns.instruction_topic}')
        limit = time.monotonic() + ns.wait_subscribers
        while (not stop.is_set() and time.monotonic() < limit
               and min(pubs[k].get_subscription_count() for k in ('third_person', 'wrist')) < 1):
            stop.wait(0.05)
        log.info(f'publishing at {ns.rate:g} Hz (poses {ns.state_rate:g} Hz, stamps '
                 f'{ns.stamp}) on {ns.third_person_topic}, {ns.wrist_topic}, {ns.pose_topic}')
        events = schedule(iterate_frames(source, ns.loop), ns.rate, ns.state_rate, ns.count)
        count = _publish(ns, events, node, pubs, stop, instruction)
        log.info(f'published {count} frames' + (' (stopped by signal)' if stop.is_set() else ''))
        if not stop.is_set():
            stop.wait(0.5)  # let the middleware deliver the last messages
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``specprune-replay`` (exit status 2 on bad arguments or sources)."""
    ns, ros_argv = parse(args)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            source = build_source(ns)
        except (ReplayError, OSError) as exc:
            build_parser().error(str(exc))
        if not stop.is_set():
            _run(ns, source, ros_argv, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
