"""Task attention score of visual tokens (SpecPrune-VLA eq. 1), without the full L×L map.

``Score_l(V_i) = 1/(H·m) Σ_h Σ_j A_l^h(t_j → V_i)``: only the m task-text query rows are
computed, from the layer's own q/k projections (captured by the layer loop, so nothing is
projected twice), with RoPE applied and GQA key heads expanded; the softmax runs in float32
over ALL keys of the layer, exactly as the layer's attention does.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import torch
from transformers.models.llama.modeling_llama import repeat_kv, rotate_half

from specprune_ros.vla.layout import TokenLayout


def task_attention(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                   text_rows: torch.Tensor, visual_rows: torch.Tensor | slice, num_heads: int,
                   num_kv_heads: int, scaling: float, key_alive: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Mean text→visual attention probability per visual row.

    q: (1, L, H·hd) and k: (1, L, KV·hd) before RoPE; cos/sin: (1, L, hd); text_rows: (m,);
    visual_rows: (n,) or a slice of rows. ``key_alive`` (L,) bool leaves padding rows out of the
    softmax, as the layer's attention mask does (their score is 0). Returns (n,) float32.
    """
    length = k.shape[1]
    head_dim = k.shape[-1] // num_kv_heads
    qt = q[0].index_select(0, text_rows).view(-1, num_heads, head_dim)  # (m, H, hd)
    kk = k[0].view(length, num_kv_heads, head_dim)  # (L, KV, hd), contiguous
    cos_t = cos[0].index_select(0, text_rows).unsqueeze(1)  # (m, 1, hd)
    sin_t = sin[0].index_select(0, text_rows).unsqueeze(1)
    qt = (qt * cos_t + rotate_half(qt) * sin_t) * scaling  # scale the m queries, not the logits
    kk = kk * cos[0].unsqueeze(1) + rotate_half(kk) * sin[0].unsqueeze(1)
    kk = repeat_kv(kk.transpose(0, 1).unsqueeze(0), num_heads // num_kv_heads)[0]  # (H, L, hd)
    logits = torch.matmul(qt.transpose(0, 1), kk.transpose(1, 2))  # (H, m, L)
    logits = logits.float()
    if key_alive is not None:  # padding rows are no keys
        logits = logits.masked_fill(~key_alive.view(1, 1, -1), float('-inf'))
    probs = torch.softmax(logits, dim=-1)  # float32 like the layer's softmax
    # mean over heads and text queries first, then pick the visual keys: (L,) → (n,)
    mean = probs.mean(dim=(0, 1))
    if isinstance(visual_rows, slice):
        return mean[visual_rows]
    return mean.index_select(0, visual_rows)


def query_positions(layout: TokenLayout, group: str, device: torch.device | str = 'cpu'
                    ) -> torch.Tensor:
    """Sequence positions of the query rows ``group`` (a ``registry.SCORE_ROWS`` entry).

    ``task``: the instruction's tokens (the paper); ``action_queries``: the rows that decode the
    action chunk (VLA-Pruner); ``non_visual``: every row that is not a visual token (the authors'
    S_i: BOS, prompt, proprio, action slots, EOS).
    """
    if group == 'task':
        return layout.indices(layout.task, device)
    if group == 'action_queries':
        return layout.indices(layout.action_queries, device)
    if group == 'non_visual':
        return torch.cat([torch.arange(layout.visual.start, device=device),
                          torch.arange(layout.visual.stop, layout.total, device=device)])
    raise ValueError(f'unknown query rows {group!r}; expected task, action_queries or non_visual')
