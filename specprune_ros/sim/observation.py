"""What the simulator reports each control step, in the policy's conventions.

Orientation conventions (LIBERO / robosuite, as OpenVLA-OFT reads them):

* Images: LIBERO renders upside down (OpenGL row order, ``macros.IMAGE_CONVENTION = 'opengl'``);
  its HDF5 demos store them that way ("native"). OFT rotates both views by 180° before the
  policy sees them (``img[::-1, ::-1]``, "policy view"). :class:`SimObservation` holds the policy
  view; :func:`native_view` and :func:`policy_view` convert (a 180° rotation is its own inverse).
* Quaternions are (x, y, z, w). ``ee_quat`` is robosuite's ``robot0_eef_quat``: the hand body
  ``robot0_right_hand``, whose frame is 90° in yaw from the grip site that ``ee_pos`` and the
  OSC controller use.
* Axis-angle is robosuite's ``quat2axisangle``: angle ``2·acos(w)`` in [0, 2π], NOT the
  shortest rotation (a hand pointing down has an angle near π, either side of it).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, field
import io
import math
from typing import NamedTuple

import numpy as np
from PIL import Image


class ObjectPose(NamedTuple):
    """A body's world position (m) and orientation quaternion (x, y, z, w)."""

    pos: np.ndarray
    quat: np.ndarray


@dataclass(frozen=True)
class SimObservation:
    """The state after one control step (or after the reset's wait steps, ``step == 0``).

    The robot state (``ee_pos``, ``ee_quat``, ``ee_axis_angle``, ``gripper_qpos``,
    ``joint_pos``) is robosuite's own observables, exactly what LIBERO returns and OFT feeds
    its policy; robosuite samples them one physics substep (2 ms) before the control step
    ends. Images, velocities and object poses are read at the end of the step. Velocities
    are MuJoCo's ``mj_objectVelocity`` of the grip site ``gripper0_grip_site`` (the point
    ``ee_pos`` reports and the OSC controller drives): world-aligned axes, linear in m/s,
    angular in rad/s. Images are ``None`` when the step was not rendered.
    """

    step: int  # control steps since the wait ended
    timestamp: float  # s: step · 0.05
    agentview: np.ndarray | None  # (S, S, 3) uint8, third-person camera, policy view
    wrist: np.ndarray | None  # (S, S, 3) uint8, wrist camera, policy view
    ee_pos: np.ndarray  # (3,) m, grip site, world frame (robot0_eef_pos)
    ee_quat: np.ndarray  # (4,) x, y, z, w of the hand body (robot0_eef_quat)
    ee_axis_angle: np.ndarray  # (3,) rad, quat2axisangle(ee_quat)
    gripper_qpos: np.ndarray  # (2,) m, finger joints (robot0_gripper_qpos): ±0.04 open
    joint_pos: np.ndarray  # (7,) rad, arm joints (robot0_joint_pos)
    ee_lin_vel: np.ndarray  # (3,) m/s, measured, world frame
    ee_ang_vel: np.ndarray  # (3,) rad/s, measured, world frame
    objects: dict[str, ObjectPose] = field(default_factory=dict)  # privileged: expert only

    @property
    def proprio(self) -> np.ndarray:
        """OFT's 8-D proprio: EE position, axis-angle, gripper qpos (float64)."""
        return np.concatenate([self.ee_pos, self.ee_axis_angle, self.gripper_qpos])

    @property
    def images(self) -> list[np.ndarray]:
        """[third-person, wrist] in the policy view (raises when not rendered)."""
        if self.agentview is None or self.wrist is None:
            raise ValueError(f'step {self.step} was not rendered (pass render=True)')
        return [self.agentview, self.wrist]


def quat2axisangle(quat: np.ndarray) -> np.ndarray:
    """robosuite's ``transform_utils.quat2axisangle`` for an (x, y, z, w) quaternion.

    Angle ``2·acos(w)`` with w clipped to [-1, 1] (so in [0, 2π]); zero vector when the
    rotation is (numerically) the identity. Unlike robosuite, the input is not modified.
    """
    q = np.asarray(quat, dtype=np.float64)
    w = min(1.0, max(-1.0, float(q[3])))
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return q[:3] * 2.0 * math.acos(w) / den


def policy_view(native: np.ndarray) -> np.ndarray:
    """LIBERO's native (upside-down) render → what the OFT policy sees (rotated 180°)."""
    return np.ascontiguousarray(native[::-1, ::-1])


def native_view(policy: np.ndarray) -> np.ndarray:
    """The policy view → LIBERO's native orientation (as stored in LIBERO's HDF5 demos)."""
    return np.ascontiguousarray(policy[::-1, ::-1])


def oft_resize(image: np.ndarray, size: int) -> np.ndarray:
    """OFT's ``resize_image_for_policy``: JPEG round trip (quality 95), then Lanczos to size."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='JPEG', quality=95)
    pil = Image.open(io.BytesIO(buf.getvalue())).convert('RGB')
    return np.asarray(pil.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)
