"""Tests of specprune_ros.specprune.controller (quaternions and the action-aware controller)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st
import numpy as np
import pytest

from specprune_ros.specprune.controller import ActionAwareController
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.state import (
    axis_angle_to_quat,
    EEState,
    quat_normalize,
    quat_to_axis_angle,
    relative_rotation_angle,
)

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])

quats = st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4).filter(
    lambda q: np.linalg.norm(q) > 1e-3)
rotvecs = st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3)


def about(axis, angle):
    """Quaternion (x, y, z, w) of ``angle`` radians about unit ``axis``."""
    return axis_angle_to_quat(np.asarray(axis, float) * angle)


# --- quaternions -----------------------------------------------------------------------------

def test_relative_angle_known_rotations():
    z90 = np.array([0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    assert relative_rotation_angle(IDENTITY, z90) == pytest.approx(math.pi / 2, abs=1e-12)
    assert relative_rotation_angle(z90, IDENTITY) == pytest.approx(math.pi / 2, abs=1e-12)
    assert relative_rotation_angle(z90, -z90) == pytest.approx(0.0, abs=1e-12)
    assert relative_rotation_angle(IDENTITY, [1.0, 0.0, 0.0, 0.0]) == pytest.approx(math.pi)
    # Precision at both ends (2*acos(|w|) would give 0 and lose digits near pi).
    tiny = relative_rotation_angle(IDENTITY, about([1, 0, 0], 1e-9))
    assert tiny == pytest.approx(1e-9, rel=1e-6)
    near_pi = relative_rotation_angle(IDENTITY, about([0, 1, 0], math.pi - 1e-7))
    assert near_pi == pytest.approx(math.pi - 1e-7, abs=1e-12)
    # Unnormalised input is normalised first.
    assert relative_rotation_angle(2 * IDENTITY, 3 * z90) == pytest.approx(math.pi / 2)


def test_relative_angle_is_rotation_difference():
    a = about([0, 0, 1], 0.3)
    b = about([0, 0, 1], 1.0)
    assert relative_rotation_angle(a, b) == pytest.approx(0.7)
    # Rotations about different axes: angle of q_a^{-1} q_b, not the difference of angles.
    x90, y90 = about([1, 0, 0], math.pi / 2), about([0, 1, 0], math.pi / 2)
    assert relative_rotation_angle(x90, y90) == pytest.approx(2 * math.pi / 3)


@given(quats, quats)
def test_relative_angle_symmetric_and_sign_invariant(qa, qb):
    qa, qb = np.array(qa), np.array(qb)
    ang = relative_rotation_angle(qa, qb)
    assert 0.0 <= ang <= math.pi
    for a, b in [(qb, qa), (-qa, qb), (qa, -qb), (-qa, -qb)]:
        assert relative_rotation_angle(a, b) == pytest.approx(ang, abs=1e-9)
    assert relative_rotation_angle(qa, qa) == pytest.approx(0.0, abs=1e-7)


@given(rotvecs)
def test_axis_angle_round_trip(r):
    r = np.array(r)
    assume(np.linalg.norm(r) < math.pi - 1e-6)
    q = axis_angle_to_quat(r)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    np.testing.assert_allclose(quat_to_axis_angle(q), r, atol=1e-9)
    np.testing.assert_allclose(quat_to_axis_angle(-q), r, atol=1e-9)
    assert relative_rotation_angle(IDENTITY, q) == pytest.approx(np.linalg.norm(r), abs=1e-9)


@given(rotvecs)
def test_libero_axis_angle_keeps_angles_up_to_two_pi(r):
    """shortest=False is robosuite's quat2axisangle: 2 acos(w) * xyz / sqrt(1 - w^2)."""
    r = 2.0 * np.array(r)
    assume(1e-6 < np.linalg.norm(r) < 2.0 * math.pi - 1e-3)
    q = axis_angle_to_quat(r)
    out = quat_to_axis_angle(q, shortest=False)
    np.testing.assert_allclose(out, r, atol=1e-8)
    robosuite = q[:3] * 2.0 * math.acos(q[3]) / math.sqrt(1.0 - q[3] * q[3])
    np.testing.assert_allclose(out, robosuite, atol=1e-6)
    if np.linalg.norm(r) > math.pi:  # the sign of q matters in this convention
        assert np.linalg.norm(quat_to_axis_angle(-q, shortest=False)) < math.pi


