"""ROS-free replay sources: fixture sequence, image folder, rosbag2; frame scheduling."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from functools import lru_cache
import logging
from pathlib import Path
import re
from typing import Any, NamedTuple

import numpy as np

from specprune_ros.errors import SpecPruneError
from specprune_ros.ros.common.conversions import (
    compressed_msg_to_rgb,
    image_msg_to_rgb,
    pose_msg_to_ee_state,
    stamp_to_sec,
)
from specprune_ros.tools.fixtures import load_rgb
from specprune_ros.vla.state import EEState

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
        from specprune_ros.tools.fixtures import load_observation
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
    from specprune_ros.tools.sequence import ee_trajectory
    traj = ee_trajectory(len(stamps), position)
    return [EEState.from_axis_angle(t, p, rotvec) for t, (_, p) in zip(stamps, traj)]


class FixtureSource:
    """The synthetic moving sequence built from the LIBERO fixture."""

    def __init__(self, steps: int = 24, period: float = 0.05) -> None:
        """Build ``steps`` frames ``period`` seconds apart (raises ReplayError)."""
        from specprune_ros.tools.fixtures import load_observation
        from specprune_ros.tools.sequence import synthetic_sequence
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
            yield ReplayFrame(stamp, load_rgb(third), load_rgb(wrist), pose, None)


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
