"""What an episode loop needs of a simulator: the :class:`Env` protocol (LiberoEnv's shape).

Beside :mod:`specprune_ros.sim.env`, which implements it; the evaluation's episode loop and the
probe take any ``Env``.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from typing import Protocol

import numpy as np

from specprune_ros.sim.observation import SimObservation


class Env(Protocol):
    """The part of :class:`specprune_ros.sim.env.LiberoEnv` an episode uses."""

    instruction: str
    done: bool

    def reset(self, init_state_id: int | None = None, render: bool | None = None
              ) -> SimObservation:
        """Hard reset + wait steps."""

    def step(self, action: np.ndarray, render: bool | None = None
             ) -> tuple[SimObservation, bool]:
        """One control step."""

    def observe(self, render: bool | None = None) -> SimObservation:
        """The current observation."""

    def success(self) -> bool:
        """LIBERO's success check."""
