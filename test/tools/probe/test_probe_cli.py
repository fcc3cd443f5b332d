"""``specprune-probe`` end to end: HDF5 demos and LIBERO rollouts, and bad requests."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from train_fixtures import write_demo_file

from specprune_ros.sim.env import libero_missing
from specprune_ros.tools.probe.cli import main

FAST = ['--preset', 'tiny', '--ks', '64,256', '--random-draws', '1', '--attribution', '1',
        '--threads', '1']


def test_hdf5_demos_give_a_report(tmp_path: Path) -> None:
    data = write_demo_file(tmp_path / 'demos.hdf5', demos_per_task=1, steps=16)
    out = tmp_path / 'probe'
    assert main([*FAST, '--hdf5', str(data), '--every', '8', '--out', str(out), '--json',
                 str(tmp_path / 'p.json')]) == 0
    summary = json.loads((tmp_path / 'p.json').read_text())
    assert summary['queries'] >= 2 and set(summary['verdicts']) == {
        'redundancy', 'early_layers', 'temporal', 'attention_ranks'}
    assert summary['errors']['random']['64'] > 0 and 'specprune' in summary['specprune']
    assert (out / 'report.md').is_file() and (out / 'errors.png').is_file()


@pytest.mark.skipif(libero_missing() is not None, reason=str(libero_missing()))
def test_rollouts_give_a_report(tmp_path: Path) -> None:
    assert main([*FAST, '--tasks', '0', '--init-states', '40', '--max-steps', '16', '--out',
                 str(tmp_path / 'probe')]) == 0
    summary = json.loads((tmp_path / 'probe' / 'summary.json').read_text())
    assert summary['queries'] == 2 and summary['episodes'] == 1  # steps 0 and 8
    assert summary['temporal_overlap'] is not None


def _empty_hdf5(path: Path) -> Path:
    with h5py.File(path, 'w') as f:
        f.create_group('data')
    return path


@pytest.mark.parametrize('args, message', [
    (['--checkpoint', '/nonexistent/ckpt'], 'is not a folder'),
    (['--model', '/nonexistent/model'], 'no config.json'),
    (['--hdf5', '/nonexistent.hdf5'], 'does not exist'),
    (['--hdf5', 'EMPTY'], 'demo'),
    (['--preset', 'tiny', '--ks', '64,600', '--hdf5', 'EMPTY'], 'larger than the 512'),
    (['--configs', 'unpruned'], 'SpecPrune configurations only')])
def test_bad_requests_are_one_line_and_exit_2(tmp_path: Path, caplog, args: list[str],
                                              message: str) -> None:
    args = [str(_empty_hdf5(tmp_path / 'empty.hdf5')) if a == 'EMPTY' else a for a in args]
    assert main([*args, '--out', str(tmp_path / 'o')]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == 'ERROR']
    assert len(errors) == 1 and message in errors[0] and '\n' not in errors[0], errors
    assert not (tmp_path / 'o').exists()
