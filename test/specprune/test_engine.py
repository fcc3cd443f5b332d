"""SpecPruneEngine: parity with the plain model, behaviour on the moving sequence."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np
import pytest

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.sequence import synthetic_sequence

PARITY_TOL = 1e-5  # float32; never weaken


@pytest.fixture(scope='module')
def sequence(fixture_obs):
    """Build the synthetic moving sequence: fast phase, then slow descent."""
    return synthetic_sequence(fixture_obs, 16)


def _run(engine, seq, plain_policy=None):
    out = []
    for item in seq:
        engine.update_pose(item.pose)
        actions, report = engine.predict_action_chunk(item.observation)
        plain = plain_policy.predict_action_chunk(item.observation)[0] if plain_policy else None
        out.append((item, actions, report, plain))
    return out


def test_parity_pruning_disabled(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy, SpecPruneConfig(enabled=False))
    for _, actions, report, plain in _run(engine, sequence[:4], tiny_policy):
        assert np.abs(actions - plain).max() <= PARITY_TOL
        assert report.mode == 'off' and report.visual_kept == 512


def test_parity_all_techniques_off(tiny_policy, sequence):
    cfg = SpecPruneConfig(use_global=False, use_dynamic=False, use_local=False,
                          use_layer_pruning=False, use_controller=False)
    engine = SpecPruneEngine(tiny_policy, cfg)
    for _, actions, report, plain in _run(engine, sequence[:4], tiny_policy):
        assert np.abs(actions - plain).max() <= PARITY_TOL
        assert report.tokens_per_layer == [report.tokens_total] * len(report.tokens_per_layer)


def test_parity_budgets_large_enough_to_keep_everything(tiny_policy, sequence):
    cfg = SpecPruneConfig(k_coarse=4096, k_fine=4096, keep_ratio=1.0, alpha=1.0)
    engine = SpecPruneEngine(tiny_policy, cfg)
    for _, actions, report, plain in _run(engine, sequence[:4], tiny_policy):
        assert report.visual_kept == 512 and report.flops_ratio == 1.0
        assert np.abs(actions - plain).max() <= PARITY_TOL


def test_moving_sequence_modes_and_pruning(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy)
    runs = _run(engine, sequence)
    first = runs[0][2]  # warm-up (warmup_queries=1): dense, scores S_i for V_global
    assert first.mode == 'warmup' and first.visual_kept == 512 and first.flops_ratio == 1.0
    runs = runs[1:]
    modes = [(item.phase, r.mode) for item, _, r, _ in runs]
    # coarse while fast; the controller switches to fine in the slow descending phase
    assert all(m == 'coarse' for p, m in modes if p == 'fast')
    slow = [m for p, m in modes if p == 'slow']
    assert slow[0] == 'fine' and all(m == 'fine' for m in slow)
    pruned = {mode: np.mean([1 - r.visual_kept / 512 for _, _, r, _ in runs
                             if r.mode == mode]) for mode in ('coarse', 'fine')}
    assert pruned['coarse'] >= 0.45  # ≥45% of visual tokens gone before layer 3
    assert pruned['fine'] < pruned['coarse']  # fine manipulation prunes less
    for _, actions, r, _ in runs:
        assert np.isfinite(actions).all()
        layers = r.tokens_per_layer
        assert layers[0] == layers[1] == r.tokens_total  # first two layers see everything
        assert layers[2] == r.tokens_total - 512 + r.visual_kept
        assert r.flops_ratio < 1.0
        assert r.k_base == (40 if r.mode == 'fine' else 24)
    later = runs[2][2]
    assert later.v_global.size == engine.config.k_global and later.v_dynamic.size > 0
    assert 1 <= later.reference_offset <= engine.config.t_max
    assert set(later.v_retain) == set(later.v_global) | set(later.v_dynamic) | set(later.v_local)


def test_dynamic_tokens_follow_the_moving_object(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy, SpecPruneConfig(k_dynamic=512))
    runs = _run(engine, sequence[:3])
    dyn = runs[2][2].v_dynamic
    third = dyn[dyn < 256]
    rows = third // 16
    assert third.size > 0 and set(rows.tolist()) <= {10, 11, 12}  # object pasted at y 150..174


def test_config_change_applies_at_next_step(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy)
    _run(engine, sequence[:2])
    engine.set_config(engine.config.replace(enabled=False))
    _, _, report, _ = _run(engine, sequence[2:3])[0]
    assert report.mode == 'off'
    engine.set_config(engine.config.replace(enabled=True, k_global=0))
    _, _, report, _ = _run(engine, sequence[3:4])[0]
    assert report.mode != 'off' and report.v_global.size == 0


def test_reset_forgets_history(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy)
    _run(engine, sequence[:3])
    engine.reset()
    _, _, report, _ = _run(engine, sequence[3:4])[0]
    assert report.v_global.size == 0 and report.reference_offset == 0 and report.step == 0


def test_warmup_queries_run_dense_then_prune_with_v_global(tiny_policy, sequence):
    plain = SpecPruneEngine(tiny_policy, SpecPruneConfig(enabled=False))
    engine = SpecPruneEngine(tiny_policy, SpecPruneConfig(warmup_queries=2))
    runs = _run(engine, sequence[:4])
    for (_, actions, report, _), (_, want, _, _) in zip(runs[:2], _run(plain, sequence[:2])):
        assert report.mode == 'warmup' and report.visual_kept == 512
        assert np.abs(actions - want).max() <= PARITY_TOL  # dense: the plain model's chunk
    third = runs[2][2]
    assert third.visual_kept < 512 and third.v_global.size == engine.config.k_global
    cold = _run(SpecPruneEngine(tiny_policy, SpecPruneConfig(warmup_queries=0)), sequence[:1])
    first = cold[0][2]  # no history: V_local alone
    assert first.v_global.size == 0 and first.v_dynamic.size == 0
    assert first.visual_kept == first.v_local.size < 2 * 24 + 1


def test_score_rows_choose_whose_attention_ranks(tiny_policy, sequence):
    kept = {}
    for rows in ('task', 'action_queries', 'non_visual'):
        cfg = SpecPruneConfig(warmup_queries=0, score_rows=rows, use_global=False,
                              use_dynamic=False, use_layer_pruning=False)
        report = _run(SpecPruneEngine(tiny_policy, cfg), sequence[:1])[0][2]
        kept[rows] = set(report.v_local.tolist())
        assert 24 <= len(kept[rows]) <= 48
    assert kept['task'] != kept['action_queries'] != kept['non_visual']


def test_k_coverage_adds_the_grid_to_v_retain(tiny_policy, sequence):
    from specprune_ros.specprune.coverage import coverage_set
    cfg = SpecPruneConfig(warmup_queries=0, k_coverage=64)
    report = _run(SpecPruneEngine(tiny_policy, cfg), sequence[:3])[2][2]
    grid = set(coverage_set(2, 16, 64).tolist())
    retain = set(report.v_retain.tolist())
    assert grid <= retain
    assert retain == grid | set(report.v_global) | set(report.v_dynamic) | set(report.v_local)


def test_authors_variant_prunes_only_pixel_static_patches(tiny_policy, sequence):
    cfg = SpecPruneConfig(variant='authors', use_layer_pruning=True)
    runs = _run(SpecPruneEngine(tiny_policy, cfg), sequence[:4])
    for _, actions, r, _ in runs[1:]:
        assert np.isfinite(actions).all()
        static = 512 - r.v_dynamic.size  # the prunable pool, capped per view
        assert static <= 2 * (220 if r.mode == 'fine' else 200)
        assert set(r.v_dynamic) <= set(r.v_retain)  # every non-static patch is kept
        assert min(r.visual_per_layer) >= min(60, r.visual_kept)  # their floor
    # layer-level: 0.8 of the visual tokens at each of their prune layers {5,10,15,20,25}/32
    r = runs[-1][2]
    layers = cfg.resolved_prune_layers(tiny_policy.cfg.llm.num_layers)
    assert layers and r.visual_kept > 60
    for layer in layers:
        before, now = r.visual_per_layer[layer - 1], r.visual_per_layer[layer]
        assert now == min(before, max(60, -(-before * 8 // 10)))


@pytest.mark.parametrize('method', ['random', 'grid', 'frame_diff', 'attention_only',
                                    'action_attention'])
def test_method_runs_a_baseline_at_baseline_budget(tiny_policy, sequence, method):
    engine = SpecPruneEngine(tiny_policy, SpecPruneConfig(method=method, baseline_budget=100,
                                                          use_layer_pruning=False))
    runs = _run(engine, sequence[:3])
    for _, actions, r, _ in runs:
        assert r.mode == method and r.visual_kept == 100 and np.isfinite(actions).all()
    assert [r.step for _, _, r, _ in runs] == [0, 1, 2]
    engine.set_config(engine.config.replace(method='none'))
    _, actions, r, plain = _run(engine, sequence[3:4], tiny_policy)[0]
    assert r.visual_kept == 512 and np.abs(actions - plain).max() <= PARITY_TOL


def test_warmup_again_after_pruning_was_switched_off(tiny_policy, sequence):
    engine = SpecPruneEngine(tiny_policy)
    modes = [r.mode for _, _, r, _ in _run(engine, sequence[:2])]
    engine.set_config(engine.config.replace(enabled=False))
    modes += [r.mode for _, _, r, _ in _run(engine, sequence[2:3])]
    engine.set_config(engine.config.replace(enabled=True))  # no frames, no S_i any more
    modes += [r.mode for _, _, r, _ in _run(engine, sequence[3:5])]
    assert modes[0] == 'warmup' and modes[1] in ('coarse', 'fine') and modes[2] == 'off'
    assert modes[3] == 'warmup' and modes[4] in ('coarse', 'fine')
