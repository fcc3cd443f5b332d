"""The main job (``specprune-ros-demo``): node, replay and listener as three processes."""

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

import numpy as np
from PIL import Image as PILImage
import pytest

from specprune_ros.specprune.debug_image import decode_kept_tokens

try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    import rclpy  # noqa: F401
    from ros_peer import claim_domain

    import specprune_ros.msg  # noqa: F401
except ImportError as exc:
    pytest.skip(f'the ROS demo needs rclpy and the generated specprune_ros.msg: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)


def test_demo_prints_chunks_and_writes_the_debug_image(tmp_path: Path) -> None:
    out = tmp_path / 'kept_tokens.png'
    env = dict(os.environ, ROS_DOMAIN_ID=str(claim_domain()),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, '-m', 'specprune_ros.ros.replay.demo', '--chunks', '3',
                           '--out', str(out), '--timeout', '90'],
                          env=env, capture_output=True, text=True, timeout=150)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'chunk #3' in log and '8x7' in log, log[-3000:]
    assert 'node/replay exit codes [0, 0]' in log, log[-3000:]
    image = np.asarray(PILImage.open(out).convert('RGB'))
    shown = decode_kept_tokens(image)
    assert 0 < len(shown['retain']) < 2 * 256  # a pruned step: some, not all, patches kept
    assert len(shown['global']) and len(shown['local'])  # the sources are told apart
