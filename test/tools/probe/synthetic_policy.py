"""A policy built by hand whose actions depend on a known set of patches (probe controls).

The tiny preset's modules with designed weights (hidden dims: ``U`` key marker, ``C`` content,
``W`` query marker, ``R`` result; everything else zero):

* patch embeddings: each patch's mean pixel value in ``C``; the patches of ``focus`` also
  carry ``A`` in ``U``;
* layer 0 (before the static cut, every token): uniform attention writes the mean of ``U``
  into ``W`` of every row, so every row can ask for the marked patches later;
* layers 1..L-1, head 0: queries read ``W``, keys read ``U`` (in the slowest RoPE pair, so
  position hardly matters): every row attends to the marked patches; the last layer's values
  read ``C`` into ``R``, which the action head turns into the chunk.

So the chunk depends on the ``focus`` patches only, and the attention of layers 1..L-1 points
at them: the premises hold. With ``focused=False`` the queries are zero: uniform attention,
a chunk that depends on every token's content, and no ranking anywhere: they fail.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import types

import numpy as np
import torch

from specprune_ros.vla.policy import VLAPolicy

U, C, W, R = 0, 1, 2, 3  # hidden dims
A = 10.0  # the marker of a focus patch
SLOW = 15  # head dim of the slowest RoPE frequency (head_dim 32: pairs j and j + 16)


def focus_patches(num_visual: int = 512, per_view: int = 32) -> np.ndarray:
    """The marked patches: a block of rows in the middle of each 16x16 view."""
    side = 16
    cells = [r * side + c for r in range(6, 6 + per_view // 8) for c in range(4, 12)]
    return np.array([v * side * side + i for v in range(num_visual // 256) for i in cells])


@torch.no_grad()
def synthetic_policy(focus: np.ndarray, focused: bool = True) -> VLAPolicy:
    """The tiny preset with the designed weights (see the module docstring)."""
    policy = VLAPolicy.from_preset('tiny', device='cpu', seed=11)
    model = policy.model
    llm = model.llm
    for layer in llm.layers:
        for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
                    layer.self_attn.o_proj, layer.mlp.down_proj):
            lin.weight.zero_()
        layer.input_layernorm.weight.fill_(1.0)
    llm.embed_tokens.weight[:, [U, W, R]] = 0.0  # text: no marker, no query, no result
    model.proprio_projector.fc2.weight[[U, W, R]] = 0.0
    model.proprio_projector.fc2.bias[[U, W, R]] = 0.0
    first = llm.layers[0].self_attn
    first.v_proj.weight[0, U] = 1.0  # uniform attention: the mean marker ...
    first.o_proj.weight[W, 0] = 5.0  # ... into every row's query dim
    for i, layer in enumerate(llm.layers[1:], start=1):
        attn = layer.self_attn
        if focused:
            attn.q_proj.weight[SLOW, W] = 1.2
            attn.k_proj.weight[SLOW, U] = 1.2
        if i == len(llm.layers) - 1:
            attn.v_proj.weight[0, C] = 1.0
            attn.o_proj.weight[R, 0] = 3.0
    marked = torch.zeros(policy.cfg.num_views * policy.cfg.patches_per_view)
    marked[torch.as_tensor(focus)] = A
    patch = policy.cfg.patch_size

    def encode_images(self: object, pixels_dino: torch.Tensor, pixels_siglip: torch.Tensor
                      ) -> torch.Tensor:
        means = torch.nn.functional.avg_pool2d(pixels_dino.mean(1, keepdim=True), patch)
        out = torch.zeros(marked.numel(), llm.config.hidden_size, dtype=pixels_dino.dtype)
        out[:, C] = means.flatten()
        out[:, U] = marked
        return out

    model.encode_images = types.MethodType(encode_images, model)
    return policy
