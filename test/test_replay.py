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

"""Tests of specprune_ros.replay: the ROS-free sources and schedule, the CLI, and real DDS."""

from __future__ import annotations

import io
import os
from pathlib import Path
import subprocess
import sys
import time

import numpy as np
from PIL import Image as PILImage
import pytest

from specprune_ros.controller import axis_angle_to_quat, EEState
from specprune_ros.replay import (BagSource, FixtureSource, ImageFolderSource,
                                  interpolate_pose, iterate_frames, main, parse, ReplayError,
                                  ReplayFrame, schedule)
from specprune_ros.sequence import synthetic_sequence

REPO = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(11)


def test_fixture_source_matches_the_synthetic_sequence(fixture_obs):
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


def test_loop_keeps_stamps_increasing():
    src = FixtureSource(steps=4, period=0.05)
    frames = list(zip(range(10), iterate_frames(src, loop=True)))
    stamps = [f.stamp for _, f in frames]
    np.testing.assert_allclose(np.diff(stamps), 0.05)
    assert all(f.pose.stamp == f.stamp for _, f in frames)
    assert len(list(iterate_frames(src, loop=False))) == 4


def _frame(stamp: float, x: float) -> ReplayFrame:
    img = np.zeros((2, 2, 3), np.uint8)
    return ReplayFrame(stamp, img, img, EEState(stamp, [x, 0.0, 0.0], [0, 0, 0, 1]), None)


def test_schedule_shares_stamps_and_interpolates():
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


def test_interpolate_pose_takes_the_short_way():
    a = EEState(0.0, [0, 0, 0], axis_angle_to_quat([0, 0, 0.2]))
    b = EEState(1.0, [2, 0, 0], -axis_angle_to_quat([0, 0, 0.4]))  # same rotation, sign flip
    mid = interpolate_pose(a, b, 0.5, 0.5)
    np.testing.assert_allclose(mid.position, [1, 0, 0])
    np.testing.assert_allclose(mid.orientation, axis_angle_to_quat([0, 0, 0.3]), atol=1e-3)


def _save(path: Path, rgb: np.ndarray) -> None:
    PILImage.fromarray(rgb).save(path)


def test_image_folder_source(tmp_path):
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


def test_image_folder_errors(tmp_path):
    with pytest.raises(ReplayError, match='image folder not found'):
        ImageFolderSource(tmp_path / 'missing')
    with pytest.raises(ReplayError, match='no third_person_<key>'):
        ImageFolderSource(tmp_path)
    _save(tmp_path / 'third_person_a.png', np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / 'wrist_b.jpg', np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ReplayError, match=r"unpaired images .*\['a', 'b'\]"):
        ImageFolderSource(tmp_path)


# ---------------------------------------------------------------- rosbag2

THIRD, WRIST, POSE, TASK = '/cam/third/image', '/cam/wrist/image', '/robot/ee_pose', '/task'


def write_bag(path: Path, storage: str, frames: int = 4, compressed_wrist: bool = False,
              with_pose: bool = True) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """A tiny rosbag2: rgb8 third-person, bgr8 (or PNG) wrist 5 ms later, poses, the task."""
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
                    header=header(t + 0.005), height=16, width=16, encoding='bgr8',
                    is_bigendian=0, step=48, data=wrist[:, :, ::-1].reshape(-1).copy())
            put(WRIST, t + 0.005, msg)
            truth.append((t, third, wrist, pos))
    return truth


@pytest.mark.parametrize('storage, compressed', [('sqlite3', False), ('mcap', True)])
def test_bag_source_round_trip(tmp_path, storage, compressed):
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


def test_bag_without_pose_topic_uses_fallback(tmp_path):
    bag = tmp_path / 'bag'
    write_bag(bag, 'sqlite3', frames=3, with_pose=False)
    frames = list(BagSource(bag, THIRD, WRIST, '', pose='synthetic', instruction='given'))
    assert len(frames) == 3 and len({tuple(f.pose.position) for f in frames}) == 3
    assert BagSource(bag, THIRD, WRIST, '', instruction='given').instruction == 'given'


