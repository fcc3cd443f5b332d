"""Tests of specprune_ros.ros.replay.cli: the CLI and real DDS (sources: test_replay_sources)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

import pytest
from test_replay_sources import write_bag

from specprune_ros.ros.replay.cli import main, parse

REPO = Path(__file__).resolve().parents[3]


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
    from geometry_msgs.msg import PoseStamped
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
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
    proc = subprocess.Popen([sys.executable, '-m', 'specprune_ros.ros.replay.cli', '--count', '5',
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
