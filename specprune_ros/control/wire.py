"""What action chunks and actions are on the wire: float32, the chunk clamped to the bounds.

The policy node clamps each chunk to ``action_low``/``action_high`` and sends it as float32
(specprune_ros/ActionChunk); the executor sends each action as float32 (specprune_ros/Action).
Stamps travel as sec/nanosec: two that differ by less than :data:`SAME_INSTANT` are one instant.
``specprune-eval --via-executor`` applies the same two steps (:func:`clamp_actions`,
:func:`as_sent`), so an evaluated episode equals the same episode over DDS. ROS-free.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np

SAME_INSTANT = 1e-6  # s: stamps carried as sec/nanosec (ns) compare equal within this


def clamp_actions(actions: np.ndarray, low: tuple[float, ...], high: tuple[float, ...]
                  ) -> np.ndarray | None:
    """Actions as float32 clipped per dimension to [low, high]; None if any is not finite."""
    arr = np.asarray(actions, dtype=np.float32)
    if not np.isfinite(arr).all():
        return None
    return np.clip(arr, np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32))


def as_sent(values: np.ndarray) -> np.ndarray:
    """``values`` as a float32 message field carries them, back in float64."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)
