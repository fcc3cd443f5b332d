"""``LiberoEnv``: one LIBERO benchmark task behind a small, deterministic, ROS-free API.

Wraps LIBERO's ``ControlEnv`` (robosuite 1.4, OSC_POSE, 20 Hz) built WITHOUT camera
observables; frames are rendered on demand (:mod:`specprune_ros.sim.render`). Episodes follow
OpenVLA-OFT's protocol: ``reset()`` does a hard reset, loads the benchmark's initial state and
runs the 10 no-op wait steps; the episode ends on LIBERO's own success check or after the
suite's step limit.

Determinism: robosuite places the fixtures (cabinet, stove) with ``np.random`` on every hard
reset, and LIBERO appends one more drawer/knob sampler to a list on every reset (so the random
stream, hence the fixture poses, depends on how many resets came before). ``reset()`` empties
that list and seeds ``np.random`` with ``seed`` first, so equal (task, init state, seed) give
equal states and frames in any order and any process. (OFT seeds once per task instead.)
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.sim.config import (
    AGENTVIEW,
    CONTROL_PERIOD,
    NOOP_ACTION,
    SimConfig,
    SimError,
    WRIST,
)
from specprune_ros.sim.observation import (
    ObjectPose,
    oft_resize,
    policy_view,
    quat2axisangle,
    SimObservation,
)
from specprune_ros.sim.render import SceneRenderer
from specprune_ros.sim.tasks import (
    cache_compiled_model,
    import_libero,
    init_states,
    INSTALL_HINT,
    libero_missing,
    no_pdb,
    task_info,
    TaskInfo,
)

log = logging.getLogger(__name__)
__all__ = ['INSTALL_HINT', 'LiberoEnv', 'TaskInfo', 'cache_compiled_model', 'import_libero',
           'init_states', 'libero_missing', 'no_pdb', 'task_info']


class LiberoEnv:
    """One LIBERO task; ``reset()`` then ``step(action)`` until ``done``.

    Args: ``suite``, ``task_id``, ``init_state_id``, ``seed`` and keyword options, all fields
    of :class:`SimConfig` (``cameras``, ``camera_size``, ``render_size``, ``fast_render``,
    ``hard_reset``, ``wait_steps``, ``max_steps``). ``render`` arguments default to
    ``cameras``; a states-only env (``cameras=False``) never creates a GL context.
    """

    def __init__(self, suite: str = 'libero_spatial', task_id: int = 0,
                 init_state_id: int = 0, seed: int = 0, **options: Any) -> None:
        self.config = SimConfig(suite=suite, task_id=task_id, init_state_id=init_state_id,
                                seed=seed, **options)
        self.task = task_info(suite, task_id)
        self._init_states = init_states(suite, task_id)
        self._check_init(init_state_id)
        _, _, control_env = import_libero()
        log.info('building %s task %d (%s)', suite, task_id, self.task.name)
        self._env = control_env(bddl_file_name=self.task.bddl_file, use_camera_obs=False,
                                has_offscreen_renderer=False, has_renderer=False,
                                hard_reset=self.config.hard_reset, ignore_done=True,
                                camera_heights=self.config.camera_size,
                                camera_widths=self.config.camera_size)
        cache_compiled_model(self._env.env)
        self._renderer: SceneRenderer | None = None
        self._obs: dict[str, np.ndarray] = {}  # robosuite's observables of the last step
        self._step = -1
        self._done = True
        self._success = False

    @classmethod
    def from_config(cls, config: SimConfig) -> LiberoEnv:
        """An env for ``config``."""
        fields = {k: v for k, v in vars(config).items()
                  if k not in ('suite', 'task_id', 'init_state_id', 'seed')}
        return cls(config.suite, config.task_id, config.init_state_id, config.seed, **fields)

    # --- properties -------------------------------------------------------------------------
    @property
    def instruction(self) -> str:
        """The task's language instruction."""
        return self.task.instruction

    @property
    def max_steps(self) -> int:
        """Policy steps per episode after the wait."""
        return self.config.episode_steps

    @property
    def wait_steps(self) -> int:
        """No-op steps run by ``reset()`` before step 0."""
        return self.config.wait_steps

    @property
    def n_init_states(self) -> int:
        """How many benchmark initial states the task has (50)."""
        return len(self._init_states)

    @property
    def init_state(self) -> np.ndarray:
        """The benchmark's initial MuJoCo state of the current episode."""
        return np.array(self._init_states[self.config.init_state_id])

    @property
    def step_count(self) -> int:
        """Control steps since the wait ended (-1 before the first reset)."""
        return self._step

    @property
    def done(self) -> bool:
        """Whether the episode is over (success or step limit)."""
        return self._done

    @property
    def raw(self) -> Any:
        """The robosuite environment (LIBERO's task class): for the expert and the tests."""
        return self._env.env

    # --- episode ----------------------------------------------------------------------------
    def reset(self, init_state_id: int | None = None, render: bool | None = None
              ) -> SimObservation:
        """Hard reset, load the initial state, run the wait steps; the step-0 observation."""
        if init_state_id is not None:
            self._check_init(init_state_id)
            self.config = self.config.replace(init_state_id=init_state_id)
        inner = self.raw
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if hasattr(inner, 'object_property_initializers'):
            inner.object_property_initializers.clear()  # rebuilt by the hard reset
        self._env.seed(self.config.seed)
        with no_pdb():
            self._env.reset()
        # (any extra forced observable update would shift robosuite's sampling by a substep)
        self._obs = self._env.set_init_state(self.init_state)
        for _ in range(self.config.wait_steps):
            self._obs = self._env.step(np.asarray(NOOP_ACTION))[0]
        self._step, self._done = 0, False
        self._success = bool(self._env.check_success())
        return self.observe(render)

    def step(self, action: np.ndarray, render: bool | None = None
             ) -> tuple[SimObservation, bool]:
        """Apply one 7-D normalised delta action; (observation, done).

        ``action``: dx, dy, dz (1.0 ≈ 5 cm), droll, dpitch, dyaw (1.0 ≈ 0.5 rad, world-frame
        axis-angle), gripper (-1 open, +1 close); robosuite clips to [-1, 1].
        """
        if self._done:
            raise SimError('the episode is over (or was never started): call reset()')
        act = np.asarray(action, dtype=np.float64).reshape(-1)
        if act.shape != (7,) or not np.all(np.isfinite(act)):
            raise InputError(f'action must be 7 finite numbers, got {np.asarray(action)!r}')
        self._obs, _, success, _ = self._env.step(act)
        self._step += 1
        self._success = bool(success)
        self._done = self._success or self._step >= self.max_steps
        return self.observe(render), self._done

    def success(self) -> bool:
        """LIBERO's success check of the current state."""
        return bool(self._env.check_success())

    def sim_state(self) -> np.ndarray:
        """The flattened MuJoCo state (time, qpos, qvel), as LIBERO's ``states`` datasets."""
        return np.asarray(self._env.get_sim_state(), dtype=np.float64)

    def object_poses(self) -> dict[str, ObjectPose]:
        """Privileged world poses of the task's objects and fixtures (expert only)."""
        inner = self.raw
        data = inner.sim.data
        out = {}
        for name, body in inner.obj_body_id.items():
            w, x, y, z = data.body_xquat[body]
            out[name] = ObjectPose(np.array(data.body_xpos[body]), np.array([x, y, z, w]))
        return out

    def observe(self, render: bool | None = None) -> SimObservation:
        """The current observation; images only when ``render`` (default: ``cameras``)."""
        if self._step < 0:
            raise SimError('call reset() first')
        inner, cfg, obs = self.raw, self.config, self._obs
        data, model = inner.sim.data, inner.sim.model
        vel = np.zeros(6)
        import mujoco
        mujoco.mj_objectVelocity(model._model, data._data, mujoco.mjtObj.mjOBJ_SITE,
                                 inner.robots[0].eef_site_id, vel, 0)
        agent = wrist = None
        if render is None:
            render = cfg.cameras
        if render:
            agent, wrist = (self._render(cam) for cam in (AGENTVIEW, WRIST))
        quat = np.array(obs['robot0_eef_quat'], dtype=np.float64)
        return SimObservation(
            step=self._step, timestamp=self._step * CONTROL_PERIOD, agentview=agent,
            wrist=wrist, ee_pos=np.array(obs['robot0_eef_pos'], dtype=np.float64),
            ee_quat=quat, ee_axis_angle=quat2axisangle(quat),
            gripper_qpos=np.array(obs['robot0_gripper_qpos'], dtype=np.float64),
            joint_pos=np.array(obs['robot0_joint_pos'], dtype=np.float64),
            ee_lin_vel=vel[3:].copy(), ee_ang_vel=vel[:3].copy(), objects=self.object_poses())

    def _render(self, camera: str) -> np.ndarray:
        cfg = self.config
        if not cfg.cameras:
            raise SimError('this env was built states-only (cameras=False): cannot render')
        if self._renderer is None:
            sim = self.raw.sim
            self._renderer = SceneRenderer(sim.model, sim.data, fast=cfg.fast_render,
                                           max_size=max(cfg.camera_size, cfg.render_size or 0))
        size = cfg.render_size or cfg.camera_size
        image = policy_view(self._renderer.render(camera, size))
        return oft_resize(image, cfg.camera_size) if size != cfg.camera_size else image

    def _check_init(self, init_state_id: int) -> None:
        if not 0 <= init_state_id < len(self._init_states):
            raise InputError(f'{self.task.suite} task {self.task.task_id} has init states '
                             f'0..{len(self._init_states) - 1}, got {init_state_id}')

    def close(self) -> None:
        """Free the renderer and the simulator."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if getattr(self, '_env', None) is not None:
            self._env.close()
            self._env = None

    def __enter__(self) -> LiberoEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
