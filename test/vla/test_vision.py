"""The fused vision backbone (specprune_ros.vla.vision) against transformers' own full towers."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses

from conftest import perturb
import pytest
import torch
import torch.nn.functional as F
from transformers import (
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from specprune_ros.errors import ModelConfigError
from specprune_ros.vla.config import get_preset, PolicyConfig
from specprune_ros.vla.vision import dino_config, FusedVisionBackbone, siglip_config

TINY = get_preset('tiny', device='cpu')


def _pixels(seed: int, size: int = 224, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _full_dino(cfg: PolicyConfig) -> Dinov2WithRegistersModel:
    """Build the whole DINOv2-reg tower (every block), configured independently of vision.py."""
    t = cfg.dino
    return Dinov2WithRegistersModel(Dinov2WithRegistersConfig(
        hidden_size=t.hidden_size, num_hidden_layers=t.depth, num_attention_heads=t.num_heads,
        mlp_ratio=t.mlp_size // t.hidden_size, image_size=cfg.image_size,
        patch_size=cfg.patch_size, num_register_tokens=t.num_registers,
        layer_norm_eps=1e-6)).eval()


def _full_siglip(cfg: PolicyConfig) -> SiglipVisionModel:
    """Build the whole SigLIP tower (every block, exact GELU), configured independently."""
    t = cfg.siglip
    return SiglipVisionModel(SiglipVisionConfig(
        hidden_size=t.hidden_size, num_hidden_layers=t.depth, num_attention_heads=t.num_heads,
        intermediate_size=t.mlp_size, image_size=cfg.image_size, patch_size=cfg.patch_size,
        vision_use_head=False, layer_norm_eps=1e-6, hidden_act='gelu')).eval()


def _load_truncated(tower: torch.nn.Module, full: torch.nn.Module, last: str) -> None:
    """Copy ``full``'s weights into ``tower``, which must lack exactly the last block."""
    missing, unexpected = tower.load_state_dict(full.state_dict(), strict=False)
    assert missing == []
    assert unexpected and all(k.startswith(last) for k in unexpected), unexpected


def test_output_shape_for_the_tiny_preset() -> None:
    backbone = FusedVisionBackbone(TINY).eval()
    assert (backbone.num_patches, backbone.num_prefix) == (256, 5)  # 16x16 grid; cls + 4 reg
    with torch.no_grad():
        feats = backbone(_pixels(0, batch=2), _pixels(1, batch=2))
    assert feats.shape == (2, 256, TINY.dino.hidden_size + TINY.siglip.hidden_size)
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()


@pytest.mark.parametrize('registers', [4, 2])
def test_dino_features_are_second_to_last_hidden_state_without_prefix(registers: int) -> None:
    cfg = TINY.replace(dino=dataclasses.replace(TINY.dino, num_registers=registers))
    full = _full_dino(cfg)
    perturb(full, 10 + registers, 0.1)
    backbone = FusedVisionBackbone(cfg).eval()
    _load_truncated(backbone.featurizer, full, f'encoder.layer.{cfg.dino.depth - 1}.')
    pixels = _pixels(2)
    with torch.no_grad():
        ref = full(pixels, output_hidden_states=True)
        ours = backbone(pixels, _pixels(3))[..., :cfg.dino.hidden_size]
        normed = full.layernorm(ref.hidden_states[-2])
    prefix = 1 + registers
    hidden = ref.hidden_states
    assert len(hidden) == cfg.dino.depth + 1  # embeddings + one per block
    assert hidden[-2].shape[1] == prefix + 256
    torch.testing.assert_close(ours, hidden[-2][:, prefix:], atol=1e-5, rtol=1e-5)
    # each part of the contract is tested on its own: the other readings all differ
    assert _max_diff(ours, hidden[-1][:, prefix:]) > 1e-2  # not the last block
    assert _max_diff(ours, hidden[-3][:, prefix:]) > 1e-2  # not one block earlier
    assert _max_diff(ours, normed[:, prefix:]) > 1e-2  # no final norm
    assert _max_diff(ours, hidden[-2][:, 1:1 + 256]) > 1e-2  # registers dropped, not just cls
    assert _max_diff(ours, hidden[-2][:, prefix - 1:-1]) > 1e-2  # no off-by-one in the prefix


def test_siglip_features_are_second_to_last_hidden_state() -> None:
    full = _full_siglip(TINY)
    perturb(full, 20, 0.1)
    backbone = FusedVisionBackbone(TINY).eval()
    _load_truncated(backbone.fused_featurizer, full, f'encoder.layers.{TINY.siglip.depth - 1}.')
    pixels = _pixels(4)
    with torch.no_grad():
        ref = full(pixels, output_hidden_states=True)
        ours = backbone(_pixels(5), pixels)[..., TINY.dino.hidden_size:]
        normed = full.post_layernorm(ref.hidden_states[-2])
    hidden = ref.hidden_states
    assert len(hidden) == TINY.siglip.depth + 1 and hidden[-2].shape[1] == 256  # no prefix
    torch.testing.assert_close(ours, hidden[-2], atol=1e-5, rtol=1e-5)
    assert _max_diff(ours, hidden[-1]) > 1e-2  # not the last block
    assert _max_diff(ours, hidden[-3]) > 1e-2  # not one block earlier
    assert _max_diff(ours, normed) > 1e-2  # no post_layernorm


