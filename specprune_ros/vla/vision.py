"""Fused DINOv2-with-registers + SigLIP vision backbone built from transformers modules.

Both towers run up to their second-to-last block (the last block is never built: OFT reads
``hidden_states[-2]``), without the final norm, and their prefix tokens (class + registers for
DINOv2) are dropped. Patch features are concatenated channel-wise: (B, 256, D_dino + D_siglip).
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
from torch import nn
from transformers import (
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from specprune_ros.errors import ModelConfigError
from specprune_ros.vla.config import PolicyConfig, VisionTowerConfig


def dino_config(tower: VisionTowerConfig, image_size: int, patch: int
                ) -> Dinov2WithRegistersConfig:
    """transformers config of the DINOv2-reg tower, truncated before its last block."""
    if tower.mlp_size % tower.hidden_size:
        raise ModelConfigError(f'DINOv2 mlp_size {tower.mlp_size} must be a multiple of '
                               f'hidden_size {tower.hidden_size} (transformers uses mlp_ratio)')
    return Dinov2WithRegistersConfig(
        hidden_size=tower.hidden_size, num_hidden_layers=tower.depth - 1,
        num_attention_heads=tower.num_heads, mlp_ratio=tower.mlp_size // tower.hidden_size,
        image_size=image_size, patch_size=patch, num_register_tokens=tower.num_registers,
        layer_norm_eps=1e-6, attn_implementation='sdpa')


def siglip_config(tower: VisionTowerConfig, image_size: int, patch: int) -> SiglipVisionConfig:
    """transformers config of the SigLIP tower, truncated before its last block, no head."""
    return SiglipVisionConfig(
        hidden_size=tower.hidden_size, num_hidden_layers=tower.depth - 1,
        num_attention_heads=tower.num_heads, intermediate_size=tower.mlp_size,
        image_size=image_size, patch_size=patch, vision_use_head=False, layer_norm_eps=1e-6,
        hidden_act='gelu',  # timm's so400m (what OFT was trained with) uses exact GELU
        attn_implementation='sdpa')


class FusedVisionBackbone(nn.Module):
    """``featurizer`` = DINOv2-reg, ``fused_featurizer`` = SigLIP (OFT's attribute names)."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.featurizer = Dinov2WithRegistersModel(
            dino_config(cfg.dino, cfg.image_size, cfg.patch_size))
        self.fused_featurizer = SiglipVisionModel(
            siglip_config(cfg.siglip, cfg.image_size, cfg.patch_size))
        self.num_prefix = 1 + cfg.dino.num_registers  # class token + registers
        self.num_patches = cfg.patches_per_view

    def forward(self, pixels_dino: torch.Tensor, pixels_siglip: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) twice → (B, num_patches, D_dino + D_siglip)."""
        dino = self.featurizer.embeddings(pixels_dino)  # (B, prefix + P, D_dino)
        dino = self.featurizer.encoder(dino).last_hidden_state[:, self.num_prefix:]
        sig = self.fused_featurizer.embeddings(pixels_siglip)  # (B, P, D_siglip)
        sig = self.fused_featurizer.encoder(inputs_embeds=sig).last_hidden_state
        if dino.shape[1] != self.num_patches or sig.shape[1] != self.num_patches:
            raise RuntimeError(f'vision towers gave {dino.shape[1]} and {sig.shape[1]} patch '
                               f'tokens, expected {self.num_patches}')
        return torch.cat([dino, sig], dim=-1)
