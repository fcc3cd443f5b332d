"""SimNodeConfig: the bridge's parameter schema and its simulator config (ROS-free)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest

from specprune_ros.errors import ConfigError
from specprune_ros.ros.sim_bridge.config import sim_specs, SimNodeConfig


def test_sim_node_config_validates_and_maps_to_the_simulator() -> None:
    cfg = SimNodeConfig(task_id=3, max_steps=16, render_size=0)
    sim = cfg.sim_config(7)
    assert (sim.task_id, sim.init_state_id, sim.max_steps, sim.render_size, sim.seed) == (
        3, 7, 16, None, 7)
    assert SimNodeConfig().sim_config(0).episode_steps == 220
    for bad in ({'render_size': 8}, {'suite': 'libero_99'}, {'action_source': 'twist'},
                {'image_every': 0}, {'control_rate': 0.0}):
        with pytest.raises(ConfigError):
            cfg.replace(**bad)


def test_every_field_is_a_described_parameter() -> None:
    specs = sim_specs()
    assert {s.name for s in specs} >= {'suite', 'task_id', 'init_state', 'episodes', 'seed',
                                       'camera_size', 'fast_render', 'real_time',
                                       'control_rate', 'action_source', 'image_every'}
    assert all(s.description for s in specs)
    assert {s.name for s in specs if not s.read_only} == {
        'image_every', 'action_timeout', 'start_timeout', 'start_on_action', 'chunk_steps',
        'gripper_mode', 'frame_id'}
