"""OFT's LIBERO protocol functions against their definitions, and the episode loop."""

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

from specprune_ros.errors import InputError
from specprune_ros.sim.observation import quat2axisangle, SimObservation
from specprune_ros.tools.eval import protocol as P
from specprune_ros.vla.report import StepReport


def test_max_steps_and_wait_steps_are_oft_s() -> None:
    assert {s: P.max_steps(s) for s in ('libero_spatial', 'libero_object', 'libero_goal',
                                        'libero_10')} == {
        'libero_spatial': 220, 'libero_object': 280, 'libero_goal': 300, 'libero_10': 520}
    assert P.WAIT_STEPS == 10
    assert P.wait_action().tolist() == [0, 0, 0, 0, 0, 0, -1]
    with pytest.raises(InputError, match='unknown LIBERO suite'):
        P.max_steps('libero_100')


def test_rotate_180_is_both_flips() -> None:
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    out = P.rotate_180(img)
    assert out[0, 0].tolist() == img[4, 6].tolist() and out[4, 6].tolist() == img[0, 0].tolist()
    assert np.array_equal(out, np.rot90(img, 2, axes=(0, 1)))
    assert np.array_equal(P.rotate_180(out), img)


def test_gripper_mapping() -> None:
    a = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0],
                  [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3]])
    norm = P.normalize_gripper_action(a, binarize=False)
    assert np.allclose(norm[:, -1], 2 * a[:, -1] - 1) and np.array_equal(norm[:, :6], a[:, :6])
    assert P.normalize_gripper_action(a)[:, -1].tolist() == [1, -1, 1, -1]
    assert P.invert_gripper_action(a)[:, -1].tolist() == [-1.0, -0.0, -0.8, -0.3]
    env = P.process_action(a)
    # the model's 1 = open → LIBERO's -1 = open; 0 = close → +1 = close
    assert env[:, -1].tolist() == [-1, 1, -1, 1] and np.array_equal(env[:, :6], a[:, :6])
    assert a[0, -1] == 1.0  # inputs are not modified
    with pytest.raises(InputError):
        P.process_action(np.array([0.0, 0.0, np.nan, 0, 0, 0, 1]))


def _obs(step: int, quat=(0.0, 1.0, 0.0, 0.0), images: bool = True) -> SimObservation:
    img = np.full((224, 224, 3), step % 256, np.uint8) if images else None
    q = np.asarray(quat, dtype=np.float64)
    return SimObservation(step, step * 0.05, img, None if img is None else img.copy(),
                          np.array([0.1, 0.2, 1.0]) + 0.001 * step, q, quat2axisangle(q),
                          np.array([0.04, -0.04]), np.zeros(7), np.zeros(3), np.zeros(3))


def test_proprio_is_pos_axis_angle_gripper() -> None:
    obs = _obs(3)
    p = P.proprio(obs)
    assert p.shape == (8,)
    assert np.allclose(p[:3], obs.ee_pos) and np.allclose(p[6:], [0.04, -0.04])
    assert np.allclose(p[3:6], [0.0, np.pi, 0.0])  # robosuite: angle 2·acos(w) = π about y
    pol = P.policy_observation(obs, 'do it')
    assert pol.instruction == 'do it' and pol.stamp == obs.timestamp
    assert pol.images[0] is obs.agentview


