"""What drives the method and its baselines alike: the :class:`Runner` protocol. Torch-free.

:class:`~specprune_ros.specprune.engine.SpecPruneEngine` and
:class:`~specprune_ros.specprune.baselines.BaselineEngine` implement it; the evaluation's
episode loop, the probe and the node call it.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from typing import Protocol, TYPE_CHECKING

import numpy as np

from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import EEState

if TYPE_CHECKING:  # the policy module imports torch
    from specprune_ros.vla.policy import Observation


class Runner(Protocol):
    """A SpecPrune engine or a baseline engine, as an episode loop drives it."""

    def reset(self) -> None:
        """New episode."""

    def update_pose(self, state: EEState) -> None:
        """Measured EE pose."""

    def update_twist(self, stamp: float, linear: np.ndarray, angular: np.ndarray) -> None:
        """Measured EE twist."""

    def predict_action_chunk(self, obs: Observation, now: float | None = None
                             ) -> tuple[np.ndarray, StepReport]:
        """One policy query."""
