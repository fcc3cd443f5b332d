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

from checkpoint_builder import build_written, UNNORM_KEYS
import pytest
import torch

from specprune_ros.tools.bench.pairs import STAGES
from specprune_ros.tools.bench.run import main

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
    stages = data['stages_ms']
    assert set(stages) == {'dense', 'pruned', 'eager_attentions'}
    assert all(stages[v][s] > 0 for v in stages for s in STAGES)
    assert set(data['vs_eager_attentions']) == {'llm_speedup', 'step_speedup',
                                                'dense_llm_speedup'}
    assert data['roofline'] is None  # no peak figures for a CPU unless given
    assert 'SDPA' in data['dense_baseline'] and 'no lm_head' in data['dense_baseline']
    assert data['sweep'][0]['vs_eager_attentions'] is None  # the baseline runs once


def test_cuda_graphs_are_refused_without_a_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    for argv, message in [(['--preset', 'tiny', '--cuda-graphs'],
                           '--cuda-graphs: CUDA graphs need a CUDA device; the model runs on '
                           'cpu'),
                          (['--preset', 'tiny', '--device', 'cuda', '--cuda-graphs'],
                           '--device cuda: torch sees no CUDA GPU')]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_bench_on_a_written_checkpoint(tmp_path, capsys):
    written = build_written(tmp_path / 'openvla-7b-oft-finetuned-libero')
    out = tmp_path / 'ckpt.json'
    assert main(['--checkpoint', str(written.path), '--unnorm-key', UNNORM_KEYS[0], '--steps',
                 '1', '--warmup', '1', '--camera-size', '256', '--peak-tflops', '1',
                 '--peak-bandwidth', '20', '--json', str(out)]) == 0
    data = json.loads(out.read_text())
    assert data['preset'] == 'checkpoint:openvla-7b-oft-finetuned-libero'
    assert data['stages_ms']['pruned']['preprocess_ms'] > 0  # JPEG + Lanczos from 256
    roof = data['roofline']
    assert roof['peak_tflops'] == 1.0 and roof['bytes_per_param'] == 4  # float32 on a CPU
    assert 0 < roof['pruned_roofline_ms'] <= roof['pruned_padded_roofline_ms']
    assert roof['pruned_roofline_ms'] < roof['dense_roofline_ms']
    assert roof['pruned_fraction'] > 0
    with pytest.raises(SystemExit) as exc:
        main(['--checkpoint', str(tmp_path / 'missing')])
    assert exc.value.code == 2 and 'does not exist' in capsys.readouterr().err
