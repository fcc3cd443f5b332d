"""``specprune-eval --replay BAG_OR_DIR``: offline fidelity of pruning on recorded steps.

For users with recordings but no simulator. Every recorded step (a third-person + wrist image
pair, the EE pose, the instruction) runs through the plain model and through each pruned
configuration, in order, with the poses fed to the controller. Per step the chunks are compared
with the plain one: L1 deviation per action dimension, averaged over the chunk, in the
policy's normalised units ([-1, 1] by the q01/q99 bounds) and in robot units (the
un-normalised actions), and whether the binarised gripper decision (OFT's
``process_action``) differs. Baselines with ``budget=match`` use the SpecPrune counts of the
same step. A plot shows the deviation over the recording with the controller's fine mode shaded.

Sources: a rosbag2 (folder with ``metadata.yaml``, or an ``.mcap`` / ``.db3`` file) read with
``rosbags`` (images ``sensor_msgs/Image`` rgb8/bgr8/rgba8/bgra8/mono8 or
``sensor_msgs/CompressedImage``; poses ``geometry_msgs/PoseStamped``; instruction
``std_msgs/String``; images paired within ``slop`` seconds), or a folder of
``third_person_<key>.png`` / ``wrist_<key>.png`` pairs (optional ``instruction.txt``). The
proprio is the pose with a zero gripper (recordings carry no gripper state); without a pose,
zeros.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
import io
import json
import logging
from pathlib import Path
import re
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from specprune_ros.errors import InputError
from specprune_ros.specprune.baselines import BaselineEngine, BudgetSchedule
from specprune_ros.tools.eval.configs import EvalConfig, make_runner
from specprune_ros.tools.eval.protocol import process_action
from specprune_ros.vla.policy import NormStats, Observation, VLAPolicy
from specprune_ros.vla.state import ee_state_to_proprio, EEState

log = logging.getLogger(__name__)
TOPICS = {'third_person': '/specprune_policy/third_person/image_raw',
          'wrist': '/specprune_policy/wrist/image_raw',
          'pose': '/specprune_policy/ee_state', 'instruction': '/specprune_policy/instruction'}
DIMS = ('dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'grip')
_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}


class RecordedStep(NamedTuple):
    """One recorded step: both views (RGB uint8), the pose (or None), the instruction."""

    stamp: float
    third_person: np.ndarray
    wrist: np.ndarray
    pose: EEState | None
    instruction: str | None


def decode_image(msg: Any) -> np.ndarray:
    """A rosbags ``Image`` / ``CompressedImage`` message → (H, W, 3) RGB uint8."""
    data = np.asarray(msg.data, dtype=np.uint8).tobytes()
    if hasattr(msg, 'format'):
        try:
            return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
        except OSError as exc:
            raise ValueError(f'undecodable {msg.format} image: {exc}') from exc
    enc = str(msg.encoding).lower()
    if enc not in _CHANNELS:
        raise ValueError(f'unsupported encoding {msg.encoding!r}; expected {sorted(_CHANNELS)}')
    c, h, w = _CHANNELS[enc], int(msg.height), int(msg.width)
    if int(msg.step) < w * c or len(data) < h * int(msg.step):
        raise ValueError(f'{w}x{h} {enc} image with step {msg.step} has {len(data)} bytes')
    arr = np.frombuffer(data, np.uint8)[:h * int(msg.step)].reshape(h, int(msg.step))
    arr = arr[:, :w * c].reshape(h, w, c)
    if enc.startswith('bgr'):
        arr = arr[..., [2, 1, 0] + ([3] if c == 4 else [])]
    return np.ascontiguousarray(np.repeat(arr, 3, axis=2) if c == 1 else arr[..., :3])


def _stamp(header: Any) -> float:
    return float(header.stamp.sec) + 1e-9 * float(header.stamp.nanosec)


def read_bag(path: Path, topics: dict[str, str], slop: float = 0.02) -> Iterator[RecordedStep]:
    """The image pairs of a rosbag2 in log order, each with the newest pose before it."""
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.typesys import get_typestore, Stores
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.LATEST))
        reader.open()
    except (AnyReaderError, OSError, ValueError, KeyError) as exc:
        raise InputError(f'cannot read rosbag2 {str(path)!r}: {exc}') from exc
    try:
        available = {c.topic for c in reader.connections}
        for role in ('third_person', 'wrist'):
            if topics[role] not in available:
                raise InputError(f'{role} topic {topics[role]!r} not in {str(path)!r}; topics: '
                                 f'{sorted(available)} (set --{role.replace("_", "-")}-topic)')
        role_of = {t: r for r, t in topics.items() if t in available}
        pending: dict[str, tuple[float, Any] | None] = {'third_person': None, 'wrist': None}
        pose, task = None, None
        conns = [c for c in reader.connections if c.topic in role_of]
        for conn, _, raw in reader.messages(connections=conns):
            role, msg = role_of[conn.topic], reader.deserialize(raw, conn.msgtype)
            if role == 'instruction':
                task = str(msg.data)
                continue
            if role == 'pose':
                p, q = msg.pose.position, msg.pose.orientation
                try:
                    pose = EEState(_stamp(msg.header), [p.x, p.y, p.z], [q.x, q.y, q.z, q.w])
                except ValueError as exc:
                    log.warning('skipping a pose: %s', exc)
                continue
            pending[role] = (_stamp(msg.header), msg)
            other = pending['wrist' if role == 'third_person' else 'third_person']
            if other is None or abs(other[0] - pending[role][0]) > slop:  # type: ignore[index]
                continue
            (t3, m3), (_, mw) = pending['third_person'], pending['wrist']  # type: ignore[misc]
            pending = {'third_person': None, 'wrist': None}
            try:
                yield RecordedStep(t3, decode_image(m3), decode_image(mw), pose, task)
            except ValueError as exc:
                log.warning('skipping the image pair at %.3f s: %s', t3, exc)
    finally:
        reader.close()


def read_folder(path: Path, period: float = 0.05) -> Iterator[RecordedStep]:
    """``third_person_<key>`` / ``wrist_<key>`` image pairs in natural key order."""
    def key(p: Path) -> list[Any]:
        return [int(s) if s.isdigit() else s for s in re.split(r'(\d+)', p.stem)]
    thirds = sorted((p for p in path.glob('third_person_*')
                     if p.suffix.lower() in ('.png', '.jpg', '.jpeg')), key=key)
    if not thirds:
        raise InputError(f'no third_person_<key>.png images in {str(path)!r}')
    text = path / 'instruction.txt'
    task = text.read_text().strip() if text.is_file() else None
    for i, third in enumerate(thirds):
        wrist = next(path.glob('wrist_' + third.name[len('third_person_'):].rsplit('.', 1)[0]
                               + '.*'), None)
        if wrist is None:
            raise InputError(f'{third.name} has no wrist_<key> partner in {str(path)!r}')
        yield RecordedStep(i * period, np.asarray(Image.open(third).convert('RGB')),
                           np.asarray(Image.open(wrist).convert('RGB')), None, task)


def read_recording(path: str | Path, topics: dict[str, str] | None = None, slop: float = 0.02
                   ) -> list[RecordedStep]:
    """All steps of a bag or an image folder (see the module docstring)."""
    root = Path(path)
    if not root.exists():
        raise InputError(f'--replay {str(root)!r} does not exist')
    is_bag = root.suffix in ('.mcap', '.db3') or (root / 'metadata.yaml').is_file()
    steps = list(read_bag(root, {**TOPICS, **(topics or {})}, slop) if is_bag
                 else read_folder(root))
    if not steps:
        raise InputError(f'no image pairs in {str(root)!r}')
    return steps


def normalize_actions(actions: np.ndarray, norm: NormStats) -> np.ndarray:
    """Robot units → the policy's normalised units (inverse of ``unnormalize_actions``)."""
    span = norm.action_q99 - norm.action_q01
    use = norm.action_mask & (span > 0)
    x = 2.0 * (actions - norm.action_q01) / np.where(span > 0, span, 1.0) - 1.0
    return np.where(use, x, actions)


