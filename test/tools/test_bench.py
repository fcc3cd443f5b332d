"""specprune-bench runs end to end and writes the documented JSON keys (no speed asserted)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json

from specprune_ros.tools.bench import main

KEYS = {'llm_speedup', 'step_speedup', 'flop_bound_speedup', 'llm_efficiency',
        'pruning_overhead_fraction', 'visual_tokens_kept_mean', 'device', 'preset', 'alpha'}


def test_bench_json_and_tables(tmp_path, caplog):
    out, png = tmp_path / 'out.json', tmp_path / 'plot.png'
    caplog.set_level('INFO')
    assert main(['--preset', 'tiny', '--steps', '2', '--warmup', '1', '--sweep', '0.5', '1.0',
                 '--ablation', '--json', str(out), '--plot', str(png)]) == 0
    data = json.loads(out.read_text())
    assert KEYS <= set(data)
    assert data['preset'] == 'tiny' and data['alpha'] == 1.0 and data['device'].startswith('cpu')
    assert 0 < data['visual_tokens_kept_mean'] < 512
    assert abs(data['llm_efficiency'] * data['flop_bound_speedup'] - data['llm_speedup']) < 1e-9
    assert [r['alpha'] for r in data['sweep']] == [0.5, 1.0]
    # smaller alpha prunes more
    kept = [r['visual_tokens_kept_mean'] for r in data['sweep']]
    assert kept[0] < kept[1]
    names = [r['config'] for r in data['ablation']]
    assert names == ['static only', 'static + dynamic', 'static + dynamic + controller']
    static_only = data['ablation'][0]['tokens_per_layer_mean']
    assert static_only[-1] == static_only[2]  # no layer-level pruning after the static cut
    assert png.stat().st_size > 1000
    assert 'alpha sweep' in caplog.text and 'ablation' in caplog.text
