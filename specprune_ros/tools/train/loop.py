"""The training run behind ``specprune-train``: data, model, optimiser, loop, checkpoints.

Runs as one process or under ``accelerate launch`` (:class:`Processes`: each process takes a
share of every step's batch, gradients are summed; gloo on CPUs, NCCL on GPUs).

Bit-exact resume: the checkpoint holds the model, AdamW and scheduler states, the history and
torch's RNG; every batch (:func:`~specprune_ros.tools.train.batch.batch_order`) and every
augmentation draw (:func:`~specprune_ros.tools.train.batch.step_generator`) is a function
of (seed, step), so nothing else carries state from one step to the next.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, replace
import json
import logging
import math
import os
from pathlib import Path
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from specprune_ros.errors import ModelConfigError
from specprune_ros.tools.train.batch import (
    AugmentConfig,
    batch_order,
    batch_pixels,
    forward_chunks,
    step_generator,
    TrainSet,
    visual_keep,
)
from specprune_ros.tools.train.config import History, TrainConfig
from specprune_ros.tools.train.data import (
    compute_statistics,
    describe,
    FrameStore,
    read_demos,
    split_demos,
    TrainDataError,
)
from specprune_ros.tools.train.processes import Processes, processes, SINGLE
from specprune_ros.vla import model_io
from specprune_ros.vla.config import get_preset, PolicyConfig, VisionTowerConfig
from specprune_ros.vla.model import build_model
from specprune_ros.vla.policy import NormStats, VLAPolicy
from specprune_ros.vla.tokenizer import ByteTokenizer, oft_prompt, WordTokenizer

log = logging.getLogger(__name__)

CHECKPOINT = Path('checkpoints') / 'last.pt'
_RESUME_FREE = ('cache_gb', 'threads', 'checkpoint_every')  # may differ on resume


@dataclass
class Run:
    """A run's live parts."""

    cfg: TrainConfig
    policy: VLAPolicy  # its model is the one being trained
    statistics: dict[str, Any]  # the dataset_statistics.json entry
    train: TrainSet
    val: TrainSet | None
    val_index: np.ndarray
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    history: History
    procs: Processes = SINGLE


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1 over ``warmup_steps``, then cosine down to ``min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    done = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))


def _select(cfg: TrainConfig) -> list:
    demos = read_demos([Path(p) for p in cfg.data], drop_noops=cfg.drop_noops)
    if cfg.tasks:
        missing = sorted(set(cfg.tasks) - {d.task_id for d in demos})
        if missing:
            raise TrainDataError(f'tasks {missing} have no demos in {list(cfg.data)}')
        demos = [d for d in demos if d.task_id in cfg.tasks]
    if cfg.max_demos_per_task:
        kept: dict[int, int] = {}
        chosen = []
        for d in demos:
            if kept.get(d.task_id, 0) < cfg.max_demos_per_task:
                kept[d.task_id] = kept.get(d.task_id, 0) + 1
                chosen.append(d)
        demos = chosen
    return demos


def model_config(cfg: TrainConfig, vocab_size: int) -> PolicyConfig:
    """The trained model's config: the preset with the tokenizer's vocabulary and the seed."""
    base = get_preset(cfg.preset)
    llm = replace(base.llm, vocab_size=vocab_size,
                  num_layers=cfg.llm_layers or base.llm.num_layers)

    def tower(t: VisionTowerConfig) -> VisionTowerConfig:
        width = cfg.vision_width or t.hidden_size
        return replace(t, hidden_size=width, depth=cfg.vision_depth or t.depth,
                       num_heads=cfg.vision_heads or t.num_heads,
                       mlp_size=4 * width if cfg.vision_width else t.mlp_size)

    try:
        return base.replace(tokenizer=cfg.tokenizer, seed=cfg.seed, llm=llm,
                            dino=tower(base.dino), siglip=tower(base.siglip))
    except ModelConfigError as exc:
        raise TrainDataError(f'the model settings do not make a model: {exc}') from exc


