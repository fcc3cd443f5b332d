"""Load an OpenVLA-OFT checkpoint directory (HF layout, timm towers) without its remote code.

``load_policy(path, unnorm_key=...)`` reads ``config.json``, ``dataset_statistics.json``,
``model.safetensors`` (or shards + ``model.safetensors.index.json``), the tokenizer files and the
``action_head--*`` / ``proprio_projector--*`` ``.pt`` files. Shapes come from the safetensors
headers; every key is checked (missing, unexpected, wrong shape) before any weight is read.
Parameters are allocated empty on the target device and filled tensor by tensor, so host
memory never holds a second copy of the model. Nothing is downloaded: the hub is switched off.

Statistics come from ``dataset_statistics.json``, else ``config.json``'s ``norm_stats``.
``center_crop=None`` means: ``config.json``'s boolean ``center_crop`` if present, else True when
the checkpoint path or the unnorm key names ``libero`` or ``image_aug`` (OFT's LIBERO models were
trained with random crops), else False. ``jpeg_roundtrip`` is always True (OFT JPEG-encodes a
frame before its Lanczos resize; a frame already 224×224 is used as is). The chunk length rule
is in :func:`timm_keys.infer_config`.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
import pickle
import time
from typing import Any

from safetensors import safe_open, SafetensorError
import torch
from tqdm import tqdm

from specprune_ros.errors import CheckpointError
from specprune_ros.vla.model import materialise, meta_model
from specprune_ros.vla.policy import NormStats, VLAPolicy
from specprune_ros.vla.timm_keys import (
    apply_rule,
    check_targets,
    HEAD_GLOB,
    infer_config,
    KeyRule,
    module_rules,
    NO_SOURCE,
    PROPRIO_GLOB,
    resolve_keys,
    vla_rules,
)
from specprune_ros.vla.tokenizer import HFTokenizer

logger = logging.getLogger(__name__)

INDEX, SINGLE = 'model.safetensors.index.json', 'model.safetensors'
STATS = 'dataset_statistics.json'
_FLOAT_DTYPES = {'F64', 'F32', 'F16', 'BF16'}
_OFFLINE_VARS = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')


@dataclass
class LoadReport:
    """What :func:`load_policy` read, kept and skipped, and what it cost."""

    path: str
    unnorm_key: str
    load_seconds: float = 0.0
    parameters: int = 0
    bytes_per_device: dict[str, int] = field(default_factory=dict)
    cuda_max_memory_allocated: int | None = None
    files_read: list[str] = field(default_factory=list)
    tensors_loaded: int = 0
    unused_keys: list[str] = field(default_factory=list)  # present, shape-checked, not loaded
    filled_without_source: list[str] = field(default_factory=list)
    center_crop_rule: str = ''

    @property
    def num_unused(self) -> int:
        """How many checkpoint keys were checked but not loaded."""
        return len(self.unused_keys)

    def summary(self) -> str:
        """One log line."""
        mem = ', '.join(f'{d}: {b / 2**20:.1f} MiB' for d, b in self.bytes_per_device.items())
        return (f'loaded {self.path} ({self.unnorm_key}) in {self.load_seconds:.1f} s: '
                f'{self.parameters / 1e6:.1f} M parameters ({mem}), {self.tensors_loaded} '
                f'tensors from {len(self.files_read)} files, {self.num_unused} unused keys')


@contextmanager
def _offline() -> Iterator[None]:
    """Switch the HF hub off for the duration of the load (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in _OFFLINE_VARS}
    os.environ.update(dict.fromkeys(_OFFLINE_VARS, '1'))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise CheckpointError(f'{file} is missing; an OpenVLA-OFT checkpoint directory holds '
                              'config.json, dataset_statistics.json, model*.safetensors, '
                              'tokenizer files and the action_head/proprio_projector .pt files')
    try:
        return json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f'{file} is not valid JSON: {exc}') from exc


