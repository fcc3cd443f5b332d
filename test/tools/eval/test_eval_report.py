"""The report rebuilt from ``episodes.jsonl`` alone: figures, tables, PNGs, torn lines."""

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

import numpy as np
from PIL import Image
import pytest

from specprune_ros.tools.eval.cli import main
from specprune_ros.tools.eval.report import write_report
from specprune_ros.tools.eval.runner import ResultStore
from specprune_ros.tools.eval.stats import paired_difference, wilson_interval

SUCCESS = {'unpruned': [1, 1, 0, 1, 1, 0], 'specprune': [1, 1, 1, 1, 0, 0],
           'random': [0, 1, 0, 0, 1, 0]}
LLM_MS = {'unpruned': 100.0, 'specprune': 50.0, 'random': 40.0}
KEPT = {'unpruned': 512, 'specprune': 160, 'random': 160}


def _records() -> list[dict]:
    out = []
    for cfg, outcomes in SUCCESS.items():
        for i, ok in enumerate(outcomes):
            task, trial = divmod(i, 3)
            n = 3 + i % 2
            out.append({'config': cfg, 'task': task, 'trial': trial, 'init_state': trial,
                        'seed': 7, 'success': bool(ok), 'length': 100 + 10 * i,
                        'visual_total': 512, 'visual_kept': [KEPT[cfg]] * n,
                        'flops_ratio': [KEPT[cfg] / 512] * n,
                        'llm_ms': [LLM_MS[cfg] + j for j in range(n)],
                        'step_ms': [2 * LLM_MS[cfg]] * n,
                        'mode': (['fine'] + ['coarse'] * (n - 1)) if cfg == 'specprune'
                        else [cfg if cfg == 'random' else 'off'] * n,
                        'visual_per_layer': []})
    return out


def _write(folder: Path, torn: bool = False) -> None:
    store = ResultStore(folder)
    for rec in _records():
        store.append(rec)
    if torn:  # a run killed while writing: half a line
        with store.path.open('a') as f:
            f.write('{"config": "unpruned", "task": 9, "tri')
    (folder / 'run.json').write_text(json.dumps({'suite': 'libero_spatial',
                                                 'configs': list(SUCCESS), 'model': 'x'}))


def test_report_figures(tmp_path: Path) -> None:
    _write(tmp_path, torn=True)
    summary, text = write_report(tmp_path)
    assert len(ResultStore(tmp_path).path.read_text().splitlines()) == 18  # torn line dropped
    overall = summary['overall']
    assert list(overall) == list(SUCCESS)
    for cfg, outcomes in SUCCESS.items():
        s = overall[cfg]
        k = sum(outcomes)
        assert (s['episodes'], s['successes']) == (6, k)
        assert (s['success_low'], s['success_high']) == pytest.approx(wilson_interval(k, 6))
        assert s['visual_kept'] == KEPT[cfg] and s['flops_ratio'] == pytest.approx(
            KEPT[cfg] / 512)
        assert s['mean_length'] == pytest.approx(125.0)
        lat = np.concatenate([LLM_MS[cfg] + np.arange(3 + i % 2) for i in range(6)])
        assert s['llm_ms_median'] == pytest.approx(np.median(lat))
        assert s['llm_ms_p90'] == pytest.approx(np.percentile(lat, 90))
        assert s['step_ms_median'] == 2 * LLM_MS[cfg]
    assert 'diff' not in overall['unpruned']
    d = paired_difference(SUCCESS['random'], SUCCESS['unpruned'])
    r = overall['random']
    assert (r['diff'], r['diff_low'], r['diff_high'], r['p_mcnemar']) == pytest.approx(
        (d.diff, d.low, d.high, d.p_mcnemar))
    assert (r['discordant_better'], r['discordant_worse']) == (0, 2)
    # per-episode medians: unpruned 101 or 101.5, specprune 51 or 51.5
    assert overall['specprune']['llm_speedup'] == pytest.approx(101.25 / 51.25)
    assert overall['specprune']['step_speedup'] == pytest.approx(
        LLM_MS['unpruned'] / LLM_MS['specprune'])  # step_ms: 2 x the LLM base, no jitter
    assert overall['specprune']['fine_share'] == pytest.approx(6 / 21)
    assert overall['random']['fine_share'] == 0.0
    task1 = summary['per_task']['1']
    assert (task1['specprune']['successes'], task1['specprune']['episodes']) == (1, 3)
    assert task1['specprune']['diff'] == pytest.approx((1 - 2) / 3)
    assert '| random | 6 | 33.3 [' in text and '## Per task' in text
    for name in ('report.md', 'summary.json', 'success_vs_speedup.png', 'per_task.png'):
        assert (tmp_path / name).is_file()
    assert Image.open(tmp_path / 'per_task.png').size[0] > 300
    assert json.loads((tmp_path / 'summary.json').read_text())['overall']['random'][
        'successes'] == 2


def test_report_cli(tmp_path: Path, capsys) -> None:
    _write(tmp_path)
    assert main(['--report', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '| specprune | 6 | 66.7 [' in out and '| task |' in out
    assert main(['--report', str(tmp_path / 'empty')]) == 2
    assert 'no episodes' in capsys.readouterr().err