def test_libero_axis_angle_of_a_full_turn_is_zero():
    np.testing.assert_array_equal(quat_to_axis_angle([0.0, 0.0, 0.0, -1.0], shortest=False),
                                  np.zeros(3))


def test_axis_angle_of_fixture_state(fixture_obs):
    state = np.asarray(fixture_obs.proprio)
    rotvec = state[3:6]  # |r| close to pi
    back = quat_to_axis_angle(axis_angle_to_quat(rotvec))
    assert relative_rotation_angle(axis_angle_to_quat(back), axis_angle_to_quat(rotvec)) \
        == pytest.approx(0.0, abs=1e-9)
    assert np.linalg.norm(back) <= math.pi
    pose = EEState.from_axis_angle(0.0, state[:3], rotvec)
    np.testing.assert_allclose(quat_to_axis_angle(pose.orientation), back, atol=1e-12)


@pytest.mark.parametrize('q, text', [
    ([0, 0, 0, 0], 'non-zero'), ([0, 0, math.nan, 1], 'finite'), ([0, 0, 1], r'shape \(4,\)'),
])
def test_quat_normalize_rejects(q, text):
    with pytest.raises(ValueError, match=text):
        quat_normalize(q)


def test_ee_state_validation():
    s = EEState(1.5, [1, 2, 3], [0, 0, 0, 2])
    np.testing.assert_array_equal(s.orientation, IDENTITY)
    with pytest.raises(ValueError, match='position'):
        EEState(0.0, [1, 2], IDENTITY)
    with pytest.raises(ValueError, match=r'position.*finite'):
        EEState(0.0, [1, math.inf, 2], IDENTITY)
    with pytest.raises(ValueError, match='stamp'):
        EEState(math.nan, [0, 0, 0], IDENTITY)
    with pytest.raises(ValueError, match='quaternion'):
        EEState(0.0, [0, 0, 0], [0, 0, 0, 0])


# --- controller ------------------------------------------------------------------------------

# Unit action scales: commanded deltas ARE per-step speeds, convenient for a truth table.
CFG = SpecPruneConfig().replace(v_t_th=0.02, v_r_th=0.1, v_z_th=0.0,
                                action_translation_scale=1.0, action_rotation_scale=1.0)


def command(v_t, v_r, dz):
    """An action with translational speed v_t, vertical part dz, rotational speed v_r."""
    return np.array([math.sqrt(v_t ** 2 - dz ** 2), 0.0, dz, 0.0, 0.0, v_r, 1.0])


def controller_in(mode):
    ctl = ActionAwareController(CFG)
    if mode == 'fine':
        ctl.update_command(command(0.0, 0.0, 0.0))
        assert ctl.step().mode == 'fine'
    return ctl


