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
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from specprune_ros.ros.common.entry_points import help_requested

SCRIPTS = sorted(ep.name for ep in entry_points(group='console_scripts')
                 if ep.value.startswith('specprune_ros.'))


def test_console_scripts_are_installed() -> None:
    assert {'specprune_policy', 'specprune-bench', 'specprune-demo', 'specprune-replay',
            'specprune-ros-demo'} <= set(SCRIPTS)


# What ``--help`` of each console script prints, and which heavy modules it loaded meanwhile.
_PROBE = """
import importlib.metadata, json, sys
eps = importlib.metadata.entry_points(group='console_scripts')
ep = next(e for e in eps if e.name == sys.argv[1])
sys.argv = [sys.argv[1], '--help']
try:
    code = ep.load()()
except SystemExit as exc:
    code = exc.code
heavy = ('rclpy', 'torch', 'mujoco', 'robosuite')
loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))
sys.stderr.write(json.dumps({'code': code or 0, 'loaded': loaded}))
"""
# Node entry points must answer without rclpy or torch (nothing started, nothing loaded).
NODES = ('specprune_policy', 'specprune_executor', 'specprune_sim')


@pytest.mark.parametrize('name', SCRIPTS)
def test_help_starts_nothing(name: str) -> None:
    run = subprocess.run([sys.executable, '-c', _PROBE, name], capture_output=True, text=True,
                         timeout=120, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    result = json.loads(run.stderr.strip().splitlines()[-1])
    assert result['code'] == 0, run.stderr
    assert 'usage' in run.stdout.lower(), run.stdout
    if name in NODES:
        assert result['loaded'] == [], f'{name} --help imported {result["loaded"]}'


def test_policy_help_lists_every_parameter() -> None:
    from specprune_ros.ros.policy.config import all_specs

    exe = Path(sys.executable).parent / 'specprune_policy'
    out = subprocess.run([str(exe), '-h'], capture_output=True, text=True, timeout=60).stdout
    missing = [s.name for s in all_specs() if f'  {s.name} (' not in out]
    assert not missing, f'parameters missing from --help: {missing}'


def test_help_is_only_before_ros_args() -> None:
    assert help_requested(['--help'])
    assert help_requested(['-h', '--ros-args', '-p', 'alpha:=1.0'])
    assert not help_requested(['--ros-args', '-r', '__node:=-h'])
    assert not help_requested([])
