"""A synthetic moving sequence built from the real LIBERO fixture.

The end effector first moves fast (coarse mode), then descends slowly (fine mode). The wrist
camera's view shifts with the end effector's xy motion and a pasted object slides through the
third-person view, so frame differences (V_dynamic) are real pixel changes.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specprune_ros.vla.policy import Observation
from specprune_ros.vla.state import ee_state_to_proprio, EEState

PIXELS_PER_METRE = 150.0  # wrist-camera image shift per metre of EE xy motion
PAD = 48  # margin the wrist window can slide in


@dataclass(frozen=True)
class SequenceStep:
    """One step: the observation and the measured EE pose at the same stamp."""

    observation: Observation
    pose: EEState
    phase: str  # 'fast' | 'slow'


def ee_trajectory(steps: int, start: np.ndarray, period: float = 0.05,
                  fast_fraction: float = 0.5) -> list[tuple[str, np.ndarray]]:
    """Positions: fast xy sweep (0.03 m/step), then slow descent (−0.005 m/step in z)."""
    out, pos = [], np.asarray(start, dtype=np.float64).copy()
    n_fast = round(steps * fast_fraction)
    for i in range(steps):
        phase = 'fast' if i < n_fast else 'slow'
        delta = np.array([0.024, 0.018, 0.0]) if phase == 'fast' else np.array(
            [0.0015, -0.001, -0.005])
        if i:
            pos = pos + delta
        out.append((phase, pos.copy()))
    return out


def _paste(image: np.ndarray, y: int, x: int, size: int = 24) -> np.ndarray:
    out = image.copy()
    h, w = out.shape[:2]
    y0, x0 = max(0, y), max(0, x)
    y1, x1 = min(h, y + size), min(w, x + size)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = (220, 40, 40)
    return out


def synthetic_sequence(base: Observation, steps: int = 24, period: float = 0.05,
                       fast_fraction: float = 0.5) -> list[SequenceStep]:
    """``steps`` observations + poses; ``base`` supplies images, state layout and task."""
    third, wrist = base.images
    state = np.asarray(base.proprio, dtype=np.float64)
    padded = np.pad(wrist, ((PAD, PAD), (PAD, PAD), (0, 0)), mode='edge')
    h, w = wrist.shape[:2]
    traj = ee_trajectory(steps, state[:3], period, fast_fraction)
    origin = traj[0][1]
    orientation = EEState.from_axis_angle(0.0, state[:3], state[3:6]).orientation
    seq, obj_x = [], 10.0
    for i, (phase, pos) in enumerate(traj):
        shift = np.clip(np.round((pos - origin)[:2] * PIXELS_PER_METRE), -PAD, PAD).astype(int)
        wrist_i = padded[PAD + shift[1]:PAD + shift[1] + h, PAD + shift[0]:PAD + shift[0] + w]
        obj_x += 9.0 if phase == 'fast' else 1.0
        third_i = _paste(third, 150, int(obj_x))
        pose = EEState(i * period, pos, orientation)
        obs = Observation(images=(third_i, np.ascontiguousarray(wrist_i)),
                          proprio=ee_state_to_proprio(pose, state[6:8]),
                          instruction=base.instruction, stamp=pose.stamp)
        seq.append(SequenceStep(obs, pose, phase))
    return seq
