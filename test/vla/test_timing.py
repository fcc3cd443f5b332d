"""StageTimer: per-stage wall times without a sync between the stages."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import time

import pytest
import torch

from specprune_ros.vla.timing import StageTimer

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device', DEVICES)
def test_stages_measure_their_own_wall_time(device):
    timer = StageTimer(device)
    with timer.stage('short'):
        time.sleep(0.01)
    with timer.stage('long'):
        time.sleep(0.05)
        torch.ones(64, 64, device=device).sum()
    ms = timer.elapsed_ms()
    assert list(ms) == ['short', 'long']
    assert 10.0 <= ms['short'] < ms['long'] and ms['long'] >= 50.0


def test_step_report_has_every_stage(tiny_policy, fixture_obs):
    _, report = tiny_policy.predict_action_chunk(fixture_obs)
    stages = [report.preprocess_ms, report.vision_ms, report.llm_ms, report.head_ms]
    assert all(t > 0 for t in stages)
    assert sum(stages) <= report.total_ms