def build_run(cfg: TrainConfig, procs: Processes = SINGLE) -> Run:
    """Read the demos and build everything for step 0 (every process builds the same)."""
    if cfg.batch_size < procs.world:
        raise TrainDataError(f'batch_size {cfg.batch_size} is smaller than the {procs.world} '
                             'training processes')
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    demos = _select(cfg)
    train_demos, val_demos = split_demos(demos, cfg.val_fraction, cfg.seed)
    entry = compute_statistics(train_demos)
    statistics = {cfg.unnorm_key: entry}
    stats = NormStats.from_dataset_statistics(statistics, cfg.unnorm_key)
    if cfg.tokenizer == 'word':
        tok = WordTokenizer.from_texts(oft_prompt(d.instruction)[0] for d in demos)
    else:
        tok = ByteTokenizer()
    pcfg = model_config(cfg, tok.vocab_size)
    model = build_model(pcfg.replace(device='cpu', dtype='float32')).train().requires_grad_(True)
    policy = VLAPolicy(model, tok, stats, pcfg)
    tasks = sorted({d.task_id for d in demos})
    log.info('%d demos of tasks %s: %d train (%d steps), %d held out; vocabulary %d; model %.2fM '
             'parameters', len(demos), tasks, len(train_demos), sum(map(len, train_demos)),
             len(val_demos), tok.vocab_size, sum(p.numel() for p in model.parameters()) / 1e6)
    budget = cfg.cache_gb * 1e9
    frames = FrameStore(train_demos, pcfg.image_size, pcfg.jpeg_roundtrip, cfg.orientation,
                        budget)
    train = TrainSet(train_demos, frames, stats, policy)
    val, val_index = None, np.zeros(0, dtype=np.int64)
    if val_demos:
        left = budget - frames.nbytes if frames.cached else 0.0
        val = TrainSet(val_demos, FrameStore(val_demos, pcfg.image_size, pcfg.jpeg_roundtrip,
                                             cfg.orientation, left), stats, policy)
        perm = np.random.default_rng([cfg.seed, 1]).permutation(len(val))
        val_index = np.sort(perm[:cfg.val_samples])
    decay = [p for p in model.parameters() if p.ndim >= 2]
    other = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': cfg.weight_decay},
                             {'params': other, 'weight_decay': 0.0}], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    return Run(cfg, policy, entry, train, val, val_index, opt, sched, History(), procs)


def _loss(run: Run, data: TrainSet, samples: np.ndarray, gen: torch.Generator | None,
          step: int = 0, shard: tuple[int, int] | None = None) -> torch.Tensor:
    policy, cfg = run.policy, run.policy.cfg
    batch = data.batch(samples)
    model = policy.model
    dino, siglip = batch_pixels(batch.images, cfg.center_crop, gen,
                                AugmentConfig(enabled=run.cfg.augment), model.device,
                                model.dtype, shard)
    keep = None
    if gen is not None and run.cfg.token_keep_min < 1.0:  # training only; held out sees all
        keep = visual_keep(cfg.num_views * cfg.patches_per_view, run.cfg.token_keep_min,
                           step_generator(run.cfg.seed, step, stream=1)).to(model.device)
    pred = forward_chunks(model, data.prompts, batch.prompts, dino, siglip, batch.proprio,
                          policy.tokenizer.bos_id, policy.tokenizer.eos_id, keep)
    return F.l1_loss(pred, batch.target.to(pred.device))


def train_step(run: Run, step: int) -> float:
    """One optimiser step on the batch of ``step``; returns its loss."""
    samples = batch_order(len(run.train), run.cfg.batch_size, run.cfg.seed, step)
    mine, first = run.procs.part(samples)
    loss = _loss(run, run.train, mine, step_generator(run.cfg.seed, step), step,
                 (first, len(samples)))
    share = loss * (len(mine) / len(samples))  # summed over processes: the batch mean
    run.optimizer.zero_grad(set_to_none=True)
    share.backward()
    value = share.detach().clone()
    if run.procs.world > 1:  # unused parameters (no grad) are the same on every process
        for p in run.policy.model.parameters():
            if p.grad is not None:
                run.procs.sum_(p.grad)
        run.procs.sum_(value)
    torch.nn.utils.clip_grad_norm_(run.policy.model.parameters(), run.cfg.grad_clip)
    run.optimizer.step()
    run.scheduler.step()
    return float(value)


@torch.no_grad()
def evaluate(run: Run) -> float | None:
    """Mean L1 on the held-out samples, preprocessed as at inference (centre crop)."""
    if run.val is None:
        return None
    model = run.policy.model.eval()
    try:
        total = 0.0
        for start in range(0, len(run.val_index), run.cfg.batch_size):
            chunk = run.val_index[start:start + run.cfg.batch_size]
            total += float(_loss(run, run.val, chunk, None)) * len(chunk)
        return total / len(run.val_index)
    finally:
        model.train()


def save_checkpoint(run: Run, step: int, out: Path) -> Path:
    """Atomically write ``out/checkpoints/last.pt`` after ``step`` steps."""
    path = out / CHECKPOINT
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {'step': step, 'config': run.cfg.to_dict(),
             'model': run.policy.model.state_dict(), 'optimizer': run.optimizer.state_dict(),
             'scheduler': run.scheduler.state_dict(), 'rng': torch.get_rng_state(),
             'history': {'train': run.history.train, 'val': run.history.val,
                         'lr': run.history.lr}}
    tmp = path.with_suffix('.tmp')
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(run: Run, out: Path) -> int:
    """Restore ``run`` from ``out/checkpoints/last.pt``; returns the steps already done."""
    path = out / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f'--resume: no checkpoint at {path}')
    state = torch.load(path, map_location='cpu', weights_only=False)
    saved = {k: v for k, v in state['config'].items() if k not in _RESUME_FREE}
    now = {k: v for k, v in run.cfg.to_dict().items() if k not in _RESUME_FREE}
    if saved != now:
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        raise TrainDataError(f'--resume: {path} was made with other settings ({diff}); use '
                             'the same arguments or another --out')
    if state['config'].get('threads') != run.cfg.threads:
        log.warning('resuming with threads=%s (saved: %s): a valid continuation, but not '
                    'guaranteed bit-identical to an uninterrupted run', run.cfg.threads,
                    state['config'].get('threads'))
    run.policy.model.load_state_dict(state['model'])
    run.optimizer.load_state_dict(state['optimizer'])
    run.scheduler.load_state_dict(state['scheduler'])
    torch.set_rng_state(state['rng'])
    run.history = History(**{k: [tuple(x) for x in v] for k, v in state['history'].items()})
    return int(state['step'])


