"""The executor's parameter schema: per-dimension limits, one value for every dimension."""

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

from specprune_ros.control.executor_config import ExecutorConfig
from specprune_ros.errors import ConfigError


def test_one_value_each_applies_to_every_dimension() -> None:
    cfg = ExecutorConfig(action_low=(-2.0,), action_high=(3.0,), max_delta=(0.5,))
    low, high, delta = cfg.limits(7)
    assert low.tolist() == [-2.0] * 7 and high.tolist() == [3.0] * 7
    assert delta.tolist() == [0.5] * 7
    assert ExecutorConfig(action_low=(-1.0,), action_high=(1.0,), gripper_index=-1).limits(
        1)[0].tolist() == [-1.0]
    with pytest.raises(ConfigError, match='gripper_index=6 is outside an action of 3 values'):
        cfg.limits(3)


def test_inconsistent_limits_are_refused() -> None:
    with pytest.raises(ConfigError, match=r'action_low\[0\]=2.0 is above action_high\[0\]=1.0'):
        ExecutorConfig(action_low=(2.0,), action_high=(1.0,))
    with pytest.raises(ConfigError, match='have 2, 7 and 1 values'):
        ExecutorConfig(action_low=(-1.0, -1.0))
    lows = np.full(7, -1.0)
    lows[3] = 0.5
    with pytest.raises(ConfigError, match=r'action_low\[3\]=0.5 is above action_high\[3\]=0.25'):
        ExecutorConfig(action_low=tuple(lows), action_high=(1.0, 1.0, 1.0, 0.25, 1.0, 1.0, 1.0))
