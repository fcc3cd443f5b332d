"""``specprune-eval --ray``: the same episodes as the local pool, resumable, failures named."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

from specprune_ros.sim.env import libero_missing
from specprune_ros.tools.eval.cli import main
from specprune_ros.tools.eval.protocol import EpisodeKey
from specprune_ros.tools.eval.ray_backend import INSTALL, ray_missing, run_units_ray
from specprune_ros.tools.eval.runner import plan_units, RunSpec

pytestmark = [pytest.mark.skipif(ray_missing() is not None, reason=str(ray_missing())),
              pytest.mark.skipif(libero_missing() is not None, reason=str(libero_missing()))]
PLAN = ['--suite', 'libero_spatial', '--tasks', '0', '--trials', '2', '--max-steps', '16',
        '--configs', 'unpruned', 'specprune', '--workers', '2', '--threads', '1']


def _episodes(out: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (out / 'episodes.jsonl').read_text().splitlines()]
    return sorted((r['config'], r['task'], r['trial'], r['success'], r['length'],
                   tuple(r['visual_kept'])) for r in rows)


@pytest.fixture(scope='module')
def local(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    out = tmp_path_factory.mktemp('local')
    assert main([*PLAN, '--out', str(out)]) == 0
    return _episodes(out)


def test_ray_gives_the_local_pools_episodes(tmp_path: Path, local: list[tuple]) -> None:
    assert main([*PLAN, '--ray', '--out', str(tmp_path)]) == 0
    assert _episodes(tmp_path) == local and len(local) == 4  # successes, lengths, kept tokens


def test_a_killed_driver_leaves_a_run_that_resumes(tmp_path: Path, local: list[tuple]) -> None:
    cmd = [sys.executable, '-m', 'specprune_ros.tools.eval.cli', *PLAN, '--ray', '--out',
           str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    episodes = tmp_path / 'episodes.jsonl'
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not (
            episodes.is_file() and episodes.read_text().count('\n') >= 1):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, at once
    proc.wait(timeout=30)
    done = episodes.read_text().count('\n') if episodes.is_file() else 0
    assert main([*PLAN, '--ray', '--out', str(tmp_path)]) == 0
    assert _episodes(tmp_path) == local, f'{done} episode(s) were written before the kill'


def test_a_failing_unit_is_tried_again_then_named(tmp_path: Path) -> None:
    spec = RunSpec('libero_spatial', (0,), 1, ('unpruned',), {'model': str(tmp_path / 'none')},
                   max_steps=16, out=str(tmp_path), workers=1, threads=1, ray='local')
    units = plan_units(spec, [EpisodeKey(0, 0, 7)], {})
    with pytest.raises(RuntimeError, match=r'unit task 0, trial 0, seed 7 failed twice'):
        run_units_ray(spec, units, lambda record: None)


def test_without_ray_the_flag_says_how_to_install_it(monkeypatch, capsys) -> None:
    import specprune_ros.tools.eval.ray_backend as backend

    monkeypatch.setattr(backend, 'ray_missing', lambda: INSTALL)
    assert main([*PLAN, '--ray', '--out', 'unused']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'specprune_ros[ray]'" in err[0], err
