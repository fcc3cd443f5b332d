"""CUDA graphs: a clear refusal without a GPU; replays equal the eager forward.

On the CPU, :class:`ReplayEmulator` stands in for :class:`GraphCache` with the property that
matters for correctness: a replay re-runs the code path recorded at capture (the closure of the
FIRST step's hook), never the current step's, so any per-step state that a captured layer range
would miss shows up as a difference from the eager run.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.sequence import synthetic_sequence
from specprune_ros.vla.cuda_graphs import cuda_graphs_unavailable, GraphCache, Stage, Tensors
from specprune_ros.vla.policy import VLAPolicy

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU (none here)')
BF16 = 0.05  # bfloat16 noise of the actions (normalised units are O(1))


class ReplayEmulator:
    """``GraphCache.run`` semantics on the CPU: static inputs, the captured stage replayed."""

    def __init__(self) -> None:
        self.graphs: dict[object, tuple[Stage, Tensors]] = {}
        self.replays = 0

    def run(self, key: object, stage: Stage, inputs: Tensors) -> Tensors:
        signature = tuple((n, tuple(t.shape), t.dtype) for n, t in sorted(inputs.items()))
        if (key, signature) not in self.graphs:
            self.graphs[key, signature] = (stage, {n: t.clone() for n, t in inputs.items()})
        captured, static = self.graphs[key, signature]
        for name, tensor in inputs.items():
            static[name].copy_(tensor)
        self.replays += 1
        return captured(dict(static))


@pytest.mark.parametrize('cfg', [SpecPruneConfig(enabled=False), SpecPruneConfig(),
                                 SpecPruneConfig(sync_free=True)],
                         ids=['dense', 'pruned', 'sync_free'])
def test_replayed_ranges_equal_the_eager_step(tiny_policy, fixture_obs, cfg):
    seq = synthetic_sequence(fixture_obs, 3)
    cfg = cfg.replace(token_bucket=32)  # the bucket the graphs use
    runs = []
    for graphs in (None, ReplayEmulator()):
        engine = SpecPruneEngine(tiny_policy, cfg)
        tiny_policy.model.graphs = graphs
        try:
            out = []
            for item in seq:
                engine.update_pose(item.pose)
                out.append(engine.predict_action_chunk(item.observation))
        finally:
            tiny_policy.model.graphs = None
        runs.append(out)
    for (a, ra), (b, rb) in zip(*runs):
        assert np.array_equal(a, b)
        assert ra.tokens_per_layer == rb.tokens_per_layer
        assert np.array_equal(ra.v_retain, rb.v_retain)
        assert np.array_equal(ra.v_global, rb.v_global)
    assert graphs.replays > len(graphs.graphs)  # later steps did replay earlier captures
    assert any(key[0] == 'vision' for key, _ in graphs.graphs)


def test_cpu_refuses_with_the_reason():
    assert 'CUDA device' in cuda_graphs_unavailable('cpu')
    with pytest.raises(ValueError, match='CUDA graphs need a CUDA device; the model runs on cpu'):
        GraphCache('cpu')


def test_engine_on_cpu_warns_once_and_runs_eagerly(tiny_policy, fixture_obs, caplog):
    caplog.set_level(logging.WARNING)
    seq = synthetic_sequence(fixture_obs, 2)
    graphs = SpecPruneEngine(tiny_policy, SpecPruneConfig(cuda_graphs=True))
    eager = SpecPruneEngine(tiny_policy, SpecPruneConfig())
    for item in seq:
        for engine in (graphs, eager):
            engine.update_pose(item.pose)
        a, _ = graphs.predict_action_chunk(item.observation)
        b, _ = eager.predict_action_chunk(item.observation)
        assert np.array_equal(a, b) and tiny_policy.model.graphs is None
    warnings = [r for r in caplog.records if 'cuda_graphs is on' in r.getMessage()]
    assert len(warnings) == 1 and 'running eagerly' in warnings[0].getMessage()


@cuda
@pytest.mark.parametrize('cfg', [SpecPruneConfig(enabled=False), SpecPruneConfig(),
                                 SpecPruneConfig(sync_free=True)],
                         ids=['dense', 'pruned', 'sync_free'])
def test_graph_replays_equal_the_eager_steps(fixture_obs, cfg):
    policy = VLAPolicy.from_preset('tiny', device='cuda')  # bfloat16
    seq = synthetic_sequence(fixture_obs, 6)
    eager = SpecPruneEngine(policy, cfg.replace(token_bucket=32))  # the graphs' shapes
    eager_out = []
    for item in seq:
        eager.update_pose(item.pose)
        eager_out.append(eager.predict_action_chunk(item.observation))
    graphed = SpecPruneEngine(policy, cfg.replace(cuda_graphs=True))
    for item, (a, ra) in zip(seq, eager_out):
        graphed.update_pose(item.pose)
        b, rb = graphed.predict_action_chunk(item.observation)
        assert np.abs(a - b).max() <= BF16
        # bf16 noise may flip a near-tie in a selection, nothing more
        assert abs(sum(rb.tokens_per_layer) - sum(ra.tokens_per_layer)) <= 0.02 * sum(
            ra.tokens_per_layer)
        same = len(set(ra.v_retain) & set(rb.v_retain))
        assert same >= 0.9 * max(len(ra.v_retain), len(rb.v_retain))
    cache = policy.model.graphs
    assert cache.captures > 0 and cache.replays > 0 and cache.fallbacks == 0
    policy.model.graphs = None
