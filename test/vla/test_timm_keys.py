"""The timm → transformers key map (specprune_ros.vla.timm_keys), rule by rule."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch

from specprune_ros.errors import CheckpointError
from specprune_ros.vla.config import get_preset, VisionTowerConfig
from specprune_ros.vla.timm_keys import (
    apply_rule,
    check_targets,
    count_indexed,
    DINO,
    dino_rules,
    heads_for,
    infer_tower,
    KeyRule,
    resolve_keys,
    SIGLIP,
    siglip_rules,
    target_shape,
    vla_rules,
)
from specprune_ros.vla.vision import FusedVisionBackbone

TINY = get_preset('tiny', device='cpu')
FEAT, FUSED = 'vision_backbone.featurizer.', 'vision_backbone.fused_featurizer.'


@pytest.fixture
def params() -> dict[str, torch.Tensor]:
    """Build the tiny backbone; its parameters under the model's names (``vision_backbone.*``)."""
    backbone = FusedVisionBackbone(TINY)
    return {f'vision_backbone.{k}': v for k, v in backbone.named_parameters()}


def _rule(rules: list[KeyRule], key: str) -> KeyRule:
    (found,) = [r for r in rules if r.key == key]
    return found


def _where(keys: list[str]) -> dict[str, str]:
    return {**{k: 'model.safetensors' for k in keys}, '*': 'model.safetensors'}


@pytest.mark.parametrize('preset', ['tiny', 'oft-7b'])
def test_key_map_is_one_to_one(preset: str) -> None:
    rules = vla_rules(get_preset(preset))
    names = [n for r in rules for n in (r.key, *r.aliases)]
    assert len(names) == len(set(names))  # no spelling is claimed by two rules
    targets = [t for r in rules for t in r.targets]
    assert len(targets) == len(set(targets))  # no two checkpoint keys fill one parameter
    assert {r.op for r in rules} == {'copy', 'split3', 'pos_prefix', 'reshape'}
    assert all(len(r.targets) == (3 if r.op == 'split3' else 1) for r in rules if r.targets)


def test_tower_rules_cover_each_tower_and_skip_only_the_last_block(
        params: dict[str, torch.Tensor]) -> None:
    dino, sig = dino_rules(TINY), siglip_rules(TINY)
    towers = ((dino, FEAT, f'{DINO}blocks.2.'), (sig, FUSED, f'{SIGLIP}blocks.2.'))
    for rules, prefix, last in towers:
        ours = {k for k in params if k.startswith(prefix)} - {f'{FEAT}embeddings.mask_token'}
        assert {t for r in rules for t in r.targets} == ours
        for r in rules:
            for i, t in enumerate(r.targets):
                assert tuple(params[t].shape) == target_shape(r, i), r.key
        unused = {r.key for r in rules if r.unused}
        assert {k for k in unused if not k.startswith(f'{SIGLIP}attn_pool.')} == {
            r.key for r in rules if r.key.startswith(last)}
    assert len([r for r in dino if r.unused]) == 14  # 6 linear/norm pairs + 2 LayerScales
    assert len([r for r in sig if r.unused]) == 12 + 13  # last block + attention-pool head


@pytest.mark.parametrize('tower', ['dino', 'siglip'])
def test_split3_fills_q_k_v_in_that_order(tower: str, params: dict[str, torch.Tensor]) -> None:
    d = TINY.dino.hidden_size if tower == 'dino' else TINY.siglip.hidden_size
    rules = dino_rules(TINY) if tower == 'dino' else siglip_rules(TINY)
    ckpt = DINO if tower == 'dino' else SIGLIP
    ours = f'{FEAT}encoder.layer.1.attention' if tower == 'dino' else (
        f'{FUSED}encoder.layers.1.self_attn')
    gen = torch.Generator().manual_seed(0)
    for suffix, shape in (('weight', (d, d)), ('bias', (d,))):
        rule = _rule(rules, f'{ckpt}blocks.1.attn.qkv.{suffix}')
        assert rule.op == 'split3' and rule.shape == (3 * shape[0], *shape[1:])
        parts = [torch.randn(shape, generator=gen) + 10 * i for i in range(3)]  # distinct blocks
        apply_rule(rule, torch.cat(parts), params)
        for name, part, i in zip('qkv', parts, range(3), strict=True):
            assert rule.targets[i] == f'{ours}.{name}_proj.{suffix}'
            assert target_shape(rule, i) == shape
            assert torch.equal(params[f'{ours}.{name}_proj.{suffix}'], part), name