def _check_architecture(config: dict[str, Any], file: Path) -> None:
    """Refuse what this loader cannot run faithfully (non-fused towers, other projectors)."""
    if not isinstance(config, dict):
        raise CheckpointError(f'{file} must hold a JSON object (OpenVLAConfig fields)')
    if config.get('use_fused_vision_backbone') is not True:
        raise CheckpointError(f'{file}: use_fused_vision_backbone must be true (DINOv2 + SigLIP)')
    arch = config.get('arch_specifier', 'no-align+fused-gelu-mlp')
    if not arch.endswith('fused-gelu-mlp'):
        raise CheckpointError(f'{file}: arch_specifier {arch!r} is not supported; expected '
                              "the fused GELU-MLP projector ('no-align+fused-gelu-mlp')")
    ids = config.get('timm_model_ids', ['dinov2', 'siglip'])
    if len(ids) != 2 or 'dinov2' not in ids[0] or 'siglip' not in ids[1]:
        raise CheckpointError(f'{file}: timm_model_ids {ids} must be [DINOv2, SigLIP]')
    if any(act is not None for act in config.get('timm_override_act_layers') or []):
        raise CheckpointError(f'{file}: timm_override_act_layers must be null (timm defaults)')
    strategy = config.get('image_resize_strategy', 'resize-naive')
    if strategy != 'resize-naive':
        raise CheckpointError(f'{file}: image_resize_strategy {strategy!r} is not supported; '
                              "expected 'resize-naive'")
    sizes = config.get('image_sizes', [224, 224])
    if len(set(sizes)) != 1:
        raise CheckpointError(f'{file}: image_sizes {sizes} must be equal for both towers')


def _one_file(root: Path, pattern: str, what: str) -> Path:
    found = sorted(root.glob(pattern))
    if len(found) != 1:
        raise CheckpointError(f'{root}: expected exactly one {what} file {pattern}, found '
                              f'{[f.name for f in found]}')
    return found[0]


def _load_tokenizer(root: Path) -> tuple[HFTokenizer, int, list[str]]:
    """Load the checkpoint's fast tokenizer from local files only (never remote code).

    With ``tokenizer.json`` present it is used exactly as written (what OFT's
    ``LlamaTokenizerFast`` ran); transformers 5's ``AutoTokenizer`` may rebuild a Llama
    tokenizer with its own pre-tokenizer instead. Without it, ``AutoTokenizer`` converts
    ``tokenizer.model``.
    """
    files = [f for f in ('tokenizer.json', 'tokenizer.model') if (root / f).is_file()]
    if not (root / 'tokenizer_config.json').is_file() or not files:
        raise CheckpointError(f'{root}: tokenizer files missing: need tokenizer_config.json and '
                              'tokenizer.json (or tokenizer.model); copy them from the '
                              'checkpoint, nothing is downloaded')
    try:
        from transformers import AutoTokenizer, PreTrainedTokenizerFast
        if files[0] == 'tokenizer.json':
            tok = PreTrainedTokenizerFast.from_pretrained(str(root), local_files_only=True)
        else:
            tok = AutoTokenizer.from_pretrained(str(root), local_files_only=True,
                                                trust_remote_code=False)
    except (OSError, ValueError, ImportError, TypeError) as exc:  # what transformers raises
        raise CheckpointError(f'{root}: the tokenizer does not load offline: {exc}') from exc
    if not getattr(tok, 'is_fast', False) or tok.bos_token_id is None or tok.eos_token_id is None:
        raise CheckpointError(f'{root}: need a fast tokenizer with BOS and EOS tokens, got '
                              f'{type(tok).__name__}')
    return HFTokenizer(tok), len(tok), ['tokenizer_config.json'] + files


def _shard_files(root: Path) -> tuple[list[Path], dict[str, str] | None]:
    """Find the safetensors files and, when sharded, the index's key → file map."""
    if (root / INDEX).is_file():
        index = _read_json(root / INDEX)
        weight_map = index.get('weight_map') if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            raise CheckpointError(f'{root / INDEX}: no weight_map')
        files = [root / name for name in sorted(set(weight_map.values()))]
        for f in files:
            if not f.is_file():
                raise CheckpointError(f'{f} is listed in {INDEX} but missing')
        return files, weight_map
    if (root / SINGLE).is_file():
        return [root / SINGLE], None
    shards = sorted(root.glob('model-*-of-*.safetensors'))
    if not shards:
        raise CheckpointError(f'{root}: no {SINGLE} nor model-*-of-*.safetensors + {INDEX}')
    return shards, None


