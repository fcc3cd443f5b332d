"""The eager all-maps baseline computes the same actions as the plain SDPA policy."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np
import torch

from specprune_ros.tools.bench.eager_baseline import eager_attention_llm, eager_attention_step


def test_same_actions_as_the_plain_policy_and_sdpa_restored(tiny_policy, fixture_obs):
    plain, _ = tiny_policy.predict_action_chunk(fixture_obs)
    eager, report = eager_attention_step(tiny_policy, fixture_obs)
    assert np.abs(eager - plain).max() <= 1e-5
    assert tiny_policy.model.llm.config._attn_implementation == 'sdpa'
    assert report.llm_ms > 0 and report.tokens_per_layer[0] == report.tokens_total


def test_every_attention_map_is_returned_and_bidirectional(tiny_policy):
    model = tiny_policy.model
    emb = torch.randn(1, 50, model.cfg.llm.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        state, maps = eager_attention_llm(model, emb)
        ref = model.run_llm(emb).hidden
    assert len(maps) == model.cfg.llm.num_layers
    assert maps[0].shape == (1, model.cfg.llm.num_heads, 50, 50)
    assert maps[0][0, :, 0, 1:].sum() > 0  # the first token attends to later ones
    assert (state.hidden - ref).abs().max() <= 1e-5