def test_bag_errors(tmp_path):
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


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize('argv, text', [
    (['--images', '/nonexistent/folder'], 'image folder not found'),
    (['--bag', '/nonexistent/bag'], 'rosbag2 not found'),
    (['--rate', '0'], '--rate must be a positive number'),
    (['--state-rate', 'nan'], '--state-rate must be a positive number'),
    (['--count', '0'], '--count must be >= 1'),
    (['--images', 'a', '--bag', 'b'], 'not allowed with argument'),
])
def test_cli_errors(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert text in capsys.readouterr().err


def test_cli_bag_missing_topic_message(tmp_path, capsys):
    bag = tmp_path / 'bag'
    write_bag(bag, 'mcap', frames=1, with_pose=False)
    with pytest.raises(SystemExit):
        main(['--bag', str(bag)])
    err = capsys.readouterr().err
    assert "third_person topic '/specprune_policy/third_person/image_raw' not in bag" in err
    assert '/cam/wrist/image [sensor_msgs/msg/Image]' in err


def test_parse_defaults_and_ros_args():
    ns, ros = parse(['--rate', '5', '--ros-args', '-r', '__ns:=/robot'])
    assert ros == ['--ros-args', '-r', '__ns:=/robot']
    assert ns.state_rate == 5.0 and ns.loop is True and ns.stamp == 'now'
    assert ns.wrist_topic == '/specprune_policy/wrist/image_raw'
    ns, _ = parse(['--images', 'x'])
    assert ns.loop is False
    ns, _ = parse(['--images', 'x', '--loop'])
    assert ns.loop is True


# ---------------------------------------------------------------- real DDS

def _ros_available() -> str | None:
    try:
        import geometry_msgs.msg  # noqa: F401
        import rclpy  # noqa: F401
        import sensor_msgs.msg  # noqa: F401
        import std_msgs.msg  # noqa: F401
    except ImportError as exc:
        return f'rclpy or messages not importable ({exc}); source scripts/ros_env.sh'
    return None


@pytest.mark.skipif(_ros_available() is not None, reason=str(_ros_available()))
def test_replay_over_dds():
    """Run the replay CLI in a subprocess and receive 5 image pairs + poses, equal stamps."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import (DurabilityPolicy, QoSProfile, qos_profile_sensor_data,
                           ReliabilityPolicy)
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    domain = 40 + os.getpid() % 60
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONPATH=str(REPO) + os.pathsep
               + os.environ.get('PYTHONPATH', ''))
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain)
    node = rclpy.create_node('test_replay_listener', context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    got: dict[str, list] = {'third': [], 'wrist': [], 'pose': []}
    tasks: list[str] = []

    def stamp(msg):
        return (msg.header.stamp.sec, msg.header.stamp.nanosec)

    node.create_subscription(Image, '/specprune_policy/third_person/image_raw',
                             lambda m: got['third'].append((stamp(m), m.encoding, m.width)),
                             qos_profile_sensor_data)
    node.create_subscription(Image, '/specprune_policy/wrist/image_raw',
                             lambda m: got['wrist'].append((stamp(m), m.encoding, m.width)),
                             qos_profile_sensor_data)
    node.create_subscription(PoseStamped, '/specprune_policy/ee_state',
                             lambda m: got['pose'].append(stamp(m)), 10)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(String, '/specprune_policy/instruction',
                             lambda m: tasks.append(m.data), latched)
    proc = subprocess.Popen([sys.executable, '-m', 'specprune_ros.replay', '--count', '5',
                             '--rate', '20', '--wait-subscribers', '30'], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, exited = time.monotonic() + 90, None
        while time.monotonic() < deadline and min(map(len, got.values())) < 5:
            executor.spin_once(timeout_sec=0.05)
            if exited is None and proc.poll() is not None:
                exited = time.monotonic()
            if exited is not None and time.monotonic() - exited > 2.0:
                break  # nothing more can come
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        executor.shutdown()
        node.destroy_node()
        ctx.try_shutdown()
    assert proc.returncode == 0, output
    assert 'published 5 frames' in output
    assert tasks and 'bowl' in tasks[0], output
    third = [s for s, _, _ in got['third']]
    wrist = [s for s, _, _ in got['wrist']]
    assert len(third) == len(wrist) == len(got['pose']) == 5, (got, output)
    assert third == wrist == got['pose']
    assert len(set(third)) == 5
    assert all(enc == 'rgb8' and width == 224 for _, enc, width in got['third'] + got['wrist'])