def test_parse_tasks_and_plan() -> None:
    assert P.parse_tasks('0') == [0]
    assert P.parse_tasks('0-9') == list(range(10))
    assert P.parse_tasks('3, 0,5-6') == [0, 3, 5, 6]
    for bad in ('a', '3-1', '1-', ''):
        with pytest.raises(InputError):
            P.parse_tasks(bad)
    with pytest.raises(InputError, match='do not exist'):
        P.parse_tasks('8-10', n_tasks=10)
    plan = P.episode_plan([0, 3], 2, seed=7)
    assert plan == [(0, 0, 7), (0, 1, 7), (3, 0, 7), (3, 1, 7)]
    assert [k.init_state for k in plan] == [0, 1, 0, 1]  # trial i = init state i
    with pytest.raises(InputError):
        P.episode_plan([0], 51)
    held_out = P.episode_plan([2], 3, seed=7, first_trial=40)
    assert [k.init_state for k in held_out] == [40, 41, 42]
    for first, trials in ((48, 3), (-1, 2)):
        with pytest.raises(InputError, match='first-trial'):
            P.episode_plan([0], trials, first_trial=first)
    cfg = P.sim_config('libero_goal', plan[3], steps=40)
    assert (cfg.task_id, cfg.init_state_id, cfg.seed, cfg.episode_steps) == (3, 1, 7, 40)
    assert cfg.render_size == 256 and cfg.camera_size == 224 and cfg.wait_steps == 10
    assert P.sim_config('libero_goal', plan[0]).episode_steps == 300


class _ScriptedEnv:
    """A stand-in for LiberoEnv (the episode loop is under test, not the simulator)."""

    instruction = 'put the bowl on the plate'

    def __init__(self, limit: int, succeed_at: int | None = None) -> None:
        self.limit, self.succeed_at = limit, succeed_at
        self.actions: list[np.ndarray] = []
        self.rendered: list[int] = []
        self.done, self.step_no, self.init = True, -1, None

    def reset(self, init_state_id=None, render=None):
        self.init, self.step_no, self.done, self.actions = init_state_id, 0, False, []
        return self.observe(render)

    def observe(self, render=None):
        if render:
            self.rendered.append(self.step_no)
        return _obs(self.step_no, images=bool(render))

    def step(self, action, render=None):
        assert not self.done
        self.actions.append(np.asarray(action))
        self.step_no += 1
        self.done = self.success() or self.step_no >= self.limit
        return self.observe(render), self.done

    def success(self) -> bool:
        return self.succeed_at is not None and self.step_no >= self.succeed_at


class _ChunkRunner:
    """Returns chunk k filled with k (gripper column alternating 1 = open / 0 = close)."""

    def __init__(self) -> None:
        self.calls, self.poses, self.twists, self.resets = [], 0, 0, 0

    def reset(self) -> None:
        self.resets += 1

    def update_pose(self, state) -> None:
        self.poses += 1

    def update_twist(self, stamp, linear, angular) -> None:
        self.twists += 1

    def predict_action_chunk(self, obs, now=None):
        k = len(self.calls)
        self.calls.append(obs.stamp)
        chunk = np.full((8, 7), 0.01 * k)
        chunk[:, -1] = k % 2
        return chunk, StepReport(step=k)


@pytest.mark.parametrize('open_loop', [8, 3])
def test_episode_queries_every_open_loop_steps(open_loop: int) -> None:
    env, runner = _ScriptedEnv(limit=20), _ChunkRunner()
    res = P.run_episode(env, runner, init_state=4, open_loop_steps=open_loop)
    assert env.init == 4 and runner.resets == 1
    assert res.length == 20 and not res.success and len(env.actions) == 20
    steps = list(range(0, 20, open_loop))
    assert [q.step for q in res.queries] == steps and env.rendered == steps
    assert runner.calls == [s * 0.05 for s in steps]
    assert runner.poses == runner.twists == 20  # the controller sees every control step
    for i, a in enumerate(env.actions):
        k = i // open_loop
        assert np.allclose(a[:6], 0.01 * k)
        assert a[6] == (-1.0 if k % 2 else 1.0)  # model 1 = open → -1; 0 = close → +1


def test_episode_ends_on_success() -> None:
    env, runner = _ScriptedEnv(limit=220, succeed_at=11), _ChunkRunner()
    res = P.run_episode(env, runner, init_state=0)
    assert res.success and res.length == 11 and len(res.queries) == 2
    assert res.start_proprio == P.proprio(_obs(0)).tolist()
    with pytest.raises(InputError):
        P.run_episode(env, runner, 0, open_loop_steps=0)
