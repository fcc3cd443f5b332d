"""The probe's queries and what it measures on each, open loop against the unpruned chunk.

Queries come from unpruned LIBERO rollouts under the evaluation's protocol
(:func:`rollout_queries`), from LIBERO-layout HDF5 demonstrations (:func:`hdf5_queries`) or
from a recording (:func:`recording_queries`, rosbag2/MCAP or an image folder). Per query
:func:`measure_query` compares, for each kept-token count K, the chunk of every signal's
top-K tokens (cut before ``static_layer``) with the unpruned chunk: normalised L1 and the
fraction of gripper commands that flip. :func:`measure` runs them all, and the SpecPrune
configurations along each episode as the engine runs them. ROS-free.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.specprune.coverage import uniform_order
from specprune_ros.specprune.frames import patch_similarity
from specprune_ros.tools.eval.configs import EvalConfig, make_runner
from specprune_ros.tools.eval.replay import normalize_actions
from specprune_ros.tools.probe.signals import overlap, QueryRunner, top_k
from specprune_ros.vla.policy import Observation, VLAPolicy
from specprune_ros.vla.state import EEState

SIGNALS = ('random', 'uniform_grid', 'v_local', 'action_l01', 'nonvisual_l01', 'v_global',
           'v_dynamic', 'attention_all_layers', 'attribution')
DEFAULT_KS = (32, 64, 128, 192, 256, 384, 448)


@dataclass
class ProbeQuery:
    """One query: the observation and, when known, the measured pose and twist."""

    episode: str
    obs: Observation
    pose: EEState | None = None
    twist: tuple[np.ndarray, np.ndarray] | None = None  # linear, angular


@dataclass(frozen=True)
class ProbeSettings:
    """What to measure (defaults: a few minutes for the demo model on two CPU cores)."""

    ks: tuple[int, ...] = DEFAULT_KS
    static_layer: int = 2
    random_draws: int = 3
    attribution: int = 3  # random output projections; 0 = no attribution reference
    hit_ks: tuple[int, ...] = (20, 64)
    overlap_k: int = 64
    seed: int = 0


def rollout_queries(policy: VLAPolicy, suite: str, tasks: Sequence[int],
                    init_states: Sequence[int], max_steps: int | None, render: tuple[int, bool],
                    seed: int = 7) -> Iterator[ProbeQuery]:
    """The queries of unpruned episodes under OpenVLA-OFT's protocol (as specprune-eval)."""
    from specprune_ros.sim.env import LiberoEnv
    from specprune_ros.tools.eval.configs import parse_config
    from specprune_ros.tools.eval.protocol import (
        EpisodeKey,
        policy_observation,
        run_episode,
        sim_config,
    )

    plain = make_runner(parse_config('unpruned', suite), policy)
    for task in tasks:
        env = None
        try:
            for init in init_states:
                key = EpisodeKey(task, init, seed)
                cfg = sim_config(suite, key, max_steps, render[0] or 224, render[1])
                env = env or LiberoEnv.from_config(cfg)
                got: list[ProbeQuery] = []

                def record(current: Any, _query: Any, name: str = f'task{task}_init{init}',
                           instruction: str = env.instruction,
                           got: list[ProbeQuery] = got) -> None:
                    t = float(current.timestamp)
                    got.append(ProbeQuery(name, policy_observation(current, instruction),
                                          EEState(t, current.ee_pos, current.ee_quat),
                                          (current.ee_lin_vel, current.ee_ang_vel)))

                run_episode(env, plain, init, on_query=record)
                yield from got
        finally:
            if env is not None:
                env.close()


def hdf5_queries(paths: Sequence[Path], every: int = 8, max_demos: int = 4,
                 image_size: int = 224) -> Iterator[ProbeQuery]:
    """Every ``every``-th step of the first ``max_demos`` demonstrations (no-ops dropped)."""
    from specprune_ros.tools.train.data import FrameStore, read_demos

    demos = read_demos([Path(p) for p in paths])[:max_demos]
    store = FrameStore(demos, image_size, jpeg_roundtrip=False, cache_bytes=0)
    try:
        for d, demo in enumerate(demos):
            for t in range(0, len(demo), every):
                views = store.get(d, t)
                obs = Observation((views[0], views[1]), demo.proprio[t], demo.instruction,
                                  t * 0.05)
                yield ProbeQuery(f'{demo.source.name}:{demo.group}', obs)
    finally:
        store.close()


def recording_queries(path: Path, instruction: str | None, every: int = 8,
                      dim: int = 8) -> Iterator[ProbeQuery]:
    """Every ``every``-th synchronised step of a recording (rosbag2/MCAP or image folder)."""
    from specprune_ros.tools.eval.replay import read_recording
    from specprune_ros.vla.state import ee_state_to_proprio

    for i, step in enumerate(read_recording(path)):
        if i % every:
            continue
        task = instruction or step.instruction
        if not task:
            raise InputError(f'{path}: no instruction recorded; give --instruction')
        prop = ee_state_to_proprio(step.pose) if step.pose is not None and dim == 8 else \
            np.zeros(dim)
        yield ProbeQuery(Path(path).name, Observation((step.third_person, step.wrist), prop,
                                                      task, step.stamp), step.pose)


