"""StepPruner selection invariants (hypothesis) and the S_i formulas."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import torch

from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.pruner import (
    AttentionShape,
    layer_confidence,
    rank_weights,
    StepPruner,
)
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState

LAYOUT = TokenLayout(2, 256, 40, (12, 30), 56)


class _Spy(StepPruner):
    """StepPruner that also records the original positions entering every layer."""

    def before_layer(self, layer: int, state: LoopState):
        self.__dict__.setdefault('importance_at', []).append(self.importance.clone())
        rows = super().before_layer(layer, state)
        kept = state.kept if rows is None else state.kept.index_select(0, rows)
        self.__dict__.setdefault('entering', []).append(kept.clone())
        return rows


def _run(model, cfg, k_base, v_global, v_dynamic, seed=0) -> _Spy:
    llm = model.llm.config
    hd = llm.hidden_size // llm.num_attention_heads
    pruner = _Spy(cfg, LAYOUT, llm.num_hidden_layers,
                  AttentionShape(llm.num_attention_heads, llm.num_key_value_heads, hd ** -0.5),
                  k_base, v_global, v_dynamic, torch.device('cpu'))
    emb = torch.randn(1, LAYOUT.total, llm.hidden_size,
                      generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        state = model.run_llm(emb, pruner)
    model.decode_actions(state, LAYOUT)  # the head finds every action query row
    return pruner


visual_sets = st.lists(st.integers(0, 511), max_size=200).map(
    lambda v: torch.tensor(sorted(set(v)), dtype=torch.long))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v_global=visual_sets, v_dynamic=visual_sets, k_base=st.integers(0, 120),
       alpha=st.floats(0.05, 4.0), keep=st.floats(0.05, 1.0), use_g=st.booleans(),
       use_d=st.booleans(), use_l=st.booleans(), use_layer=st.booleans(),
       seed=st.integers(0, 3))
def test_selection_invariants(tiny_policy, v_global, v_dynamic, k_base, alpha, keep, use_g,
                              use_d, use_l, use_layer, seed):
    cfg = SpecPruneConfig(alpha=alpha, keep_ratio=keep, use_global=use_g, use_dynamic=use_d,
                          use_local=use_l, use_layer_pruning=use_layer)
    p = _run(tiny_policy.model, cfg, k_base, v_global, v_dynamic, seed)
    always = set(LAYOUT.always_kept().tolist())
    visual = set(range(LAYOUT.visual.start, LAYOUT.visual.stop))
    queries = set(range(LAYOUT.action_queries.start, LAYOUT.action_queries.stop))
    prev = None
    for kept in p.entering:
        ids = kept.tolist()
        assert ids == sorted(set(ids))  # sorted and unique
        assert always <= set(ids)  # text, proprio, BOS/EOS, action slots never dropped
        assert queries <= set(ids)  # what the head reads, incl. the last prompt token
        assert LAYOUT.prompt.stop - 1 in ids
        assert set(ids) <= always | visual
        if prev is not None:
            assert set(ids) <= set(prev)  # pruned tokens never come back
        prev = ids
    assert p.tokens_per_layer == [len(k) for k in p.entering]
    assert all(a >= b for a, b in zip(p.tokens_per_layer, p.tokens_per_layer[1:]))
    static = p.entering[cfg.static_layer]
    if use_g or use_d or use_l:
        expected = set()
        if use_g:
            expected |= set(v_global.tolist())
        if use_d:
            expected |= set(v_dynamic.tolist())
        if use_l:
            expected |= set(p.v_local.tolist())
            assert all(len(v) == min(k_base, 512) for v in p.v_local_layers)
        vis_kept = {i - LAYOUT.visual.start for i in static.tolist()} & set(range(512))
        assert vis_kept == expected  # |V_global ∪ V_dynamic ∪ V_local|
    else:
        assert len(static) == LAYOUT.total


def test_layer_pruning_keeps_top_importance(tiny_policy):
    cfg = SpecPruneConfig(keep_ratio=0.5, use_global=False, use_dynamic=False)
    p = _run(tiny_policy.model, cfg, 100, torch.zeros(0, dtype=torch.long),
             torch.zeros(0, dtype=torch.long))
    first = cfg.resolved_prune_layers(tiny_policy.cfg.llm.num_layers)[0]
    before = p.entering[first - 1] - LAYOUT.visual.start
    after = p.entering[first] - LAYOUT.visual.start
    vis_before = before[(before >= 0) & (before < 512)]
    vis_after = after[(after >= 0) & (after < 512)]
    assert len(vis_after) == -(-len(vis_before) // 2)
    s = p.importance_at[first]  # S_i when the cut was made
    dropped = sorted(set(vis_before.tolist()) - set(vis_after.tolist()))
    assert dropped and s[vis_after].min() >= s[dropped].max()  # top α·Q by S_i survive


def test_rank_weights_and_confidence():
    scores = torch.tensor([0.1, 0.5, 0.2, 0.2])
    w = rank_weights(scores, k=1.0)
    assert torch.isclose(w.sum(), torch.tensor(1.0))
    assert w[1] == w.max() and w[0] == w.min()  # rank 0 = most attended
    raw = torch.sigmoid(-torch.tensor([3.0, 0.0, 1.0, 2.0]))  # stable ties: first gets rank 1
    assert torch.allclose(w, raw / raw.sum())
    assert layer_confidence(scores, 1e-6) == float(scores.mean() / (scores.std() + 1e-6))
    assert layer_confidence(torch.tensor([0.3]), 1e-6) == 0.0
