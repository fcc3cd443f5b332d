"""Suite constants of the OpenVLA-OFT LIBERO protocol and the simulator's configuration."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import json

from specprune_ros.errors import InputError, SpecPruneError

# Policy steps per episode after the wait (openvla-oft's experiments/robot/libero eval).
MAX_STEPS = {'libero_spatial': 220, 'libero_object': 280, 'libero_goal': 300,
             'libero_10': 520, 'libero_90': 400}
SUITES = tuple(MAX_STEPS)
WAIT_STEPS = 10  # no-op steps at the start of each episode while the objects settle
NOOP_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # hold still, gripper open
CONTROL_PERIOD = 0.05  # s: LIBERO runs its OSC_POSE controller at 20 Hz
AGENTVIEW = 'agentview'  # LIBERO's third-person camera
WRIST = 'robot0_eye_in_hand'  # the wrist camera


class SimError(SpecPruneError, RuntimeError):
    """The simulator is missing or was used out of order (e.g. a step after the episode ended)."""


class SimUnavailableError(SimError, ImportError):
    """LIBERO (or its simulator) cannot be imported; the message says what to install."""


@dataclass(frozen=True)
class SimConfig:
    """Everything that decides what one LIBERO episode looks like.

    Two runs with equal configs see the same states and frames (hard resets, seeded). The
    render fields change the images: a policy must be evaluated with the settings its training
    data was rendered with (the recorder stores this config in the HDF5 file).
    """

    suite: str = 'libero_spatial'
    task_id: int = 0
    init_state_id: int = 0
    seed: int = 0  # np.random seed before every hard reset (fixture placement)
    cameras: bool = True  # False: states only, no GL context is ever created
    camera_size: int = 224  # side of the square images the policy sees
    render_size: int | None = None  # render at this side, then OFT's JPEG + Lanczos resize
    fast_render: bool = False  # no MSAA, no reflections (≈2× faster, visibly different)
    hard_reset: bool = True  # rebuild the MJCF on reset: history-free episodes
    wait_steps: int = WAIT_STEPS
    max_steps: int | None = None  # None: the suite's OFT limit (MAX_STEPS)

    def __post_init__(self) -> None:
        if self.suite not in MAX_STEPS:
            raise InputError(f'unknown LIBERO suite {self.suite!r}; expected one of {SUITES}')
        for name in ('task_id', 'init_state_id', 'seed', 'wait_steps'):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f'{name} must be an int >= 0, got {value!r}')
        if not 16 <= self.camera_size <= 1024:
            raise InputError(f'camera_size must be in 16..1024, got {self.camera_size}')
        if self.render_size is not None and not 16 <= self.render_size <= 1024:
            raise InputError(f'render_size must be None or in 16..1024, got {self.render_size}')
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f'max_steps must be None or >= 1, got {self.max_steps}')

    @property
    def episode_steps(self) -> int:
        """Policy steps allowed after the wait (the suite's limit unless overridden)."""
        return self.max_steps if self.max_steps is not None else MAX_STEPS[self.suite]

    def replace(self, **changes: object) -> SimConfig:
        """A copy with fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def render_settings(self) -> dict[str, object]:
        """The fields that change the pixels (stored with recorded data)."""
        return {'camera_size': self.camera_size, 'render_size': self.render_size,
                'fast_render': self.fast_render}

    def to_json(self) -> str:
        """The config as a JSON object."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)
