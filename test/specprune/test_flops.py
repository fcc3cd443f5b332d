"""FLOPs counting against hand-computed numbers."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest

from specprune_ros.specprune.flops import flops_ratio, layer_flops, paper_layer_flops, step_flops
from specprune_ros.vla.config import LLMConfig


def test_layer_flops_hand_computed():
    llm = LLMConfig(hidden_size=8, num_layers=2, num_heads=4, num_kv_heads=2,
                    intermediate_size=16, vocab_size=10)
    # L=3, D=8, D_kv=4, I=16:
    # q,o: 2·3·8·8·2 = 768; k,v: 2·3·8·4·2 = 384; scores + weighted sum: 2·2·9·8 = 288;
    # SwiGLU: 2·3·3·8·16 = 2304  → 3744
    assert layer_flops(3, llm) == 3744
    assert step_flops([3, 3], llm) == 7488


def test_paper_formula():
    assert paper_layer_flops(3, 8, 16) == 4 * 3 * 64 + 2 * 9 * 8 + 2 * 3 * 8 * 16


def test_ratio():
    llm = LLMConfig(4096, 4, 32, 32, 11008, 32000)
    assert flops_ratio([600, 600, 600, 600], llm) == 1.0
    r = flops_ratio([600, 600, 300, 300], llm)
    full = 4 * layer_flops(600, llm)
    expected = (2 * layer_flops(600, llm) + 2 * layer_flops(300, llm)) / full
    assert r == pytest.approx(expected) and 0.5 < r < 0.75
