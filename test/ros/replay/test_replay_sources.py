"""Tests of specprune_ros.ros.replay.sources: fixture, image folder, rosbag2 sources, schedule."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator
import io
import itertools
import logging
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
from PIL import Image as PILImage
import pytest

from specprune_ros.ros.replay.sources import (
    BagSource,
    FixtureSource,
    ImageFolderSource,
    interpolate_pose,
    iterate_frames,
    make_poses,
    ReplayError,
    ReplayFrame,
    schedule,
)
from specprune_ros.tools.sequence import ee_trajectory, synthetic_sequence
from specprune_ros.vla.policy import Observation
from specprune_ros.vla.state import axis_angle_to_quat, EEState, relative_rotation_angle

RNG = np.random.default_rng(11)

quats = st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4).filter(
    lambda q: np.linalg.norm(q) > 0.1)


# --- fixture source and poses ----------------------------------------------------------------

def test_fixture_source_matches_the_synthetic_sequence(fixture_obs: Observation) -> None:
    frames = list(FixtureSource(steps=6, period=0.05))
    seq = synthetic_sequence(fixture_obs, 6, 0.05)
    assert len(frames) == 6
    for frame, step in zip(frames, seq):
        assert frame.stamp == pytest.approx(step.observation.stamp)
        assert frame.pose.stamp == frame.stamp
        np.testing.assert_array_equal(frame.third_person, step.observation.images[0])
        np.testing.assert_array_equal(frame.wrist, step.observation.images[1])
        np.testing.assert_array_equal(frame.pose.position, step.pose.position)
        assert frame.third_person.shape == (224, 224, 3) and frame.wrist.dtype == np.uint8
    assert FixtureSource(steps=2).instruction == fixture_obs.instruction
    with pytest.raises(ReplayError, match='--steps must be >= 1'):
        FixtureSource(steps=0)


def test_fixture_source_length_period_and_errors() -> None:
    src = FixtureSource(steps=1, period=0.2)
    assert src.period == 0.2 and len(list(src)) == 1
    assert len(list(src)) == 1  # iterable again
    stamps = [f.stamp for f in FixtureSource(steps=3, period=0.2)]
    assert stamps == pytest.approx([0.0, 0.2, 0.4])
    assert all(f.instruction is None for f in src)  # the task is the source's attribute
    with pytest.raises(ReplayError, match='--steps must be >= 1, got -3'):
        FixtureSource(steps=-3)


def test_make_poses_modes(fixture_obs: Observation) -> None:
    stamps = [0.0, 0.1, 0.2, 0.3]
    assert make_poses(stamps, 'none') == [None] * 4
    position, rotvec = fixture_obs.proprio[:3], fixture_obs.proprio[3:6]
    static = make_poses(stamps, 'static')
    synthetic = make_poses(stamps, 'synthetic')
    traj = ee_trajectory(4, position)
    for t, s, m, (_, p) in zip(stamps, static, synthetic, traj):
        assert s.stamp == m.stamp == t
        np.testing.assert_allclose(s.position, position)
        np.testing.assert_allclose(m.position, p)
        for pose in (s, m):
            assert relative_rotation_angle(pose.orientation, axis_angle_to_quat(rotvec)) < 1e-9
    assert len({tuple(p.position) for p in synthetic}) == 4
    assert make_poses([], 'synthetic') == []
    with pytest.raises(ReplayError,
                       match="pose mode must be 'static', 'synthetic' or 'none', got 'wobble'"):
        make_poses(stamps, 'wobble')


# --- iterate_frames --------------------------------------------------------------------------

def test_loop_keeps_stamps_increasing() -> None:
    src = FixtureSource(steps=4, period=0.05)
    frames = list(zip(range(10), iterate_frames(src, loop=True)))
    stamps = [f.stamp for _, f in frames]
    np.testing.assert_allclose(np.diff(stamps), 0.05)
    assert all(f.pose.stamp == f.stamp for _, f in frames)
    assert len(list(iterate_frames(src, loop=False))) == 4


def _frame(stamp: float, x: float) -> ReplayFrame:
    img = np.zeros((2, 2, 3), np.uint8)
    return ReplayFrame(stamp, img, img, EEState(stamp, [x, 0.0, 0.0], [0, 0, 0, 1]), None)


def _take(frames: object, n: int) -> list[ReplayFrame]:
    return [f for _, f in zip(range(n), frames)]  # type: ignore[call-overload]


def test_loop_offset_is_span_plus_mean_step() -> None:
    frames = [_frame(1.0, 0.0), _frame(1.1, 1.0), _frame(1.3, 2.0)]
    got = _take(iterate_frames(frames, loop=True), 7)
    # Span 0.3 s + mean step 0.15 s = 0.45 s per pass; positions repeat unchanged.
    assert [f.stamp for f in got] == pytest.approx([1.0, 1.1, 1.3, 1.45, 1.55, 1.75, 1.9])
    assert [f.pose.stamp for f in got] == pytest.approx([f.stamp for f in got])
    assert [f.pose.position[0] for f in got] == [0.0, 1.0, 2.0] * 2 + [0.0]
    assert got[3].third_person is frames[0].third_person
    assert [f.stamp for f in frames] == [1.0, 1.1, 1.3]  # the source is not changed


def test_loop_of_one_frame_uses_the_source_period() -> None:
    frame = _frame(0.5, 0.0)._replace(pose=None)
    assert [f.stamp for f in _take(iterate_frames([frame], loop=True), 3)] == [0.5, 1.5, 2.5]

    class OneFrame:
        period = 0.25

        def __iter__(self) -> Iterator[ReplayFrame]:
            return iter([frame])

    got = _take(iterate_frames(OneFrame(), loop=True), 3)
    assert [f.stamp for f in got] == [0.5, 0.75, 1.0]
    assert all(f.pose is None for f in got)


def test_loop_of_an_empty_source_ends() -> None:
    assert list(iterate_frames([], loop=True)) == []
    once = iter([_frame(0.0, 0.0)])  # a one-shot iterable: the second pass is empty
    assert [f.stamp for f in iterate_frames(once, loop=True)] == [0.0]


# --- interpolate_pose ------------------------------------------------------------------------

def test_interpolate_pose_takes_the_short_way() -> None:
    a = EEState(0.0, [0, 0, 0], axis_angle_to_quat([0, 0, 0.2]))
    b = EEState(1.0, [2, 0, 0], -axis_angle_to_quat([0, 0, 0.4]))  # same rotation, sign flip
    mid = interpolate_pose(a, b, 0.5, 0.5)
    np.testing.assert_allclose(mid.position, [1, 0, 0])
    np.testing.assert_allclose(mid.orientation, axis_angle_to_quat([0, 0, 0.3]), atol=1e-3)


def test_interpolate_pose_known_rotation_and_endpoints() -> None:
    a = EEState(0.0, [0.0, 0.0, 1.0], [0, 0, 0, 1])
    b = EEState(2.0, [4.0, -2.0, 0.0], axis_angle_to_quat([0, 0, math.pi / 2]))
    mid = interpolate_pose(a, b, 0.5, 7.0)
    assert mid.stamp == 7.0  # the given stamp, not one of the poses'
    np.testing.assert_allclose(mid.position, [2.0, -1.0, 0.5])
    np.testing.assert_allclose(mid.orientation, axis_angle_to_quat([0, 0, math.pi / 4]),
                               atol=1e-12)
    np.testing.assert_allclose(interpolate_pose(a, b, 0.25, 0.0).position, [1.0, -0.5, 0.75])
    start, end = interpolate_pose(a, b, 0.0, 0.0), interpolate_pose(a, b, 1.0, 2.0)
    np.testing.assert_array_equal(start.position, a.position)
    np.testing.assert_array_equal(end.position, b.position)
    np.testing.assert_allclose(start.orientation, a.orientation, atol=1e-15)
    np.testing.assert_allclose(end.orientation, b.orientation, atol=1e-15)


@given(quats, quats, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_interpolated_rotation_stays_on_the_shortest_arc(qa: list[float], qb: list[float],
                                                         f: float, g: float) -> None:
    a = EEState(0.0, [0, 0, 0], qa)
    b = EEState(1.0, [1, 2, 3], qb)
    total = relative_rotation_angle(a.orientation, b.orientation)  # <= pi: the short way
    lo, hi = sorted((f, g))
    p, q = interpolate_pose(a, b, lo, 0.5), interpolate_pose(a, b, hi, 0.5)
    assert np.linalg.norm(p.orientation) == pytest.approx(1.0, abs=1e-12)
    from_a = relative_rotation_angle(a.orientation, p.orientation)
    to_b = relative_rotation_angle(p.orientation, b.orientation)
    assert from_a + to_b == pytest.approx(total, abs=1e-6)  # on the geodesic between them
    assert relative_rotation_angle(a.orientation, q.orientation) >= from_a - 1e-9  # monotone
    np.testing.assert_allclose(p.position, np.array([1, 2, 3]) * lo, atol=1e-12)


# --- schedule --------------------------------------------------------------------------------

def test_schedule_shares_stamps_and_interpolates() -> None:
    frames = [_frame(i * 0.1, i * 1.0) for i in range(3)]
    events = list(schedule(frames, rate=10.0, state_rate=40.0))
    image_events = [e for e in events if e.frame is not None]
    assert [e.at for e in image_events] == pytest.approx([0.0, 0.1, 0.2])
    assert all(e.pose is not None and e.pose.stamp == e.frame.stamp for e in image_events)
    between = [e for e in events if e.frame is None and 0.0 < e.at < 0.1]
    assert [e.pose.position[0] for e in between] == pytest.approx([0.25, 0.5, 0.75])
    assert [e.pose.stamp for e in between] == pytest.approx([0.025, 0.05, 0.075])
    assert len(events) == 3 + 3 * 3  # last frame: held pose, no next frame to reach
    slow = list(schedule(frames * 2, rate=10.0, state_rate=5.0))
    assert [e.pose is not None for e in slow] == [True, False] * 3
    assert len(list(schedule(frames, 10.0, 40.0, count=2))) == 2 + 3


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.floats(1.0, 50.0), st.floats(1.0, 100.0),
       st.none() | st.integers(1, 8), st.booleans())
def test_schedule_properties(n: int, rate: float, state_rate: float, count: int | None,
                             with_pose: bool) -> None:
    source_period = 0.1  # source stamps are independent of the publication rate
    frames = [_frame(i * source_period, float(i)) for i in range(n)]
    if not with_pose:
        frames = [f._replace(pose=None) for f in frames]
    events = list(schedule(frames, rate, state_rate, count))
    period, state_period = 1.0 / rate, 1.0 / state_rate
    shown = [e for e in events if e.frame is not None]
    expected = n if count is None else min(n, count)
    assert [e.frame for e in shown] == frames[:expected]  # every frame once, in order
    assert [e.at for e in shown] == pytest.approx([i * period for i in range(expected)])
    assert all(b.at > a.at for a, b in itertools.pairwise(events))
    assert all(e.pose is not None for e in events if e.frame is None)  # no empty events
    posed = [e for e in events if e.pose is not None]
    if not with_pose:
        assert posed == []
        return
    assert posed[0].at == 0.0
    gaps = np.diff([e.at for e in posed])
    if state_rate >= rate:  # a pose with every frame, interpolated ones in between
        assert all(e.pose is not None for e in shown)
        assert np.all(gaps > 0.25 * state_period - 1e-9)
        assert np.all(gaps <= 1.25 * state_period + 1e-9)
    else:  # poses with every n-th frame only, about state_period apart
        assert all(e.frame is not None for e in posed)
        assert np.all(gaps >= state_period - 0.25 * period - 1e-9)
        assert np.all(gaps < state_period + 0.75 * period + 1e-9)
    for e in events:
        if e.frame is not None:
            assert e.pose is None or e.pose.stamp == e.frame.stamp
            continue
        i = int((e.at + 1e-9) // period)  # the frame shown last
        frac = (e.at - i * period) / period
        assert 0.0 < frac < 1.0
        if i + 1 < n:  # moving towards the next frame's pose and stamp
            assert e.pose.position[0] == pytest.approx(i + frac)
            assert e.pose.stamp == pytest.approx((i + frac) * source_period)
        else:  # the last frame: its pose held, stamp advancing
            assert e.pose.position[0] == float(i)
            assert e.pose.stamp == pytest.approx(i * source_period + frac * period)


# --- image folder ----------------------------------------------------------------------------

def _save(path: Path, rgb: np.ndarray) -> None:
    PILImage.fromarray(rgb).save(path)


def test_image_folder_source(tmp_path: Path) -> None:
    images = {}
    for key in ('1', '2', '10'):  # natural order: 1, 2, 10
        third = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        wrist = RNG.integers(0, 256, (20, 20, 3), dtype=np.uint8)
        _save(tmp_path / f'third_person_{key}.png', third)
        _save(tmp_path / f'wrist_{key}.png', wrist)
        images[key] = (third, wrist)
    (tmp_path / 'notes.txt').write_text('ignored')
    (tmp_path / 'instruction.txt').write_text('stack the blocks\n')
    src = ImageFolderSource(tmp_path, period=0.1, pose='static')
    frames = list(src)
    assert src.instruction == 'stack the blocks'
    assert [f.stamp for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    for frame, key in zip(frames, ('1', '2', '10')):
        np.testing.assert_array_equal(frame.third_person, images[key][0])
        np.testing.assert_array_equal(frame.wrist, images[key][1])
        assert frame.pose.stamp == frame.stamp
    assert len({tuple(f.pose.position) for f in frames}) == 1
    moving = list(ImageFolderSource(tmp_path, 0.1, pose='synthetic', instruction='x'))
    assert len({tuple(f.pose.position) for f in moving}) == 3
    assert all(f.pose is None for f in ImageFolderSource(tmp_path, 0.1, pose='none'))


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match='image folder not found'):
        ImageFolderSource(tmp_path / 'missing')
    with pytest.raises(ReplayError, match='no third_person_<key>'):
        ImageFolderSource(tmp_path)
    _save(tmp_path / 'third_person_a.png', np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / 'wrist_b.jpg', np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ReplayError, match=r"unpaired images .*\['a', 'b'\]"):
        ImageFolderSource(tmp_path)


def test_image_folder_mismatched_counts(tmp_path: Path) -> None:
    black = np.zeros((4, 4, 3), np.uint8)
    for key in range(1, 4):
        _save(tmp_path / f'third_person_{key}.png', black)
    for key in (1, 3):
        _save(tmp_path / f'wrist_{key}.png', black)
    with pytest.raises(ReplayError) as exc:
        ImageFolderSource(tmp_path)
    text = str(exc.value)
    assert f'unpaired images in {str(tmp_path)!r}' in text
    assert "keys ['2'] have only one of third_person_<key> / wrist_<key>" in text
    for key in range(4, 12):  # many unpaired keys: the first five in natural order are named
        _save(tmp_path / f'third_person_{key}.png', black)
    with pytest.raises(ReplayError, match=r"keys \['2', '4', '5', '6', '7'\] have only one"):
        ImageFolderSource(tmp_path)


def test_image_folder_without_third_person_images(tmp_path: Path) -> None:
    _save(tmp_path / 'wrist_0.png', np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / 'third_person_0.bmp', np.zeros((4, 4, 3), np.uint8))  # not an extension
    with pytest.raises(ReplayError) as exc:
        ImageFolderSource(tmp_path)
    assert str(exc.value) == (f'no third_person_<key>.png/.jpg images in {str(tmp_path)!r} '
                              '(expected pairs third_person_<key>.png + wrist_<key>.png)')
    not_a_folder = tmp_path / 'wrist_0.png'
    with pytest.raises(ReplayError, match=f'image folder not found: {str(not_a_folder)!r}'):
        ImageFolderSource(not_a_folder)


def test_image_folder_extensions_and_instruction(tmp_path: Path,
                                                 fixture_obs: Observation) -> None:
    red = np.full((6, 8, 3), (200, 10, 10), np.uint8)
    _save(tmp_path / 'third_person_x.PNG', red)
    PILImage.fromarray(red).save(tmp_path / 'wrist_x.jpeg', quality=95)
    src = ImageFolderSource(tmp_path)
    assert src.instruction == fixture_obs.instruction  # no instruction.txt: the fixture's task
    (frame,) = list(src)
    np.testing.assert_array_equal(frame.third_person, red)
    assert frame.wrist.shape == (6, 8, 3) and abs(int(frame.wrist[3, 4, 0]) - 200) < 8
    (tmp_path / 'instruction.txt').write_text('  open the drawer \n')
    assert ImageFolderSource(tmp_path).instruction == 'open the drawer'
    assert ImageFolderSource(tmp_path, instruction='given').instruction == 'given'


def test_image_folder_loads_lazily(tmp_path: Path) -> None:
    (tmp_path / 'third_person_0.png').write_bytes(b'not a png')
    (tmp_path / 'wrist_0.png').write_bytes(b'not a png')
    src = ImageFolderSource(tmp_path, pose='none')  # pairs found without decoding
    with pytest.raises(OSError):
        list(src)


# --- rosbag2 ---------------------------------------------------------------------------------

THIRD, WRIST, POSE, TASK = '/cam/third/image', '/cam/wrist/image', '/robot/ee_pose', '/task'


def write_bag(path: Path, storage: str, frames: int = 4, compressed_wrist: bool = False,
              with_pose: bool = True, bad_wrist: int | None = None
              ) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """Write a tiny rosbag2: rgb8 third-person, bgr8 (or PNG) wrist 5 ms later, poses, task."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    ts = get_typestore(Stores.LATEST)
    T = ts.types
    Time, Header = T['builtin_interfaces/msg/Time'], T['std_msgs/msg/Header']

    def header(t: float) -> object:
        return Header(stamp=Time(sec=int(t), nanosec=round((t % 1) * 1e9)), frame_id='cam')

    truth = []
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        wrist_type = 'sensor_msgs/msg/CompressedImage' if compressed_wrist else \
            'sensor_msgs/msg/Image'
        conns = {THIRD: writer.add_connection(THIRD, 'sensor_msgs/msg/Image', typestore=ts),
                 WRIST: writer.add_connection(WRIST, wrist_type, typestore=ts),
                 POSE: writer.add_connection(POSE, 'geometry_msgs/msg/PoseStamped',
                                             typestore=ts) if with_pose else None,
                 TASK: writer.add_connection(TASK, 'std_msgs/msg/String', typestore=ts)}

        def put(topic: str, t: float, msg: object) -> None:
            writer.write(conns[topic], round(t * 1e9), ts.serialize_cdr(msg, msg.__msgtype__))

        put(TASK, 100.0, T['std_msgs/msg/String'](data='open the drawer'))
        for i in range(frames):
            t = 100.0 + 0.1 * i
            third = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            wrist = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            pos = np.array([0.1 * i, 0.2, 0.3])
            if with_pose:
                P = T['geometry_msgs/msg/PoseStamped']
                pose = P(header=header(t - 0.01), pose=T['geometry_msgs/msg/Pose'](
                    position=T['geometry_msgs/msg/Point'](x=pos[0], y=pos[1], z=pos[2]),
                    orientation=T['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)))
                put(POSE, t - 0.01, pose)
            put(THIRD, t, T['sensor_msgs/msg/Image'](
                header=header(t), height=24, width=32, encoding='rgb8', is_bigendian=0,
                step=96, data=third.reshape(-1).copy()))
            if compressed_wrist:
                buf = io.BytesIO()
                PILImage.fromarray(wrist).save(buf, format='PNG')
                msg = T['sensor_msgs/msg/CompressedImage'](
                    header=header(t + 0.005), format='png',
                    data=np.frombuffer(buf.getvalue(), np.uint8).copy())
            else:
                msg = T['sensor_msgs/msg/Image'](
                    header=header(t + 0.005), height=16, width=16,
                    encoding='yuv422' if i == bad_wrist else 'bgr8',  # yuv422: undecodable
                    is_bigendian=0, step=48, data=wrist[:, :, ::-1].reshape(-1).copy())
            put(WRIST, t + 0.005, msg)
            truth.append((t, third, wrist, pos))
    return truth


@pytest.mark.parametrize('storage, compressed', [('sqlite3', False), ('mcap', True)])
def test_bag_source_round_trip(tmp_path: Path, storage: str, compressed: bool) -> None:
    bag = tmp_path / 'bag'
    truth = write_bag(bag, storage, compressed_wrist=compressed)
    src = BagSource(bag, THIRD, WRIST, POSE, TASK, slop=0.02)
    assert src.instruction == 'open the drawer'
    frames = list(src)
    assert len(frames) == len(truth)
    for frame, (t, third, wrist, pos) in zip(frames, truth):
        assert frame.stamp == pytest.approx(t, abs=1e-6)
        np.testing.assert_array_equal(frame.third_person, third)
        np.testing.assert_array_equal(frame.wrist, wrist)
        np.testing.assert_allclose(frame.pose.position, pos)
        assert frame.pose.stamp == frame.stamp and frame.instruction == 'open the drawer'
    assert list(BagSource(bag, THIRD, WRIST, POSE, slop=0.001)) == []  # 5 ms apart > slop


def test_bag_without_pose_topic_uses_fallback(tmp_path: Path) -> None:
    bag = tmp_path / 'bag'
    write_bag(bag, 'sqlite3', frames=3, with_pose=False)
    frames = list(BagSource(bag, THIRD, WRIST, '', pose='synthetic', instruction='given'))
    assert len(frames) == 3 and len({tuple(f.pose.position) for f in frames}) == 3
    assert BagSource(bag, THIRD, WRIST, '', instruction='given').instruction == 'given'


def test_bag_fallback_poses_and_instruction_override(tmp_path: Path,
                                                     fixture_obs: Observation) -> None:
    bag = tmp_path / 'bag'
    truth = write_bag(bag, 'sqlite3', frames=3, with_pose=False)
    static = list(BagSource(bag, THIRD, WRIST, ''))
    assert [f.pose.stamp for f in static] == pytest.approx([t for t, *_ in truth])
    for frame in static:
        np.testing.assert_allclose(frame.pose.position, fixture_obs.proprio[:3])
    assert all(f.pose is None for f in BagSource(bag, THIRD, WRIST, '', pose='none'))
    # --instruction wins over the bag's task topic, for the source and for every frame.
    given_task = BagSource(bag, THIRD, WRIST, '', TASK, instruction='given')
    assert given_task.instruction == 'given'
    assert [f.instruction for f in given_task] == [None] * 3
    assert [f.instruction for f in BagSource(bag, THIRD, WRIST, '', TASK)] == [
        'open the drawer'] * 3


def test_bag_skips_undecodable_pairs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bag = tmp_path / 'bag'
    truth = write_bag(bag, 'sqlite3', frames=4, bad_wrist=1)
    with caplog.at_level(logging.WARNING, logger='specprune_ros.ros.replay.sources'):
        frames = list(BagSource(bag, THIRD, WRIST, POSE))
    assert [f.stamp for f in frames] == pytest.approx([truth[i][0] for i in (0, 2, 3)])
    for frame, i in zip(frames, (0, 2, 3)):
        np.testing.assert_allclose(frame.pose.position, truth[i][3])
        np.testing.assert_array_equal(frame.wrist, truth[i][2])
    assert 'skipping image pair at 100.100 s' in caplog.text
    assert "unsupported image encoding 'yuv422'" in caplog.text


def test_bag_errors(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match='rosbag2 not found'):
        BagSource(tmp_path / 'nope', THIRD, WRIST, POSE)
    bag = tmp_path / 'bag'
    write_bag(bag, 'sqlite3', frames=1, with_pose=False)
    with pytest.raises(ReplayError, match=r"pose topic '/robot/ee_pose' not in bag .*topics in "
                                          r"the bag: /cam/third/image \[sensor_msgs/msg/Image\]"):
        BagSource(bag, THIRD, WRIST, POSE)
    with pytest.raises(ReplayError, match="--bag-pose-topic ''"):
        BagSource(bag, THIRD, WRIST, POSE)
    with pytest.raises(ReplayError, match="wrist topic '/task' has type std_msgs/msg/String"):
        BagSource(bag, THIRD, TASK, '')
    garbage = tmp_path / 'garbage'
    garbage.mkdir()
    with pytest.raises(ReplayError, match='cannot read rosbag2'):
        BagSource(garbage, THIRD, WRIST, '')
