"""Expert demonstrations in LIBERO's own HDF5 layout (robomimic style), and reading them back.

One file holds all tasks (LIBERO ships one file per task; here each demo names its task)::

    data/                       attrs: suite, sim_config (JSON: render settings!), tasks (JSON),
                                       tried (JSON {task: [init ids]}), num_demos, total,
                                       macros_image_convention = 'opengl', image_orientation
    data/demo_<k>/              attrs: task_id, task_name, language_instruction,
                                       init_state_id, init_state, num_samples, seed
        actions (T, 7)  states (T, 92)  robot_states (T, 9)  rewards (T,)  dones (T,)
        obs/agentview_rgb (T, S, S, 3) uint8   obs/eye_in_hand_rgb (T, S, S, 3) uint8
        obs/ee_pos (T, 3)  obs/ee_ori (T, 3)  obs/ee_states (T, 6)  obs/gripper_states (T, 2)
        obs/joint_states (T, 7)  obs/ee_quat (T, 4)  obs/ee_lin_vel (T, 3)  obs/ee_ang_vel (T, 3)

Step t holds the observation before action t. Images are stored in LIBERO's NATIVE orientation
(upside down, as LIBERO's own demos and ``macros_image_convention = 'opengl'``); the policy sees
them rotated 180° (:func:`policy_images`). Frames are gzip-compressed (level 4) in one chunk per
frame: lossless and readable by any HDF5 reader without plugins. Only successful episodes are
stored; every init state tried (success or not) is listed in ``tried``, so a rerun resumes by
skipping them (a completed demo carries ``complete = True``; incomplete ones are dropped).
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
import json
import logging
import os
import time
from typing import Any

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.sim.config import SimConfig
from specprune_ros.sim.observation import native_view, policy_view
from specprune_ros.sim.runner import Episode, jobs, run_jobs

log = logging.getLogger(__name__)
IMAGE_KEYS = ('agentview_rgb', 'eye_in_hand_rgb')


def _keep_successes(ep: Episode) -> Episode:
    if not ep.success:  # only the outcome travels back from the worker
        ep.actions, ep.observations, ep.states = [], [], []
    return ep


def write_demo(data: Any, name: str, ep: Episode, seed: int, task_name: str) -> int:
    """Write one successful episode as ``data/<name>``; returns its number of samples."""
    obs = ep.observations
    grp = data.create_group(name)
    o = grp.create_group('obs')
    for key, attr in zip(IMAGE_KEYS, ('agentview', 'wrist')):
        frames = np.stack([native_view(getattr(x, attr)) for x in obs])
        o.create_dataset(key, data=frames, chunks=(1, *frames.shape[1:]), compression='gzip',
                         compression_opts=4)
    pos = np.stack([x.ee_pos for x in obs])
    ori = np.stack([x.ee_axis_angle for x in obs])
    grip = np.stack([x.gripper_qpos for x in obs])
    quat = np.stack([x.ee_quat for x in obs])
    joints = np.stack([x.joint_pos for x in obs])
    lin, ang = np.stack([x.ee_lin_vel for x in obs]), np.stack([x.ee_ang_vel for x in obs])
    for key, value in (('ee_pos', pos), ('ee_ori', ori), ('ee_states', np.hstack([pos, ori])),
                       ('gripper_states', grip), ('joint_states', joints), ('ee_quat', quat),
                       ('ee_lin_vel', lin), ('ee_ang_vel', ang)):
        o.create_dataset(key, data=value)
    n = len(obs)
    grp.create_dataset('actions', data=np.stack(ep.actions))
    grp.create_dataset('states', data=np.stack(ep.states))
    grp.create_dataset('robot_states', data=np.hstack([grip, pos, quat]))
    flags = np.zeros(n, dtype=np.uint8)
    flags[-1] = 1
    grp.create_dataset('rewards', data=flags)
    grp.create_dataset('dones', data=flags)
    grp.attrs.update({'task_id': ep.task_id, 'task_name': task_name,
                      'language_instruction': ep.instruction, 'init_state_id': ep.init_state_id,
                      'init_state': ep.init_state, 'num_samples': n, 'seed': seed,
                      'complete': True})
    return n


def _open(path: str, config: SimConfig) -> Any:
    """Open (or create) the file; drop incomplete demos; check the render settings match."""
    import h5py

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    f = h5py.File(path, 'a')
    data = f.require_group('data')
    if 'sim_config' in data.attrs:
        old = json.loads(data.attrs['sim_config'])
        new = json.loads(config.to_json())
        keys = [*config.render_settings(), 'suite', 'seed', 'hard_reset', 'wait_steps']
        diff = {k: (old.get(k), new[k]) for k in keys if old.get(k) != new[k]}
        if diff:
            f.close()
            raise InputError(f'{path} was recorded with other settings {diff} (old, new); '
                             'use another --out')
    else:
        data.attrs.update({'suite': config.suite, 'sim_config': config.to_json(),
                           'env_name': 'libero', 'macros_image_convention': 'opengl',
                           'image_orientation': 'native LIBERO (upside down); policy view = '
                                                'img[::-1, ::-1]',
                           'tried': '{}', 'tasks': '{}', 'num_demos': 0, 'total': 0})
    for name in [k for k in data if not data[k].attrs.get('complete', False)]:
        log.warning('dropping incomplete %s from %s', name, path)
        del data[name]
    return f


def recorded(data: Any) -> dict[int, int]:
    """Stored demos per task."""
    out: dict[int, int] = {}
    for name in data:
        t = int(data[name].attrs['task_id'])
        out[t] = out.get(t, 0) + 1
    return out


def record_demos(path: str, config: SimConfig, tasks: Sequence[int], demos_per_task: int,
                 workers: int = 1, max_init_states: int = 50) -> dict[int, tuple[int, int]]:
    """Record until every task has ``demos_per_task`` successful demos; resumes a file.

    Init states are tried in order (skipping those already tried); a task stops early when it
    runs out of its first ``max_init_states``. Returns {task: (demos stored, episodes tried)}.
    """
    from tqdm import tqdm

    from specprune_ros.sim.env import task_info

    if demos_per_task < 1:
        raise InputError(f'demos_per_task must be >= 1, got {demos_per_task}')
    if not config.cameras:
        raise InputError('recording needs cameras=True')
    f = _open(path, config)
    try:
        data = f['data']
        tried = {int(k): v for k, v in json.loads(data.attrs['tried']).items()}
        info = json.loads(data.attrs['tasks'])
        for t in tasks:
            ti = task_info(config.suite, t)
            info[str(t)] = {'name': ti.name, 'language': ti.instruction, 'bddl': ti.bddl_file}
        data.attrs['tasks'] = json.dumps(info)
        have = recorded(data)
        need = {t: max(0, demos_per_task - have.get(t, 0)) for t in tasks}
        bar = tqdm(total=sum(need.values()), unit='demo', desc='record')
        start, done = time.perf_counter(), 0
        while any(need.values()):
            work = []
            for t in tasks:
                free = [i for i in range(max_init_states) if i not in tried.get(t, [])]
                take = free[:need[t]]  # a failure is tried again on the next round
                work += jobs(config, [t], take, chunk=4)
            if not work:
                break
            for chunk in run_jobs(work, workers, record=True, reduce=_keep_successes):
                for ep in chunk:
                    t = ep.task_id
                    tried.setdefault(t, []).append(ep.init_state_id)
                    if ep.success and need[t] > 0:
                        n = write_demo(data, f'demo_{len(data)}', ep, config.seed,
                                       info[str(t)]['name'])
                        data.attrs['total'] = int(data.attrs['total']) + n
                        need[t] -= 1
                        done += 1
                        bar.update(1)
                    data.attrs['tried'] = json.dumps({str(k): sorted(v)
                                                      for k, v in tried.items()})
                    data.attrs['num_demos'] = len(data)
                    f.flush()
                    left = sum(need.values())
                    rate = done / max(time.perf_counter() - start, 1e-9)
                    log.info('task %d init %d: %s; %d demos to go, ETA %.0f min', t,
                             ep.init_state_id, 'stored' if ep.success else 'failed', left,
                             left / rate / 60 if rate else float('nan'))
        bar.close()
        have = recorded(data)
        return {t: (have.get(t, 0), len(tried.get(t, []))) for t in tasks}
    finally:
        f.close()


def policy_images(demo: Any, step: int | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """(third-person, wrist) frames of a demo group as the policy sees them (rotated 180°)."""
    obs = demo['obs']
    a, w = obs['agentview_rgb'][step], obs['eye_in_hand_rgb'][step]
    if a.ndim == 3:
        return policy_view(a), policy_view(w)
    return (np.ascontiguousarray(a[:, ::-1, ::-1]), np.ascontiguousarray(w[:, ::-1, ::-1]))


def demo_config(path: str) -> SimConfig:
    """The simulator config a file was recorded with: evaluate policies trained on it so."""
    import h5py

    with h5py.File(path, 'r') as f:
        return SimConfig(**json.loads(f['data'].attrs['sim_config']))
