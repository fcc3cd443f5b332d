"""``specprune-replay``: publish camera images, EE poses and the instruction for the node.

Sources (ROS-free iterables of :class:`ReplayFrame`): ``--fixture`` (default) the synthetic
moving LIBERO sequence of :mod:`specprune_ros.tools.sequence`, looped by default; ``--images DIR``
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

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
import logging
import math
import sys
import threading
import time
from typing import Any

from specprune_ros.ros.common.signals import stop_on_signals
from specprune_ros.ros.replay.sources import (  # noqa: F401  (re-exported)
    _TYPES,
    BagSource,
    DEFAULT_TOPICS,
    Event,
    FixtureSource,
    ImageFolderSource,
    interpolate_pose,
    iterate_frames,
    make_poses,
    ReplayError,
    ReplayFrame,
    schedule,
)

_LOG = logging.getLogger(__name__)


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


def _publish(ns: argparse.Namespace, events: Iterator[Event], node: Any, pubs: dict[str, Any],
             stop: threading.Event, instruction: str) -> int:
    """Publish the events on the wall clock; returns the number of frames published."""
    from std_msgs.msg import String

    from specprune_ros.ros.common.conversions import (
        ee_state_to_pose_msg,
        rgb_to_image_msg,
        sec_to_stamp,
    )

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
    from geometry_msgs.msg import PoseStamped
    import rclpy
    from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
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
    with stop_on_signals(threading.Event()) as stop:
        try:
            source = build_source(ns)
        except (ReplayError, OSError) as exc:
            build_parser().error(str(exc))
        if not stop.is_set():
            _run(ns, source, ros_argv, stop)
    return 0


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
