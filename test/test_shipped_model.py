"""The shipped policy ``models/libero_spatial_demo/``: complete, small, loadable, as its card says.

The folder is what ``specprune-train`` wrote (MODEL_CARD.md names the command). These tests load
it through the two code paths a user has (``model_io.load_pretrained`` and the node's
``checkpoint`` parameter) and hold the card's facts block against the files themselves.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import replace
import json
import logging
from pathlib import Path
import re

import numpy as np
import pytest

from specprune_ros.ros.policy.config import load_policy_for, NodeConfig
from specprune_ros.specprune.params import preset
from specprune_ros.vla import model_io
from specprune_ros.vla.policy import Observation

MODEL = Path(__file__).resolve().parents[1] / 'models' / 'libero_spatial_demo'
FILES = ('config.json', 'model.safetensors', 'dataset_statistics.json', 'data.json',
         'train_config.json', 'MODEL_CARD.md', 'loss_curve.png')
MAX_BYTES = 30 * 2 ** 20


def card_facts() -> dict:
    """The ```json block under the card's '## Facts' heading."""
    text = (MODEL / 'MODEL_CARD.md').read_text()
    found = re.search(r'^## Facts\b.*?```json\n(.*?)\n```', text, re.S | re.M)
    assert found, "MODEL_CARD.md has no '## Facts' section with a json block"
    return json.loads(found.group(1))


def test_folder_is_complete_and_small() -> None:
    missing = [name for name in FILES if not (MODEL / name).is_file()]
    assert not missing, f'{MODEL} lacks {missing}'
    size = sum(p.stat().st_size for p in MODEL.rglob('*') if p.is_file())
    assert size <= MAX_BYTES, f'{size / 2 ** 20:.1f} MiB > 30 MiB'
    assert not (MODEL / 'checkpoints').exists(), 'training checkpoints are not shipped'


def test_card_matches_the_files() -> None:
    facts = card_facts()
    config = json.loads((MODEL / 'config.json').read_text())
    train = json.loads((MODEL / 'train_config.json').read_text())
    data = json.loads((MODEL / 'data.json').read_text())
    assert facts['policy'] == config['policy']
    assert facts['unnorm_key'] == config['unnorm_key'] == train['unnorm_key']
    for key in ('preset', 'steps', 'batch_size', 'lr', 'seed', 'tasks', 'augment'):
        assert facts['train'][key] == train[key], key
    assert facts['train']['tasks'] == sorted({d['task_id'] for d in data['train']})
    assert facts['demos'] == {'train': len(data['train']), 'held_out': len(data['held_out'])}
    assert facts['instructions'] == [data['tasks'][str(t)] for t in facts['train']['tasks']]
    init_states = {d['init_state_id'] for d in data['train'] + data['held_out']}
    assert max(init_states) < facts['eval_first_init_state']  # evaluation states never seen
    stats = json.loads((MODEL / 'dataset_statistics.json').read_text())
    assert facts['unnorm_key'] in stats


def test_loads_through_model_io(fixture_obs: Observation) -> None:
    policy = model_io.load_pretrained(MODEL, device='cpu')
    assert policy.cfg.name == 'libero-demo'
    facts = card_facts()
    obs = replace(fixture_obs, instruction=facts['instructions'][0])
    chunk, _ = policy.predict_action_chunk(obs)
    assert chunk.shape == (policy.cfg.horizon, policy.cfg.action_dim)
    assert np.isfinite(chunk).all()


def test_loads_through_the_node_parameters(fixture_obs: Observation) -> None:
    prune_cfg = preset('libero_spatial')
    policy, engine = load_policy_for(NodeConfig(checkpoint=str(MODEL)), prune_cfg,
                                     logging.getLogger('test_shipped_model'))
    obs = replace(fixture_obs, instruction=card_facts()['instructions'][0])
    plain, _ = policy.predict_action_chunk(obs)
    warm, report = engine.predict_action_chunk(obs)  # warmup_queries=1: the first runs dense
    assert report.mode == 'warmup' and np.abs(warm - plain).max() <= 1e-5
    pruned, report = engine.predict_action_chunk(replace(obs, stamp=obs.stamp + 0.4))
    assert 0 < report.visual_per_layer[-1] < report.visual_tokens == 512
    assert np.isfinite(pruned).all()
    engine.set_config(prune_cfg.replace(enabled=False))  # parity on the shipped weights
    off, report = engine.predict_action_chunk(obs)
    assert report.mode == 'off' and np.abs(off - plain).max() <= 1e-5


@pytest.mark.parametrize('name', ['config.json', 'dataset_statistics.json'])
def test_json_files_parse(name: str) -> None:
    assert json.loads((MODEL / name).read_text())
