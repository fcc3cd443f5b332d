"""Orientation and rotation conventions, against robosuite's own functions where installed."""

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
from scipy.spatial.transform import Rotation
from sim_support import needs_libero

from specprune_ros.errors import InputError
from specprune_ros.sim import native_view, oft_resize, policy_view, quat2axisangle, SimConfig


def _quats(n: int = 200) -> np.ndarray:
    q = Rotation.random(n, random_state=3).as_quat()  # x, y, z, w
    q[: n // 2] *= -1.0  # both hemispheres: w < 0 gives angles above π
    return np.vstack([q, [0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, -1]])


def test_axis_angle_is_libero_not_shortest() -> None:
    for q in _quats():
        aa = quat2axisangle(q)
        angle = np.linalg.norm(aa)
        assert 0.0 <= angle <= 2 * np.pi + 1e-9
        identity = np.isclose(np.sqrt(1.0 - q[3] ** 2), 0.0)  # w = ±1: robosuite gives 0
        assert np.isclose(angle, 0.0 if identity else 2 * np.arccos(q[3]), atol=1e-7)
        if angle > 1e-6:  # same rotation as the quaternion, whichever side of π
            assert np.allclose(Rotation.from_rotvec(aa).as_matrix(),
                               Rotation.from_quat(q).as_matrix(), atol=1e-7)
    hand_down = Rotation.from_euler('x', 180.0 + 5.0, degrees=True).as_quat()
    hand_down *= -1 if hand_down[3] > 0 else 1  # w < 0: robosuite reports the long way round
    assert np.linalg.norm(quat2axisangle(hand_down)) > np.pi  # not scipy's as_rotvec (≤ π)


@needs_libero
def test_axis_angle_equals_robosuite() -> None:
    import robosuite.utils.transform_utils as T

    for q in _quats():
        assert np.allclose(quat2axisangle(q), T.quat2axisangle(q.copy()), atol=1e-12)


def test_policy_view_is_a_180_degree_rotation() -> None:
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    view = policy_view(img)
    assert view.flags['C_CONTIGUOUS'] and view.shape == img.shape
    assert np.array_equal(view[0, 0], img[-1, -1]) and np.array_equal(view[-1, 0], img[0, -1])
    assert np.array_equal(np.rot90(img, 2), view)
    assert np.array_equal(native_view(view), img)


def test_oft_resize_shape_and_content() -> None:
    y, x = np.mgrid[0:256, 0:256]
    img = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
    out = oft_resize(img, 224)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    assert abs(float(out[..., 0].mean()) - float(img[..., 0].mean())) < 2.0


@pytest.mark.parametrize('field, value', [('suite', 'libero_11'), ('task_id', -1),
                                          ('camera_size', 8), ('max_steps', 0)])
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(InputError, match=field if field != 'suite' else 'suite'):
        SimConfig(**{field: value})


def test_config_limits() -> None:
    assert SimConfig().episode_steps == 220
    assert SimConfig(suite='libero_10').episode_steps == 520
    assert SimConfig(max_steps=16).episode_steps == 16
