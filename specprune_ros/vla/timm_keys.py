"""Key layout of an OpenVLA-OFT checkpoint and how each key maps onto our modules.

The upstream towers were timm models (``vit_large_patch14_reg4_dinov2``,
``vit_so400m_patch14_siglip_224``); ours are transformers' ``Dinov2WithRegistersModel`` and
``SiglipVisionModel``. One :class:`KeyRule` per checkpoint key says which shape the file must
hold, which of our parameters it fills and how (``op``):

``copy``        same shape, copied as is;
``split3``      timm's fused ``attn.qkv`` (3·D, …) → q, k, v projections (in that order);
``pos_prefix``  DINOv2-reg's patch-only ``pos_embed`` (1, G², D) → transformers'
                ``position_embeddings`` (1, G² + 1, D) with a zero class row (timm adds no
                position embedding to the class and register tokens);
``reshape``     SigLIP's ``pos_embed`` (1, G², D) → ``position_embedding.weight`` (G², D).

A rule without targets is *known-unused*: the key must be present with the right shape but is
not loaded (each tower's last block, SigLIP's attention-pool head, the LM head).

The model shape itself is read from the keys (``infer_tower``, ``infer_llm``): hidden size and
patch from ``patch_embed``, depth from the highest block index, MLP size from ``fc1``, registers
from ``reg_token``, heads from :data:`TIMM_HEADS` or ``hidden / 64``; the Llama shape from its
weights, cross-checked against ``text_config`` (whose missing fields take ``LlamaConfig``'s
defaults, as OpenVLA's own config class does).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig

from specprune_ros.errors import CheckpointError
from specprune_ros.vla.config import LLMConfig, PolicyConfig, VisionTowerConfig

DINO = 'vision_backbone.featurizer.'
SIGLIP = 'vision_backbone.fused_featurizer.'
LLM = 'language_model.model.'
LM_HEAD = 'language_model.lm_head.weight'
HEAD_GLOB, PROPRIO_GLOB = 'action_head--*_checkpoint.pt', 'proprio_projector--*_checkpoint.pt'
CHUNK_BY_DIMS = {(7, 8): 8, (14, 14): 25, (7, 7): 5}  # OFT NUM_ACTIONS_CHUNK per platform

# Our parameters that no checkpoint holds (unused by the forward), with their fill value.
NO_SOURCE: dict[str, float] = {'vision_backbone.featurizer.embeddings.mask_token': 0.0}

# Attention heads of the known timm towers, keyed by (timm id without tag, hidden size).
TIMM_HEADS: dict[tuple[str, int], int] = {
    ('vit_large_patch14_reg4_dinov2', 1024): 16,
    ('vit_large_patch14_dinov2', 1024): 16,
    ('vit_so400m_patch14_siglip_224', 1152): 16,
    ('vit_base_patch16_siglip_224', 768): 12,
}
DEFAULT_HEAD_DIM = 64


def heads_for(timm_id: str, hidden: int) -> int:
    """Attention heads of a tower: the known-id table, else ``hidden / 64``."""
    base = timm_id.split('.')[0]
    if (base, hidden) in TIMM_HEADS:
        return TIMM_HEADS[(base, hidden)]
    return max(1, hidden // DEFAULT_HEAD_DIM)


@dataclass(frozen=True)
class KeyRule:
    """One checkpoint key: its required shape, our target parameters and the copy op."""

    key: str
    shape: tuple[int, ...]
    targets: tuple[str, ...] = ()  # empty: known-unused
    op: str = 'copy'
    aliases: tuple[str, ...] = ()  # other accepted spellings of ``key``

    @property
    def unused(self) -> bool:
        """Whether the key is checked but not loaded."""
        return not self.targets


def _linear(ckpt: str, ours: str | None, out_dim: int, in_dim: int) -> list[KeyRule]:
    """Weight and bias of one linear layer."""
    tgt = (lambda s: (f'{ours}.{s}',)) if ours else (lambda s: ())
    return [KeyRule(f'{ckpt}.weight', (out_dim, in_dim), tgt('weight')),
            KeyRule(f'{ckpt}.bias', (out_dim,), tgt('bias'))]


def _norm(ckpt: str, ours: str | None, dim: int) -> list[KeyRule]:
    """Weight and bias of one LayerNorm."""
    tgt = (lambda s: (f'{ours}.{s}',)) if ours else (lambda s: ())
    return [KeyRule(f'{ckpt}.weight', (dim,), tgt('weight')),
            KeyRule(f'{ckpt}.bias', (dim,), tgt('bias'))]


def _timm_block(ckpt: str, tower: VisionTowerConfig, names: dict[str, str] | None,
                layer_scale: bool) -> list[KeyRule]:
    """One timm ViT block; ``names`` maps timm sub-modules to ours (None: known-unused)."""
    d, m = tower.hidden_size, tower.mlp_size
    n = names or {}
    rules = _norm(f'{ckpt}.norm1', n.get('norm1'), d)
    qkv = tuple(f"{n['attn']}.{p}_proj" for p in 'qkv') if names else ()
    rules += [KeyRule(f'{ckpt}.attn.qkv.weight', (3 * d, d),
                      tuple(f'{t}.weight' for t in qkv), 'split3'),
              KeyRule(f'{ckpt}.attn.qkv.bias', (3 * d,), tuple(f'{t}.bias' for t in qkv),
                      'split3')]
    rules += _linear(f'{ckpt}.attn.proj', n.get('proj'), d, d)
    rules += _norm(f'{ckpt}.norm2', n.get('norm2'), d)
    rules += _linear(f'{ckpt}.mlp.fc1', n.get('fc1'), m, d)
    rules += _linear(f'{ckpt}.mlp.fc2', n.get('fc2'), d, m)
    if layer_scale:  # OpenVLA's HF export renamed timm's LayerScale ``gamma`` to ``scale_factor``
        for i in (1, 2):
            target = (f"{n[f'ls{i}']}.lambda1",) if names else ()
            rules.append(KeyRule(f'{ckpt}.ls{i}.scale_factor', (d,), target,
                                 aliases=(f'{ckpt}.ls{i}.gamma',)))
    return rules


def dino_rules(cfg: PolicyConfig, ours: str = 'vision_backbone.featurizer') -> list[KeyRule]:
    """Map timm DINOv2-reg (``featurizer``) onto transformers ``Dinov2WithRegistersModel``."""
    t, d, p = cfg.dino, cfg.dino.hidden_size, cfg.patch_size
    rules = [KeyRule(f'{DINO}cls_token', (1, 1, d), (f'{ours}.embeddings.cls_token',)),
             KeyRule(f'{DINO}pos_embed', (1, cfg.patches_per_view, d),
                     (f'{ours}.embeddings.position_embeddings',), 'pos_prefix'),
             KeyRule(f'{DINO}patch_embed.proj.weight', (d, 3, p, p),
                     (f'{ours}.embeddings.patch_embeddings.projection.weight',)),
             KeyRule(f'{DINO}patch_embed.proj.bias', (d,),
                     (f'{ours}.embeddings.patch_embeddings.projection.bias',))]
    if t.num_registers:
        rules.append(KeyRule(f'{DINO}reg_token', (1, t.num_registers, d),
                             (f'{ours}.embeddings.register_tokens',)))
    for i in range(t.depth):
        base = f'{ours}.encoder.layer.{i}'
        names = None if i == t.depth - 1 else {
            'norm1': f'{base}.norm1', 'attn': f'{base}.attention', 'ls1': f'{base}.layer_scale1',
            'proj': f'{base}.attention.o_proj', 'norm2': f'{base}.norm2',
            'fc1': f'{base}.mlp.fc1', 'fc2': f'{base}.mlp.fc2', 'ls2': f'{base}.layer_scale2'}
        rules += _timm_block(f'{DINO}blocks.{i}', t, names, layer_scale=True)
    # The final norm is loaded into the (unapplied) ``layernorm`` so every parameter is defined.
    return rules + _norm(f'{DINO}norm', f'{ours}.layernorm', d)


def siglip_rules(cfg: PolicyConfig,
                 ours: str = 'vision_backbone.fused_featurizer') -> list[KeyRule]:
    """Map timm SigLIP (``fused_featurizer``) onto transformers ``SiglipVisionModel``."""
    t, d, p = cfg.siglip, cfg.siglip.hidden_size, cfg.patch_size
    rules = [KeyRule(f'{SIGLIP}pos_embed', (1, cfg.patches_per_view, d),
                     (f'{ours}.embeddings.position_embedding.weight',), 'reshape'),
             KeyRule(f'{SIGLIP}patch_embed.proj.weight', (d, 3, p, p),
                     (f'{ours}.embeddings.patch_embedding.weight',)),
             KeyRule(f'{SIGLIP}patch_embed.proj.bias', (d,),
                     (f'{ours}.embeddings.patch_embedding.bias',))]
    for i in range(t.depth):
        base = f'{ours}.encoder.layers.{i}'
        names = None if i == t.depth - 1 else {
            'norm1': f'{base}.layer_norm1', 'attn': f'{base}.self_attn',
            'proj': f'{base}.self_attn.out_proj', 'norm2': f'{base}.layer_norm2',
            'fc1': f'{base}.mlp.fc1', 'fc2': f'{base}.mlp.fc2'}
        rules += _timm_block(f'{SIGLIP}blocks.{i}', t, names, layer_scale=False)
    rules += _norm(f'{SIGLIP}norm', f'{ours}.post_layernorm', d)
    pool = f'{SIGLIP}attn_pool'  # timm AttentionPoolLatent (global_pool='map'): unused
    rules += [KeyRule(f'{pool}.latent', (1, 1, d))]
    rules += _linear(f'{pool}.q', None, d, d) + _linear(f'{pool}.kv', None, 2 * d, d)
    rules += _linear(f'{pool}.proj', None, d, d) + _norm(f'{pool}.norm', None, d)
    return rules + _linear(f'{pool}.mlp.fc1', None, t.mlp_size, d) + _linear(
        f'{pool}.mlp.fc2', None, d, t.mlp_size)


def llm_rules(cfg: PolicyConfig) -> list[KeyRule]:
    """HF Llama (``language_model``) → our ``llm`` (a ``LlamaModel``); the LM head is unused."""
    c = cfg.llm
    d, kv = c.hidden_size, c.num_kv_heads * (c.hidden_size // c.num_heads)
    rules = [KeyRule(f'{LLM}embed_tokens.weight', (c.vocab_size, d), ('llm.embed_tokens.weight',)),
             KeyRule(f'{LLM}norm.weight', (d,), ('llm.norm.weight',)),
             KeyRule(LM_HEAD, (c.vocab_size, d))]
    shapes = {'self_attn.q_proj': (d, d), 'self_attn.k_proj': (kv, d),
              'self_attn.v_proj': (kv, d), 'self_attn.o_proj': (d, d),
              'mlp.gate_proj': (c.intermediate_size, d), 'mlp.up_proj': (c.intermediate_size, d),
              'mlp.down_proj': (d, c.intermediate_size), 'input_layernorm': None,
              'post_attention_layernorm': None}
    for i in range(c.num_layers):
        for name, shape in shapes.items():
            rules.append(KeyRule(f'{LLM}layers.{i}.{name}.weight', shape or (d,),
                                 (f'llm.layers.{i}.{name}.weight',)))
    return rules


def projector_rules(cfg: PolicyConfig) -> list[KeyRule]:
    """Prismatic's fused GELU-MLP projector: fc1 (Dv → 4·Dv), fc2 (→ D), fc3 (D → D)."""
    dv, d = cfg.vision_dim, cfg.llm.hidden_size
    return (_linear('projector.fc1', 'projector.fc1', 4 * dv, dv)
            + _linear('projector.fc2', 'projector.fc2', d, 4 * dv)
            + _linear('projector.fc3', 'projector.fc3', d, d))


