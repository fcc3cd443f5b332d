"""LLM FLOPs per decoder layer and per (pruned) step.

Accurate count for a Llama layer with L tokens (multiply-add = 2 FLOPs):
q/o projections ``2·2·L·D·D``, k/v projections with GQA ``2·2·L·D·D_kv``, attention scores and
weighted sum ``2·2·L²·D``, SwiGLU MLP (gate, up, down) ``3·2·L·D·I``. The paper's appendix
formula ``4LD² + 2L²D + 2LDM`` is the same idea counted in multiply-adds with one projection
matrix per MLP layer; :func:`paper_layer_flops` implements it for comparison.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence

from specprune_ros.vla.config import LLMConfig


def layer_flops(tokens: int, llm: LLMConfig) -> int:
    """FLOPs of one decoder layer on ``tokens`` tokens (bidirectional: every pair attends)."""
    d, i = llm.hidden_size, llm.intermediate_size
    d_kv = d // llm.num_heads * llm.num_kv_heads
    proj = 2 * tokens * d * (2 * d + 2 * d_kv)
    attn = 2 * 2 * tokens * tokens * d
    mlp = 2 * 3 * tokens * d * i
    return proj + attn + mlp


def paper_layer_flops(tokens: int, hidden: int, intermediate: int) -> int:
    """The paper's simplification ``4LD² + 2L²D + 2LDM``."""
    return 4 * tokens * hidden ** 2 + 2 * tokens ** 2 * hidden + 2 * tokens * hidden * intermediate


def step_flops(tokens_per_layer: Sequence[int], llm: LLMConfig) -> int:
    """FLOPs of all layers given the tokens entering each."""
    return sum(layer_flops(t, llm) for t in tokens_per_layer)


def flops_ratio(tokens_per_layer: Sequence[int], llm: LLMConfig) -> float:
    """Pruned step FLOPs over the unpruned step (every layer at the first layer's count)."""
    full = step_flops([tokens_per_layer[0]] * len(tokens_per_layer), llm)
    return step_flops(tokens_per_layer, llm) / full
