"""``specprune-eval`` end to end on LIBERO with the tiny model: pairing, kill + resume, report.

One LIBERO-Spatial unit (task 0, init state 0, seed 7) with three configurations and a short
step limit. The first run is killed (SIGKILL) as soon as its first episode is in the JSONL; the
rerun must run only the missing configurations, the matched baseline taking SpecPrune's
kept-token counts from the file.
"""

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

pytestmark = pytest.mark.skipif(libero_missing() is not None, reason=str(libero_missing()))
REPO = Path(__file__).resolve().parents[3]
STEPS = 16  # two queries of 8


def _cmd(out: Path) -> list[str]:
    return [sys.executable, '-m', 'specprune_ros.tools.eval.cli', '--suite', 'libero_spatial',
            '--tasks', '0', '--trials', '1', '--max-steps', str(STEPS), '--configs', 'unpruned',
            'specprune', 'random', '--out', str(out), '--workers', '1', '--threads', '1',
            '--video', '1']


def _lines(out: Path) -> list[dict]:
    path = out / 'episodes.jsonl'
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


@pytest.mark.parametrize('argv, message', [
    (['--tasks', '12'], 'has tasks 0..9'), (['--trials', '51'], 'must lie in 0..50'),
    (['--max-steps', '0'], 'max_steps must be'), (['--open-loop-steps', '0'], 'open-loop')])
def test_bad_run_arguments(argv, message, tmp_path: Path, capsys) -> None:
    assert main(['--suite', 'libero_spatial', '--tasks', '0', '--trials', '1', '--out',
                 str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'episodes.jsonl').exists()


def test_paired_run_killed_resumed_and_reported(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'run'
    env = {**os.environ, 'MUJOCO_GL': 'egl', 'PYTHONUNBUFFERED': '1'}
    proc = subprocess.Popen(_cmd(out), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not _lines(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # as a crash: no clean-up, no report
    _, err = proc.communicate(timeout=30)
    first = _lines(out)
    assert len(first) == 1, err[-2000:]
    assert first[0]['config'] == 'specprune'  # the reference of random runs first
    assert not (out / 'report.md').exists()

    run = subprocess.run(_cmd(out), cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    recs = _lines(out)
    keys = [(r['config'], r['task'], r['trial']) for r in recs]
    assert sorted(keys) == sorted({(c, 0, 0) for c in ('unpruned', 'specprune', 'random')})
    assert recs[0] == first[0]  # the finished episode was kept, not rerun
    by = {r['config']: r for r in recs}
    # pairing: the same init state, seed and starting robot state for every configuration
    assert {(r['init_state'], r['seed']) for r in recs} == {(0, 7)}
    assert by['unpruned']['start_proprio'] == by['specprune']['start_proprio'] == \
        by['random']['start_proprio']
    for r in recs:
        assert r['max_steps'] == STEPS and r['queries'] == 2 and 1 <= r['length'] <= STEPS
        assert r['visual_total'] == 512 and len(r['llm_ms']) == len(r['step_ms']) == 2
        assert r['video'].endswith(('.mp4', '.gif')) and Path(r['video']).is_file()
    assert by['unpruned']['visual_kept'] == [512, 512]
    assert by['unpruned']['flops_ratio'] == [1.0, 1.0]
    first, second = by['specprune']['visual_kept']
    assert first == 512 and second < 512  # the warm-up query runs dense, then SpecPrune prunes
    assert by['specprune']['mode'][0] == 'warmup'
    # matched baseline: SpecPrune's per-layer counts of the same query, read back from the file
    assert by['random']['visual_per_layer'] == by['specprune']['visual_per_layer']
    assert by['random']['mode'] == ['random', 'random']
    report = (out / 'report.md').read_text()
    for label in ('unpruned', 'specprune', 'random'):
        assert f'| {label} | 1 |' in report
    assert 'success %' in run.stdout and 'LLM speedup' in run.stdout

    (out / 'report.md').unlink()
    assert main(['--report', str(out)]) == 0  # rebuilt from the JSONL alone
    assert (out / 'report.md').read_text() == report
    assert '| random | 1 |' in capsys.readouterr().out