def vla_rules(cfg: PolicyConfig) -> list[KeyRule]:
    """Every key the ``model*.safetensors`` files must hold, in file order of the towers."""
    return dino_rules(cfg) + siglip_rules(cfg) + projector_rules(cfg) + llm_rules(cfg)


def module_rules(module: torch.nn.Module, ours: str) -> list[KeyRule]:
    """One-to-one rules for an OFT head saved from a module with our names (after ``module.``)."""
    return [KeyRule(name, tuple(p.shape), (f'{ours}.{name}',))
            for name, p in module.named_parameters()]


@torch.no_grad()
def apply_rule(rule: KeyRule, tensor: torch.Tensor, params: dict[str, torch.Tensor]) -> None:
    """Copy ``tensor`` (already shape-checked) into the rule's target parameters."""
    dst = [params[t] for t in rule.targets]
    if rule.op == 'copy':
        dst[0].copy_(tensor)
    elif rule.op == 'split3':
        for target, part in zip(dst, tensor.chunk(3, dim=0)):
            target.copy_(part)
    elif rule.op == 'pos_prefix':
        dst[0][:, :1].zero_()
        dst[0][:, 1:].copy_(tensor)
    elif rule.op == 'reshape':
        dst[0].copy_(tensor.reshape(dst[0].shape))
    else:
        raise ValueError(f'unknown key-rule op {rule.op!r} for {rule.key}')


