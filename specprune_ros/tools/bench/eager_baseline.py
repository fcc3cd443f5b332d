"""The dense baseline of published pruning speedups: eager attention returning every map.

SpecPrune-VLA's authors measure against OpenVLA-OFT run with transformers' eager attention and
all 32 attention maps kept (``output_attentions=True``). :func:`eager_attention_step` runs one
policy step that way: the same preprocessing, vision towers and action head as the plain
policy, but the decoder is ``LlamaModel.forward`` with eager attention, an explicit all-zeros
4-D mask (bidirectional, as OFT) and every attention map returned. It exists for comparison
only: the ratios this project publishes are against the plain policy (SDPA, our layer loop,
no lm_head), and the bench prints both.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import time

import numpy as np
import torch

from specprune_ros.vla.model import LoopState, VLAModel
from specprune_ros.vla.policy import Observation, VLAPolicy
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.timing import StageTimer


def eager_attention_llm(model: VLAModel, embeds: torch.Tensor
                        ) -> tuple[LoopState, tuple[torch.Tensor, ...]]:
    """All decoder layers with eager attention; the final rows and every (1, H, L, L) map."""
    length = embeds.shape[1]
    positions = torch.arange(length, device=embeds.device).unsqueeze(0)
    mask = embeds.new_zeros(1, 1, length, length)  # additive: every token sees every token
    llm = model.llm
    llm.set_attn_implementation('eager')
    try:
        out = llm(inputs_embeds=embeds, position_ids=positions, attention_mask=mask,
                  output_attentions=True)
    finally:
        llm.set_attn_implementation('sdpa')
    cos, sin = llm.rotary_emb(embeds, positions)
    return LoopState(out.last_hidden_state, cos, sin, positions[0]), out.attentions


@torch.inference_mode()
def eager_attention_step(policy: VLAPolicy, obs: Observation) -> tuple[np.ndarray, StepReport]:
    """One unpruned step with the eager, all-maps decoder (no CUDA graphs anywhere)."""
    model, tok = policy.model, policy.tokenizer
    graphs, model.graphs = model.graphs, None
    try:
        report = StepReport()
        t0 = time.perf_counter()
        timer = StageTimer(model.device)
        with timer.stage('preprocess'):
            prep = policy.prepare(obs)
        with timer.stage('vision'):
            patches = model.encode_images(prep.pixels_dino, prep.pixels_siglip)
        with timer.stage('llm'):
            embeds = model.build_embeddings(prep.layout, patches, prep.proprio, prep.prompt_ids,
                                            tok.bos_id, tok.eos_id)
            state, maps = eager_attention_llm(model, embeds)
        with timer.stage('head'):
            norm = model.decode_actions(state, prep.layout).float().cpu().numpy()
            actions = policy.norm_stats.unnormalize_actions(norm.astype(np.float64))
        del maps  # kept until the step is done, as the baseline does
        report.total_ms = (time.perf_counter() - t0) * 1e3
    finally:
        model.graphs = graphs
    for name, ms in timer.elapsed_ms().items():
        setattr(report, f'{name}_ms', ms)
    layout = prep.layout
    report.tokens_total, report.visual_tokens = layout.total, layout.num_visual
    report.tokens_per_layer = [layout.total] * policy.cfg.llm.num_layers
    report.visual_per_layer = [layout.num_visual] * policy.cfg.llm.num_layers
    return actions.astype(np.float32), report