@pytest.mark.parametrize('start, v_t, v_r, dz, expected', [
    ('coarse', 0.01, 0.05, 0.0, 'fine'),       # all below, dz = v_z_th
    ('coarse', 0.01, 0.05, -0.005, 'fine'),    # descending
    ('coarse', 0.01, 0.05, 0.005, 'coarse'),   # ascending blocks entering
    ('coarse', 0.02, 0.05, 0.0, 'coarse'),     # v_t at the threshold: not below
    ('coarse', 0.01, 0.1, 0.0, 'coarse'),      # v_r at the threshold: not below
    ('coarse', 0.5, 0.05, 0.0, 'coarse'),
    ('coarse', 0.01, 0.5, 0.0, 'coarse'),
    ('fine', 0.01, 0.05, 0.005, 'fine'),       # ascending slowly does not exit
    ('fine', 0.02, 0.1, 0.0, 'fine'),          # at both thresholds: not above, stay
    ('fine', 0.0201, 0.0, 0.0, 'coarse'),
    ('fine', 0.0, 0.1001, 0.0, 'coarse'),
    ('fine', 0.01, 0.05, -0.005, 'fine'),
])
def test_mode_truth_table(start, v_t, v_r, dz, expected):
    ctl = controller_in(start)
    ctl.update_command(command(v_t, v_r, dz))
    st_ = ctl.step()
    assert st_.mode == expected and st_.fine == (expected == 'fine')
    assert st_.source == 'command'
    assert (st_.v_t, st_.v_r, st_.dz) == pytest.approx((v_t, v_r, dz))
    assert st_.k_base == CFG.k_base(expected == 'fine')


def test_no_data_keeps_mode():
    ctl = ActionAwareController(CFG)
    st_ = ctl.step()
    assert (st_.mode, st_.source, st_.v_for_T) == ('coarse', 'none', 0.0)
    assert math.isnan(st_.v_t)
    ctl = controller_in('fine')
    ctl.update_pose(EEState(0.0, [0, 0, 0], IDENTITY))
    ctl.update_pose(EEState(0.1, [0, 0, 0], IDENTITY))
    ctl.reset()
    assert ctl.step().mode == 'coarse'


def test_pose_speeds_units():
    cfg = SpecPruneConfig().replace(control_period=0.05, action_translation_scale=0.05)
    ctl = ActionAwareController(cfg)
    ctl.update_pose(EEState(10.0, [0.0, 0.0, 0.5], IDENTITY))
    assert ctl.step().source == 'none'  # one pose: no speed yet
    ctl.update_pose(EEState(10.1, [0.006, 0.0, 0.492], about([1, 0, 0], 0.2)))
    st_ = ctl.step(now=10.1)
    assert st_.source == 'pose'
    assert st_.v_t == pytest.approx(0.01 / 0.1 * 0.05)  # |dp| = 0.01 m over 0.1 s
    assert st_.v_r == pytest.approx(0.2 / 0.1 * 0.05)
    assert st_.dz == pytest.approx(-0.008 / 0.1 * 0.05)
    assert st_.v_for_T == pytest.approx(st_.v_t / 0.05)


def test_euler_wrap_gives_small_rotation():
    cfg = SpecPruneConfig().replace(control_period=0.05)
    ctl = ActionAwareController(cfg)
    ctl.update_pose(EEState(0.0, [0, 0, 0], about([0, 0, 1], math.radians(179.5))))
    ctl.update_pose(EEState(0.05, [0, 0, 0], about([0, 0, 1], math.radians(-179.5))))
    st_ = ctl.step()
    assert st_.v_r == pytest.approx(math.radians(1.0))  # not 359 degrees
    assert st_.mode == 'fine'


