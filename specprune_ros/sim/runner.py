"""Expert episodes, one at a time or spread over worker processes.

Work is split into jobs of one task and a few init states. A process keeps the env of the last
task it ran (building one takes ≈ 15 s with the first compile) and hard-resets it per episode
(≈ 1 s), so consecutive jobs of a task reuse it. Workers are separate processes (``spawn``):
each has its own MuJoCo and its own GL context, which robosuite allows only one of per process.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
import logging
import multiprocessing as mp
import time
from typing import Any

import numpy as np

from specprune_ros.sim.config import SimConfig
from specprune_ros.sim.env import LiberoEnv
from specprune_ros.sim.expert import SpatialExpert
from specprune_ros.sim.observation import SimObservation

log = logging.getLogger(__name__)
_CACHE: dict[str, Any] = {}  # this process's env: {'key': config JSON, 'env': LiberoEnv}


@dataclass
class Episode:
    """One expert episode: outcome, and (when recorded) every step's data.

    ``observations[t]`` is the observation before ``actions[t]`` (step t); ``states[t]`` the
    flattened MuJoCo state at step t; the observation after the last action is not kept
    (LIBERO's layout: one observation per action).
    """

    task_id: int
    init_state_id: int
    success: bool
    steps: int
    seconds: float
    instruction: str = ''
    init_state: np.ndarray | None = None
    actions: list[np.ndarray] = field(default_factory=list)
    observations: list[SimObservation] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)


def run_episode(env: LiberoEnv, expert: SpatialExpert, init_state_id: int,
                record: bool = False) -> Episode:
    """Reset ``env`` to ``init_state_id`` and let the expert act until the episode ends.

    With ``record`` every step is rendered (if the env has cameras) and kept.
    """
    start = time.perf_counter()
    obs = env.reset(init_state_id, render=record and env.config.cameras)
    expert.reset()
    ep = Episode(env.task.task_id, init_state_id, False, 0, 0.0, env.instruction,
                 env.init_state)
    done = False
    while not done:
        action = expert.act()
        if record:
            ep.observations.append(obs)
            ep.states.append(env.sim_state())
            ep.actions.append(action)
        obs, done = env.step(action, render=record and env.config.cameras)
    ep.success, ep.steps = env.success(), env.step_count
    ep.seconds = time.perf_counter() - start
    return ep


def _job(args: tuple[SimConfig, Sequence[int], bool, Callable[[Episode], object] | None]
         ) -> list[object]:
    config, init_ids, record, reduce = args
    env = _env_for(config)
    expert = SpatialExpert(env)
    out = []
    for i in init_ids:
        ep = run_episode(env, expert, i, record=record)
        out.append(reduce(ep) if reduce else ep)
    return out


def _env_for(config: SimConfig) -> LiberoEnv:
    """This process's env for ``config`` (any init state), built when the task changes."""
    key = config.replace(init_state_id=0).to_json()
    if _CACHE.get('key') != key:
        _close_env()
        _CACHE['env'] = LiberoEnv.from_config(config)
        _CACHE['key'] = key
    return _CACHE['env']


def _close_env() -> None:
    env = _CACHE.pop('env', None)
    _CACHE.pop('key', None)
    if env is not None:
        env.close()


def jobs(config: SimConfig, tasks: Sequence[int], init_ids: Sequence[int], chunk: int = 5
         ) -> list[tuple[SimConfig, list[int]]]:
    """(config of the task, init ids) work units, ``chunk`` episodes each."""
    out = []
    for task in tasks:
        ids = list(init_ids)
        for k in range(0, len(ids), chunk):
            out.append((config.replace(task_id=task), ids[k:k + chunk]))
    return out


def run_jobs(work: Sequence[tuple[SimConfig, list[int]]], workers: int = 1,
             record: bool = False, reduce: Callable[[Episode], object] | None = None
             ) -> Iterator[list[object]]:
    """Run the work units, in this process (``workers <= 1``) or in a spawn pool.

    Yields each unit's list of results (``reduce(episode)``, or the episodes) as it finishes,
    in completion order. ``reduce`` must be picklable (a module-level function) with workers.
    """
    args = [(cfg, ids, record, reduce) for cfg, ids in work]
    if workers <= 1:
        try:
            for a in args:
                yield _job(a)
        finally:
            _close_env()
        return
    with mp.get_context('spawn').Pool(workers) as pool:
        yield from pool.imap_unordered(_job, args)


def outcome(ep: Episode) -> dict[str, object]:
    """The episode reduced to task, init state, success, steps and seconds."""
    return {'task_id': ep.task_id, 'init_state_id': ep.init_state_id, 'success': ep.success,
            'steps': ep.steps, 'seconds': round(ep.seconds, 2)}
