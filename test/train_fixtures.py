"""Synthetic demonstrations in the LIBERO HDF5 layout, for the training tests.

Each demo moves the end effector towards a goal that only the images show (a red square in
the third-person view, a blue one in the wrist view), then closes the gripper: a policy must
read the pixels, the proprio and the instruction to predict it. A few no-op steps open each
demo (as LIBERO's raw demos have), so no-op removal has something to remove.
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

import h5py
import numpy as np

INSTRUCTIONS = ('pick up the black bowl on the plate and place it on the plate',
                'pick up the black bowl next to the ramekin and place it on the plate')
NOOPS = 2  # leading no-op steps per demo


def _frames(goal: np.ndarray, size: int, colour: tuple[int, int, int], steps: int,
            rng: np.random.Generator) -> np.ndarray:
    """(T, S, S, 3) policy-view frames: grey noise with a square at the goal."""
    img = np.full((steps, size, size, 3), 90, dtype=np.uint8)
    img += rng.integers(0, 20, img.shape, dtype=np.uint8)
    r = max(2, size // 10)
    cy, cx = (goal * (size - 2 * r) + r).astype(int)
    img[:, cy - r:cy + r, cx - r:cx + r] = colour
    return img


def write_demo_file(path: Path, demos_per_task: int = 3, steps: int = 16, size: int = 64,
                    seed: int = 0, libero_layout: bool = False,
                    instructions: tuple[str, ...] = INSTRUCTIONS) -> Path:
    """Write the file; ``libero_layout``: LIBERO's own (instruction in ``problem_info``)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, 'w') as f:
        data = f.create_group('data')
        tasks = instructions[:1] if libero_layout else instructions
        if libero_layout:
            data.attrs['problem_info'] = json.dumps({'language_instruction': tasks[0],
                                                     'problem_name': 'synthetic'})
        n = 0
        for task, text in enumerate(tasks):
            for init in range(demos_per_task):
                goal = rng.uniform(0.1, 0.9, 2)
                target = np.array([goal[1] - 0.5, goal[0] - 0.5, 0.9 + 0.1 * task])
                pos = np.array([0.0, 0.0, 1.1]) + rng.normal(0, 0.02, 3)
                actions, poses, grips = [], [], []
                for t in range(steps + NOOPS):
                    poses.append(pos.copy())
                    closed = t >= NOOPS + steps * 3 // 4
                    grips.append([0.0, 0.0] if closed else [0.04, -0.04])
                    a = np.zeros(7)
                    if t >= NOOPS:
                        a[:3] = np.clip(8.0 * (target - pos), -1, 1)
                        a[3:6] = rng.normal(0, 0.01, 3)
                    a[6] = 1.0 if closed else -1.0
                    actions.append(a)
                    pos = pos + 0.05 * a[:3] * 0.5
                total = steps + NOOPS
                g = data.create_group(f'demo_{n}')
                if not libero_layout:
                    g.attrs['language_instruction'] = text
                    g.attrs['task_id'] = task
                    g.attrs['init_state_id'] = init
                g.create_dataset('actions', data=np.array(actions))
                obs = g.create_group('obs')
                views = {'agentview_rgb': _frames(goal, size, (200, 30, 30), total, rng),
                         'eye_in_hand_rgb': _frames(goal[::-1], size, (30, 30, 200), total,
                                                    rng)}
                for name, frames in views.items():  # stored in LIBERO's native orientation
                    obs.create_dataset(name, data=frames[:, ::-1, ::-1], compression='gzip')
                obs.create_dataset('ee_pos', data=np.array(poses))
                ori = np.tile([np.pi, 0.0, 0.0], (total, 1)) + rng.normal(0, 0.01, (total, 3))
                obs.create_dataset('ee_ori', data=ori)
                obs.create_dataset('gripper_states', data=np.array(grips))
                obs.create_dataset('joint_states', data=rng.normal(0, 1, (total, 7)))
                n += 1
    return path
