"""The robot's end-effector state in the policy's terms: pose, rotations, OFT's proprio vector.

Quaternions are (x, y, z, w), as in geometry_msgs and scipy; the rotation algebra is
:class:`scipy.spatial.transform.Rotation`. LIBERO's proprio uses robosuite's
``quat2axisangle`` (angle 2 acos(w) up to 2 pi, the sign of q matters), which
:func:`quat_to_axis_angle` reproduces with ``shortest=False``.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from scipy.spatial.transform import Rotation

from specprune_ros.errors import InputError


def finite_vector(value: object, size: int, what: str) -> np.ndarray:
    """Return ``value`` as a finite float64 vector of ``size`` elements or raise ValueError."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{what} must be {size} numbers, got {value!r}') from exc
    if arr.shape != (size,):
        raise ValueError(f'{what} must have shape ({size},), got {arr.shape}')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{what} must be finite, got {arr.tolist()}')
    return arr


def finite_number(value: object, what: str) -> float:
    """Return ``value`` as a finite float or raise ValueError."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{what} must be a finite number, got {value!r}') from exc
    if not math.isfinite(out):
        raise ValueError(f'{what} must be a finite number, got {out!r}')
    return out


def quat_normalize(q: object) -> np.ndarray:
    """Unit quaternion (x, y, z, w); rejects wrong shape, NaN/inf and the zero quaternion."""
    arr = finite_vector(q, 4, 'quaternion (x, y, z, w)')
    norm = float(np.linalg.norm(arr))
    if norm < 1e-12:
        raise ValueError(f'quaternion (x, y, z, w) must be non-zero, got {arr.tolist()}')
    return arr / norm


def relative_rotation_angle(q_a: object, q_b: object) -> float:
    """Angle in [0, pi] of the rotation q_a^{-1} q_b (q and -q give the same result)."""
    rel = Rotation.from_quat(quat_normalize(q_a)).inv() * Rotation.from_quat(quat_normalize(q_b))
    return float(rel.magnitude())


def axis_angle_to_quat(rotvec: object) -> np.ndarray:
    """Quaternion (x, y, z, w) of a rotation vector (axis * angle, radians; LIBERO proprio).

    The angle may exceed pi (LIBERO's convention): the quaternion then has w < 0, so that
    ``quat_to_axis_angle(q, shortest=False)`` gives the same vector back.
    """
    r = finite_vector(rotvec, 3, 'axis-angle rotation vector')
    return Rotation.from_rotvec(r).as_quat(canonical=False)


def quat_to_axis_angle(q: object, shortest: bool = True) -> np.ndarray:
    """Rotation vector (axis * angle) of a quaternion (x, y, z, w).

    ``shortest``: the angle is in [0, pi] and q, -q give the same vector (for speeds).
    ``shortest=False``: robosuite's ``quat2axisangle`` convention, which LIBERO's proprio
    (and so OFT's training data) uses: angle = 2 acos(w) in [0, 2 pi], so the sign of q
    matters; a full turn (w = -1) gives the zero vector, as there.
    """
    u = quat_normalize(q)
    if shortest:
        return Rotation.from_quat(u).as_rotvec()
    sin_half = float(np.linalg.norm(u[:3]))
    if sin_half < 1e-12:
        if u[3] < 0.0:
            return np.zeros(3)
        return u[:3] * (2.0 / float(u[3]))  # small angle: angle/sin_half -> 2/w
    return u[:3] * (2.0 * math.atan2(sin_half, float(u[3])) / sin_half)


@dataclass(frozen=True)
class EEState:
    """End-effector pose: ``stamp`` [s], ``position`` (3,) [m], ``orientation`` (x, y, z, w).

    The orientation is normalised; arrays are stored read-only float64.
    """

    stamp: float
    position: np.ndarray
    orientation: np.ndarray

    def __post_init__(self) -> None:
        """Validate and normalise the fields (ValueError says what is expected)."""
        stamp = finite_number(self.stamp, 'EEState.stamp (seconds)')
        position = finite_vector(self.position, 3, 'EEState.position (x, y, z in metres)')
        orientation = quat_normalize(self.orientation)
        position.setflags(write=False)
        orientation.setflags(write=False)
        object.__setattr__(self, 'stamp', stamp)
        object.__setattr__(self, 'position', position)
        object.__setattr__(self, 'orientation', orientation)

    @classmethod
    def from_axis_angle(cls, stamp: float, position: object, rotvec: object) -> EEState:
        """Build from a position and an axis-angle orientation (LIBERO's eef state layout)."""
        return cls(stamp, np.asarray(position), axis_angle_to_quat(rotvec))


def ee_state_to_proprio(state: EEState, gripper: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Return the (8,) OFT LIBERO proprio vector: position (3), axis-angle (3), gripper (2).

    The axis-angle follows robosuite/LIBERO (angle 2 acos(w) in [0, 2 pi], see
    :func:`quat_to_axis_angle`): a pose published with the simulator's quaternion gives
    exactly the proprio the policy was trained on.
    """
    grip = np.asarray(gripper, dtype=np.float64).reshape(-1)
    if grip.shape != (2,) or not np.all(np.isfinite(grip)):
        raise InputError(f'gripper must be 2 finite numbers, got {np.asarray(gripper).tolist()}')
    return np.concatenate([np.asarray(state.position, dtype=np.float64),
                           quat_to_axis_angle(state.orientation, shortest=False), grip])
