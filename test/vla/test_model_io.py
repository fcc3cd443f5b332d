"""Built-in model save/load: bit-exact round trip and clear errors on broken folders."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file, save_file
import torch

from specprune_ros.errors import CheckpointError
from specprune_ros.vla.model_io import load_pretrained, save_pretrained


@pytest.fixture(scope='module')
def saved(tmp_path_factory, tiny_policy):
    """A saved tiny policy."""
    return save_pretrained(tiny_policy, tmp_path_factory.mktemp('tiny'))


def test_round_trip_is_bit_exact(saved, tiny_policy, fixture_obs):
    loaded = load_pretrained(saved)
    ref = tiny_policy.model.state_dict()
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, ref[key]), key
    a, _ = tiny_policy.predict_action_chunk(fixture_obs)
    b, _ = loaded.predict_action_chunk(fixture_obs)
    assert np.array_equal(a, b)


def _copy(saved, tmp_path):
    for f in saved.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    return tmp_path


def test_missing_weights(saved, tmp_path):
    d = _copy(saved, tmp_path)
    (d / 'model.safetensors').unlink()
    with pytest.raises(CheckpointError, match=r'missing .*model\.safetensors'):
        load_pretrained(d)


def test_corrupt_config(saved, tmp_path):
    d = _copy(saved, tmp_path)
    (d / 'config.json').write_text('{not json')
    with pytest.raises(CheckpointError, match='not valid JSON'):
        load_pretrained(d)


def test_wrong_format_points_to_oft_loader(saved, tmp_path):
    d = _copy(saved, tmp_path)
    (d / 'config.json').write_text(json.dumps({'architectures': ['OpenVLAForActionPrediction']}))
    with pytest.raises(CheckpointError, match='load_policy'):
        load_pretrained(d)


def test_corrupt_weights(saved, tmp_path):
    d = _copy(saved, tmp_path)
    (d / 'model.safetensors').write_bytes(b'\x00' * 64)
    with pytest.raises(CheckpointError, match='not a readable safetensors'):
        load_pretrained(d)


def test_shape_mismatch_and_missing_key(saved, tmp_path):
    d = _copy(saved, tmp_path)
    state = load_file(str(d / 'model.safetensors'))
    state['projector.fc3.bias'] = torch.zeros(3)
    save_file(state, str(d / 'model.safetensors'))
    with pytest.raises(CheckpointError, match=r'projector.fc3.bias has shape \(3,\), expected'):
        load_pretrained(d)
    del state['projector.fc3.bias']
    save_file(state, str(d / 'model.safetensors'))
    with pytest.raises(CheckpointError, match='missing keys'):
        load_pretrained(d)
