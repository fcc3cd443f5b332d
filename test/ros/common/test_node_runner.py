"""Both nodes end with one clear line (exit 2), not a traceback, on bad ROS arguments."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

try:  # the ROS-free suite runs anywhere: skip this module without rclpy
    from ros_peer import ros_env

    from specprune_ros.ros.common.node_runner import ros_args_error
except ImportError as exc:
    pytest.skip(f'needs rclpy and the generated messages: {exc} (source scripts/ros_env.sh)',
                allow_module_level=True)

BIN = Path(sys.executable).parent


def test_rcl_errors_lose_their_source_locations_and_gain_a_hint() -> None:
    text = ros_args_error(RuntimeError(
        "failed to initialize rcl: Couldn't parse log level: '--log-level verbose'. Error: "
        'Argument does not use a valid severity level, at /project/src/rcl/arguments.c:1860, '
        'at /project/src/rcl/arguments.c:441'))
    assert text == ("Couldn't parse log level: '--log-level verbose'. Error: Argument does not "
                    'use a valid severity level (valid log levels: debug, info, warn, error, '
                    'fatal)')


@pytest.mark.parametrize('script, args, message', [
    ('specprune_policy', ['--log-level', 'verbose'], 'valid log levels: debug, info'),
    ('specprune_policy', ['--params-file', '/nonexistent.yaml'],
     "Couldn't parse params file: '--params-file /nonexistent.yaml'"),
    ('specprune_executor', ['--log-level', 'verbose'], 'valid log levels: debug, info'),
])
def test_bad_ros_arguments_end_in_one_clear_line(script: str, args: list[str],
                                                 message: str) -> None:
    run = subprocess.run([str(BIN / script), '--ros-args', *args], capture_output=True,
                         text=True, timeout=120, env=ros_env())
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert 'Traceback' not in out, out
    ours = [line for line in out.splitlines() if f'[{script}]' in line]
    assert len(ours) == 1 and 'invalid ROS arguments' in ours[0] and message in ours[0], out