def _read_headers(files: list[Path], weight_map: dict[str, str] | None
                  ) -> dict[str, tuple[tuple[int, ...], Path]]:
    """Key → (shape, file) from the safetensors headers (no tensor data is read)."""
    headers: dict[str, tuple[tuple[int, ...], Path]] = {}
    for file in files:
        try:
            with safe_open(str(file), framework='pt') as f:
                for key in f.keys():
                    view = f.get_slice(key)
                    if view.get_dtype() not in _FLOAT_DTYPES:
                        raise CheckpointError(f'{file}: {key} has dtype {view.get_dtype()}; '
                                              f'expected one of {sorted(_FLOAT_DTYPES)}')
                    if key in headers:
                        raise CheckpointError(f'{key} is in both {headers[key][1]} and {file}')
                    headers[key] = (tuple(view.get_shape()), file)
        except CheckpointError:
            raise
        except (SafetensorError, OSError) as exc:  # a corrupt or truncated file
            raise CheckpointError(f'{file} is not a readable safetensors file: {exc}') from exc
    if weight_map is not None:
        for key, name in weight_map.items():
            if key not in headers or headers[key][1].name != name:
                raise CheckpointError(f'{INDEX} puts {key} in {name}, but {name} lacks it')
        for key, (_, file) in headers.items():
            if key not in weight_map:
                raise CheckpointError(f'{file} holds {key}, which {INDEX} does not list')
    return headers


def _load_pt(file: Path) -> dict[str, torch.Tensor]:
    """Load a head's state dict and strip DDP's ``module.`` prefix."""
    try:
        state = torch.load(file, map_location='cpu', weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f'{file} does not load with torch.load(weights_only=True): '
                              f'{exc}') from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise CheckpointError(f'{file} must hold a state dict of tensors')
    return {k.removeprefix('module.'): v for k, v in state.items()}


def _center_crop(arg: bool | None, root: Path, config: dict[str, Any], key: str
                 ) -> tuple[bool, str]:
    if arg is not None:
        return bool(arg), 'center_crop argument'
    if isinstance(config.get('center_crop'), bool):
        return config['center_crop'], 'config.json center_crop'
    hay = f'{root.resolve()} {key}'.lower()
    hit = [w for w in ('libero', 'image_aug') if w in hay]
    if hit:
        return True, f'checkpoint path or unnorm key names {hit[0]!r}'
    return False, 'default (no libero/image_aug in the checkpoint path or unnorm key)'


def _read_stats(root: Path, config: dict[str, Any], unnorm_key: str | None
                ) -> tuple[NormStats, str, Path]:
    """Norm stats for ``unnorm_key`` from dataset_statistics.json, else config.json."""
    file = root / STATS
    if file.is_file():
        stats = _read_json(file)
    elif isinstance(config.get('norm_stats'), dict):
        file, stats = root / 'config.json', config['norm_stats']
        logger.warning('%s missing; using norm_stats from config.json', STATS)
    else:
        raise CheckpointError(f'{root}: no {STATS} and no norm_stats in config.json')
    try:
        norm = NormStats.from_dataset_statistics(stats, unnorm_key)
    except CheckpointError as exc:
        raise CheckpointError(f'{file}: {exc}') from exc
    return norm, unnorm_key if unnorm_key is not None else next(iter(stats)), file


def _fill(params: dict[str, torch.Tensor], files: list[Path], by_key: dict[str, KeyRule],
          pt: list[tuple[Path, dict[str, torch.Tensor], dict[str, KeyRule]]],
          device: torch.device, progress: bool, report: LoadReport) -> None:
    """Copy every used tensor into its parameter, one tensor at a time."""
    total = sum(not r.unused for r in by_key.values()) + sum(len(s) for _, s, _ in pt)
    read_on = 'cpu'  # safetensors reads straight onto CUDA; other devices go through the host
    if device.type == 'cuda':
        read_on = f'cuda:{torch.cuda.current_device() if device.index is None else device.index}'
    with tqdm(total=total, unit='tensor', disable=not progress, desc='checkpoint') as bar:
        for file in files:
            try:
                with safe_open(str(file), framework='pt', device=read_on) as f:
                    for k in f.keys():
                        if not by_key[k].unused:
                            apply_rule(by_key[k], f.get_tensor(k), params)
                            report.tensors_loaded += 1
                            bar.update()
            except (SafetensorError, OSError, RuntimeError) as exc:  # a corrupt data region
                raise CheckpointError(f'{file}: reading tensors failed: {exc}') from exc
            report.files_read.append(file.name)
        for file, state, resolved in pt:
            for k, tensor in state.items():
                apply_rule(resolved[k], tensor, params)
                report.tensors_loaded += 1
                bar.update()
            report.files_read.append(file.name)
    with torch.no_grad():
        for name, value in NO_SOURCE.items():
            params[name].fill_(value)


