"""Same-budget baselines: exact matched counts per layer, and what each one selects."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math

from conftest import make_obs
import numpy as np
import pytest
import torch

from specprune_ros.errors import ConfigError, InputError
from specprune_ros.specprune.baselines import (
    BaselineConfig,
    BaselineEngine,
    BudgetSchedule,
    layer_budget,
    ranks_from_priority,
)
from specprune_ros.specprune.coverage import coverage_set
from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.registry import BASELINES
from specprune_ros.specprune.scorer import query_positions, task_attention
from specprune_ros.vla.layout import TokenLayout

N_VIS = 512


def test_layer_budget_follows_the_pruner_schedule() -> None:
    cfg = SpecPruneConfig()  # alpha 1, Q 0.9; 6 layers → L_prune {3, 4}
    assert cfg.resolved_prune_layers(6) == (3, 4)
    assert layer_budget(cfg, 6, N_VIS, 100) == (512, 512, 100, 90, 81, 81)
    small = cfg.replace(min_visual_tokens=16)
    assert layer_budget(small, 6, N_VIS, 17) == (512, 512, 17, 16, 16, 16)
    assert layer_budget(cfg.replace(use_layer_pruning=False), 6, N_VIS, 40) == (
        512, 512, 40, 40, 40, 40)
    with pytest.raises(InputError):
        layer_budget(cfg, 6, N_VIS, 513)


def test_budget_schedule_match_rule() -> None:
    ref = [(512, 512, 60, 54), (512, 512, 80, 72), (512, 512, 91, 82)]
    sched = BudgetSchedule(list(ref))
    assert [sched.at(i) for i in range(3)] == ref  # the paired query when there is one
    assert sched.at(3) == (512, 512, 77, 69)  # beyond it: the rounded per-layer mean
    assert sched.at(50) == (512, 512, 77, 69)
    assert BudgetSchedule(fixed=(512, 9)).at(4) == (512, 9)
    with pytest.raises(InputError, match='no budget'):
        BudgetSchedule().at(0)


def test_ranks_from_priority_orders_and_breaks_ties() -> None:
    rank = ranks_from_priority(np.array([0.1, 0.9, 0.5, 0.9]), np.array([3, 2, 1, 0]))
    assert rank.tolist() == [3, 1, 2, 0]  # 0.9 (tiebreak 0) first, then 0.9 (2), 0.5, 0.1


def _reference_budget(tiny_policy, obs) -> tuple[int, ...]:
    engine = SpecPruneEngine(tiny_policy, SpecPruneConfig())
    engine.predict_action_chunk(obs)
    _, rep = engine.predict_action_chunk(make_obs(obs, stamp=0.4))
    return tuple(rep.visual_per_layer)


@pytest.mark.parametrize('kind', list(BASELINES))
def test_baseline_keeps_exactly_the_matched_count(tiny_policy, fixture_obs, kind) -> None:
    budget = _reference_budget(tiny_policy, fixture_obs)
    assert budget[2] < N_VIS and budget[-1] < budget[2]  # a real cut and a layer-level cut
    engine = BaselineEngine(tiny_policy, BaselineConfig(kind), SpecPruneConfig())
    engine.set_budget(BudgetSchedule([budget, budget]))
    engine.reset()
    for stamp in (0.0, 0.4):  # frame_diff: first query without, second with a reference
        _, rep = engine.predict_action_chunk(make_obs(fixture_obs, stamp=stamp))
        assert tuple(rep.visual_per_layer) == budget
        assert rep.visual_kept == budget[2] == np.unique(rep.v_retain).size
        other = rep.tokens_total - rep.visual_tokens
        assert rep.tokens_per_layer == [v + other for v in budget]
        assert rep.mode == kind and 0 < rep.flops_ratio < 1


def test_random_is_seeded_and_uniform(tiny_policy, fixture_obs) -> None:
    engine = BaselineEngine(tiny_policy, BaselineConfig('random'))
    engine.set_budget(BudgetSchedule(fixed=layer_budget(SpecPruneConfig(), 6, N_VIS, 64)))
    kept = []
    for seed in (1, 1, 2):
        engine.set_seed(seed)
        engine.reset()
        kept.append(engine.predict_action_chunk(fixture_obs)[1].v_retain)
    assert np.array_equal(kept[0], kept[1]) and not np.array_equal(kept[0], kept[2])
    counts = np.zeros(N_VIS)
    for seed in range(16):
        engine.set_seed(100 + seed)
        engine.reset()
        counts[engine.predict_action_chunk(fixture_obs)[1].v_retain] += 1
    # each token is kept with p = 1/8: 1024 picks spread over (nearly) all tokens and views
    assert counts.sum() == 16 * 64 and (counts > 0).sum() > 400
    assert abs(counts[:256].sum() - counts[256:].sum()) < 0.2 * counts.sum()


def test_frame_diff_keeps_the_changed_patches(tiny_policy, fixture_obs) -> None:
    changed = [r * 16 + c for r in range(3, 6) for c in range(4, 9)]  # 15 patches
    moved = fixture_obs.images[0].copy()
    moved[42:84, 56:126] = 0  # black against content: similarity 0
    n = len(changed)
    engine = BaselineEngine(tiny_policy, BaselineConfig('frame_diff'))
    engine.set_budget(BudgetSchedule(fixed=layer_budget(SpecPruneConfig(), 6, N_VIS, n)))
    engine.reset()
    engine.predict_action_chunk(fixture_obs)
    _, rep = engine.predict_action_chunk(make_obs(fixture_obs, images=(moved,
                                                                       fixture_obs.images[1])))
    assert sorted(rep.v_retain.tolist()) == changed
    assert sorted(rep.v_dynamic.tolist()) == changed  # drawn as dynamic in the debug image


def test_frame_diff_vla_cache_prunes_the_static_set(tiny_policy, fixture_obs) -> None:
    engine = BaselineEngine(tiny_policy, BaselineConfig('frame_diff', vla_cache_budget=True))
    engine.reset()
    _, first = engine.predict_action_chunk(fixture_obs)
    assert first.visual_kept == N_VIS  # nothing to compare with: nothing is static
    _, rep = engine.predict_action_chunk(fixture_obs)  # identical frame: every patch similar
    assert rep.visual_per_layer == [N_VIS, N_VIS] + [N_VIS - 150] * 4


class _Capture:
    """Records layer 1's attention from ``rows`` on the unpruned sequence (keeps every row)."""

    def __init__(self, layout: TokenLayout, llm, rows: str = 'task') -> None:
        self.layout, self.llm, self.score, self.rows = layout, llm, None, rows

    def wants_qk(self, layer: int) -> bool:
        return layer == 1

    def before_layer(self, layer, state):
        return None

    def after_layer(self, layer, state, q, k) -> None:
        if q is None:
            return
        lay = self.layout
        vis = torch.arange(lay.visual.start, lay.visual.stop)
        queries = query_positions(lay, self.rows)  # no cut yet: rows are positions
        self.score = task_attention(q, k, state.cos, state.sin, queries, vis,
                                    self.llm.num_heads, self.llm.num_kv_heads,
                                    (self.llm.hidden_size // self.llm.num_heads) ** -0.5)


@pytest.mark.parametrize('kind', ['attention_only', 'action_attention'])
def test_attention_rankers_keep_the_top_of_layer_2(tiny_policy, fixture_obs, kind) -> None:
    caps = []

    def factory(prep):
        caps.append(_Capture(prep.layout, tiny_policy.cfg.llm, BASELINES[kind].score_rows))
        return caps[-1]

    tiny_policy.predict_action_chunk(fixture_obs, factory)
    score = caps[0].score.numpy()
    k = 40
    engine = BaselineEngine(tiny_policy, BaselineConfig(kind))
    engine.set_budget(BudgetSchedule(fixed=layer_budget(SpecPruneConfig(), 6, N_VIS, k)))
    engine.reset()
    _, rep = engine.predict_action_chunk(fixture_obs)
    expected = np.sort(np.argsort(-score, kind='stable')[:k])
    assert math.isclose(np.sort(score)[-k], score[expected].min())
    assert rep.v_retain.tolist() == expected.tolist()
    with pytest.raises(ConfigError, match='score_layer'):
        BaselineEngine(tiny_policy, BaselineConfig(kind, score_layer=2))


def test_action_and_task_attention_rank_differently(tiny_policy, fixture_obs) -> None:
    kept = {}
    for kind in ('attention_only', 'action_attention'):
        engine = BaselineEngine(tiny_policy, BaselineConfig(kind))
        engine.set_budget(BudgetSchedule(fixed=layer_budget(SpecPruneConfig(), 6, N_VIS, 40)))
        engine.reset()
        kept[kind] = set(engine.predict_action_chunk(fixture_obs)[1].v_retain.tolist())
    assert kept['attention_only'] != kept['action_attention']


@pytest.mark.parametrize('k', [8, 64, 200])
def test_grid_keeps_the_uniform_prefix(tiny_policy, fixture_obs, k) -> None:
    engine = BaselineEngine(tiny_policy, BaselineConfig('grid'))
    engine.set_budget(BudgetSchedule(fixed=layer_budget(SpecPruneConfig(), 6, N_VIS, k)))
    engine.reset()
    _, rep = engine.predict_action_chunk(fixture_obs)
    assert rep.v_retain.tolist() == coverage_set(2, 16, k).tolist()
    per_view = np.bincount(rep.v_retain // 256, minlength=2)
    assert abs(int(per_view[0]) - int(per_view[1])) <= 1  # both views alike


@pytest.mark.parametrize('kind', list(BASELINES))
def test_parity_with_a_budget_of_every_token(tiny_policy, fixture_obs, kind) -> None:
    plain, _ = tiny_policy.predict_action_chunk(fixture_obs)
    engine = BaselineEngine(tiny_policy, BaselineConfig(kind))
    engine.set_budget(BudgetSchedule(fixed=(N_VIS,) * 6))
    engine.reset()
    actions, rep = engine.predict_action_chunk(fixture_obs)
    assert rep.visual_kept == N_VIS
    assert np.abs(actions - plain).max() <= 1e-5


def test_bad_baseline_configs() -> None:
    with pytest.raises(ConfigError, match='unknown baseline'):
        BaselineConfig('fastv')
    with pytest.raises(ConfigError, match='frame_diff only'):
        BaselineConfig('random', vla_cache_budget=True)