def plot_curve(history: History, path: Path) -> None:
    """Training (and held-out) L1 against the step, as a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if history.train:
        steps, loss = np.array(history.train).T
        ax.plot(steps, loss, lw=0.5, alpha=0.4, label='train (per step)')
        k = min(len(loss), max(5, len(loss) // 50))
        smooth = np.convolve(loss, np.ones(k) / k, mode='valid')
        ax.plot(steps[k - 1:], smooth, label=f'train (mean of {k})')
    if history.val:
        ax.plot(*np.array(history.val).T, 'o-', label='held out (centre crop)')
    ax.set(xlabel='step', ylabel='L1 of the normalised chunk', yscale='log',
           title='specprune-train')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_model(run: Run, out: Path) -> Path:
    """The trained policy as a built-in model folder (loads with ``model_io.load_pretrained``)."""
    model = run.policy.model
    model.eval().requires_grad_(False)
    try:
        policy = VLAPolicy(model, run.policy.tokenizer, run.policy.norm_stats, run.policy.cfg)
        return model_io.save_pretrained(policy, out, run.cfg.unnorm_key,
                                        {run.cfg.unnorm_key: run.statistics})
    finally:
        model.train().requires_grad_(True)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop the records after ``step`` (written after the checkpoint a resume starts from)."""
    if path.is_file():
        lines = [ln for ln in path.read_text().splitlines()
                 if ln.strip() and json.loads(ln)['step'] <= step]
        path.write_text(''.join(ln + '\n' for ln in lines))


def run_training(cfg: TrainConfig, resume: bool = False, stop_after: int | None = None
                 ) -> dict[str, Any]:
    """Train (or continue) the run of ``cfg``; returns a summary."""
    out = Path(cfg.out)
    if (out / CHECKPOINT).exists() and not resume:
        raise FileExistsError(f'{out} already holds a run; pass --resume or another --out')
    out.mkdir(parents=True, exist_ok=True)
    procs = processes()
    run = build_run(cfg, procs)
    start = load_checkpoint(run, out) if resume else 0
    writes = procs.main  # one writer; every process computes the same weights
    if writes:
        (out / 'train_config.json').write_text(json.dumps(cfg.to_dict(), indent=2))
        held_out = run.val.frames.demos if run.val is not None else []
        (out / 'data.json').write_text(json.dumps(
            describe([Path(p) for p in cfg.data], run.train.frames.demos, held_out), indent=2))
        _truncate_metrics(out / 'metrics.jsonl', start)
    stop = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    metrics = (out / 'metrics.jsonl').open('a') if writes else open(os.devnull, 'w')
    t0, done, step = time.perf_counter(), 0, start
    bar = tqdm(total=stop, initial=start, desc='train', unit='step', dynamic_ncols=True,
               disable=not writes)
    try:
        for step in range(start, stop):
            lr = run.scheduler.get_last_lr()[0]
            loss = train_step(run, step)
            done += 1
            run.history.train.append((step + 1, loss))
            run.history.lr.append((step + 1, lr))
            record: dict[str, Any] = {'step': step + 1, 'loss': loss, 'lr': lr}
            if writes and ((step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps):
                val = evaluate(run)
                if val is not None:
                    run.history.val.append((step + 1, val))
                    record['val_loss'] = val
                    log.info('step %d: train %.4f, held out %.4f', step + 1, loss, val)
                plot_curve(run.history, out / 'loss_curve.png')
            if writes and (step + 1) % cfg.checkpoint_every == 0:
                save_checkpoint(run, step + 1, out)
            metrics.write(json.dumps(record) + '\n')
            bar.set_postfix(loss=f'{loss:.4f}', lr=f'{lr:.1e}')
            bar.update(1)
    except KeyboardInterrupt:
        applied = run.scheduler.last_epoch  # steps whose update completed
        if writes and all(int(s['step']) == applied for s in run.optimizer.state.values()):
            save_checkpoint(run, applied, out)  # else: the last periodic checkpoint stands
        raise
    finally:
        bar.close()
        metrics.close()
    elapsed = time.perf_counter() - t0
    steps_done = len(run.history.train)
    if writes:
        save_checkpoint(run, steps_done, out)
    rate = done * cfg.batch_size / elapsed if done else 0.0
    log.info('%d steps this session, %.2f samples/s', done, rate)
    summary = {'step': steps_done, 'train_loss': run.history.train[-1][1]
               if run.history.train else None,
               'val_loss': run.history.val[-1][1] if run.history.val else None,
               'samples_per_s': rate, 'out': str(out), 'processes': procs.world}
    if writes and steps_done >= cfg.steps:
        save_model(run, out)
        plot_curve(run.history, out / 'loss_curve.png')
        log.info('saved the trained model to %s', out)
    return summary
