"""Tests of ``specprune-train`` (tools.train, tools.train_loop) on synthetic LIBERO demos.

A few steps lower the loss; a run interrupted after k steps and resumed ends bit-exactly where
an uninterrupted run ends; the output folder is a built-in model that loads and predicts.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from itertools import pairwise
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from train_fixtures import INSTRUCTIONS, write_demo_file

from specprune_ros.tools.train import cli as train
from specprune_ros.tools.train.config import TrainConfig
from specprune_ros.tools.train.data import TrainDataError
from specprune_ros.tools.train.loop import (
    build_run,
    CHECKPOINT,
    evaluate,
    lr_factor,
    run_training,
    train_step,
)
from specprune_ros.vla import model_io
from specprune_ros.vla.policy import Observation
from specprune_ros.vla.tokenizer import WordTokenizer

STEPS = 4


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Synthetic demos: two tasks, three demos each."""
    return write_demo_file(tmp_path_factory.mktemp('data') / 'demos.hdf5', steps=12)


def _cfg(data, out, **kw) -> TrainConfig:
    base = dict(data=(str(data),), out=str(out), steps=STEPS, batch_size=3, warmup_steps=1,
                val_every=2, val_samples=6, checkpoint_every=1, val_fraction=0.34, threads=1)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope='module')
def finished(data, tmp_path_factory):
    """An uninterrupted run of STEPS steps: (config, summary)."""
    cfg = _cfg(data, tmp_path_factory.mktemp('full'))
    return cfg, run_training(cfg)


def test_lr_schedule_warms_up_then_decays() -> None:
    cfg = TrainConfig(data=('x',), out='y', steps=100, warmup_steps=10, min_lr_ratio=0.1)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in pairwise(f[9:]))  # cosine: never rises
    assert f[55] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert min(f) >= 0.1


def test_a_few_steps_lower_the_loss(data, tmp_path) -> None:
    run = build_run(_cfg(data, tmp_path, lr=2e-3, val_fraction=0.0, steps=8))
    run.val, run.val_index = run.train, np.arange(0, len(run.train), 4)  # train samples
    before = evaluate(run)
    for step in range(8):
        train_step(run, step)
    after = evaluate(run)
    print(before, after)
    assert after < 0.8 * before, (before, after)


def test_resume_after_an_interruption_is_bit_exact(data, finished, tmp_path) -> None:
    cfg, summary = finished
    part = _cfg(data, tmp_path)
    first = run_training(part, stop_after=2)
    assert first['step'] == 2 and not (tmp_path / model_io.WEIGHTS_FILE).exists()
    with pytest.raises(FileExistsError, match='--resume'):
        run_training(part)
    resumed = run_training(part, resume=True)
    assert resumed['step'] == STEPS and resumed['train_loss'] == summary['train_loss']
    a = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    b = torch.load(f'{cfg.out}/{CHECKPOINT}', weights_only=False)
    assert a['history'] == b['history']
    for key, value in b['model'].items():
        assert torch.equal(a['model'][key], value), key
    for pa, pb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in pb)
    assert a['scheduler'] == b['scheduler']
    lines = (tmp_path / 'metrics.jsonl').read_text().splitlines()
    assert [json.loads(ln)['step'] for ln in lines] == list(range(1, STEPS + 1))


def test_resume_refuses_other_settings(data, tmp_path) -> None:
    run_training(_cfg(data, tmp_path, steps=1))
    with pytest.raises(TrainDataError, match=r"other settings \(\['lr'\]\)"):
        run_training(_cfg(data, tmp_path, steps=1, lr=1e-2), resume=True)


def test_output_is_a_builtin_model_that_predicts(finished, data) -> None:
    cfg, _ = finished
    out = cfg.out
    meta = json.loads(open(f'{out}/{model_io.CONFIG_FILE}').read())
    assert meta['format'] == model_io.FORMAT  # what the node's load_policy_for looks for
    stats = json.loads(open(f'{out}/{model_io.STATS_FILE}').read())
    assert list(stats) == ['libero_spatial_no_noops']
    assert {'q01', 'q99', 'mask', 'mean', 'std'} <= set(stats['libero_spatial_no_noops']['action'])
    policy = model_io.load_pretrained(out, device='cpu')
    assert isinstance(policy.tokenizer, WordTokenizer)
    assert policy.cfg.name == 'libero-demo' and policy.cfg.center_crop
    assert policy.cfg.llm.vocab_size == policy.tokenizer.vocab_size
    saved = torch.load(f'{out}/{CHECKPOINT}', weights_only=False)['model']
    for key, value in policy.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    rng = np.random.default_rng(0)
    obs = Observation(images=(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),) * 2,
                      proprio=np.zeros(8), instruction=INSTRUCTIONS[1])
    actions, _ = policy.predict_action_chunk(obs)
    assert actions.shape == (8, 7) and np.isfinite(actions).all()
    for name in ('loss_curve.png', 'metrics.jsonl', 'train_config.json'):
        assert open(f'{out}/{name}', 'rb').read(), name