@dataclass
class Fidelity:
    """Per-step deviation of one configuration from the plain model."""

    label: str
    l1_norm: list[np.ndarray] = field(default_factory=list)  # per step (D,), chunk mean
    l1_robot: list[np.ndarray] = field(default_factory=list)
    gripper_differs: list[np.ndarray] = field(default_factory=list)  # per step (H,) bool
    mode: list[str] = field(default_factory=list)
    visual_kept: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Means over the steps (JSON-ready)."""
        g = np.concatenate(self.gripper_differs) if self.gripper_differs else np.zeros(0)
        return {'steps': len(self.mode),
                'l1_norm_per_dim': np.mean(self.l1_norm, axis=0).tolist(),
                'l1_robot_per_dim': np.mean(self.l1_robot, axis=0).tolist(),
                'l1_norm_max': float(np.max(self.l1_norm)),
                'gripper_disagreement': float(g.mean()) if g.size else 0.0,
                'gripper_rows': int(g.size),
                'fine_share': float(np.mean([m == 'fine' for m in self.mode])),
                'visual_kept': float(np.mean(self.visual_kept))}


def run_replay(policy: VLAPolicy, configs: Sequence[EvalConfig], steps: Sequence[RecordedStep],
               instruction: str | None = None) -> list[Fidelity]:
    """Plain vs each configuration on every step (see the module docstring)."""
    pruned = [c for c in configs if not c.is_unpruned]
    if not pruned:
        raise InputError('--replay needs at least one pruned configuration in --configs')
    runners = {c.label: make_runner(c, policy) for c in pruned}
    plain = make_runner(EvalConfig('unpruned', 'unpruned',
                                   pruned[0].pruner.replace(enabled=False)), policy)
    for r in [plain, *runners.values()]:
        r.reset()
    counts: dict[str, list[tuple[int, ...]]] = {c.label: [] for c in pruned}
    out = {c.label: Fidelity(c.label) for c in pruned}
    dim = policy.cfg.proprio_dim
    for step in steps:
        task = instruction or step.instruction or 'pick up the object'
        prop = (ee_state_to_proprio(step.pose) if step.pose is not None and dim == 8
                else np.zeros(dim))
        obs = Observation((step.third_person, step.wrist), prop, task, step.stamp)
        ref, _ = plain.predict_action_chunk(obs)
        ref = np.asarray(ref, dtype=np.float64)
        for c in pruned:
            runner = runners[c.label]
            if step.pose is not None:
                runner.update_pose(step.pose)
            if isinstance(runner, BaselineEngine) and c.budget == 'match':
                runner.set_budget(BudgetSchedule(counts[str(c.reference)]))
            actions, report = runner.predict_action_chunk(obs, now=step.stamp)
            act = np.asarray(actions, dtype=np.float64)
            counts[c.label].append(tuple(report.visual_per_layer))
            f = out[c.label]
            f.l1_robot.append(np.abs(act - ref).mean(axis=0))
            f.l1_norm.append(np.abs(normalize_actions(act, policy.norm_stats)
                                    - normalize_actions(ref, policy.norm_stats)).mean(axis=0))
            f.gripper_differs.append(process_action(act)[:, -1] != process_action(ref)[:, -1])
            f.mode.append(report.mode)
            f.visual_kept.append(int(report.visual_kept))
    return list(out.values())


def format_fidelity(results: Sequence[Fidelity], source: str, total_visual: int,
                    max_rows: int = 40) -> str:
    """The printed deviation report: per step (first ``max_rows``), then per configuration."""
    lines = [f'offline fidelity on {source}: pruned vs plain, every recorded step',
             '\nper step: mode, visual kept, mean L1 over dims (normalised), gripper rows '
             'that differ', '  step ' + ' | '.join(f'{f.label:>28}' for f in results)]
    for i in range(min(max_rows, len(results[0].mode)) if results else 0):
        lines.append(f'  {i:>4} ' + ' | '.join(
            f'{f.mode[i]:>14} {f.visual_kept[i]:>3} {float(np.mean(f.l1_norm[i])):.4f} '
            f'{int(f.gripper_differs[i].sum())}' for f in results))
    if results and len(results[0].mode) > max_rows:
        lines.append(f'  ... {len(results[0].mode) - max_rows} more steps in replay.json')
    dims = ' '.join(f'{d:>8}' for d in DIMS)
    for f in results:
        s = f.summary()
        lines += [f"\n{f.label}: {s['steps']} steps, visual kept {s['visual_kept']:.1f}/"
                  f"{total_visual}, fine mode {100 * s['fine_share']:.0f} % of steps",
                  f'  L1 per dim          {dims}',
                  '  normalised units    ' + ' '.join(f'{v:8.4f}' for v in s['l1_norm_per_dim']),
                  '  robot units         ' + ' '.join(f'{v:8.4f}'
                                                      for v in s['l1_robot_per_dim']),
                  f"  max per-step L1 (normalised, any dim): {s['l1_norm_max']:.4f}",
                  f"  gripper decision differs: {100 * s['gripper_disagreement']:.1f} % of "
                  f"{s['gripper_rows']} chunk rows"]
    return '\n'.join(lines)


def plot_fidelity(results: Sequence[Fidelity], path: Path) -> Path:
    """Deviation (mean normalised L1 over dims) per step, fine-mode steps shaded."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    shade = next((f for f in results if any(m in ('fine', 'coarse') for m in f.mode)), None)
    if shade is not None:
        for i, m in enumerate(shade.mode):
            if m == 'fine':
                ax.axvspan(i - 0.5, i + 0.5, color='tab:green', alpha=0.15, lw=0)
    for f in results:
        ax.plot(np.mean(f.l1_norm, axis=1), marker='.', label=f.label)
    ax.set_xlabel('recorded step' + (f' (shaded: {shade.label} in fine mode)' if shade else ''))
    ax.set_ylabel('mean L1 vs plain (normalised)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_fidelity(results: Sequence[Fidelity], out: Path) -> list[Path]:
    """``replay.json`` (summaries and per-step values) and ``replay_deviation.png``."""
    out.mkdir(parents=True, exist_ok=True)
    data = {f.label: {**f.summary(), 'per_step_l1_norm': np.asarray(f.l1_norm).tolist(),
                      'per_step_l1_robot': np.asarray(f.l1_robot).tolist(), 'mode': f.mode}
            for f in results}
    (out / 'replay.json').write_text(json.dumps(data, indent=1))
    return [out / 'replay.json', plot_fidelity(results, out / 'replay_deviation.png')]
