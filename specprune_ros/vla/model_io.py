"""Save/load a built-in policy as ``config.json`` + ``model.safetensors`` (bit-exact)."""

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

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
import torch

from specprune_ros.errors import CheckpointError, ModelConfigError
from specprune_ros.vla.config import PolicyConfig
from specprune_ros.vla.model import build_model
from specprune_ros.vla.policy import NormStats, VLAPolicy
from specprune_ros.vla.tokenizer import ByteTokenizer

FORMAT = 'specprune_ros.builtin/1'
CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'
_NORM_KEY = 'builtin'


def save_pretrained(policy: VLAPolicy, path: str | os.PathLike) -> Path:
    """Write ``policy`` (byte-tokenizer models only) to the folder ``path``."""
    if not isinstance(policy.tokenizer, ByteTokenizer):
        raise CheckpointError('save_pretrained writes built-in (byte-tokenizer) policies only')
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    meta = {'format': FORMAT, 'policy': policy.cfg.to_dict(),
            'norm_stats': policy.norm_stats.to_dataset_statistics(_NORM_KEY)}
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    state = {k: v.detach().contiguous().cpu() for k, v in policy.model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE), metadata={'format': FORMAT})
    return out


def load_pretrained(path: str | os.PathLike, device: str | None = None) -> VLAPolicy:
    """Load a folder written by :func:`save_pretrained`; errors name the file and the key."""
    root = Path(path)
    cfg_path, w_path = root / CONFIG_FILE, root / WEIGHTS_FILE
    for f in (cfg_path, w_path):
        if not f.is_file():
            raise CheckpointError(f'missing {f}; a built-in model folder holds {CONFIG_FILE} '
                                  f'and {WEIGHTS_FILE}')
    try:
        meta = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f'{cfg_path} is not valid JSON: {exc}') from exc
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise CheckpointError(f'{cfg_path}: expected "format": "{FORMAT}"; for OpenVLA-OFT '
                              'checkpoints use specprune_ros.vla.checkpoint.load_policy')
    try:
        cfg = PolicyConfig.from_dict(meta['policy'])
        norm = NormStats.from_dataset_statistics(meta['norm_stats'], _NORM_KEY)
    except (KeyError, ModelConfigError) as exc:
        raise CheckpointError(f'{cfg_path}: {exc}') from exc
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
    return VLAPolicy(model, ByteTokenizer(), norm, cfg)
