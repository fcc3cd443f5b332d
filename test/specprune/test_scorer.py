"""The task-attention scorer equals the rows of transformers' eager attention maps."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import torch

from specprune_ros.specprune.scorer import task_attention
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState


class _Recorder:
    """A LayerHook that only records each layer's q/k and rows."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple] = {}

    def before_layer(self, layer: int, state: LoopState) -> None:
        return None

    def wants_qk(self, layer: int) -> bool:
        return True

    def after_layer(self, layer, state, q, k) -> None:
        self.seen[layer] = (q, k, state.cos, state.sin, state.kept)


def test_scores_equal_eager_output_attentions(tiny_policy):
    model = tiny_policy.model
    layout = TokenLayout(2, 256, 40, (12, 30), 56)
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(1, layout.total, model.cfg.llm.hidden_size, generator=gen)
    rec = _Recorder()
    with torch.no_grad():
        model.run_llm(emb, rec)
        model.llm.set_attn_implementation('eager')
        try:
            zeros = torch.zeros(1, 1, layout.total, layout.total)
            out = model.llm(inputs_embeds=emb, attention_mask=zeros, output_attentions=True,
                            position_ids=torch.arange(layout.total).unsqueeze(0))
        finally:
            model.llm.set_attn_implementation('sdpa')
    text = layout.indices(layout.task)
    visual = layout.indices(layout.visual)
    cfg = model.llm.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    for layer, attn in enumerate(out.attentions):  # (1, H, L, L)
        ref = attn[0][:, text][:, :, visual].mean(dim=(0, 1))
        q, k, cos, sin, _ = rec.seen[layer]
        ours = task_attention(q, k, cos, sin, text, visual, cfg.num_attention_heads,
                              cfg.num_key_value_heads, head_dim ** -0.5)
        assert ours.shape == (512,)
        assert torch.allclose(ours, ref, atol=1e-6, rtol=1e-4), layer


def test_scores_on_pruned_rows_use_original_positions(tiny_policy):
    """After rows are dropped, RoPE must still rotate each row by its original position."""
    model = tiny_policy.model
    cfg = model.llm.config
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = cfg.hidden_size // heads
    emb = torch.randn(1, 64, cfg.hidden_size, generator=torch.Generator().manual_seed(1))
    rec = _Recorder()
    with torch.no_grad():
        model.run_llm(emb, rec)
    q, k, cos, sin, _ = rec.seen[0]
    keep = torch.tensor([0, 3, 5, 8, 20, 21, 40, 63])  # original positions of the kept rows
    text, vis = torch.tensor([6, 7]), torch.tensor([0, 1, 2, 3, 4, 5])  # rows in `keep`

    def rope(x, n):  # (L, n·hd) → (n, L, hd) rotated at the ORIGINAL positions
        x = x.view(-1, n, hd).transpose(0, 1)
        half = hd // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos[0] + rot * sin[0]

    qr = rope(q[0], heads)[:, keep[text]]  # (H, 2, hd)
    kr = rope(k[0], kv)[:, keep].repeat_interleave(heads // kv, dim=0)  # (H, 8, hd)
    ref = torch.softmax(qr @ kr.transpose(1, 2) * hd ** -0.5, -1)[:, :, vis].mean((0, 1))
    args = (heads, kv, hd ** -0.5)
    ours = task_attention(q[:, keep], k[:, keep], cos[:, keep], sin[:, keep], text, vis, *args)
    assert torch.allclose(ours, ref, atol=1e-6)
    shifted = task_attention(q[:, keep], k[:, keep], cos[:, :8], sin[:, :8], text, vis, *args)
    assert not torch.allclose(shifted, ref, atol=1e-4)  # the test can see a position shift
