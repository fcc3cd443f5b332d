"""The probe's verdicts, report and plots (specprune_ros.tools.probe.report)."""

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

from specprune_ros.tools.probe.report import summarize, write
from specprune_ros.tools.probe.run import SIGNALS

KS = (64, 256, 448)


def _record(episode: str, random: float, ranked: float, hit: float, temporal: float | None
            ) -> dict:
    """One query: random's error ``random`` at every K, the ranked signals ``ranked``."""
    errors = {s: {k: (random if s == 'random' else ranked) * 64 / k for k in KS}
              for s in SIGNALS}
    return {'episode': episode, 'scale': 1.0, 'errors': errors,
            'flips': {s: {k: 0.0 for k in KS} for s in SIGNALS}, 'hit': {20: hit},
            'hit_per_layer': {20: [hit, hit, 1.0]}, 'temporal_overlap': temporal,
            'specprune': {'specprune': {'error': 0.01, 'flip': 0.0, 'kept': 150,
                                        'flops_ratio': 0.3}}}


def test_a_checkpoint_that_meets_the_premises_is_told_so() -> None:
    records = [_record('a', 0.08, 0.02, 0.9, None), _record('a', 0.08, 0.02, 0.85, 0.8)]
    summary = summarize(records, KS, 512)
    assert summary['premises_hold'] and all(v['holds'] for v in summary['verdicts'].values())
    assert summary['hit_rate'][20] == 0.875 and summary['temporal_overlap'] == 0.8
    assert summary['ratio_to_random']['v_local'][256] == 0.25
    assert '0.88' in summary['verdicts']['early_layers']['figure']


def test_attention_no_better_than_random_fails_the_premises() -> None:
    records = [_record('a', 0.6, 0.6, 0.17, None), _record('a', 0.6, 0.75, 0.17, 0.2)]
    summary = summarize(records, KS, 512)
    verdicts = {k: v['holds'] for k, v in summary['verdicts'].items()}
    assert verdicts == {'redundancy': False, 'early_layers': False, 'temporal': False,
                        'attention_ranks': False}
    assert not summary['premises_hold']


def test_write_gives_report_json_and_plots(tmp_path: Path) -> None:
    records = [_record('a', 0.08, 0.02, 0.9, None), _record('b', 0.08, 0.02, 0.9, None)]
    summary = summarize(records, KS, 512)
    paths = write(summary, records, tmp_path / 'out', 'synthetic', tmp_path / 'probe.json')
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    report = (tmp_path / 'out' / 'report.md').read_text()
    assert '| early_layers | holds |' in report and 'Fig. 5' in report
    assert 'n/a' in report  # two one-query episodes: no consecutive queries to compare
    assert json.loads((tmp_path / 'probe.json').read_text())['episodes'] == 2
    assert len((tmp_path / 'out' / 'queries.jsonl').read_text().splitlines()) == 2
