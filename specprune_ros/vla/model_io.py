"""Save/load a built-in policy: ``config.json`` + ``model.safetensors`` + statistics (bit-exact).

``config.json`` holds the format tag, the :class:`PolicyConfig`, the tokenizer (a word
tokenizer's vocabulary) and ``unnorm_key``; ``dataset_statistics.json`` holds the action and
proprio statistics in OpenVLA-OFT's layout (``{key: {"action": {"q01", "q99", "mask", ...},
"proprio": {...}}}``). Folders from before the statistics file (``norm_stats`` inside
``config.json``) still load.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
import torch

from specprune_ros.errors import CheckpointError, ModelConfigError
from specprune_ros.vla.config import PolicyConfig
from specprune_ros.vla.model import build_model
from specprune_ros.vla.policy import NormStats, VLAPolicy
from specprune_ros.vla.tokenizer import ByteTokenizer, TextTokenizer, WordTokenizer

FORMAT = 'specprune_ros.builtin/1'
CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'
STATS_FILE = 'dataset_statistics.json'
_NORM_KEY = 'builtin'


def _tokenizer_entry(policy: VLAPolicy) -> dict[str, Any]:
    tok = policy.tokenizer
    kind = {ByteTokenizer: 'byte', WordTokenizer: 'word'}.get(type(tok))
    if kind is None:
        raise CheckpointError('save_pretrained writes built-in (byte or word tokenizer) policies '
                              f'only, got {type(tok).__name__}')
    if policy.cfg.tokenizer != kind:
        raise CheckpointError(f'the policy config says tokenizer={policy.cfg.tokenizer!r} but the '
                              f'policy holds a {kind} tokenizer')
    if tok.vocab_size > policy.cfg.llm.vocab_size:
        raise CheckpointError(f'the tokenizer has {tok.vocab_size} ids, the embedding only '
                              f'{policy.cfg.llm.vocab_size}')
    return tok.to_dict() if isinstance(tok, WordTokenizer) else {'type': 'byte'}


def _check_statistics(policy: VLAPolicy, statistics: dict[str, Any], key: str) -> None:
    """``statistics[key]`` must give exactly the policy's bounds."""
    got = NormStats.from_dataset_statistics(statistics, key)
    want = policy.norm_stats
    for name in ('action_q01', 'action_q99', 'action_mask', 'proprio_q01', 'proprio_q99'):
        if not np.array_equal(getattr(got, name), getattr(want, name)):
            raise CheckpointError(f'statistics[{key!r}] {name} differs from the policy\'s')


def save_pretrained(policy: VLAPolicy, path: str | os.PathLike, unnorm_key: str = _NORM_KEY,
                    statistics: dict[str, Any] | None = None) -> Path:
    """Write ``policy`` (byte- or word-tokenizer models) to the folder ``path``.

    ``statistics`` is the full ``dataset_statistics.json`` dict (OFT's layout, possibly with
    mean/std/min/max and counts); its ``unnorm_key`` entry must equal the policy's bounds.
    Default: the policy's bounds under ``unnorm_key``.
    """
    tokenizer = _tokenizer_entry(policy)
    if statistics is None:
        statistics = policy.norm_stats.to_dataset_statistics(unnorm_key)
    _check_statistics(policy, statistics, unnorm_key)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    meta = {'format': FORMAT, 'policy': policy.cfg.to_dict(), 'tokenizer': tokenizer,
            'unnorm_key': unnorm_key}
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    (out / STATS_FILE).write_text(json.dumps(statistics, indent=2))
    state = {k: v.detach().contiguous().cpu() for k, v in policy.model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE), metadata={'format': FORMAT})
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f'{path} is not valid JSON: {exc}') from exc
    except OSError as exc:
        raise CheckpointError(f'cannot read {path}: {exc}') from exc


def _norm_stats(root: Path, meta: dict[str, Any], unnorm_key: str | None) -> NormStats:
    if 'norm_stats' in meta:  # folders written before dataset_statistics.json
        return NormStats.from_dataset_statistics(meta['norm_stats'], unnorm_key or _NORM_KEY)
    stats_path = root / STATS_FILE
    if not stats_path.is_file():
        raise CheckpointError(f'missing {stats_path}; a built-in model folder holds '
                              f'{CONFIG_FILE}, {WEIGHTS_FILE} and {STATS_FILE}')
    stats = _read_json(stats_path)
    if not isinstance(stats, dict):
        raise CheckpointError(f'{stats_path}: expected an object of dataset keys')
    try:
        return NormStats.from_dataset_statistics(stats, unnorm_key or meta.get('unnorm_key'))
    except CheckpointError as exc:
        raise CheckpointError(f'{stats_path}: {exc}') from exc


def _tokenizer(meta: dict[str, Any], cfg: PolicyConfig, where: Path) -> TextTokenizer:
    entry = meta.get('tokenizer', {'type': 'byte'})
    kind = entry.get('type') if isinstance(entry, dict) else None
    if kind != cfg.tokenizer:
        raise CheckpointError(f'{where}: tokenizer entry {str(entry)[:60]} does not match the '
                              f'config\'s tokenizer={cfg.tokenizer!r}')
    if kind not in ('word', 'byte'):
        raise CheckpointError(f'{where}: tokenizer {kind!r} is not a built-in one (byte, word)')
    try:
        tok = WordTokenizer.from_dict(entry) if kind == 'word' else ByteTokenizer()
    except ModelConfigError as exc:
        raise CheckpointError(f'{where}: {exc}') from exc
    if tok.vocab_size > cfg.llm.vocab_size:
        raise CheckpointError(f'{where}: the tokenizer has {tok.vocab_size} ids but the model '
                              f'embeds only {cfg.llm.vocab_size}')
    return tok


def load_pretrained(path: str | os.PathLike, device: str | None = None,
                    unnorm_key: str | None = None) -> VLAPolicy:
    """Load a folder written by :func:`save_pretrained`; errors name the file and the key.

    ``unnorm_key`` picks the statistics entry (default: the one the folder was saved with).
    """
    root = Path(path)
    cfg_path, w_path = root / CONFIG_FILE, root / WEIGHTS_FILE
    for f in (cfg_path, w_path):
        if not f.is_file():
            raise CheckpointError(f'missing {f}; a built-in model folder holds {CONFIG_FILE}, '
                                  f'{WEIGHTS_FILE} and {STATS_FILE}')
    meta = _read_json(cfg_path)
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise CheckpointError(f'{cfg_path}: expected "format": "{FORMAT}"; for OpenVLA-OFT '
                              'checkpoints use specprune_ros.vla.checkpoint.load_policy')
    try:
        cfg = PolicyConfig.from_dict(meta['policy'])
    except (KeyError, ModelConfigError) as exc:
        raise CheckpointError(f'{cfg_path}: {exc}') from exc
    tokenizer = _tokenizer(meta, cfg, cfg_path)
    norm = _norm_stats(root, meta, unnorm_key)
    if device is not None:
        cfg = cfg.replace(device=device)
    try:
        state = load_file(str(w_path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f'{w_path} is not a readable safetensors file: {exc}') from exc
    model = build_model(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f'{w_path}: missing keys {missing[:5]}, unexpected keys '
                              f'{unexpected[:5]}')
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(f'{w_path}: {key} has shape {tuple(tensor.shape)}, expected '
                                  f'{tuple(expected[key].shape)}')
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    return VLAPolicy(model, tokenizer, norm, cfg)
