"""The policy API on the real LIBERO fixture, and its bad-input errors."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from conftest import make_obs
import numpy as np
import pytest

from specprune_ros.errors import InputError, ModelConfigError
from specprune_ros.vla.policy import builtin_norm_stats, NormStats, VLAPolicy
from specprune_ros.vla.tokenizer import ByteTokenizer, oft_prompt


def test_fixture_gives_finite_8x7_chunk(tiny_policy, fixture_obs):
    actions, report = tiny_policy.predict_action_chunk(fixture_obs)
    assert actions.shape == (8, 7) and actions.dtype == np.float32
    assert np.isfinite(actions).all()
    prompt_len = len(ByteTokenizer().encode(oft_prompt(fixture_obs.instruction)[0])[0])
    assert report.tokens_total == 1 + 512 + 1 + prompt_len + 8 * 7 + 1
    assert report.visual_tokens == 512
    for stage in ('preprocess_ms', 'vision_ms', 'llm_ms', 'head_ms', 'total_ms'):
        assert getattr(report, stage) > 0
    assert report.total_ms >= report.vision_ms + report.llm_ms


def test_any_image_size_is_resized(tiny_policy, fixture_obs):
    big = tuple(np.repeat(np.repeat(im, 2, axis=0), 2, axis=1) for im in fixture_obs.images)
    actions, _ = tiny_policy.predict_action_chunk(make_obs(fixture_obs, images=big))
    assert actions.shape == (8, 7) and np.isfinite(actions).all()


def test_same_input_same_actions(tiny_policy, fixture_obs):
    a, _ = tiny_policy.predict_action_chunk(fixture_obs)
    b, _ = tiny_policy.predict_action_chunk(fixture_obs)
    assert np.array_equal(a, b)


@pytest.mark.parametrize('change, message', [
    (lambda o: dict(images=(o.images[0].astype(np.float32), o.images[1])), 'dtype uint8'),
    (lambda o: dict(images=(o.images[0][..., :1], o.images[1])), r'shape \(H, W, 3\)'),
    (lambda o: dict(images=(np.dstack([o.images[0], o.images[0][..., :1]]), o.images[1])),
     r'shape \(H, W, 3\)'),
    (lambda o: dict(images=(o.images[0],)), 'expected 2 images'),
    (lambda o: dict(images=(o.images[0], o.images[1][:5, :5])), 'too small'),
    (lambda o: dict(images=(o.images[0], 'wrist.png')), 'numpy RGB uint8'),
    (lambda o: dict(proprio=np.array([np.nan] + [0.0] * 7)), 'NaN/inf'),
    (lambda o: dict(proprio=np.array([np.inf] + [0.0] * 7)), 'NaN/inf'),
    (lambda o: dict(proprio=np.zeros(7)), r'expected shape \(8,\)'),
    (lambda o: dict(instruction='   '), 'instruction is empty'),
    (lambda o: dict(instruction=None), 'instruction is empty'),
])
def test_bad_input_is_a_clear_error(tiny_policy, fixture_obs, change, message):
    with pytest.raises(InputError, match=message):
        tiny_policy.predict_action_chunk(make_obs(fixture_obs, **change(fixture_obs)))


def test_unknown_preset():
    with pytest.raises(ModelConfigError, match=r"unknown preset 'huge'.*tiny"):
        VLAPolicy.from_preset('huge')


def test_norm_stats_round_trip_and_formulas():
    stats = builtin_norm_stats()
    again = NormStats.from_dataset_statistics(stats.to_dataset_statistics('k'), 'k')
    assert np.array_equal(again.action_q99, stats.action_q99)
    x = np.array([-1.0, 1.0, 0.0, 0.5, -0.5, 0.25, 0.7])
    a = stats.unnormalize_actions(x)
    assert a[0] == pytest.approx(stats.action_q01[0])
    assert a[1] == pytest.approx(stats.action_q99[1])
    assert a[6] == 0.7  # gripper is masked out: left as is
    p = stats.normalize_proprio(stats.proprio_q99 + 10)
    assert np.all(p == 1.0)


def test_unnorm_key_errors_list_keys():
    stats = builtin_norm_stats().to_dataset_statistics('a')
    stats.update(builtin_norm_stats().to_dataset_statistics('b'))
    with pytest.raises(ValueError, match=r"available: \['a', 'b'\]"):
        NormStats.from_dataset_statistics(stats, 'c')
    with pytest.raises(ValueError, match='unnorm_key is required'):
        NormStats.from_dataset_statistics(stats, None)


def test_report_carries_the_model_input_views(fixture_obs):
    policy = VLAPolicy.from_preset('tiny', device='cpu', center_crop=True)
    big = tuple(np.repeat(np.repeat(im, 2, axis=0), 2, axis=1) for im in fixture_obs.images)
    obs = make_obs(fixture_obs, images=big)
    _, report = policy.predict_action_chunk(obs)
    assert [im.shape for im in report.images] == [(224, 224, 3)] * 2
    assert np.array_equal(report.images[0], policy.prepare(obs).images[0])
    assert not np.array_equal(report.images[0], fixture_obs.images[0])  # cropped: not the raw