def test_layer_scale_names_and_gamma_alias() -> None:
    rules = dino_rules(TINY)
    for i in (1, 2):
        rule = _rule(rules, f'{DINO}blocks.0.ls{i}.scale_factor')
        assert rule.aliases == (f'{DINO}blocks.0.ls{i}.gamma',)
        assert rule.targets == (f'{FEAT}encoder.layer.0.layer_scale{i}.lambda1',)
        assert (rule.shape, rule.op) == ((TINY.dino.hidden_size,), 'copy')
    assert not [r for r in siglip_rules(TINY) if '.ls' in r.key or r.aliases]
    # timm's own spelling resolves to the same rule; both spellings at once is an error
    shapes = {r.key.replace('.scale_factor', '.gamma'): r.shape for r in rules}
    by_key = resolve_keys(rules, shapes, _where(list(shapes)))
    gamma = by_key[f'{DINO}blocks.1.ls2.gamma']
    assert gamma.targets == (f'{FEAT}encoder.layer.1.layer_scale2.lambda1',)
    shapes[f'{DINO}blocks.1.ls2.scale_factor'] = gamma.shape
    with pytest.raises(CheckpointError, match=r'holds both \[.*blocks\.1\.ls2\.scale_factor'
                                              r'.*blocks\.1\.ls2\.gamma'):
        resolve_keys(rules, shapes, _where(list(shapes)))


def test_dino_patch_only_pos_embed_gets_a_zero_class_row(params: dict[str, torch.Tensor]
                                                         ) -> None:
    rule = _rule(dino_rules(TINY), f'{DINO}pos_embed')
    d = TINY.dino.hidden_size
    assert (rule.op, rule.shape) == ('pos_prefix', (1, 256, d))
    assert target_shape(rule, 0) == (1, 257, d)  # class row + 256 patches, no register rows
    target = params[f'{FEAT}embeddings.position_embeddings']
    with torch.no_grad():
        target.fill_(7.0)
    pos = torch.randn(1, 256, d, generator=torch.Generator().manual_seed(1))
    apply_rule(rule, pos, params)
    assert torch.equal(target[:, 0], torch.zeros(1, d))
    assert torch.equal(target[:, 1:], pos)


def test_siglip_pos_embed_is_reshaped(params: dict[str, torch.Tensor]) -> None:
    rule = _rule(siglip_rules(TINY), f'{SIGLIP}pos_embed')
    d = TINY.siglip.hidden_size
    assert (rule.op, rule.shape, target_shape(rule, 0)) == ('reshape', (1, 256, d), (256, d))
    pos = torch.randn(1, 256, d, generator=torch.Generator().manual_seed(2))
    apply_rule(rule, pos, params)
    assert torch.equal(params[f'{FUSED}embeddings.position_embedding.weight'], pos[0])