def test_channels_are_dino_then_siglip_and_independent() -> None:
    backbone = FusedVisionBackbone(TINY).eval()
    perturb(backbone, 30, 0.1)
    d = TINY.dino.hidden_size
    a, b = _pixels(6), _pixels(7)
    with torch.no_grad():
        base = backbone(a, b)
        new_siglip = backbone(a, _pixels(8))
        new_dino = backbone(_pixels(9), b)
        dino_only = backbone.featurizer(a, output_hidden_states=True).hidden_states[-1]
        siglip_only = backbone.fused_featurizer(b, output_hidden_states=True).hidden_states[-1]
    assert torch.equal(new_siglip[..., :d], base[..., :d])
    assert _max_diff(new_siglip[..., d:], base[..., d:]) > 1e-2
    assert torch.equal(new_dino[..., d:], base[..., d:])
    assert _max_diff(new_dino[..., :d], base[..., :d]) > 1e-2
    # the truncated towers' own last (un-normed) states: DINOv2 first, prefix dropped; SigLIP
    torch.testing.assert_close(base[..., :d], dino_only[:, 5:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(base[..., d:], siglip_only, atol=1e-5, rtol=1e-5)


def test_patch_count_mismatch_raises() -> None:
    backbone = FusedVisionBackbone(TINY).eval()
    with torch.no_grad(), pytest.raises(RuntimeError,
                                        match=r'gave 64 and 256 patch tokens, expected 256'):
        backbone(_pixels(10, size=112), _pixels(11))  # DINOv2 interpolates to an 8x8 grid


@pytest.mark.parametrize('preset', ['tiny', 'oft-7b'])
def test_dino_config_translation(preset: str) -> None:
    cfg = get_preset(preset)
    got = dino_config(cfg.dino, cfg.image_size, cfg.patch_size)
    assert (got.image_size, got.patch_size) == (224, 14)
    assert got.hidden_size == cfg.dino.hidden_size
    assert got.num_hidden_layers == cfg.dino.depth - 1  # the last block is never built
    assert got.num_attention_heads == cfg.dino.num_heads
    assert got.mlp_ratio * got.hidden_size == cfg.dino.mlp_size
    assert got.num_register_tokens == 4
    assert got.layer_norm_eps == 1e-6 and got.hidden_act == 'gelu'
    assert not got.use_swiglu_ffn and got.qkv_bias
    if preset == 'oft-7b':  # ViT-L/14-reg4
        assert (got.hidden_size, got.num_hidden_layers, got.num_attention_heads,
                got.mlp_ratio) == (1024, 23, 16, 4)


def test_dino_config_rejects_an_mlp_size_off_the_ratio() -> None:
    tower = dataclasses.replace(TINY.dino, mlp_size=200)
    with pytest.raises(ModelConfigError, match=r'mlp_size 200 must be a multiple of hidden_size '
                                               r'64'):
        dino_config(tower, 224, 14)


@pytest.mark.parametrize('preset', ['tiny', 'oft-7b'])
def test_siglip_config_translation(preset: str) -> None:
    cfg = get_preset(preset)
    got = siglip_config(cfg.siglip, cfg.image_size, cfg.patch_size)
    assert (got.image_size, got.patch_size) == (224, 14)
    assert got.hidden_size == cfg.siglip.hidden_size
    assert got.num_hidden_layers == cfg.siglip.depth - 1
    assert got.num_attention_heads == cfg.siglip.num_heads
    assert got.intermediate_size == cfg.siglip.mlp_size
    assert got.hidden_act == 'gelu'  # exact GELU like timm's so400m, not gelu_pytorch_tanh
    assert got.layer_norm_eps == 1e-6 and got.vision_use_head is False
    if preset == 'oft-7b':  # so400m/14
        assert (got.hidden_size, got.num_hidden_layers, got.num_attention_heads,
                got.intermediate_size) == (1152, 26, 16, 4304)


def test_built_towers_use_exact_gelu_eps_and_no_siglip_head() -> None:
    backbone = FusedVisionBackbone(TINY)
    x = torch.linspace(-4.0, 4.0, 161)
    dino_act = backbone.featurizer.encoder.layer[0].mlp.activation_fn
    siglip_act = backbone.fused_featurizer.encoder.layers[0].mlp.activation_fn
    for act in (dino_act, siglip_act):
        torch.testing.assert_close(act(x), F.gelu(x), atol=1e-7, rtol=0)
        assert _max_diff(act(x), F.gelu(x, approximate='tanh')) > 1e-4
    assert len(backbone.featurizer.encoder.layer) == TINY.dino.depth - 1
    assert len(backbone.fused_featurizer.encoder.layers) == TINY.siglip.depth - 1
    assert backbone.featurizer.encoder.layer[0].norm1.eps == 1e-6
    assert backbone.fused_featurizer.encoder.layers[0].layer_norm1.eps == 1e-6
    assert not any('head' in name for name, _ in backbone.fused_featurizer.named_parameters())