def test_cli_help_starts_nothing() -> None:
    code = ('import sys\nfrom specprune_ros.tools.train.cli import main\n'
            'try:\n    main(["--help"])\n'
            'except SystemExit as e:\n    print("EXIT", e.code, "torch" in sys.modules)')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert '--resume' in proc.stdout and '--batch-size' in proc.stdout, proc.stderr
    assert proc.stdout.rstrip().endswith('EXIT 0 False')  # torch was never imported


def test_cli_bad_input_exits_with_a_message(tmp_path, capsys) -> None:
    assert train.main(['--data', str(tmp_path / 'missing.hdf5'), '--out',
                       str(tmp_path / 'o')]) == 1
    assert not (tmp_path / 'o').exists()  # nothing written for a command that cannot run
    with pytest.raises(SystemExit):
        train.main(['--data', 'x', '--out', str(tmp_path / 'o'), '--steps', '0'])


@pytest.mark.parametrize('tasks', [['0', '1'], ['0-1'], ['0,1'], ['1', '0-1']])
def test_tasks_take_the_evaluations_syntax_too(tasks: list[str]) -> None:
    cfg, _, _ = train.parse_args(['--data', 'x.hdf5', '--out', 'o', '--tasks', *tasks])
    assert sorted(cfg.tasks) == [0, 1] and len(cfg.tasks) == 2


def test_tower_settings_and_token_dropout_train_and_resume(data, tmp_path) -> None:
    """Wider, deeper towers and visual-token dropout: a run that saves, loads and resumes."""
    kw = dict(vision_width=48, vision_depth=3, vision_heads=4, token_keep_min=0.3)
    part = _cfg(data, tmp_path / 'part', **kw)
    run_training(part, stop_after=2)
    resumed = run_training(part, resume=True)
    whole = run_training(_cfg(data, tmp_path / 'whole', **kw))
    assert resumed['train_loss'] == whole['train_loss']  # the dropout draws are per step
    policy = model_io.load_pretrained(tmp_path / 'whole', device='cpu')
    for tower in (policy.cfg.dino, policy.cfg.siglip):
        assert (tower.hidden_size, tower.depth, tower.num_heads, tower.mlp_size) == (48, 3, 4, 192)
    plain = run_training(_cfg(data, tmp_path / 'plain', **{**kw, 'token_keep_min': 1.0}))
    assert plain['train_loss'] != whole['train_loss']  # the dropout did something


@pytest.mark.parametrize('bad', [dict(token_keep_min=0.0), dict(token_keep_min=1.5),
                                 dict(vision_width=50, vision_heads=4),
                                 dict(vision_depth=-1)])
def test_bad_model_settings_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        TrainConfig(data=('x',), out='y', **bad)


def test_accelerate_launch_two_processes_is_the_single_process_run(data, tmp_path) -> None:
    """``accelerate launch`` (2 CPU processes, gloo) trains the weights one process trains.

    Each process takes half of every batch (augmentation and token dropout drawn for the whole
    batch) and the gradients are summed, so the only difference is the float summation order:
    the first loss (same weights, same inputs) agrees to float32 rounding, the later ones to
    1e-4 (the Adam update of a near-zero gradient component can flip with its last bit).
    """
    args = ['--data', str(data), '--steps', '3', '--batch-size', '4', '--warmup-steps', '1',
            '--val-fraction', '0', '--threads', '1', '--token-keep-min', '0.5']
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}
    single = subprocess.run([sys.executable, '-m', 'specprune_ros.tools.train.cli', *args,
                             '--out', str(tmp_path / 'one')], capture_output=True, text=True,
                            timeout=300, env=env)
    assert single.returncode == 0, single.stderr[-2000:]
    # --multi_gpu with no GPU is accelerate's multi-CPU mode (torchrun + gloo); --cpu would
    # start one process
    launch = subprocess.run([sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu',
                             '--num_processes', '2', '--num_machines', '1', '--mixed_precision',
                             'no', '--dynamo_backend', 'no', '-m',
                             'specprune_ros.tools.train.cli', *args, '--out',
                             str(tmp_path / 'two')], capture_output=True, text=True,
                            timeout=300, env=env)
    assert launch.returncode == 0, launch.stderr[-3000:]
    losses = {}
    for name in ('one', 'two'):
        lines = (tmp_path / name / 'metrics.jsonl').read_text().splitlines()
        losses[name] = [json.loads(ln)['loss'] for ln in lines]  # one writer: 3 lines
    assert len(losses['two']) == 3
    assert losses['two'][0] == pytest.approx(losses['one'][0], rel=1e-6)
    assert losses['two'] == pytest.approx(losses['one'], rel=1e-4)
    assert '"processes": 2' in (tmp_path / 'two' / 'train.log').read_text()
    a = model_io.load_pretrained(tmp_path / 'one', device='cpu').model.state_dict()
    b = model_io.load_pretrained(tmp_path / 'two', device='cpu').model.state_dict()
    moved = sum(int(((a[k] - b[k]).abs() > 1e-5).sum()) for k in a)
    total = sum(v.numel() for v in a.values())
    assert moved < 0.01 * total, (moved, total)  # unsynced halves would move nearly all
