"""``LiberoEnv`` on the real benchmark: conventions, the OFT fixture, determinism, recording.

One env (LIBERO-Spatial task 0, both cameras at 224, faithful rendering) is shared by the
module; the recording test writes one fast-rendered demo and replays its actions here.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sim_support import needs_libero, spatial_env

from specprune_ros.errors import InputError
from specprune_ros.sim import LiberoEnv, NOOP_ACTION, SimConfig, SimError
from specprune_ros.sim.record import policy_images, record_demos

pytestmark = needs_libero
env = pytest.fixture(scope='module')(spatial_env)
MOVE = np.array([0.6, -0.4, 0.3, 0.0, 0.0, 0.5, -1.0])


def test_reset_equals_the_oft_fixture(env: LiberoEnv, fixture_obs) -> None:
    obs = env.reset(0)
    assert env.instruction == fixture_obs.instruction
    assert (obs.step, obs.timestamp, env.max_steps, env.wait_steps) == (0, 0.0, 220, 10)
    # robosuite's observables after the 10 wait steps: OFT's fixture to rounding
    assert np.allclose(obs.proprio, fixture_obs.proprio, atol=1e-12, rtol=0)
    for mine, ref in zip(obs.images, fixture_obs.images):
        assert mine.shape == (224, 224, 3) and mine.dtype == np.uint8
        err = np.abs(mine.astype(int) - ref.astype(int)).mean()
        flipped = np.abs(mine[::-1, ::-1].astype(int) - ref.astype(int)).mean()
        assert err < 4.0 < 20.0 < flipped, (err, flipped)  # OFT's rotated view, not native


def test_state_matches_robosuite(env: LiberoEnv) -> None:
    import robosuite.utils.transform_utils as T

    env.reset(0, render=False)
    for _ in range(3):
        obs, _ = env.step(MOVE, render=False)
    raw = env.raw._get_observations()
    assert np.array_equal(obs.ee_pos, raw['robot0_eef_pos'])
    assert np.array_equal(obs.ee_quat, raw['robot0_eef_quat'])  # x, y, z, w of the hand
    assert np.allclose(obs.ee_axis_angle, T.quat2axisangle(raw['robot0_eef_quat'].copy()))
    assert np.array_equal(obs.gripper_qpos, raw['robot0_gripper_qpos'])
    assert np.array_equal(obs.joint_pos, raw['robot0_joint_pos'])
    assert obs.agentview is None and obs.wrist is None
    assert set(obs.objects) >= {'akita_black_bowl_1', 'plate_1'}
    bowl = obs.objects['akita_black_bowl_1']
    assert bowl.pos.shape == (3,) and np.isclose(np.linalg.norm(bowl.quat), 1.0)


def test_velocity_is_the_measured_site_velocity(env: LiberoEnv) -> None:
    env.reset(0, render=False)
    pos, quat, lin, ang = [], [], [], []
    for _ in range(12):
        obs, _ = env.step(MOVE, render=False)
        pos.append(obs.ee_pos), quat.append(obs.ee_quat)
        lin.append(obs.ee_lin_vel), ang.append(obs.ee_ang_vel)
    for t in range(6, 11):  # steady motion: central differences over ±1 step (0.05 s)
        fd = (pos[t + 1] - pos[t - 1]) / 0.1
        assert np.linalg.norm(lin[t] - fd) < 0.1 * np.linalg.norm(fd) + 2e-3, (lin[t], fd)
        rot = Rotation.from_quat(quat[t + 1]) * Rotation.from_quat(quat[t - 1]).inv()
        fd_ang = rot.as_rotvec() / 0.1  # world frame
        assert np.linalg.norm(ang[t] - fd_ang) < 0.1 * np.linalg.norm(fd_ang) + 5e-3
    assert np.linalg.norm(lin[-1]) > 0.05 and abs(ang[-1][2]) > 0.05  # it really moved


def test_gripper_convention(env: LiberoEnv) -> None:
    obs = env.reset(0, render=False)
    assert obs.gripper_qpos[0] > 0.035 and obs.gripper_qpos[1] < -0.035  # -1 = open
    for _ in range(8):
        obs, _ = env.step([0, 0, 0, 0, 0, 0, 1.0], render=False)
    assert obs.gripper_qpos[0] < 0.02 and obs.gripper_qpos[1] > -0.02  # +1 = close


def test_same_init_state_same_episode(env: LiberoEnv) -> None:
    def run() -> tuple[list[np.ndarray], np.ndarray]:
        first = env.reset(1)
        for t in range(5):
            obs, done = env.step(MOVE * (t % 2), render=False)
            assert obs.step == t + 1 and np.isclose(obs.timestamp, 0.05 * (t + 1)) and not done
        return first.images, env.sim_state()

    (a_img, a_state), (b_img, b_state) = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a_img, b_img))
    assert np.array_equal(a_state, b_state)
    env.reset(2, render=False)
    assert not np.array_equal(env.sim_state(), a_state)


def test_episode_limits_and_errors(env: LiberoEnv) -> None:
    with pytest.raises(InputError, match=r'init states 0\.\.49'):
        env.reset(50)
    env.reset(0, render=False)
    with pytest.raises(InputError, match='7 finite'):
        env.step([0.0] * 6)
    with pytest.raises(InputError, match='7 finite'):
        env.step([np.nan] * 7)
    assert not env.success()
    env.config = env.config.replace(max_steps=2)
    try:
        env.reset(0, render=False)
        assert env.step(NOOP_ACTION, render=False)[1] is False
        assert env.step(NOOP_ACTION, render=False)[1] is True and env.done
        with pytest.raises(SimError, match='episode is over'):
            env.step(NOOP_ACTION)
    finally:
        env.config = env.config.replace(max_steps=None)


def test_record_layout_resume_and_replay(env: LiberoEnv, tmp_path: Path) -> None:
    import h5py

    out = tmp_path / 'demos.hdf5'
    cfg = SimConfig(fast_render=True)
    assert record_demos(str(out), cfg, [0], 1) == {0: (1, 1)}
    with h5py.File(out, 'r') as f:
        data = f['data']
        assert json.loads(data.attrs['sim_config'])['fast_render'] is True
        assert data.attrs['macros_image_convention'] == 'opengl'
        assert json.loads(data.attrs['tried']) == {'0': [0]} and data.attrs['num_demos'] == 1
        demo = data['demo_0']
        n = int(demo.attrs['num_samples'])
        assert 50 < n < 220 and int(data.attrs['total']) == n
        assert demo.attrs['language_instruction'] == env.instruction
        assert (demo.attrs['task_id'], demo.attrs['init_state_id']) == (0, 0)
        assert np.array_equal(demo.attrs['init_state'], env.init_state)
        shapes = {'actions': (n, 7), 'states': (n, 92), 'robot_states': (n, 9),
                  'rewards': (n,), 'dones': (n,), 'obs/agentview_rgb': (n, 224, 224, 3),
                  'obs/eye_in_hand_rgb': (n, 224, 224, 3), 'obs/ee_pos': (n, 3),
                  'obs/ee_ori': (n, 3), 'obs/ee_states': (n, 6), 'obs/gripper_states': (n, 2),
                  'obs/joint_states': (n, 7), 'obs/ee_lin_vel': (n, 3)}
        for key, shape in shapes.items():
            assert demo[key].shape == shape, key
        frames = demo['obs/agentview_rgb']
        assert frames.dtype == np.uint8 and frames.compression == 'gzip'
        assert frames.chunks == (1, 224, 224, 3)
        assert demo['dones'][-1] == 1 and demo['dones'][:-1].sum() == 0
        agent, wrist = policy_images(demo, 0)
        assert np.array_equal(agent, frames[0][::-1, ::-1]) and wrist.shape == (224, 224, 3)
        assert np.abs(np.diff(demo['actions'][:], axis=0)).max() > 0
        actions, states = demo['actions'][:], demo['states'][:]
        ee_pos = demo['obs/ee_pos'][:]
    # the stored actions replay to the stored states in another env (render settings aside)
    obs = env.reset(0, render=False)
    for t, action in enumerate(actions):
        assert np.array_equal(env.sim_state(), states[t]), t
        assert np.array_equal(obs.ee_pos, ee_pos[t]), t
        obs, done = env.step(action, render=False)
    assert done and env.success()
    # resumable: nothing left to do; other render settings are refused
    assert record_demos(str(out), cfg, [0], 1) == {0: (1, 1)}
    with pytest.raises(InputError, match='other settings'):
        record_demos(str(out), SimConfig(), [0], 1)