def test_unknown_keys_and_ops_fail_clearly(params: dict[str, torch.Tensor]) -> None:
    rules = dino_rules(TINY)
    shapes = {r.key: r.shape for r in rules}
    shapes.update({f'{DINO}blocks.0.attn.zz': (3,), f'{DINO}blocks.0.attn.aa': (3,)})
    with pytest.raises(CheckpointError, match=r'^unexpected key vision_backbone\.featurizer\.'
                                              r'blocks\.0\.attn\.aa in model\.safetensors '
                                              r'\(2 unexpected in all\)$'):
        resolve_keys(rules, shapes, _where(list(shapes)))
    bad = dataclasses.replace(_rule(rules, f'{DINO}cls_token'), op='transpose')
    with pytest.raises(ValueError, match=r"unknown key-rule op 'transpose' for "
                                         r'vision_backbone\.featurizer\.cls_token'):
        apply_rule(bad, torch.zeros(bad.shape), params)


def test_check_targets_guards_the_map(params: dict[str, torch.Tensor]) -> None:
    rules = dino_rules(TINY) + siglip_rules(TINY)
    check_targets(rules, params)  # the real map fills every backbone parameter once
    twice = dataclasses.replace(rules[0], key='extra')
    with pytest.raises(RuntimeError, match='key map out of date'):
        check_targets([*rules, twice], params)
    qkv = _rule(rules, f'{DINO}blocks.0.attn.qkv.weight')
    shifted = [dataclasses.replace(r, op='copy') if r is qkv else r for r in rules]
    with pytest.raises(RuntimeError, match=r'blocks\.0\.attn\.qkv\.weight maps to .*q_proj'):
        check_targets(shifted, params)


def test_heads_for() -> None:
    assert heads_for('vit_so400m_patch14_siglip_224', 1152) == 16  # 72-dim heads, from the table
    assert heads_for('vit_so400m_patch14_siglip_224.webli', 1152) == 16  # pretrained tag dropped
    assert heads_for('vit_large_patch14_reg4_dinov2.lvd142m', 1024) == 16
    assert heads_for('vit_so400m_patch14_siglip_224', 1024) == 16  # off-table size: hidden / 64
    assert heads_for('something_else', 1152) == 18
    assert heads_for('something_else', 32) == 1  # never zero heads


@settings(max_examples=30, deadline=None)
@given(hidden=st.sampled_from([64, 128, 192]), depth=st.integers(2, 30),
       ratio=st.integers(1, 4), registers=st.integers(0, 4), patch=st.sampled_from([8, 14, 16]),
       grid=st.integers(1, 20))
def test_infer_tower_inverts_the_rules(hidden: int, depth: int, ratio: int, registers: int,
                                       patch: int, grid: int) -> None:
    tower = VisionTowerConfig(hidden, depth, hidden // 64, ratio * hidden, registers)
    cfg = TINY.replace(dino=tower, siglip=dataclasses.replace(tower, num_registers=0),
                       image_size=patch * grid, patch_size=patch)
    towers = ((dino_rules(cfg), DINO, registers), (siglip_rules(cfg), SIGLIP, 0))
    for rules, prefix, regs in towers:
        shapes = {r.key: r.shape for r in rules}
        found, found_patch = infer_tower(shapes, prefix, 'unknown_tower', '')
        assert found_patch == patch
        assert found == dataclasses.replace(tower, num_registers=regs)


def test_infer_tower_needs_two_blocks() -> None:
    shapes = {r.key: r.shape for r in dino_rules(TINY)}
    one_block = {k: v for k, v in shapes.items() if '.blocks.' not in k or '.blocks.0.' in k}
    with pytest.raises(CheckpointError, match=r'1 block\(s\); OFT reads the second-to-last'):
        infer_tower(one_block, DINO, 'x', 'here')
    with pytest.raises(CheckpointError, match=r'missing key .*patch_embed\.proj\.weight in here'):
        infer_tower({}, DINO, 'x', 'here')
    assert count_indexed({'p.blocks.9.w': (1,), 'p.blocks.x.w': (1,), 'q.blocks.20': ()},
                         'p.blocks.') == 10
    with pytest.raises(CheckpointError, match=r'no p\.blocks\.N\.\* keys'):
        count_indexed({'p.blocks.x.w': (1,)}, 'p.blocks.')
