"""The action space of LIBERO-trained OpenVLA-OFT policies: dimensions, units, the gripper rule.

An action is 7 values: dx, dy, dz (one unit = :data:`TRANSLATION_M` = 0.05 m with LIBERO's
OSC controller), the axis-angle rotation delta (one unit = :data:`ROTATION_RAD` = 0.5 rad),
and the gripper. The model outputs the gripper as 1 = open … 0 = close; LIBERO takes -1 = open,
+1 = close. OpenVLA-OFT maps one to the other in two steps (:func:`normalize_gripper_action`
with binarisation, then :func:`invert_gripper_action`), i.e. ``-sign(2g - 1)``: the
``oft_libero`` mode of :func:`gripper_sign`; ``sign`` takes a policy that outputs LIBERO's
convention already. An exact 0 (g = 0.5) means "no command": :func:`binarise_gripper` keeps the
previous one. The one home of this rule: the executor, the bridge, the evaluation and the
training data use it from here. numpy only.
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

LIBERO_ACTION_DIM = 7
GRIPPER_INDEX = LIBERO_ACTION_DIM - 1
TRANSLATION_M = 0.05  # metres per unit of dx, dy, dz (LIBERO's OSC)
ROTATION_RAD = 0.5  # radians per unit of the axis-angle delta
OPEN, CLOSE = -1.0, 1.0  # LIBERO's gripper commands
GRIPPER_MODES = ('oft_libero', 'sign')


def normalize_gripper_action(action: np.ndarray, binarize: bool = True) -> np.ndarray:
    """OFT's first step: last dim from [0, 1] to [-1, +1] (``2x - 1``), then ``sign``.

    A copy; other dims are untouched. As OFT, an exact 0.5 maps to 0 (``sign(0) = 0``).
    """
    out = np.array(action, dtype=np.float64, copy=True)
    out[..., -1] = 2.0 * out[..., -1] - 1.0
    if binarize:
        out[..., -1] = np.sign(out[..., -1])
    return out


def invert_gripper_action(action: np.ndarray) -> np.ndarray:
    """OFT's second step: flip the last dim (the model's 1 = open → LIBERO's -1). A copy."""
    out = np.array(action, dtype=np.float64, copy=True)
    out[..., -1] *= -1.0
    return out


def gripper_sign(raw: np.ndarray | float, mode: str = 'oft_libero') -> np.ndarray:
    """LIBERO's gripper command (-1, +1, or 0 for "none") of raw policy outputs."""
    if mode not in GRIPPER_MODES:
        raise ValueError(f'gripper mode must be one of {GRIPPER_MODES}, got {mode!r}')
    raw = np.asarray(raw, dtype=np.float64)
    if mode == 'sign':
        return np.sign(raw)
    return invert_gripper_action(normalize_gripper_action(raw[..., None]))[..., 0]


def binarise_gripper(raw: float, mode: str, previous: float) -> float:
    """One command: :func:`gripper_sign`, or ``previous`` when that is 0."""
    sign = float(gripper_sign(raw, mode))
    return sign if sign != 0.0 else float(previous)


def model_gripper(libero: np.ndarray) -> np.ndarray:
    """LIBERO's gripper command (-1 open … +1 close) → the model's target (1 open … 0 close)."""
    return 1.0 - np.clip(np.asarray(libero, dtype=np.float64), 0.0, 1.0)
