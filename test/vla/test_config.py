"""Tests of specprune_ros.vla.config: the policy shape, the presets and their validation."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
import pytest

from specprune_ros.errors import ModelConfigError
from specprune_ros.vla.config import (
    BYTE_VOCAB,
    get_preset,
    LLMConfig,
    PolicyConfig,
    PRESETS,
    VisionTowerConfig,
)

TINY = PRESETS['tiny']


def test_preset_names() -> None:
    assert set(PRESETS) == {'tiny', 'small', 'libero-demo', 'oft-7b'}
    assert all(cfg.name == name for name, cfg in PRESETS.items())


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_presets_have_the_oft_token_grid(name: str) -> None:
    cfg = get_preset(name)
    assert (cfg.image_size, cfg.patch_size) == (224, 14)
    assert cfg.patches_per_view == 256 and cfg.num_views == 2  # 512 visual tokens
    assert (cfg.proprio_dim, cfg.action_dim, cfg.horizon) == (8, 7, 8)  # LIBERO
    assert cfg.dino.num_registers == 4 and cfg.siglip.num_registers == 0
    assert cfg.vision_dim == cfg.dino.hidden_size + cfg.siglip.hidden_size
    for tower in (cfg.dino, cfg.siglip):
        assert tower.hidden_size % tower.num_heads == 0
    assert cfg.llm.hidden_size % cfg.llm.num_heads == 0
    assert cfg.llm.num_heads % cfg.llm.num_kv_heads == 0
    assert (cfg.device, cfg.dtype, cfg.tokenizer) == ('auto', 'auto', 'byte')


def test_oft_7b_is_the_real_openvla_oft_shape() -> None:
    cfg = get_preset('oft-7b')
    # DINOv2 ViT-L/14 with 4 registers.
    assert cfg.dino == VisionTowerConfig(1024, 24, 16, 4096, num_registers=4)
    # SigLIP so400m/14.
    assert cfg.siglip == VisionTowerConfig(1152, 27, 16, 4304, num_registers=0)
    assert cfg.vision_dim == 2176
    # Llama-2-7B: 32 layers, D = 4096, 32 heads (no GQA), 32000 + 64 padding tokens.
    assert cfg.llm == LLMConfig(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                                intermediate_size=11008, vocab_size=32064, rope_theta=10000.0,
                                rms_norm_eps=1e-5, max_position_embeddings=2048)
    assert cfg.llm.hidden_size // cfg.llm.num_heads == 128


def test_small_presets_are_byte_tokenised_and_smaller() -> None:
    tiny, small, big = PRESETS['tiny'], PRESETS['small'], PRESETS['oft-7b']
    assert tiny.llm.vocab_size == small.llm.vocab_size == BYTE_VOCAB == 3 + 256
    assert small.llm.num_layers == 16  # deep enough that the two unpruned layers are a few
    for field in ('hidden_size', 'num_layers', 'intermediate_size'):
        assert getattr(tiny.llm, field) < getattr(small.llm, field) < getattr(big.llm, field)
    assert tiny.vision_dim < small.vision_dim < big.vision_dim


def test_get_preset_overrides_make_a_copy() -> None:
    assert get_preset('tiny') is TINY
    cfg = get_preset('tiny', device='cpu', seed=7, center_crop=True)
    assert (cfg.device, cfg.seed, cfg.center_crop) == ('cpu', 7, True)
    assert (TINY.device, TINY.seed, TINY.center_crop) == ('auto', 0, False)
    assert cfg.replace(device='auto', seed=0, center_crop=False) == TINY
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]


def test_get_preset_unknown_name_lists_the_presets() -> None:
    with pytest.raises(ModelConfigError,
                       match=r"unknown preset 'oft-13b'; expected one of "
                             r"\['libero-demo', 'oft-7b', 'small', 'tiny'\]"):
        get_preset('oft-13b')


def test_unknown_override_names_the_field() -> None:
    with pytest.raises(ModelConfigError, match=r"unknown PolicyConfig field\(s\) \['bogus'\]"):
        get_preset('tiny', bogus=1)


@pytest.mark.parametrize('changes, message', [
    ({'image_size': 200}, 'image_size 200 must be a multiple of patch_size 14'),
    ({'patch_size': 15}, 'image_size 224 must be a multiple of patch_size 15'),
    ({'llm': LLMConfig(130, 2, 4, 2, 344, BYTE_VOCAB)},
     'llm.hidden_size must divide by num_heads and num_heads by num_kv_heads'),
    ({'llm': LLMConfig(128, 2, 4, 3, 344, BYTE_VOCAB)},
     'llm.hidden_size must divide by num_heads and num_heads by num_kv_heads'),
    ({'num_views': 3}, r'num_views must be 2 \(third-person \+ wrist\), got 3'),
    ({'num_views': 1}, 'num_views must be 2'),
])
def test_inconsistent_configs_raise_model_config_error(changes: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ModelConfigError, match=message) as exc:
        TINY.replace(**changes)
    assert isinstance(exc.value, ValueError)
    with pytest.raises(ModelConfigError, match=message):
        get_preset('tiny', **changes)


@given(st.integers(1, 40), st.integers(1, 1000))
def test_image_size_must_tile_into_patches(patch: int, image: int) -> None:
    if image % patch:
        with pytest.raises(ModelConfigError, match=f'image_size {image} must be a multiple'):
            TINY.replace(image_size=image, patch_size=patch)
    else:
        cfg = TINY.replace(image_size=image, patch_size=patch)
        assert cfg.patches_per_view == (image // patch) ** 2


@given(st.integers(1, 512), st.integers(1, 64), st.integers(1, 64))
def test_llm_heads_must_divide(hidden: int, heads: int, kv_heads: int) -> None:
    llm = LLMConfig(hidden, 2, heads, kv_heads, 4 * hidden, BYTE_VOCAB)
    if hidden % heads == 0 and heads % kv_heads == 0:
        assert TINY.replace(llm=llm).llm.num_kv_heads == kv_heads
    else:
        with pytest.raises(ModelConfigError, match=r'got LLMConfig\(hidden_size=' + str(hidden)):
            TINY.replace(llm=llm)


@pytest.mark.parametrize('changes', [
    {'patch_size': 0},
    {'llm': LLMConfig(128, 2, 4, 0, 344, BYTE_VOCAB)},
    {'llm': LLMConfig(128, 2, 0, 0, 344, BYTE_VOCAB)},
    {'image_size': -224},
    {'horizon': 0},
])
def test_zero_sizes_raise_model_config_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ModelConfigError, match='must be positive'):
        TINY.replace(**changes)


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_dict_round_trip_through_json(name: str) -> None:
    cfg = get_preset(name, extra={'unnorm_key': 'libero_spatial', 'bounds': [0.5, 1.5]},
                     center_crop=True, dtype='bfloat16')
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data['llm']['num_layers'] == cfg.llm.num_layers
    assert data['dino']['num_registers'] == cfg.dino.num_registers
    back = PolicyConfig.from_dict(data)
    assert back == cfg
    assert isinstance(back.dino, VisionTowerConfig) and isinstance(back.llm, LLMConfig)
    assert isinstance(data['dino'], dict)  # the input dict is left as it was


def test_from_dict_errors_name_the_problem() -> None:
    good = TINY.to_dict()
    missing = {k: v for k, v in good.items() if k != 'llm'}
    with pytest.raises(ModelConfigError, match=r"invalid policy config: 'llm'"):
        PolicyConfig.from_dict(missing)
    with pytest.raises(ModelConfigError, match=r'invalid policy config: .*colour'):
        PolicyConfig.from_dict({**good, 'colour': 'red'})
    with pytest.raises(ModelConfigError, match=r'invalid policy config: .*depthh'):
        PolicyConfig.from_dict({**good, 'siglip': {**good['siglip'], 'depthh': 3}})
    with pytest.raises(ModelConfigError, match='invalid policy config'):
        PolicyConfig.from_dict({**good, 'dino': {'hidden_size': 64}})
    with pytest.raises(ModelConfigError, match='must be a multiple of patch_size'):
        PolicyConfig.from_dict({**good, 'image_size': 225})


def test_torch_device_and_dtype_resolution() -> None:
    import torch

    cpu = TINY.replace(device='cpu')
    assert cpu.torch_device() == torch.device('cpu')
    assert cpu.torch_dtype() == torch.float32  # 'auto' on CPU
    auto = TINY.torch_device()
    assert auto.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    for name, dtype in (('float32', torch.float32), ('bfloat16', torch.bfloat16),
                        ('float16', torch.float16)):
        assert cpu.replace(dtype=name).torch_dtype() == dtype
    with pytest.raises(ModelConfigError,
                       match=r"dtype 'float64' is not one of \['bfloat16', 'float16', "
                             r"'float32'\]"):
        cpu.replace(dtype='float64').torch_dtype()
