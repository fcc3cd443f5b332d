"""Write a tiny OpenVLA-OFT checkpoint directory from an in-memory :class:`VLAModel`.

The layout is the released one: timm key names and shapes for both towers (fused ``qkv``,
patch-only ``pos_embed``, LayerScale as ``ls1.scale_factor`` like OpenVLA's HF export, a last
block, final norms and SigLIP's ``attn_pool``), ``projector.fc1..3``, ``language_model.model.*``
+ ``lm_head``, bf16 shards with an index, ``module.``-prefixed head ``.pt`` files, statistics
with two unnorm keys and a tokenizer built offline with ``tokenizers``. The reverse key map here
is written independently of ``specprune_ros.vla.timm_keys`` so a shared mistake cannot hide.
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
import json
from pathlib import Path
import string

from conftest import perturb
import numpy as np
from safetensors.torch import save_file
from tokenizers import decoders, models, pre_tokenizers, Tokenizer, trainers
import torch
from transformers import PreTrainedTokenizerFast

from specprune_ros.vla.config import LLMConfig, PolicyConfig, VisionTowerConfig
from specprune_ros.vla.model import build_model, VLAModel
from specprune_ros.vla.policy import builtin_norm_stats, NormStats, VLAPolicy
from specprune_ros.vla.tokenizer import HFTokenizer

UNNORM_KEYS = ('libero_spatial_no_noops', 'libero_object_no_noops')
SPECIALS = {'unk_token': '<unk>', 'bos_token': '<s>', 'eos_token': '</s>'}
CORPUS = ['In: What action should the robot take to pick up the black bowl between the plate '
          'and the ramekin and place it on the plate?\nOut:',
          'put both the alphabet soup and the tomato sauce in the basket',
          'open the top drawer and put the bowl inside']


@dataclass
class Written:
    """A checkpoint directory and the in-memory policy it was written from."""

    path: Path
    policy: VLAPolicy
    cfg: PolicyConfig


def make_tokenizer() -> PreTrainedTokenizerFast:
    """Train a Llama-style (Metaspace ``▁``) BPE tokenizer on a few LIBERO-like strings."""
    tok = Tokenizer(models.BPE(unk_token=SPECIALS['unk_token'], fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='first')
    tok.decoder = decoders.Metaspace(replacement='\u2581', prepend_scheme='first')
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=list(SPECIALS.values()),
                                  initial_alphabet=list(string.printable), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)


def fixture_config(vocab: int) -> PolicyConfig:
    """Tiny tower/LLM sizes; head counts follow the loader's rule (64-dim heads)."""
    return PolicyConfig(
        name='oft-fixture', dino=VisionTowerConfig(128, 3, 2, 512, num_registers=4),
        siglip=VisionTowerConfig(128, 3, 2, 384), llm=LLMConfig(128, 4, 4, 2, 344, vocab),
        device='cpu', dtype='float32', center_crop=True, jpeg_roundtrip=True, tokenizer='hf')


@torch.no_grad()
def randomise(model: VLAModel, seed: int = 1) -> None:
    """Perturb every parameter (zero-initialised tokens too), rounded to bf16 values."""
    perturb(model, seed, 0.05)
    for p in model.parameters():
        p.copy_(p.bfloat16().float())
    # timm's reg4 DINOv2 has no class position embedding: the class row must be zero.
    model.vision_backbone.featurizer.embeddings.position_embeddings[:, 0].zero_()


def _block(sd: dict[str, torch.Tensor], ours: str, names: dict[str, str]) -> dict:
    """One of our encoder layers as a timm ``Block`` (fused qkv, ``ls*.scale_factor``)."""
    out = {f'attn.qkv.{w}': torch.cat([sd[f"{ours}.{names[x]}.{w}"] for x in 'qkv'])
           for w in ('weight', 'bias')}
    for timm_name in ('norm1', 'proj', 'norm2', 'fc1', 'fc2'):
        dst = {'proj': 'attn.proj', 'fc1': 'mlp.fc1', 'fc2': 'mlp.fc2'}.get(timm_name, timm_name)
        for w in ('weight', 'bias'):
            out[f'{dst}.{w}'] = sd[f'{ours}.{names[timm_name]}.{w}']
    for i in (1, 2):
        if f'ls{i}' in names:
            out[f'ls{i}.scale_factor'] = sd[f"{ours}.{names[f'ls{i}']}"]
    return out


def _random_like(block: dict[str, torch.Tensor], gen: torch.Generator) -> dict:
    return {k: 0.05 * torch.randn(v.shape, generator=gen) for k, v in block.items()}


