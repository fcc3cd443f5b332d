"""Every console script answers ``--help`` at once, without starting anything."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from importlib.metadata import entry_points
import os
from pathlib import Path
import subprocess
import sys
import time

import pytest

from specprune_ros.ros.entry_points import help_requested

SCRIPTS = sorted(ep.name for ep in entry_points(group='console_scripts')
                 if ep.value.startswith('specprune_ros.'))


def test_console_scripts_are_installed() -> None:
    assert {'specprune_policy', 'specprune-bench', 'specprune-demo', 'specprune-replay',
            'specprune-ros-demo'} <= set(SCRIPTS)


@pytest.mark.parametrize('name', SCRIPTS)
def test_help_exits_at_once(name: str) -> None:
    exe = Path(sys.executable).parent / name
    start = time.monotonic()
    run = subprocess.run([str(exe), '--help'], capture_output=True, text=True, timeout=60,
                         env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    took = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert 'usage' in run.stdout.lower(), run.stdout
    assert took < 10.0, f'{name} --help took {took:.1f} s'


def test_policy_help_lists_every_parameter() -> None:
    from specprune_ros.ros.node_config import all_specs

    exe = Path(sys.executable).parent / 'specprune_policy'
    out = subprocess.run([str(exe), '-h'], capture_output=True, text=True, timeout=60).stdout
    missing = [s.name for s in all_specs() if f'  {s.name} (' not in out]
    assert not missing, f'parameters missing from --help: {missing}'


def test_help_is_only_before_ros_args() -> None:
    assert help_requested(['--help'])
    assert help_requested(['-h', '--ros-args', '-p', 'alpha:=1.0'])
    assert not help_requested(['--ros-args', '-r', '__node:=-h'])
    assert not help_requested([])
