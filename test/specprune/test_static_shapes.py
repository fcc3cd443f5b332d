"""Bucketed static shapes: the capacity rules, and padding that changes nothing but speed.

A bucketed (or sync-free) step computes padding rows that must be invisible: masked out of
attention as keys, never ranked by a later cut, never read by the head. So its actions and
kept tokens must equal those of the exact step within float32 noise, and the same step with
the key mask switched off must not (the comparison can see a wrong mask).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.pruner import AttentionShape, StepPruner
from specprune_ros.specprune.static_shapes import (
    capacities,
    GRAPH_BUCKET,
    keep_count,
    keep_count_device,
    ShapePlan,
    static_bound,
)
from specprune_ros.tools.sequence import synthetic_sequence
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState

TOL = 1e-5  # float32 noise of different row counts in the matmuls and the softmax


@given(n=st.integers(0, 512), f=st.floats(0.01, 1.0), m=st.integers(0, 64))
def test_keep_count_on_the_device_equals_the_host_formula(n, f, m):
    host = keep_count(n, f, m)
    assert host == min(n, max(m, math.ceil(f * n)))
    assert int(keep_count_device(torch.tensor(n), f, m)) == host


@given(counts=st.lists(st.integers(0, 512), min_size=2, max_size=2), bucket=st.integers(1, 96),
       f=st.floats(0.05, 1.0), m=st.integers(0, 32))
def test_bucketed_capacities_bound_the_real_counts_and_shrink(counts, bucket, f, m):
    small, large = sorted(counts)
    plan = ShapePlan(bucket)
    cap = plan.static_capacity(small, bound=512, limit=512)
    assert small <= cap <= 512 and (cap % bucket == 0 or cap == 512)
    assert plan.static_capacity(large, 512, 512) >= cap  # monotone
    caps = capacities(16, 512, 2, cap, {3, 5, 8, 10}, f, m)
    real = capacities(16, 512, 2, small, {3, 5, 8, 10}, f, m)  # what the exact step keeps
    assert caps[:2] == [512, 512] and caps[2] == cap
    assert all(a >= b for a, b in itertools.pairwise(caps[2:]))
    assert all(c >= r for c, r in zip(caps, real))  # padding never has to hold real tokens


def test_plans_from_config():
    cfg = SpecPruneConfig()
    assert ShapePlan.from_config(cfg, graphs=False) == ShapePlan(0, False)
    assert not ShapePlan().padded and ShapePlan().reads_count
    assert ShapePlan.from_config(cfg, graphs=True).bucket == GRAPH_BUCKET
    plan = ShapePlan.from_config(cfg.replace(token_bucket=48, sync_free=True), graphs=False)
    assert plan == ShapePlan(48, True) and plan.padded and not plan.reads_count
    assert static_bound(cfg, 24, 512) == 64 + 128 + 2 * 24
    assert static_bound(cfg.replace(use_global=False, use_local=False), 24, 512) == 128
    assert static_bound(cfg.replace(k_dynamic=500), 40, 512) == 512
    assert plan.static_capacity(3, bound=250, limit=512) == 288  # sync-free ignores the count
    with pytest.raises(ValueError, match='bucket'):
        ShapePlan(-1)


class _Unmasked(StepPruner):
    """A deliberately broken pruner: padding rows stay visible as keys (negative control)."""

    def before_layer(self, layer: int, state: LoopState):
        rows = super().before_layer(layer, state)
        state.alive = None
        return rows


LAYOUT = TokenLayout(2, 256, 40, (12, 30), 56)


def _model_step(model, cfg, plan, cls=StepPruner, seed=0):
    """Actions and pruner of one step on seeded embeddings and V_global/V_dynamic sets."""
    llm = model.llm.config
    hd = llm.hidden_size // llm.num_attention_heads
    gen = torch.Generator().manual_seed(seed)
    v_global, v_dynamic = (torch.randperm(512, generator=gen)[:n].sort().values
                           for n in (40, 90))
    pruner = cls(cfg, LAYOUT, llm.num_hidden_layers,
                 AttentionShape(llm.num_attention_heads, llm.num_key_value_heads, hd ** -0.5),
                 24, v_global, v_dynamic, torch.device('cpu'), plan)
    emb = torch.randn(1, LAYOUT.total, llm.hidden_size, generator=gen)
    with torch.no_grad():
        state = model.run_llm(emb, pruner)
        return model.decode_actions(state, LAYOUT), pruner


# update_layers=(0, 1): every selection comes from the unpruned first layers, identical in
# both runs by construction, so any difference is the padding's
EARLY = SpecPruneConfig(update_layers=(0, 1), keep_ratio=0.8)


@pytest.fixture(scope='module')
def exact_model_step(tiny_policy):
    return _model_step(tiny_policy.model, EARLY, ShapePlan())


@pytest.mark.parametrize('plan', [ShapePlan(32), ShapePlan(7), ShapePlan(32, sync_free=True)],
                         ids=['bucket32', 'bucket7', 'sync_free'])
def test_padding_changes_nothing_in_the_model(tiny_policy, exact_model_step, plan):
    ref, exact = exact_model_step
    out, padded = _model_step(tiny_policy.model, EARLY, plan)
    assert (out - ref).abs().max() <= TOL
    assert padded.tokens_per_layer == exact.tokens_per_layer
    assert exact.rows_per_layer == exact.tokens_per_layer  # no padding in the exact plan
    assert sum(padded.rows_per_layer) > sum(padded.tokens_per_layer)  # padding was computed
    assert torch.equal(padded.v_retain, exact.v_retain)
    broken, _ = _model_step(tiny_policy.model, EARLY, plan, _Unmasked)
    assert (broken - ref).abs().max() > 10 * TOL  # the comparison sees a missing key mask


@pytest.fixture(scope='module')
def sequence(fixture_obs):
    return synthetic_sequence(fixture_obs, 4)


def _engine_run(policy, cfg, seq):
    engine = SpecPruneEngine(policy, cfg)
    out = []
    for item in seq:
        engine.update_pose(item.pose)
        out.append(engine.predict_action_chunk(item.observation))
    return out


@pytest.fixture(scope='module')
def exact_engine_steps(tiny_policy, sequence):
    return _engine_run(tiny_policy, SpecPruneConfig(), sequence)


@pytest.mark.parametrize('plan', [dict(token_bucket=32), dict(token_bucket=32, sync_free=True)],
                         ids=['bucket32', 'sync_free'])
def test_padded_engine_steps_equal_the_exact_steps(tiny_policy, sequence, exact_engine_steps,
                                                   plan):
    exact = exact_engine_steps
    padded = _engine_run(tiny_policy, SpecPruneConfig(**plan), sequence)
    padding = 0
    for (a, ra), (b, rb) in zip(exact, padded):
        assert np.abs(a - b).max() <= TOL
        assert np.array_equal(ra.v_retain, rb.v_retain)
        assert ra.tokens_per_layer == rb.tokens_per_layer  # real tokens, layer by layer
        assert all(p >= t for p, t in zip(rb.rows_per_layer, rb.tokens_per_layer))
        padding += sum(rb.rows_per_layer) - sum(rb.tokens_per_layer)
        visual_rows = rb.rows_per_layer[2] - (rb.tokens_total - rb.visual_tokens)
        assert visual_rows % 32 == 0 or visual_rows == rb.visual_tokens
    assert padding > 0


def test_a_static_capacity_too_small_for_v_retain_is_flagged(tiny_policy):
    model, n = tiny_policy.model, 512
    llm = model.llm.config
    hd = llm.hidden_size // llm.num_attention_heads
    cfg = SpecPruneConfig(k_global=8, k_dynamic=8)
    too_many = torch.zeros(n, dtype=torch.bool)
    too_many[:100] = True  # a mask the host cannot count: 100 tokens where K_G promises 8
    emb = torch.randn(1, LAYOUT.total, llm.hidden_size, generator=torch.Generator().manual_seed(2))
    for plan, ok in [(ShapePlan(sync_free=True), False), (ShapePlan(), True)]:
        pruner = StepPruner(cfg, LAYOUT, llm.num_hidden_layers, AttentionShape(
            llm.num_attention_heads, llm.num_key_value_heads, hd ** -0.5), 24, too_many,
            torch.zeros(0, dtype=torch.long), torch.device('cpu'), plan)
        with torch.no_grad():
            model.run_llm(emb, pruner)
        assert pruner.host_record().ok is ok
