"""``specprune-sim``: ``--help`` starts nothing; the expert command prints its table."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
import json
from pathlib import Path
import subprocess
import sys

import pytest
from sim_support import needs_libero

from specprune_ros.sim.cli import main, parse_ids

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('argv', [['--help'], ['expert', '--help'], ['record', '--help']])
def test_help_starts_nothing(argv: list[str]) -> None:
    code = ('import sys\nfrom specprune_ros.sim.cli import main\n'
            f'try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n'
            'heavy = [m for m in ("mujoco", "robosuite", "libero", "rclpy", "torch") '
            'if m in sys.modules]\nassert not heavy, heavy\n')
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith('usage: specprune-sim')


def test_module_help() -> None:
    run = subprocess.run([sys.executable, '-m', 'specprune_ros.sim', '--help'],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0 and 'expert' in run.stdout and 'record' in run.stdout


def test_parse_ids() -> None:
    assert parse_ids('0-9') == list(range(10))
    assert parse_ids('4') == [4] and parse_ids('0,3,5-7,3') == [0, 3, 5, 6, 7]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_ids('a-b')


def test_bad_arguments_exit_2(capsys) -> None:
    assert main(['expert', '--suite', 'libero_11', '--tasks', '0']) == 2
    assert 'unknown LIBERO suite' in capsys.readouterr().err


@needs_libero
def test_expert_solves_task_0_init_0(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'expert.json'
    assert main(['expert', '--tasks', '0', '--init-states', '0', '--json', str(out)]) == 0
    table = capsys.readouterr().out
    assert '1/1' in table and '100.0%' in table and 'between the plate and the ramekin' in table
    result = json.loads(out.read_text())
    assert result['successes'] == 1 and result['per_task'][0]['failed_init_states'] == []
    assert 50 < result['results'][0]['steps'] < 220
