"""The probe on policies built by hand: premises that hold are told so, and that fail, too."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses

import numpy as np
from synthetic_policy import focus_patches, synthetic_policy

from specprune_ros.tools.probe.report import summarize
from specprune_ros.tools.probe.run import measure, ProbeQuery, ProbeSettings

KS = (64, 128, 256)
SETTINGS = ProbeSettings(ks=KS, random_draws=2, attribution=2)


def _queries(obs) -> list[ProbeQuery]:
    """Four frames of one episode: the fixture, shifted a few pixels each time."""
    out = []
    for t in range(4):
        images = tuple(np.roll(im, 3 * t, axis=1) for im in obs.images)
        out.append(ProbeQuery('e', dataclasses.replace(obs, images=images, stamp=0.4 * t)))
    return out


def test_a_policy_that_attends_to_what_it_uses_meets_the_premises(fixture_obs) -> None:
    focus = focus_patches()
    policy = synthetic_policy(focus)
    records = measure(policy, _queries(fixture_obs), SETTINGS, [])
    summary = summarize(records, KS, 512)
    assert summary['hit_rate'][20] == 1.0  # layers 0-1 rank the marked patches as the last
    for signal in ('v_local', 'attribution', 'attention_all_layers', 'v_global'):
        assert summary['ratio_to_random'][signal][64] < 0.2, signal  # far better than random
    assert summary['errors']['v_local'][64] < 1e-3  # all 64 marked patches kept: no change
    assert summary['premises_hold'], summary['verdicts']


def test_uniform_attention_fails_the_attention_premises(fixture_obs) -> None:
    policy = synthetic_policy(focus_patches(), focused=False)
    records = measure(policy, _queries(fixture_obs), SETTINGS, [])
    summary = summarize(records, KS, 512)
    verdicts = {k: v['holds'] for k, v in summary['verdicts'].items()}
    assert not verdicts['early_layers'] and not verdicts['temporal']
    assert not verdicts['attention_ranks'] and not summary['premises_hold']
    assert summary['hit_rate'][20] < 0.3  # exact ties are broken at random, not by index