def _gripper(policy: VLAPolicy, chunk: np.ndarray) -> np.ndarray:
    """The binarised gripper command of each row (OFT's LIBERO rule on the raw value)."""
    raw = policy.norm_stats.unnormalize_actions(chunk)[:, -1]
    return -np.sign(2.0 * raw - 1.0)


class _Episode:
    """What a signal needs from the previous query of the same episode."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.importance: np.ndarray | None = None  # S_i proxy: all-layer task attention
        self.images: list[np.ndarray] | None = None


def measure_query(policy: VLAPolicy, query: ProbeQuery, settings: ProbeSettings,
                  previous: _Episode, rng: np.random.Generator) -> dict[str, Any]:
    """Every signal at every K on one query (see the module docstring)."""
    runner = QueryRunner(policy, query.obs, settings.static_layer)
    n = runner.num_visual
    if max(settings.ks) > n or min(settings.ks) < 1:
        raise InputError(f'--ks must be within 1..{n} (the visual tokens), got '
                         f'{list(settings.ks)}')
    ref = runner.reference()
    att = ref.attention  # group -> (layers, n)
    early = slice(0, settings.static_layer)
    scores: dict[str, np.ndarray | None] = {
        'uniform_grid': uniform_order(policy.cfg.num_views,
                                      round((n / policy.cfg.num_views) ** 0.5)),
        'v_local': att['task'][early].mean(0), 'action_l01': att['action'][early].mean(0),
        'nonvisual_l01': att['nonvisual'][early].mean(0),
        'v_global': previous.importance, 'attention_all_layers': att['task'].mean(0),
        'v_dynamic': None if previous.images is None else -np.concatenate(
            [patch_similarity(c, p, policy.cfg.patch_size)
             for c, p in zip(ref.images, previous.images)]),
        'attribution': runner.attribution(settings.attribution, settings.seed)
        if settings.attribution else None}
    grip_ref, scale = _gripper(policy, ref.chunk), float(np.abs(ref.chunk).mean())
    errors: dict[str, dict[int, float]] = {s: {} for s in SIGNALS}
    flips: dict[str, dict[int, float]] = {s: {} for s in SIGNALS}

    def score(chunk: np.ndarray) -> tuple[float, float]:
        return (float(np.abs(chunk - ref.chunk).mean()),
                float((_gripper(policy, chunk) != grip_ref).mean()))

    for k in settings.ks:
        draws = [score(runner.cut(rng.permutation(n)[:k])) for _ in range(settings.random_draws)]
        errors['random'][k] = float(np.mean([d[0] for d in draws]))
        flips['random'][k] = float(np.mean([d[1] for d in draws]))
        for name, s in scores.items():
            if s is not None:
                errors[name][k], flips[name][k] = score(runner.cut(top_k(s, k, rng)))
    last = att['task'][-1]  # every ranking breaks exact ties at random (uniform = chance)
    hit = {k: overlap(top_k(att['task'][early].mean(0), k, rng), top_k(last, k, rng))
           for k in settings.hit_ks if k <= n}
    per_layer = {k: [overlap(top_k(layer, k, rng), top_k(last, k, rng))
                     for layer in att['task']] for k in settings.hit_ks if k <= n}
    importance = att['task'].mean(0)
    temporal = (None if previous.importance is None or settings.overlap_k > n else
                overlap(top_k(previous.importance, settings.overlap_k, rng),
                        top_k(importance, settings.overlap_k, rng)))
    previous.importance, previous.images = importance, ref.images
    return {'episode': query.episode, 'scale': scale, 'errors': errors, 'flips': flips,
            'hit': hit, 'hit_per_layer': per_layer, 'temporal_overlap': temporal,
            'reference': ref.chunk}


def measure(policy: VLAPolicy, queries: Iterable[ProbeQuery], settings: ProbeSettings,
            configs: Sequence[EvalConfig], progress: Callable[[], None] | None = None
            ) -> list[dict[str, Any]]:
    """:func:`measure_query` on every query; the SpecPrune configurations along each episode."""
    rng = np.random.default_rng(settings.seed)
    engines = {c.label: make_runner(c, policy) for c in configs}
    previous, out = _Episode(), []
    for query in queries:
        if query.episode != previous.name:  # a new episode: no history
            previous = _Episode()
            previous.name = query.episode
            for engine in engines.values():
                engine.reset()
        record = measure_query(policy, query, settings, previous, rng)
        ref = record.pop('reference')
        grip_ref = _gripper(policy, ref)
        record['specprune'] = {}
        for label, engine in engines.items():
            if query.pose is not None:
                engine.update_pose(query.pose)
            if query.twist is not None:
                engine.update_twist(query.obs.stamp, *query.twist)
            actions, report = engine.predict_action_chunk(query.obs, now=query.obs.stamp)
            chunk = normalize_actions(np.asarray(actions, dtype=np.float64), policy.norm_stats)
            record['specprune'][label] = {
                'error': float(np.abs(chunk - ref).mean()),
                'flip': float((_gripper(policy, chunk) != grip_ref).mean()),
                'kept': int(report.visual_kept), 'mode': report.mode,
                'flops_ratio': float(report.flops_ratio)}
        out.append(record)
        if progress is not None:
            progress()
    if not out:
        raise InputError('no queries: the source gave no steps')
    return out
