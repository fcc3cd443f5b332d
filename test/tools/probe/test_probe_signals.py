"""The probe's arithmetic and runs (specprune_ros.tools.probe.signals) on the tiny model."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np
import pytest
import torch

from specprune_ros.errors import InputError
from specprune_ros.tools.probe.signals import (
    overlap,
    projection,
    QueryRunner,
    top_k,
)
from specprune_ros.vla.policy import VLAPolicy


def test_top_k_and_overlap_by_hand() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert sorted(top_k(scores, 2)) == [1, 3]
    assert sorted(top_k(scores, 3)) == [1, 2, 3]
    assert top_k(np.zeros(4), 2).tolist() == [0, 1]  # ties: the lower index first
    assert overlap(np.array([1, 2, 3, 4]), np.array([3, 4, 5, 6])) == 0.5
    assert overlap(np.array([7]), np.array([7])) == 1.0
    with pytest.raises(InputError):
        top_k(scores, 6)
    with pytest.raises(InputError):
        overlap(np.array([1, 2]), np.array([1]))


@pytest.fixture(scope='module')
def runner(tiny_policy, fixture_obs) -> QueryRunner:
    return QueryRunner(tiny_policy, fixture_obs, static_layer=1)


def test_keeping_every_token_is_the_unpruned_chunk(runner: QueryRunner) -> None:
    ref = runner.reference()
    np.testing.assert_array_equal(runner.cut(np.arange(runner.num_visual)), ref.chunk)
    assert np.abs(runner.cut(np.arange(32)) - ref.chunk).max() > 1e-4  # a cut changes it
    for group, att in ref.attention.items():  # every layer, every row group
        assert att.shape == (runner.policy.cfg.llm.num_layers, runner.num_visual), group
        assert np.all(att >= 0) and np.all(att.sum(1) <= 1.0 + 1e-5)
    with pytest.raises(InputError):
        runner.cut(np.array([runner.num_visual]))


def test_attribution_is_the_gradient_times_input(fixture_obs) -> None:
    policy = VLAPolicy.from_preset('tiny', device='cpu')
    policy.model.double()  # as far as transformers lets it (see below)
    run = QueryRunner(policy, fixture_obs, static_layer=1)
    attribution = run.attribution(projections=1, seed=3)
    w = projection(run.reference().chunk.shape, torch.Generator().manual_seed(3)).numpy()
    base = run.embeds.clone()

    def central(i: int, h: float) -> float:  # d/da <w, chunk(token i scaled by 1 + a)>
        values = []
        for a in (h, -h):
            run.embeds = base.clone()
            run.embeds[0, run.layout.visual.start + i] *= 1.0 + a
            values.append(float((run.cut(np.arange(run.num_visual)) * w).sum()))
        return (values[0] - values[1]) / (2 * h)

    # Transformers' RMSNorm computes in float32 even in a float64 model: the output carries
    # ~1e-7 of rounding, so a central difference of step h is only good to ~1e-7 / h (measured:
    # spread 2e-5 at h = 0.03, 1e-4 at 1e-3), and its truncation error at 0.03 is ~1e-3 of the
    # value. Values are 1e-3..4e-3: a wrong attribution (no "x input", wrong axis or rows) is
    # off by far more, and the ranking over many tokens must match
    tokens = np.arange(0, run.num_visual, 23)
    finite = np.array([abs(central(i, 0.03)) for i in tokens])
    np.testing.assert_allclose(finite, attribution[tokens], rtol=0.0, atol=6e-5)
    assert np.corrcoef(np.argsort(np.argsort(finite)),
                       np.argsort(np.argsort(attribution[tokens])))[0, 1] > 0.98
    run.embeds = base