def target_shape(rule: KeyRule, index: int) -> tuple[int, ...]:
    """Return the shape the rule's ``index``-th target parameter must have."""
    if rule.op == 'split3':
        return (rule.shape[0] // 3,) + rule.shape[1:]
    if rule.op == 'pos_prefix':
        return (1, rule.shape[1] + 1, rule.shape[2])
    if rule.op == 'reshape':
        return rule.shape[1:]
    return rule.shape


Shapes = dict[str, tuple[int, ...]]


def shape_of(shapes: Shapes, key: str, where: str) -> tuple[int, ...]:
    """Return the shape of ``key``; CheckpointError if the files lack it."""
    if key not in shapes:
        raise CheckpointError(f'missing key {key} in {where}: needed to infer the model shape')
    return shapes[key]


def count_indexed(shapes: Shapes, prefix: str) -> int:
    """1 + the highest N of the ``{prefix}N.*`` keys (blocks, layers)."""
    found = [int(k[len(prefix):].split('.')[0]) for k in shapes
             if k.startswith(prefix) and k[len(prefix):].split('.')[0].isdigit()]
    if not found:
        raise CheckpointError(f'no {prefix}N.* keys in the checkpoint')
    return max(found) + 1


def infer_tower(shapes: Shapes, prefix: str, timm_id: str, where: str
                ) -> tuple[VisionTowerConfig, int]:
    """Infer a tower's shape and patch size from its timm keys."""
    hidden, _, patch, _ = shape_of(shapes, f'{prefix}patch_embed.proj.weight', where)
    depth = count_indexed(shapes, f'{prefix}blocks.')
    if depth < 2:
        raise CheckpointError(f'{prefix}: {depth} block(s); OFT reads the second-to-last block')
    mlp = shape_of(shapes, f'{prefix}blocks.0.mlp.fc1.weight', where)[0]
    regs = shapes.get(f'{prefix}reg_token', (1, 0))[1]
    return VisionTowerConfig(hidden, depth, heads_for(timm_id, hidden), mlp, regs), patch


def infer_llm(shapes: Shapes, text: dict[str, Any], where: str) -> LLMConfig:
    """Infer the Llama shape from its weights, cross-checked with ``text_config``."""
    dflt = LlamaConfig()
    vocab, hidden = shape_of(shapes, f'{LLM}embed_tokens.weight', where)
    heads = int(text.get('num_attention_heads', dflt.num_attention_heads))
    if hidden % heads:
        raise CheckpointError(f'hidden size {hidden} does not divide by {heads} heads')
    kv_rows = shape_of(shapes, f'{LLM}layers.0.self_attn.k_proj.weight', where)[0]
    found = {'hidden_size': hidden, 'vocab_size': vocab,
             'num_key_value_heads': kv_rows // (hidden // heads),
             'num_hidden_layers': count_indexed(shapes, f'{LLM}layers.'),
             'intermediate_size': shape_of(shapes, f'{LLM}layers.0.mlp.gate_proj.weight',
                                           where)[0]}
    for name, value in found.items():
        if name in text and text[name] != value:
            raise CheckpointError(f'config.json text_config.{name} = {text[name]} but the '
                                  f'weights say {value}')
    rope = text.get('rope_scaling') or {}
    if rope and rope.get('rope_type', rope.get('type')) not in (None, 'default'):
        raise CheckpointError(f'text_config.rope_scaling {rope} is not supported')
    theta = text.get('rope_theta') or (text.get('rope_parameters') or {}).get('rope_theta')
    return LLMConfig(hidden, found['num_hidden_layers'], heads, found['num_key_value_heads'],
                     found['intermediate_size'], vocab, float(theta or 10000.0),
                     float(text.get('rms_norm_eps', dflt.rms_norm_eps)),
                     int(text.get('max_position_embeddings', dflt.max_position_embeddings)))


def infer_config(root: Path, config: dict[str, Any], shapes: Shapes,
                 heads: list[dict[str, torch.Tensor]], key: str, **fields: Any) -> PolicyConfig:
    """Infer the PolicyConfig the weights describe (towers, Llama, heads, chunk length).

    Chunk length: ``config.json``'s ``num_actions_chunk``, else OFT's NUM_ACTIONS_CHUNK by
    (action dim, proprio dim): LIBERO (7, 8) → 8, ALOHA (14, 14) → 25, Bridge (7, 7) → 5.
    """
    where = 'the model*.safetensors files'
    ids = config.get('timm_model_ids', ['vit_large_patch14_reg4_dinov2',
                                        'vit_so400m_patch14_siglip_224'])
    dino, patch = infer_tower(shapes, DINO, ids[0], where)
    siglip, _ = infer_tower(shapes, SIGLIP, ids[1], where)
    action_dim = shape_of({k: tuple(v.shape) for k, v in heads[0].items()}, 'model.fc2.weight',
                          HEAD_GLOB)[0]
    proprio_dim = shape_of({k: tuple(v.shape) for k, v in heads[1].items()}, 'fc1.weight',
                           PROPRIO_GLOB)[1]
    horizon = config.get('num_actions_chunk', CHUNK_BY_DIMS.get((action_dim, proprio_dim)))
    if horizon is None:
        raise CheckpointError(f'{root / "config.json"}: set num_actions_chunk; no OFT platform '
                              f'has action dim {action_dim} and proprio dim {proprio_dim}')
    return PolicyConfig(
        name=root.resolve().name, dino=dino, siglip=siglip,
        llm=infer_llm(shapes, config.get('text_config') or {}, where),
        image_size=int(config.get('image_sizes', [224])[0]), patch_size=patch,
        proprio_dim=proprio_dim, action_dim=action_dim, horizon=int(horizon),
        jpeg_roundtrip=True, tokenizer='hf',
        extra={'checkpoint': str(root.resolve()), 'unnorm_key': key}, **fields)


def resolve_keys(rules: list[KeyRule], shapes: Shapes, where: dict[str, str]
                 ) -> dict[str, KeyRule]:
    """Checkpoint key → rule; raises on any missing, unexpected or mis-shaped key."""
    by_key = {}
    for rule in rules:
        present = [k for k in (rule.key,) + rule.aliases if k in shapes]
        if not present:
            raise CheckpointError(f'missing key {rule.key} (expected shape {rule.shape}) in '
                                  f'none of {where["*"]}')
        if len(present) > 1:
            raise CheckpointError(f'{where["*"]} holds both {present} (the same tensor)')
        if shapes[present[0]] != rule.shape:
            raise CheckpointError(f'{present[0]} in {where[present[0]]} has shape '
                                  f'{shapes[present[0]]}, expected {rule.shape}')
        by_key[present[0]] = rule
    extra = sorted(set(shapes) - set(by_key))
    if extra:
        raise CheckpointError(f'unexpected key {extra[0]} in {where[extra[0]]} '
                              f'({len(extra)} unexpected in all)')
    return by_key


def check_targets(rules: list[KeyRule], params: dict[str, torch.Tensor]) -> None:
    """Every parameter is filled exactly once with the right shape (guards the key map)."""
    filled = [t for r in rules for t in r.targets] + list(NO_SOURCE)
    if sorted(filled) != sorted(params):
        raise RuntimeError(f'key map out of date with the model: unfilled '
                           f'{sorted(set(params) - set(filled))[:5]}, unknown '
                           f'{sorted(set(filled) - set(params))[:5]}')
    for r in rules:
        for i, t in enumerate(r.targets):
            if tuple(params[t].shape) != target_shape(r, i):
                raise RuntimeError(f'{r.key} maps to {t} of shape {tuple(params[t].shape)}')
