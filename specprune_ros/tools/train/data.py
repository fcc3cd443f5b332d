"""Expert demonstrations for ``specprune-train``: LIBERO-layout HDF5 → OFT training samples.

Reads robomimic/LIBERO HDF5 files (``data/demo_i/{actions, obs/agentview_rgb,
obs/eye_in_hand_rgb, obs/ee_pos, obs/ee_ori, obs/gripper_states}``): LIBERO's own demos (the
instruction in the ``data`` attrs' ``problem_info`` JSON) and the ones this project records
(the instruction in each demo's attrs). Then, as OpenVLA-OFT's LIBERO pipeline does:

* no-op steps dropped (``*_no_noops``: ‖Δpose‖ < 1e-4 and the gripper command unchanged);
* proprio = EE position (3) + axis-angle (3, robosuite's convention) + gripper qpos (2);
* gripper target in the model's convention: ``1 − clip(a, 0, 1)`` (LIBERO −1 open / +1 close →
  model 1 open / 0 close; the evaluation maps it back with ``−sign(2g − 1)``);
* q01/q99 statistics (numpy quantiles), BOUNDS_Q99 normalisation of actions dims 0–5;
* action chunks of ``horizon`` consecutive steps, the end padded with the last action.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
import io
import json
import logging
from pathlib import Path
import re
from typing import Any

import h5py
import numpy as np
from PIL import Image

from specprune_ros.errors import SpecPruneError
from specprune_ros.vla.action_space import model_gripper
from specprune_ros.vla.policy import NormStats
from specprune_ros.vla.preprocess import resize_image

log = logging.getLogger(__name__)

VIEWS = ('agentview_rgb', 'eye_in_hand_rgb')  # third-person, wrist
ORIENTATIONS = ('native', 'policy')  # LIBERO's upside-down renders, or already rotated 180°
NOOP_THRESHOLD = 1e-4  # OFT's regenerate_libero_dataset.is_noop
ACTION_MASK = (True,) * 6 + (False,)  # BOUNDS_Q99 on Δpose; the gripper stays as is


class TrainDataError(SpecPruneError, ValueError):
    """A demonstration file that cannot be used: missing keys, bad shapes, no instruction."""


@dataclass
class Demo:
    """One demonstration after no-op removal (``steps`` index the file's time axis)."""

    source: Path
    group: str  # e.g. 'data/demo_3'
    instruction: str
    task_id: int
    init_state_id: int | None
    steps: np.ndarray  # (T,) kept time indices into the file's arrays
    actions: np.ndarray  # (T, 7) LIBERO convention (gripper −1 open / +1 close)
    proprio: np.ndarray  # (T, 8) EE position, axis-angle, gripper qpos

    def __len__(self) -> int:
        return len(self.steps)


def model_actions(actions: np.ndarray) -> np.ndarray:
    """(T, 7) LIBERO actions → the model's convention (gripper mapped, the rest unchanged)."""
    out = np.array(actions, dtype=np.float64)
    out[:, -1] = model_gripper(out[:, -1])
    return out


def noop_mask(actions: np.ndarray) -> np.ndarray:
    """(T,) bool, True for the steps OFT keeps: not (‖a[:6]‖ < 1e-4 and same gripper as kept)."""
    keep = np.ones(len(actions), dtype=bool)
    prev = None
    for t, a in enumerate(actions):
        small = np.linalg.norm(a[:-1]) < NOOP_THRESHOLD
        keep[t] = not (small and (prev is None or a[-1] == prev[-1]))
        if keep[t]:
            prev = a
    return keep


def chunk_indices(length: int, horizon: int) -> np.ndarray:
    """(T, H) time indices of each step's action chunk; past the end: the last step."""
    return np.minimum(np.arange(length)[:, None] + np.arange(horizon)[None, :], length - 1)


def _axis_angle(ori: np.ndarray, where: str) -> np.ndarray:
    if ori.shape[1] == 3:
        return ori
    if ori.shape[1] == 4:  # (x, y, z, w) quaternions, as robosuite reports them
        from specprune_ros.sim.observation import quat2axisangle

        return np.stack([quat2axisangle(q) for q in ori])
    raise TrainDataError(f'{where}: ee_ori has shape {ori.shape}; expected (T, 3) axis-angle '
                         'or (T, 4) x, y, z, w quaternions')


def _attr(attrs: Any, *names: str) -> Any:
    for name in names:
        if name in attrs:
            value = attrs[name]
            return value.decode() if isinstance(value, bytes) else value
    return None


def _file_instruction(data: h5py.Group) -> str | None:
    info = _attr(data.attrs, 'problem_info')
    if info is not None:
        try:
            return json.loads(info)['language_instruction']
        except (ValueError, KeyError, TypeError):
            log.warning('problem_info of %s holds no language_instruction', data.file.filename)
    return _attr(data.attrs, 'language_instruction', 'instruction')


def _demo_names(data: h5py.Group, where: Path) -> list[str]:
    names = [n for n in data if re.fullmatch(r'demo_\d+', n)]
    if not names:
        raise TrainDataError(f'{where}: no data/demo_<i> groups; expected a LIBERO/robomimic '
                             'HDF5 file')
    return sorted(names, key=lambda n: int(n.split('_')[1]))


def _read_demo(group: h5py.Group, source: Path, default_instruction: str | None,
               drop_noops: bool) -> Demo:
    where = f'{source}:{group.name}'
    try:
        actions = np.asarray(group['actions'], dtype=np.float64)
        obs = group['obs']
        if 'ee_pos' in obs and 'ee_ori' in obs:
            pos = np.asarray(obs['ee_pos'], dtype=np.float64)
            ori = _axis_angle(np.asarray(obs['ee_ori'], dtype=np.float64), where)
        else:
            states = np.asarray(obs['ee_states'], dtype=np.float64)
            pos, ori = states[:, :3], states[:, 3:6]
        grip = np.asarray(obs['gripper_states'], dtype=np.float64)
        lengths = {len(actions), len(pos), len(ori), len(grip), *(len(obs[v]) for v in VIEWS)}
    except KeyError as exc:
        raise TrainDataError(f'{where}: missing {exc}; expected actions and obs/{{ee_pos, '
                             f'ee_ori, gripper_states, {", ".join(VIEWS)}}}') from exc
    if actions.ndim != 2 or actions.shape[1] != 7 or grip.shape[1:] != (2,):
        raise TrainDataError(f'{where}: actions {actions.shape}, gripper_states {grip.shape}; '
                             'expected (T, 7) and (T, 2)')
    if len(lengths) != 1 or not len(actions):
        raise TrainDataError(f'{where}: arrays of different or zero lengths {sorted(lengths)}')
    proprio = np.concatenate([pos, ori, grip], axis=1)
    if not (np.isfinite(actions).all() and np.isfinite(proprio).all()):
        raise TrainDataError(f'{where}: actions or proprio hold NaN/inf')
    instruction = _attr(group.attrs, 'language_instruction', 'instruction') or default_instruction
    if not instruction or not str(instruction).strip():
        raise TrainDataError(f'{where}: no language instruction (demo attr '
                             "'language_instruction' or data attr 'problem_info')")
    steps = np.flatnonzero(noop_mask(actions)) if drop_noops else np.arange(len(actions))
    if not len(steps):
        raise TrainDataError(f'{where}: every step is a no-op')
    task = _attr(group.attrs, 'task_id')
    init = _attr(group.attrs, 'init_state_id')
    return Demo(source, group.name.lstrip('/'), str(instruction),
                -1 if task is None else int(task), None if init is None else int(init), steps,
                actions[steps], proprio[steps])


def read_demos(paths: list[Path], drop_noops: bool = True) -> list[Demo]:
    """Every demo of every file (low-dimensional data only; frames are read by FrameStore).

    Demos without a ``task_id`` attribute get the index of their instruction among the
    sorted distinct instructions.
    """
    demos: list[Demo] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise TrainDataError(f'demonstration file {path} does not exist')
        try:
            with h5py.File(path, 'r') as f:
                if 'data' not in f:
                    raise TrainDataError(f'{path}: no "data" group; expected a LIBERO HDF5 file')
                default = _file_instruction(f['data'])
                for name in _demo_names(f['data'], path):
                    demos.append(_read_demo(f['data'][name], path, default, drop_noops))
        except OSError as exc:
            raise TrainDataError(f'{path} is not a readable HDF5 file: {exc}') from exc
    tasks = sorted({d.instruction for d in demos})
    for d in demos:
        if d.task_id < 0:
            d.task_id = tasks.index(d.instruction)
    return demos


def training_render(model_dir: str | Path | None) -> tuple[int, bool] | None:
    """(render_size, fast_render) the demos of a trained model were rendered with, or None.

    Read from the ``data.json`` ``specprune-train`` writes beside the model (the first data
    file's ``sim_config``); ``render_size`` 0 means rendered at the camera size directly. None
    when there is no such file or it cannot be read (logged): a policy must run on frames
    rendered as its training frames were.
    """
    path = Path(model_dir) / 'data.json' if model_dir is not None else None
    if path is None or not path.is_file():
        return None
    try:
        files = json.loads(path.read_text()).get('files') or [{}]
        sim = files[0].get('sim_config') or {}
        sim = json.loads(sim) if isinstance(sim, str) else sim
        return int(sim.get('render_size') or 0), bool(sim.get('fast_render', False))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        log.warning('cannot read the render settings of %s (%s)', path, exc)
        return None


def render_for(model_dir: str | Path | None, render_size: int | None, fast_render: bool | None,
               default: tuple[int, bool] = (256, False)) -> tuple[int, bool]:
    """(render_size, fast_render): those given, else the model's training demos', else ``default``.

    ``None`` means "not given"; a render size of 0 means rendered at the camera size directly.
    """
    trained = training_render(model_dir)
    size, fast = trained or default
    size = size if render_size is None else render_size
    fast = fast if fast_render is None else fast_render
    if trained is not None:
        log.info("rendering as the model's training demos were: render size %s, fast_render %s "
                 '(a given render size / fast render overrides)', size or 'the camera size', fast)
    return size, fast


def describe(paths: list[Path], train: list[Demo], val: list[Demo]) -> dict[str, Any]:
    """What a model was trained on: files, tasks and the demos of each split.

    Each file entry carries the recorder's ``sim_config`` (the render settings to evaluate
    the model with), when the file has one.
    """
    files = []
    for path in paths:
        with h5py.File(path, 'r') as f:
            attrs = f['data'].attrs
            files.append({'path': str(path), 'suite': _attr(attrs, 'suite'),
                          'sim_config': _attr(attrs, 'sim_config')})

    def rows(demos: list[Demo]) -> list[dict[str, Any]]:
        return [{'file': str(d.source), 'group': d.group, 'task_id': d.task_id,
                 'init_state_id': d.init_state_id, 'steps': len(d)} for d in demos]

    tasks = {d.task_id: d.instruction for d in train + val}
    return {'files': files, 'tasks': {str(k): tasks[k] for k in sorted(tasks)},
            'train': rows(train), 'held_out': rows(val)}


def split_demos(demos: list[Demo], val_fraction: float, seed: int
                ) -> tuple[list[Demo], list[Demo]]:
    """Held-out split by demo, per task: round(fraction·n) demos of each task (≥ 1 when n ≥ 2)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for task in sorted({d.task_id for d in demos}):
        group = [d for d in demos if d.task_id == task]
        order = rng.permutation(len(group))
        n_val = round(val_fraction * len(group))
        if val_fraction > 0 and len(group) >= 2:
            n_val = min(max(n_val, 1), len(group) - 1)
        val += [group[i] for i in sorted(order[:n_val])]
        train += [group[i] for i in sorted(order[n_val:])]
    return train, val


def _block(x: np.ndarray) -> dict[str, list[float]]:
    return {'mean': x.mean(0).tolist(), 'std': x.std(0).tolist(), 'max': x.max(0).tolist(),
            'min': x.min(0).tolist(), 'q01': np.quantile(x, 0.01, axis=0).tolist(),
            'q99': np.quantile(x, 0.99, axis=0).tolist()}


def compute_statistics(demos: list[Demo]) -> dict[str, Any]:
    """OFT's ``dataset_statistics.json`` entry over every step of ``demos``.

    Actions are in the model's convention (gripper 1 open / 0 close), as OFT computes them
    after its LIBERO transform; mask: dims 0–5.
    """
    if not demos:
        raise TrainDataError('no training demonstrations to compute statistics from')
    actions = np.concatenate([model_actions(d.actions) for d in demos])
    proprio = np.concatenate([d.proprio for d in demos])
    return {'action': {**_block(actions), 'mask': list(ACTION_MASK)},
            'proprio': _block(proprio), 'num_transitions': len(actions),
            'num_trajectories': len(demos)}


def normalize_actions(actions: np.ndarray, stats: NormStats) -> np.ndarray:
    """Model-convention actions → BOUNDS_Q99 targets (inverse of ``unnormalize_actions``).

    ``x = clip(2·(a − q01)/(q99 − q01) − 1, −1, 1)`` where the mask is true (0 where
    q99 == q01); unmasked dims (the gripper) are left as they are.
    """
    span = stats.action_q99 - stats.action_q01
    safe = np.where(span > 0, span, 1.0)
    x = np.where(span > 0, np.clip(2.0 * (actions - stats.action_q01) / safe - 1.0, -1, 1), 0.0)
    return np.where(stats.action_mask, x, actions)


def _decode(value: Any) -> np.ndarray:
    """One stored frame: an (H, W, 3) array, or encoded (JPEG/PNG) bytes."""
    if isinstance(value, np.ndarray) and value.ndim == 3:
        return value
    raw = value.tobytes() if isinstance(value, np.ndarray) else bytes(value)
    with Image.open(io.BytesIO(raw)) as im:
        return np.asarray(im.convert('RGB'), dtype=np.uint8)


class FrameStore:
    """The two views of every kept step, in the policy view at ``size`` (uint8).

    Frames go through the policy's own resize (``preprocess.resize_image``: JPEG + Lanczos for
    frames not already ``size``); the crop comes later (augmentation or the centre crop).
    When all frames fit ``cache_bytes`` they are decoded once into RAM; otherwise each is
    read from its file when asked for.
    """

    def __init__(self, demos: list[Demo], size: int, jpeg_roundtrip: bool,
                 orientation: str = 'native', cache_bytes: float = 6e9) -> None:
        if orientation not in ORIENTATIONS:
            raise TrainDataError(f'orientation {orientation!r} is not one of {ORIENTATIONS}')
        self.demos, self.size, self.jpeg = demos, size, jpeg_roundtrip
        self.rotate = orientation == 'native'
        self._files: dict[Path, h5py.File] = {}
        total = sum(len(d) for d in demos)
        self.nbytes = total * len(VIEWS) * size * size * 3
        self.cached = self.nbytes <= cache_bytes
        self._cache: list[np.ndarray] = []
        if self.cached:
            log.info('decoding %d frames of %d demos into RAM (%.2f GB)', total * len(VIEWS),
                     len(demos), self.nbytes / 1e9)
            self._cache = [self._read_demo(d) for d in demos]
            self.close()
        else:
            log.info('%d steps do not fit the frame cache; reading frames from the files',
                     total)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise TrainDataError(f'frame of shape {frame.shape} / {frame.dtype}; expected '
                                 '(H, W, 3) uint8 RGB')
        if self.rotate:
            frame = frame[::-1, ::-1]
        return resize_image(np.ascontiguousarray(frame), self.size, self.jpeg)

    def _group(self, demo: Demo) -> h5py.Group:
        if demo.source not in self._files:
            self._files[demo.source] = h5py.File(demo.source, 'r')
        return self._files[demo.source][demo.group]['obs']

    def _read_demo(self, demo: Demo) -> np.ndarray:
        obs = self._group(demo)
        views = []
        for view in VIEWS:
            stored = obs[view][:]
            views.append(np.stack([self._prepare(_decode(stored[t])) for t in demo.steps]))
        return np.stack(views, axis=1)  # (T, V, S, S, 3)

    def get(self, demo: int, t: int) -> np.ndarray:
        """(V, S, S, 3) uint8 views of step ``t`` (index into the demo's kept steps)."""
        if self.cached:
            return self._cache[demo][t]
        d = self.demos[demo]
        obs = self._group(d)
        return np.stack([self._prepare(_decode(obs[v][int(d.steps[t])])) for v in VIEWS])

    def close(self) -> None:
        """Close the open HDF5 files (reopened on demand)."""
        for f in self._files.values():
            f.close()
        self._files.clear()
