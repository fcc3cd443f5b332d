"""The training run's settings (:class:`TrainConfig`, with each field's help) and loss curves.

Its own module so that the command line (:mod:`~specprune_ros.tools.train.cli`) and the loop
(:mod:`~specprune_ros.tools.train.loop`) both import it and not each other.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

HELP = {
    'preset': 'model preset (vla/config.py); libero-demo trains on two CPU cores',
    'llm_layers': "LLM depth; 0 = the preset's (>= 4: SpecPrune's static layer 2 + more)",
    'vision_width': "both towers' width (MLP 4x); 0 = the preset's",
    'vision_depth': "blocks per tower as checkpoints count them (the last is unused, as in "
                    "OFT); 0 = the preset's",
    'vision_heads': "attention heads per tower block; 0 = the preset's",
    'token_keep_min': 'visual-token dropout: each step keeps a fraction U[token_keep_min, 1] '
                      'of the visual tokens (a random set, rows removed, positions kept, as '
                      'pruning removes them); 1 = off',
    'tokenizer': "'word': a word vocabulary from the demos' prompts; 'byte': bytes",
    'unnorm_key': 'key of the statistics in dataset_statistics.json',
    'steps': 'optimiser steps in all', 'batch_size': 'samples per step',
    'lr': 'peak AdamW learning rate', 'min_lr_ratio': 'final lr / peak lr (cosine decay)',
    'warmup_steps': 'linear warm-up steps', 'weight_decay': 'AdamW decay of the matrices',
    'grad_clip': 'gradient-norm clip', 'seed': 'seeds the model, split, batches, augmentation',
    'val_fraction': 'demos held out per task', 'val_every': 'steps between held-out evaluations',
    'val_samples': 'held-out samples per evaluation',
    'checkpoint_every': 'steps between checkpoints (checkpoints/last.pt)',
    'tasks': 'train on these task ids only (default: all)',
    'max_demos_per_task': 'use at most this many demos per task (0: all)',
    'drop_noops': "drop no-op steps as OFT's *_no_noops data",
    'orientation': "'native': frames stored upside down as LIBERO's (rotated 180 deg for the "
                   "policy); 'policy': already in the policy view",
    'augment': "OFT's random 90%%-area crop + colour jitter",
    'cache_gb': 'decode frames into RAM up to this size (else read them per batch)',
    'threads': "torch CPU threads (0: torch's default)",
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (saved with it; a resume must match)."""

    data: tuple[str, ...]
    out: str
    preset: str = 'libero-demo'
    llm_layers: int = 0  # 0: the preset's depth; else >= 4 (SpecPrune's static layer 2 + more)
    vision_width: int = 0  # 0: the preset's towers
    vision_depth: int = 0
    vision_heads: int = 0
    token_keep_min: float = 1.0  # 1: no visual-token dropout
    tokenizer: str = 'word'  # 'word' (built from the demos' prompts) or 'byte'
    unnorm_key: str = 'libero_spatial_no_noops'
    steps: int = 3000
    batch_size: int = 16
    lr: float = 5e-4
    min_lr_ratio: float = 0.1  # cosine decays to lr · min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 7
    val_fraction: float = 0.1
    val_every: int = 250
    val_samples: int = 256
    checkpoint_every: int = 100
    tasks: tuple[int, ...] = ()  # empty: every task in the files
    max_demos_per_task: int = 0  # 0: all
    drop_noops: bool = True
    orientation: str = 'native'  # 'native' (LIBERO's upside-down renders) or 'policy'
    augment: bool = True
    cache_gb: float = 6.0
    threads: int = 0  # torch threads; 0: torch's default

    def __post_init__(self) -> None:
        positive = {'steps': self.steps, 'batch_size': self.batch_size, 'lr': self.lr,
                    'val_every': self.val_every, 'val_samples': self.val_samples,
                    'checkpoint_every': self.checkpoint_every}
        bad = {k: v for k, v in positive.items() if not v > 0}
        if bad:
            raise ValueError(f'these must be positive: {bad}')
        if not 0.0 <= self.val_fraction < 1.0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError('val_fraction must be in [0, 1) and min_lr_ratio in [0, 1]')
        if min(self.warmup_steps, self.max_demos_per_task, self.threads, self.vision_width,
               self.vision_depth, self.vision_heads) < 0:
            raise ValueError('warmup_steps, max_demos_per_task, threads and the vision sizes '
                             'must be >= 0')
        if self.vision_width and self.vision_heads and self.vision_width % self.vision_heads:
            raise ValueError(f'vision_width {self.vision_width} must divide by vision_heads '
                             f'{self.vision_heads}')
        if not 0.0 < self.token_keep_min <= 1.0:
            raise ValueError(f'token_keep_min must be in (0, 1], got {self.token_keep_min}')
        if self.llm_layers and self.llm_layers < 4:
            raise ValueError(f'llm_layers must be 0 (the preset\'s) or >= 4 so that SpecPrune\'s '
                             f'static layer 2 and later prune layers exist, got {self.llm_layers}')
        if self.tokenizer not in ('word', 'byte'):
            raise ValueError(f"tokenizer must be 'word' or 'byte', got {self.tokenizer!r}")
        if not self.data:
            raise ValueError('at least one demonstration file is needed (--data)')

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'TrainConfig':
        """Inverse of :meth:`to_dict`."""
        tuples = {f.name for f in fields(cls) if str(f.type).startswith('tuple')}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


@dataclass
class History:
    """Loss curves: (step, value) pairs."""

    train: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    lr: list[tuple[int, float]] = field(default_factory=list)
