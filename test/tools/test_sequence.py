"""Tests of specprune_ros.tools.sequence: the synthetic moving sequence built from the fixture."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from specprune_ros.specprune.controller import ActionAwareController
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.sequence import ee_trajectory, PAD, PIXELS_PER_METRE, synthetic_sequence
from specprune_ros.vla.policy import Observation
from specprune_ros.vla.state import axis_angle_to_quat, relative_rotation_angle

FAST_STEP = 0.03  # m/step in xy (docstring of ee_trajectory)
SLOW_DZ = -0.005  # m/step in z


@pytest.fixture(scope='module')
def sequence(fixture_obs: Observation) -> list:
    """Build the default moving sequence: 24 steps, 12 fast then 12 slow."""
    return synthetic_sequence(fixture_obs)


# --- ee_trajectory ---------------------------------------------------------------------------

@given(st.integers(1, 60), st.floats(0.0, 1.0),
       st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_trajectory_is_fast_then_slow_at_the_stated_speeds(steps: int, fast_fraction: float,
                                                           start: list[float]) -> None:
    start_arr = np.array(start)
    traj = ee_trajectory(steps, start_arr, fast_fraction=fast_fraction)
    assert len(traj) == steps
    np.testing.assert_array_equal(start_arr, start)  # not mutated
    np.testing.assert_array_equal(traj[0][1], start)  # no motion before the first step
    phases = [phase for phase, _ in traj]
    n_fast = phases.count('fast')
    assert phases == ['fast'] * n_fast + ['slow'] * (steps - n_fast)
    assert abs(n_fast - steps * fast_fraction) <= 0.5
    for i in range(1, steps):
        delta = traj[i][1] - traj[i - 1][1]
        if phases[i] == 'fast':  # xy sweep, constant height
            assert np.linalg.norm(delta[:2]) == pytest.approx(FAST_STEP)
            assert delta[2] == 0.0
        else:  # slow descent with a small xy drift
            assert delta[2] == pytest.approx(SLOW_DZ)
            assert np.linalg.norm(delta) < 0.2 * FAST_STEP


def test_trajectory_positions_are_independent_copies() -> None:
    traj = ee_trajectory(4, np.zeros(3), fast_fraction=1.0)
    traj[1][1][:] = 99.0
    assert traj[2][1][0] == pytest.approx(2 * 0.024)  # the later position did not move
    np.testing.assert_allclose(traj[3][1], [3 * 0.024, 3 * 0.018, 0.0])


@pytest.mark.parametrize('period', [0.05, 0.1])
def test_velocities_follow_the_period(fixture_obs: Observation, period: float) -> None:
    seq = synthetic_sequence(fixture_obs, 8, period=period)
    np.testing.assert_allclose([s.pose.stamp for s in seq], np.arange(8) * period)
    for prev, cur in itertools.pairwise(seq):
        velocity = (cur.pose.position - prev.pose.position) / (cur.pose.stamp - prev.pose.stamp)
        if cur.phase == 'fast':
            assert np.linalg.norm(velocity) == pytest.approx(FAST_STEP / period)
        else:
            assert velocity[2] == pytest.approx(SLOW_DZ / period)
    # The trajectory is per step: the period only changes the stamps.
    other = synthetic_sequence(fixture_obs, 8, period=2 * period)
    for a, b in zip(seq, other):
        np.testing.assert_array_equal(a.pose.position, b.pose.position)


# --- synthetic_sequence ----------------------------------------------------------------------

@pytest.mark.parametrize('steps, fast_fraction', [(1, 0.5), (2, 0.5), (7, 0.3), (24, 0.5)])
def test_sequence_shape(fixture_obs: Observation, steps: int, fast_fraction: float) -> None:
    seq = synthetic_sequence(fixture_obs, steps, 0.05, fast_fraction)
    assert len(seq) == steps
    traj = ee_trajectory(steps, fixture_obs.proprio[:3], fast_fraction=fast_fraction)
    assert [s.phase for s in seq] == [phase for phase, _ in traj]
    for i, step in enumerate(seq):
        obs = step.observation
        assert obs.stamp == step.pose.stamp == pytest.approx(i * 0.05)
        assert obs.instruction == fixture_obs.instruction
        for image, base in zip(obs.images, fixture_obs.images):
            assert image.shape == base.shape and image.dtype == np.uint8
            assert image.flags.c_contiguous


def test_sequence_is_deterministic_and_leaves_the_base_alone(fixture_obs: Observation) -> None:
    before = [im.copy() for im in fixture_obs.images]
    proprio = np.array(fixture_obs.proprio)
    a, b = synthetic_sequence(fixture_obs, 10), synthetic_sequence(fixture_obs, 10)
    for x, y in zip(a, b):
        assert x.phase == y.phase and x.pose.stamp == y.pose.stamp
        np.testing.assert_array_equal(x.observation.proprio, y.observation.proprio)
        np.testing.assert_array_equal(x.pose.orientation, y.pose.orientation)
        for im_x, im_y in zip(x.observation.images, y.observation.images):
            np.testing.assert_array_equal(im_x, im_y)
    for im, orig in zip(fixture_obs.images, before):
        np.testing.assert_array_equal(im, orig)
    np.testing.assert_array_equal(fixture_obs.proprio, proprio)


def test_proprio_follows_the_trajectory(fixture_obs: Observation, sequence: list) -> None:
    base = np.asarray(fixture_obs.proprio)
    traj = ee_trajectory(len(sequence), base[:3])
    base_q = axis_angle_to_quat(base[3:6])
    for step, (_, pos) in zip(sequence, traj):
        proprio = step.observation.proprio
        assert proprio.shape == (8,)
        np.testing.assert_allclose(proprio[:3], pos)
        np.testing.assert_array_equal(step.pose.position, proprio[:3])
        np.testing.assert_array_equal(proprio[6:], base[6:])  # gripper unchanged
        # The orientation is held: the same rotation as the fixture's.
        assert relative_rotation_angle(axis_angle_to_quat(proprio[3:6]), base_q) < 1e-9
        assert relative_rotation_angle(step.pose.orientation, base_q) < 1e-9
    assert np.linalg.norm(sequence[-1].observation.proprio[:3] - base[:3]) > 0.2


def test_proprio_keeps_the_fixture_axis_angle(fixture_obs: Observation, sequence: list) -> None:
    np.testing.assert_allclose(sequence[0].observation.proprio, fixture_obs.proprio, atol=1e-6)


def test_wrist_view_slides_with_the_end_effector(fixture_obs: Observation,
                                                 sequence: list) -> None:
    wrist = fixture_obs.images[1]
    h, w = wrist.shape[:2]
    origin = sequence[0].pose.position
    shifts = []
    for step in sequence:
        sx, sy = np.round((step.pose.position - origin)[:2] * PIXELS_PER_METRE).astype(int)
        assert abs(sx) <= PAD and abs(sy) <= PAD  # 24 steps never reach the margin
        shifts.append((sx, sy))
        view = step.observation.images[1]
        # Moving the EE by (sx, sy) pixels shows the content that was (sx, sy) further on.
        np.testing.assert_array_equal(view[max(0, -sy):h - max(0, sy), max(0, -sx):w - max(0, sx)],
                                      wrist[max(0, sy):h + min(0, sy), max(0, sx):w + min(0, sx)])
    assert shifts[0] == (0, 0) and shifts[-1][0] > 30 and shifts[-1][1] > 20
    views = [s.observation.images[1] for s in sequence]
    for i in range(1, len(sequence)):
        if shifts[i] != shifts[i - 1]:
            assert not np.array_equal(views[i], views[i - 1])
        if sequence[i].phase == 'fast':
            assert shifts[i] != shifts[i - 1]  # fast: the wrist view moves every step


def _object_box(image: np.ndarray, base: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns (first, last) of the pixels that differ from ``base``."""
    rows, cols = np.nonzero(np.any(image != base, axis=2))
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_object_slides_through_the_third_person_view(fixture_obs: Observation,
                                                     sequence: list) -> None:
    base = fixture_obs.images[0]
    lefts, sizes = [], set()
    for step in sequence:
        third = step.observation.images[0]
        r0, r1, c0, c1 = _object_box(third, base)
        box = third[r0:r1 + 1, c0:c1 + 1]
        assert np.all(box == box[0, 0]) and box[0, 0, 0] > 150 > box[0, 0, 1]  # a red square
        outside = third.copy()
        outside[r0:r1 + 1, c0:c1 + 1] = base[r0:r1 + 1, c0:c1 + 1]
        np.testing.assert_array_equal(outside, base)  # nothing else changed
        lefts.append(c0)
        sizes.add((r1 - r0, c1 - c0))
    assert len(sizes) == 1  # one square, fully in view
    moves = np.diff(lefts)
    phases = [s.phase for s in sequence[1:]]
    fast = [m for m, p in zip(moves, phases) if p == 'fast']
    slow = [m for m, p in zip(moves, phases) if p == 'slow']
    assert min(slow) > 0 and min(fast) > max(slow)  # it moves faster while the EE is fast


def test_long_sequence_stays_inside_the_margin(fixture_obs: Observation) -> None:
    seq = synthetic_sequence(fixture_obs, 70)
    assert len(seq) == 70
    wrist = fixture_obs.images[1]
    for step in seq:
        assert step.observation.images[1].shape == wrist.shape
    # Far beyond the margin the window rests against it (shift PAD, PAD), edge pixels repeated.
    last = seq[-1].observation.images[1]
    np.testing.assert_array_equal(last[:-PAD, :-PAD], wrist[PAD:, PAD:])
    np.testing.assert_array_equal(last[-PAD:, :-PAD],
                                  np.broadcast_to(wrist[-1, PAD:], (PAD, *wrist[-1, PAD:].shape)))


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 30))
def test_sequence_drives_the_controller_coarse_then_fine(fixture_obs: Observation,
                                                         steps: int) -> None:
    ctrl = ActionAwareController(SpecPruneConfig())
    for step in synthetic_sequence(fixture_obs, steps):
        ctrl.update_pose(step.pose)
        state = ctrl.step(now=step.pose.stamp)
        assert state.mode == ('coarse' if step.phase == 'fast' else 'fine'), step.pose.stamp