def test_twist_source_and_newest_measurement():
    cfg = SpecPruneConfig().replace(control_period=0.1)
    ctl = ActionAwareController(cfg)
    ctl.update_twist(1.0, [0.3, 0.0, -0.4], [0.0, 0.2, 0.0])
    st_ = ctl.step(now=1.0)
    assert st_.source == 'twist'
    assert (st_.v_t, st_.v_r, st_.dz) == pytest.approx((0.05, 0.02, -0.04))
    ctl.update_pose(EEState(1.0, [0, 0, 0], IDENTITY))
    ctl.update_pose(EEState(1.5, [0, 0, 0], IDENTITY))
    assert ctl.step(now=1.5).source == 'pose'  # newer than the twist
    with pytest.raises(ValueError, match='not later'):
        ctl.update_twist(1.0, [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match='finite'):
        ctl.update_twist(2.0, [0, math.nan, 0], [0, 0, 0])


def test_fallback_to_command_without_pose_and_when_stale():
    ctl = ActionAwareController(CFG)
    ctl.update_command(command(0.5, 0.0, 0.0))
    assert ctl.step(now=0.0).source == 'command'
    ctl.update_pose(EEState(0.0, [0, 0, 0], IDENTITY))
    ctl.update_pose(EEState(0.1, [0, 0, 0], IDENTITY))
    fresh = ctl.step(now=0.5, max_age=0.5)
    assert (fresh.source, fresh.mode) == ('pose', 'fine')
    stale = ctl.step(now=0.61, max_age=0.5)
    assert (stale.source, stale.mode, stale.v_t) == ('command', 'coarse', pytest.approx(0.5))
    assert ctl.step().source == 'pose'  # now=None: never stale


def test_stale_pose_without_command_keeps_mode():
    ctl = ActionAwareController(CFG)
    ctl.update_pose(EEState(0.0, [0, 0, 0], IDENTITY))
    ctl.update_pose(EEState(0.1, [0, 0, 0], IDENTITY))
    assert ctl.step(now=0.1).mode == 'fine'
    st_ = ctl.step(now=5.0)
    assert (st_.source, st_.mode) == ('none', 'fine')


def test_non_increasing_stamps_rejected_without_corruption():
    ctl = ActionAwareController(SpecPruneConfig().replace(control_period=1.0))
    ctl.update_pose(EEState(1.0, [0, 0, 0], IDENTITY))
    ctl.update_pose(EEState(2.0, [0.01, 0, 0], IDENTITY))
    for stamp in (2.0, 1.5):
        with pytest.raises(ValueError, match='not later than the previous pose'):
            ctl.update_pose(EEState(stamp, [5.0, 0, 0], IDENTITY))
    assert ctl.step().v_t == pytest.approx(0.01)
    ctl.update_pose(EEState(3.0, [0.03, 0, 0], IDENTITY))  # still measured from x = 0.01
    assert ctl.step().v_t == pytest.approx(0.02)
    with pytest.raises(ValueError, match='EEState'):
        ctl.update_pose((4.0, [0, 0, 0], IDENTITY))


@pytest.mark.parametrize('action, text', [
    (np.zeros(5), '>= 6 values'), (np.zeros((8, 7)), 'chunk'),
    (np.array([0, 0, math.nan, 0, 0, 0]), 'finite'),
])
def test_update_command_rejects(action, text):
    with pytest.raises(ValueError, match=text):
        ActionAwareController(CFG).update_command(action)


def test_command_scales():
    cfg = SpecPruneConfig().replace(action_translation_scale=0.05, action_rotation_scale=0.5)
    ctl = ActionAwareController(cfg)
    ctl.update_command([0.3, 0.0, -0.4, 0.0, 0.0, 0.2, -1.0])
    st_ = ctl.step()
    assert (st_.v_t, st_.v_r, st_.dz) == pytest.approx((0.025, 0.1, -0.02))
    assert st_.v_for_T == pytest.approx(0.5)


def test_use_controller_false_always_coarse_and_set_config_at_next_step():
    ctl = controller_in('fine')
    off = CFG.replace(use_controller=False, alpha=0.6)
    ctl.set_config(off)
    assert ctl.config is CFG  # pending until the next step
    st_ = ctl.step()
    assert (st_.mode, st_.k_base, st_.source) == ('coarse', 14, 'command')  # 0.6 * 24
    assert ctl.config is off
    ctl.set_config(CFG.replace(alpha=0.6))
    st_ = ctl.step()  # slow command still there: coarse -> fine with the new config
    assert (st_.mode, st_.k_base) == ('fine', 24)  # 0.6 * 40
    with pytest.raises(ValueError, match='SpecPruneConfig'):
        ctl.set_config({'alpha': 1.0})


def test_step_argument_validation():
    ctl = ActionAwareController(CFG)
    with pytest.raises(ValueError, match='now'):
        ctl.step(now=math.nan)
    with pytest.raises(ValueError, match='max_age'):
        ctl.step(now=0.0, max_age=-1.0)