def load_policy(path: str | os.PathLike, *, unnorm_key: str | None = None,
                device: str = 'auto', dtype: str = 'auto', center_crop: bool | None = None,
                progress: bool = True) -> tuple[VLAPolicy, LoadReport]:
    """Load an OpenVLA-OFT checkpoint directory as a :class:`VLAPolicy`.

    Raises CheckpointError naming the file, key and expected shape for anything missing,
    unexpected or mismatched, and listing the available keys for a bad ``unnorm_key``.
    Every key is checked before any weight is read.
    """
    t0 = time.perf_counter()
    root = Path(path).expanduser()
    if not root.is_dir():
        raise CheckpointError(f'checkpoint directory {root} does not exist')
    with _offline():
        config = _read_json(root / 'config.json')
        _check_architecture(config, root / 'config.json')
        norm, key, stats_file = _read_stats(root, config, unnorm_key)
        head_file = _one_file(root, HEAD_GLOB, 'action head')
        proprio_file = _one_file(root, PROPRIO_GLOB, 'proprio projector')
        tokenizer, tok_vocab, tok_files = _load_tokenizer(root)
        files, weight_map = _shard_files(root)
        headers = _read_headers(files, weight_map)
        heads = [_load_pt(head_file), _load_pt(proprio_file)]
        shapes = {k: s for k, (s, _) in headers.items()}
        crop, crop_rule = _center_crop(center_crop, root, config, key)
        cfg = infer_config(root, config, shapes, heads, key, center_crop=crop, device=device,
                           dtype=dtype)
        if norm.action_q01.shape != (cfg.action_dim,) or norm.proprio_q01.shape != (
                cfg.proprio_dim,):
            raise CheckpointError(f'{stats_file}: {key!r} has {norm.action_q01.size} action / '
                                  f'{norm.proprio_q01.size} proprio dims; the heads have '
                                  f'{cfg.action_dim} / {cfg.proprio_dim}')
        if tok_vocab > cfg.llm.vocab_size:
            raise CheckpointError(f'{root}: the tokenizer has {tok_vocab} tokens but the '
                                  f'embeddings only {cfg.llm.vocab_size}')
        where = {k: f.name for k, (_, f) in headers.items()}
        where['*'] = ', '.join(f.name for f in files)
        rules = vla_rules(cfg)
        by_key = resolve_keys(rules, shapes, where)
        model = meta_model(cfg)
        head_rules = [module_rules(model.action_head, 'action_head'),
                      module_rules(model.proprio_projector, 'proprio_projector')]
        pt = [(file, state, resolve_keys(r, {k: tuple(v.shape) for k, v in state.items()},
                                         dict.fromkeys([*state, '*'], file.name)))
              for file, state, r in zip((head_file, proprio_file), heads, head_rules)]
        check_targets(rules + head_rules[0] + head_rules[1], dict(model.named_parameters()))
        dev = cfg.torch_device()
        model = materialise(model, dev, cfg.torch_dtype())
        report = LoadReport(str(root), key, center_crop_rule=crop_rule)
        _fill(dict(model.named_parameters()), files, by_key, pt, dev, progress, report)
    report.files_read += ['config.json', stats_file.name, *tok_files]
    report.unused_keys = sorted(k for k, r in by_key.items() if r.unused)
    report.filled_without_source = sorted(NO_SOURCE)
    report.parameters = sum(p.numel() for p in model.parameters())
    for t in [*model.parameters(), *model.buffers()]:
        report.bytes_per_device[str(t.device)] = (report.bytes_per_device.get(str(t.device), 0)
                                                  + t.numel() * t.element_size())
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)
        report.cuda_max_memory_allocated = torch.cuda.max_memory_allocated(dev)
    report.load_seconds = time.perf_counter() - t0
    logger.info('%s; center_crop=%s (%s)', report.summary(), crop, crop_rule)
    return VLAPolicy(model, tokenizer, norm, cfg), report
