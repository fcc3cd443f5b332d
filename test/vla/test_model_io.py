"""Built-in model save/load: bit-exact round trip and clear errors on broken folders."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from safetensors.torch import load_file, save_file
import torch

from specprune_ros.errors import CheckpointError
from specprune_ros.vla.config import get_preset
from specprune_ros.vla.model import build_model
from specprune_ros.vla.model_io import load_pretrained, save_pretrained
from specprune_ros.vla.policy import builtin_norm_stats, VLAPolicy
from specprune_ros.vla.tokenizer import ByteTokenizer, oft_prompt, WordTokenizer


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


def test_statistics_file_and_unnorm_key(saved, tmp_path, tiny_policy) -> None:
    stats = json.loads((saved / 'dataset_statistics.json').read_text())
    assert list(stats) == ['builtin']
    assert json.loads((saved / 'config.json').read_text())['unnorm_key'] == 'builtin'
    d = _copy(saved, tmp_path)
    (d / 'dataset_statistics.json').unlink()
    with pytest.raises(CheckpointError, match=r'missing .*dataset_statistics\.json'):
        load_pretrained(d)
    stats['other'] = stats['builtin']
    (d / 'dataset_statistics.json').write_text(json.dumps(stats))
    other = load_pretrained(d, unnorm_key='other').norm_stats
    np.testing.assert_array_equal(other.proprio_q01, tiny_policy.norm_stats.proprio_q01)
    with pytest.raises(CheckpointError, match="unnorm_key 'nope' not found"):
        load_pretrained(d, unnorm_key='nope')


def test_folders_with_norm_stats_in_the_config_still_load(saved, tmp_path, tiny_policy) -> None:
    d = _copy(saved, tmp_path)
    meta = json.loads((d / 'config.json').read_text())
    meta['norm_stats'] = json.loads((d / 'dataset_statistics.json').read_text())
    for key in ('tokenizer', 'unnorm_key'):
        del meta[key]
    (d / 'config.json').write_text(json.dumps(meta))
    (d / 'dataset_statistics.json').unlink()
    loaded = load_pretrained(d)
    np.testing.assert_array_equal(loaded.norm_stats.action_q99, tiny_policy.norm_stats.action_q99)
    assert isinstance(loaded.tokenizer, ByteTokenizer)


def test_word_tokenizer_policy_round_trip(tmp_path, fixture_obs) -> None:
    tok = WordTokenizer.from_texts([oft_prompt(fixture_obs.instruction)[0]])
    cfg = get_preset('libero-demo', device='cpu', tokenizer='word')
    cfg = cfg.replace(llm=dataclasses.replace(cfg.llm, vocab_size=tok.vocab_size))
    stats = builtin_norm_stats()
    full = stats.to_dataset_statistics('libero_spatial_no_noops')
    full['libero_spatial_no_noops']['num_transitions'] = 7
    policy = VLAPolicy(build_model(cfg), tok, stats, cfg)
    out = save_pretrained(policy, tmp_path / 'm', 'libero_spatial_no_noops', full)
    assert json.loads((out / 'dataset_statistics.json').read_text()) == full
    loaded = load_pretrained(out)
    assert isinstance(loaded.tokenizer, WordTokenizer) and loaded.tokenizer.vocab == tok.vocab
    a, _ = policy.predict_action_chunk(fixture_obs)
    b, _ = loaded.predict_action_chunk(fixture_obs)
    assert np.array_equal(a, b)
    wrong = json.loads(json.dumps(full))
    wrong['libero_spatial_no_noops']['action']['q99'][0] += 1.0
    with pytest.raises(CheckpointError, match='action_q99 differs'):
        save_pretrained(policy, tmp_path / 'w', 'libero_spatial_no_noops', wrong)
    meta = json.loads((out / 'config.json').read_text())
    meta['tokenizer'] = {'type': 'byte'}
    (out / 'config.json').write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match the config's tokenizer='word'"):
        load_pretrained(out)