def timm_state_dict(model: VLAModel, cfg: PolicyConfig, seed: int = 2) -> dict:
    """Our vision/projector/LLM weights under the released checkpoint's names and shapes."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    dino, sig = 'vision_backbone.featurizer', 'vision_backbone.fused_featurizer'
    emb = f'{dino}.embeddings'
    out.update({f'{dino}.cls_token': sd[f'{emb}.cls_token'],
                f'{dino}.reg_token': sd[f'{emb}.register_tokens'],
                f'{dino}.pos_embed': sd[f'{emb}.position_embeddings'][:, 1:],
                f'{dino}.patch_embed.proj.weight': sd[f'{emb}.patch_embeddings.projection.weight'],
                f'{dino}.patch_embed.proj.bias': sd[f'{emb}.patch_embeddings.projection.bias'],
                f'{dino}.norm.weight': sd[f'{dino}.layernorm.weight'],
                f'{dino}.norm.bias': sd[f'{dino}.layernorm.bias']})
    dnames = {'q': 'attention.q_proj', 'k': 'attention.k_proj', 'v': 'attention.v_proj',
              'norm1': 'norm1', 'proj': 'attention.o_proj', 'norm2': 'norm2', 'fc1': 'mlp.fc1',
              'fc2': 'mlp.fc2', 'ls1': 'layer_scale1.lambda1', 'ls2': 'layer_scale2.lambda1'}
    for i in range(cfg.dino.depth - 1):
        block = _block(sd, f'{dino}.encoder.layer.{i}', dnames)
        out.update({f'{dino}.blocks.{i}.{k}': v for k, v in block.items()})
    last = _random_like(block, gen)  # the unused last block, present as in real checkpoints
    out.update({f'{dino}.blocks.{cfg.dino.depth - 1}.{k}': v for k, v in last.items()})

    emb = f'{sig}.embeddings'
    out.update({f'{sig}.pos_embed': sd[f'{emb}.position_embedding.weight'].unsqueeze(0),
                f'{sig}.patch_embed.proj.weight': sd[f'{emb}.patch_embedding.weight'],
                f'{sig}.patch_embed.proj.bias': sd[f'{emb}.patch_embedding.bias'],
                f'{sig}.norm.weight': sd[f'{sig}.post_layernorm.weight'],
                f'{sig}.norm.bias': sd[f'{sig}.post_layernorm.bias']})
    snames = {'q': 'self_attn.q_proj', 'k': 'self_attn.k_proj', 'v': 'self_attn.v_proj',
              'norm1': 'layer_norm1', 'proj': 'self_attn.out_proj', 'norm2': 'layer_norm2',
              'fc1': 'mlp.fc1', 'fc2': 'mlp.fc2'}
    for i in range(cfg.siglip.depth - 1):
        block = _block(sd, f'{sig}.encoder.layers.{i}', snames)
        out.update({f'{sig}.blocks.{i}.{k}': v for k, v in block.items()})
    last = _random_like(block, gen)
    out.update({f'{sig}.blocks.{cfg.siglip.depth - 1}.{k}': v for k, v in last.items()})
    d, m = cfg.siglip.hidden_size, cfg.siglip.mlp_size
    pool = {'latent': (1, 1, d), 'q.weight': (d, d), 'q.bias': (d,), 'kv.weight': (2 * d, d),
            'kv.bias': (2 * d,), 'proj.weight': (d, d), 'proj.bias': (d,), 'norm.weight': (d,),
            'norm.bias': (d,), 'mlp.fc1.weight': (m, d), 'mlp.fc1.bias': (m,),
            'mlp.fc2.weight': (d, m), 'mlp.fc2.bias': (d,)}
    out.update({f'{sig}.attn_pool.{k}': torch.randn(s, generator=gen) for k, s in pool.items()})

    out.update({k: v for k, v in sd.items() if k.startswith('projector.')})
    out.update({f'language_model.model.{k[4:]}': v for k, v in sd.items()
                if k.startswith('llm.')})
    out['language_model.lm_head.weight'] = torch.randn(cfg.llm.vocab_size,
                                                       cfg.llm.hidden_size, generator=gen)
    return {k: v.contiguous() for k, v in out.items()}


def norm_stats_for(key: str) -> NormStats:
    """Two distinct LIBERO-like statistics, one per unnorm key."""
    base = builtin_norm_stats()
    if key == UNNORM_KEYS[0]:
        return base
    return NormStats(base.action_q01 * 1.5, base.action_q99 * 1.5, base.action_mask,
                     base.proprio_q01, base.proprio_q99)


def oft_config(cfg: PolicyConfig) -> dict:
    """config.json with the OpenVLAConfig fields of the released OFT checkpoints."""
    llm = cfg.llm
    return {
        'architectures': ['OpenVLAForActionPrediction'], 'model_type': 'openvla',
        'auto_map': {'AutoConfig': 'configuration_prismatic.OpenVLAConfig',
                     'AutoModelForVision2Seq': 'modeling_prismatic.OpenVLAForActionPrediction'},
        'vision_backbone_id': 'dinosiglip-vit-so-224px', 'llm_backbone_id': 'llama2-7b-pure',
        'arch_specifier': 'no-align+fused-gelu-mlp', 'use_fused_vision_backbone': True,
        'image_resize_strategy': 'resize-naive', 'image_sizes': [224, 224],
        'timm_model_ids': ['vit_large_patch14_reg4_dinov2.lvd142m',
                           'vit_so400m_patch14_siglip_224'],
        'timm_override_act_layers': [None, None], 'llm_max_length': 2048,
        'pad_token_id': 0, 'pad_to_multiple_of': 64, 'n_action_bins': 256,
        'hf_llm_id': 'meta-llama/Llama-2-7b-hf', 'torch_dtype': 'bfloat16',
        'norm_stats': {'bridge_orig': norm_stats_for(UNNORM_KEYS[0]).to_dataset_statistics(
            'bridge_orig')['bridge_orig']},
        'text_config': {'model_type': 'llama', 'hidden_size': llm.hidden_size,
                        'intermediate_size': llm.intermediate_size,
                        'num_hidden_layers': llm.num_layers,
                        'num_attention_heads': llm.num_heads,
                        'num_key_value_heads': llm.num_kv_heads, 'vocab_size': llm.vocab_size,
                        'rms_norm_eps': llm.rms_norm_eps, 'rope_theta': llm.rope_theta,
                        'max_position_embeddings': llm.max_position_embeddings,
                        'pad_token_id': 0, 'torch_dtype': 'bfloat16'}}


def write_checkpoint(root: Path, model: VLAModel, cfg: PolicyConfig,
                     tokenizer: PreTrainedTokenizerFast) -> None:
    """Write the OFT directory layout for ``model`` into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.to(torch.bfloat16) for k, v in timm_state_dict(model, cfg).items()}
    shards = [{k: v for k, v in tensors.items() if k.startswith('vision_backbone.')},
              {k: v for k, v in tensors.items() if not k.startswith('vision_backbone.')}]
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        name = f'model-{i:05d}-of-{len(shards):05d}.safetensors'
        save_file(shard, str(root / name), metadata={'format': 'pt'})
        weight_map.update(dict.fromkeys(shard, name))
    size = sum(v.numel() * v.element_size() for v in tensors.values())
    (root / 'model.safetensors.index.json').write_text(json.dumps(
        {'metadata': {'total_size': size}, 'weight_map': weight_map}, indent=2))
    torch.save({f'module.{k}': v.clone() for k, v in model.action_head.state_dict().items()},
               root / 'action_head--100_checkpoint.pt')
    torch.save({f'module.{k}': v.clone() for k, v in model.proprio_projector.state_dict().items()},
               root / 'proprio_projector--100_checkpoint.pt')
    stats = {}
    for key in UNNORM_KEYS:
        stats.update(norm_stats_for(key).to_dataset_statistics(key))
        stats[key]['num_transitions'] = 1000
        stats[key]['action']['mean'] = np.zeros(cfg.action_dim).tolist()
    (root / 'dataset_statistics.json').write_text(json.dumps(stats, indent=2))
    (root / 'config.json').write_text(json.dumps(oft_config(cfg), indent=2))
    tokenizer.backend_tokenizer.save(str(root / 'tokenizer.json'))
    (root / 'tokenizer_config.json').write_text(json.dumps(
        {'tokenizer_class': 'LlamaTokenizer', 'model_max_length': 2048, 'padding_side': 'right',
         'add_bos_token': True, 'add_eos_token': False, **SPECIALS}))
    (root / 'special_tokens_map.json').write_text(json.dumps(SPECIALS))


def build_written(root: Path) -> Written:
    """Build the in-memory policy (first unnorm key) and write its checkpoint to ``root``."""
    tokenizer = make_tokenizer()
    vocab = -(-len(tokenizer) // 64) * 64  # OpenVLA pads the embeddings to a multiple of 64
    cfg = fixture_config(vocab)
    model = build_model(cfg)
    randomise(model)
    write_checkpoint(root, model, cfg, tokenizer)
    policy = VLAPolicy(model, HFTokenizer(tokenizer), norm_stats_for(UNNORM_KEYS[0]), cfg)
    return Written(root, policy, cfg)
