"""``specprune-train``: train a built-in OFT-family policy on LIBERO-layout demonstrations.

OpenVLA-OFT's objective: L1 regression of the normalised action chunk (parallel decoding,
bidirectional attention, proprio input) through the same forward the policy runs at inference
(:func:`~specprune_ros.tools.train_batch.forward_chunks`). AdamW, linear warm-up then cosine
decay, OFT-style augmentation, q01/q99 statistics from the training demos, a held-out split
by demo. The output folder is a built-in saved model (``config.json``, ``model.safetensors``,
``dataset_statistics.json``) that ``model_io.load_pretrained`` and the node's ``checkpoint``
parameter load; beside it ``train.log``, ``metrics.jsonl``, ``loss_curve.png`` and
``checkpoints/last.pt`` (model, optimiser, scheduler, RNG; ``--resume`` continues bit-exactly:
every batch and augmentation is a function of (seed, step)).

Example::

    specprune-train --data /work/data/libero_spatial_demos.hdf5 --out models/run1 --steps 4000
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields
import json
import logging
import os
from pathlib import Path
import sys
import time
from typing import Any

from specprune_ros.sim.cli import parse_ids

log = logging.getLogger('specprune_ros.train')

HELP = {
    'preset': 'model preset (vla/config.py); libero-demo trains on two CPU cores',
    'llm_layers': "LLM depth; 0 = the preset's (>= 4: SpecPrune's static layer 2 + more)",
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
        if self.warmup_steps < 0 or self.max_demos_per_task < 0 or self.threads < 0:
            raise ValueError('warmup_steps, max_demos_per_task and threads must be >= 0')
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


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool, int | None]:
    """(config, resume, stop_after) from the command line."""
    d = {f.name: f.default for f in fields(TrainConfig) if f.name not in ('data', 'out')}
    p = argparse.ArgumentParser(prog='specprune-train', description=(
        'Train a built-in OpenVLA-OFT-family policy on LIBERO-layout HDF5 demonstrations '
        "(OFT's L1 chunk regression) and save it as a built-in model folder."))
    p.add_argument('--data', nargs='+', required=True, help='LIBERO-layout HDF5 file(s)')
    p.add_argument('--out', required=True, help='output folder (the saved model and logs)')
    p.add_argument('--resume', action='store_true',
                   help='continue from OUT/checkpoints/last.pt (the config must match)')
    p.add_argument('--stop-after', type=int, default=None,
                   help='stop (with a checkpoint) after this step, e.g. to train in slices')
    for name, default in d.items():
        flag = '--' + name.replace('_', '-')
        kw: dict[str, Any] = {'default': default, 'help': f'{HELP[name]} (default: %(default)s)'}
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif isinstance(default, tuple):  # '0 1', '0-1' and '0,1' alike (as specprune-eval)
            p.add_argument(flag, type=parse_ids, nargs='*', **{**kw, 'default': [list(default)]})
        else:
            p.add_argument(flag, type=type(default), **kw)
    a = vars(p.parse_args(argv))
    for name, default in d.items():
        if isinstance(default, tuple):
            a[name] = list(dict.fromkeys(i for ids in a[name] for i in ids))
    resume, stop_after = a.pop('resume'), a.pop('stop_after')
    a['data'] = tuple(a['data'])
    try:
        return TrainConfig.from_dict(a), resume, stop_after
    except ValueError as exc:
        p.error(str(exc))
        raise  # unreachable: p.error exits


def _setup_logging(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / 'train.log')
    handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
    root = logging.getLogger('specprune_ros')
    root.setLevel(logging.INFO)
    if not any(isinstance(h, logging.FileHandler)
               and Path(h.baseFilename) == (out / 'train.log').resolve() for h in root.handlers):
        root.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; exit 0 on success, 1 on a data/config error, 130 on Ctrl-C."""
    cfg, resume, stop_after = parse_args(argv)
    # OpenMP threads that spin while they wait run several times slower than one thread when
    # other processes share the cores (measured here: 0.37 vs 2.4 samples/s); sleep instead.
    # Read when torch starts its thread pool, i.e. before torch is imported below.
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    missing = [str(f) for f in cfg.data if not Path(f).is_file()]
    if missing:  # before anything is written to --out
        log.error('demonstration file(s) %s do not exist (record them with specprune-sim '
                  'record)', ', '.join(missing))
        return 1
    _setup_logging(Path(cfg.out))
    from specprune_ros.errors import SpecPruneError
    from specprune_ros.tools.train_loop import run_training

    t0 = time.perf_counter()
    try:
        result = run_training(cfg, resume=resume, stop_after=stop_after)
    except KeyboardInterrupt:
        log.warning('interrupted; the last checkpoint is in %s/checkpoints (use --resume)',
                    cfg.out)
        return 130
    except (SpecPruneError, FileExistsError, FileNotFoundError) as exc:
        log.error('%s', exc)
        return 1
    log.info('done in %.1f min: %s', (time.perf_counter() - t0) / 60, json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
