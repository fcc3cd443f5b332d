"""OpenVLA-OFT's LIBERO evaluation protocol, one documented function per rule.

Facts from openvla-oft ``experiments/robot/libero/run_libero_eval.py``, ``libero_utils.py`` and
``experiments/robot/robot_utils.py``:

* :data:`WAIT_STEPS` (10) no-op steps :data:`NOOP_ACTION` ``[0,0,0,0,0,0,-1]`` (hold still,
  gripper open) at the start of each episode while the objects settle; they do not count
  towards the step limit (:func:`max_steps`: spatial 220, object 280, goal 300, libero_10 520).
* Trial ``i`` of a task starts from the benchmark's own initial state ``i``
  (:func:`episode_plan`); seed 7.
* Both views rotated 180° (:func:`rotate_180`, ``img[::-1, ::-1]``), rendered at 256 and brought
  to 224 by a JPEG round trip + Lanczos (the simulator does this, ``SimConfig.render_size``);
  the 90 % centre crop of checkpoints trained with it is the policy's own preprocessing.
* Proprio: EE position (3) + robosuite axis-angle (3) + gripper qpos (2) (:func:`proprio`).
* The policy's chunk is executed open loop for ``num_open_loop_steps`` (8) steps before the
  next query (:func:`run_episode`, :class:`OpenLoop`; ``specprune-eval --via-executor`` swaps
  this one rule for the chunk executor, :mod:`specprune_ros.tools.eval.executor`).
* Gripper (:mod:`specprune_ros.vla.action_space`): the model outputs 1 = open … 0 = close;
  :func:`normalize_gripper_action` maps
  [0, 1] to [-1, +1] and binarises with ``sign``, :func:`invert_gripper_action` flips the sign
  for LIBERO (-1 open, +1 close) (:func:`process_action` does both).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import time
from typing import Any, NamedTuple, Protocol

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.sim.config import MAX_STEPS, NOOP_ACTION, SimConfig, WAIT_STEPS
from specprune_ros.sim.observation import policy_view, SimObservation
from specprune_ros.sim.protocol import Env
from specprune_ros.specprune.runner import Runner
from specprune_ros.vla.action_space import (
    invert_gripper_action,
    normalize_gripper_action,
)
from specprune_ros.vla.policy import Observation
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import EEState

OFT_SEED = 7  # run_libero_eval.py GenerateConfig.seed
OFT_TRIALS = 50  # num_trials_per_task
OPEN_LOOP_STEPS = 8  # num_open_loop_steps (= the chunk length of the LIBERO checkpoints)
RENDER_SIZE = 256  # OFT renders LIBERO at 256 and resizes to the policy's 224
__all__ = ['MAX_STEPS', 'NOOP_ACTION', 'WAIT_STEPS', 'ActionSource', 'EpisodeKey',
           'EpisodeResult', 'OpenLoop', 'Query', 'drive_episode', 'episode_plan',
           'invert_gripper_action', 'max_steps', 'normalize_gripper_action', 'parse_tasks',
           'policy_observation', 'process_action', 'proprio', 'rotate_180', 'run_episode',
           'sim_config', 'wait_action']


def max_steps(suite: str) -> int:
    """Policy control steps per episode after the wait (OFT's ``TASK_MAX_STEPS``)."""
    if suite not in MAX_STEPS:
        raise InputError(f'unknown LIBERO suite {suite!r}; expected one of {sorted(MAX_STEPS)}')
    return MAX_STEPS[suite]


def wait_action() -> np.ndarray:
    """The no-op action of the wait steps: no motion, gripper open (-1)."""
    return np.asarray(NOOP_ACTION, dtype=np.float64)


def rotate_180(image: np.ndarray) -> np.ndarray:
    """LIBERO's native render → the policy view (``img[::-1, ::-1]``)."""
    return policy_view(image)


def process_action(action: np.ndarray) -> np.ndarray:
    """One policy action → the 7-D LIBERO action (OFT's ``process_action`` for OpenVLA)."""
    act = np.asarray(action, dtype=np.float64)
    if act.shape[-1:] != (7,) or not np.all(np.isfinite(act)):
        raise InputError(f'policy action must end in 7 finite values, got {act.tolist()}')
    return invert_gripper_action(normalize_gripper_action(act, binarize=True))


def proprio(obs: SimObservation) -> np.ndarray:
    """OFT's 8-D state: EE position, axis-angle (robosuite ``quat2axisangle``), gripper qpos."""
    return np.concatenate([obs.ee_pos, obs.ee_axis_angle, obs.gripper_qpos]).astype(np.float64)


def policy_observation(obs: SimObservation, instruction: str) -> Observation:
    """The policy's input at a simulator step (both views already in the policy view)."""
    return Observation(images=tuple(obs.images), proprio=proprio(obs),  # type: ignore[arg-type]
                       instruction=instruction, stamp=float(obs.timestamp))


def parse_tasks(text: str, n_tasks: int | None = None) -> list[int]:
    """``'0'``, ``'0-9'``, ``'0,3,5-7'`` → sorted unique task ids (checked against n_tasks)."""
    out: set[int] = set()
    for part in str(text).replace(' ', '').split(','):
        try:
            if '-' in part:
                lo, hi = (int(x) for x in part.split('-', 1))
                if hi < lo:
                    raise ValueError
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InputError(f'--tasks {text!r}: expected ids like 0, 0-9 or 0,3,5-7') from None
    bad = sorted(t for t in out if t < 0 or (n_tasks is not None and t >= n_tasks))
    if bad:
        raise InputError(f'--tasks {text!r}: tasks {bad} do not exist (0..{(n_tasks or 1) - 1})')
    return sorted(out)


class EpisodeKey(NamedTuple):
    """One paired episode: task, trial (= the benchmark's initial state ``trial``), seed."""

    task: int
    trial: int
    seed: int

    @property
    def init_state(self) -> int:
        """The benchmark initial state of this trial (OFT: trial i uses state i)."""
        return self.trial


def episode_plan(tasks: Sequence[int], trials: int, seed: int = OFT_SEED,
                 n_init_states: int = OFT_TRIALS, first_trial: int = 0) -> list[EpisodeKey]:
    """The (task, init state, seed) list every configuration runs, in task-major order.

    Trials ``first_trial .. first_trial + trials - 1`` (OFT: 0..49); a later first trial keeps
    the init states a policy was trained on out of its evaluation.
    """
    if first_trial < 0 or trials < 1 or first_trial + trials > n_init_states:
        raise InputError(f'--first-trial {first_trial} + --trials {trials} must lie in '
                         f'0..{n_init_states} (one trial per benchmark initial state)')
    return [EpisodeKey(int(t), i, int(seed)) for t in tasks
            for i in range(first_trial, first_trial + trials)]


def sim_config(suite: str, key: EpisodeKey, steps: int | None = None,
               render_size: int | None = RENDER_SIZE, fast_render: bool = False) -> SimConfig:
    """The simulator config of one episode (224 policy views rendered at ``render_size``)."""
    if render_size == 224:
        render_size = None
    return SimConfig(suite=suite, task_id=key.task, init_state_id=key.init_state,
                     seed=key.seed, camera_size=224, render_size=render_size,
                     fast_render=fast_render, wait_steps=WAIT_STEPS, max_steps=steps)


@dataclass
class Query:
    """One policy query of an episode (``step``: the control step it was made at)."""

    step: int
    step_ms: float  # wall time of the engine call (same measurement for every config)
    report: StepReport


@dataclass
class EpisodeResult:
    """Outcome of one episode of one configuration."""

    success: bool
    length: int  # control steps after the wait
    queries: list[Query] = field(default_factory=list)
    wall_s: float = 0.0
    start_proprio: list[float] = field(default_factory=list)  # after the wait: pairing check
    counters: dict[str, int] = field(default_factory=dict)  # the action source's (executor)


Ask = Callable[[SimObservation], np.ndarray]


class ActionSource(Protocol):
    """Which env action each control step executes (:func:`drive_episode`)."""

    def reset(self) -> None:
        """New episode."""

    def action(self, obs: SimObservation, ask: Ask) -> np.ndarray:
        """The 7-D env action of the step at ``obs``; ``ask(obs)`` queries the policy."""

    def counters(self) -> dict[str, int]:
        """Per-episode counters recorded with the episode (empty: none)."""


class OpenLoop:
    """OFT's open loop: the first ``steps`` actions of a chunk, then the next query."""

    def __init__(self, steps: int = OPEN_LOOP_STEPS) -> None:
        if steps < 1:
            raise InputError(f'num_open_loop_steps must be >= 1, got {steps}')
        self.steps = steps
        self._queue: deque[np.ndarray] = deque()

    def reset(self) -> None:
        """Drop what is left of the last chunk."""
        self._queue.clear()

    def action(self, obs: SimObservation, ask: Ask) -> np.ndarray:
        """The next queued action through :func:`process_action` (queries when empty)."""
        if not self._queue:
            chunk = ask(obs)
            self._queue.extend(chunk[:min(self.steps, chunk.shape[0])])
        return process_action(self._queue.popleft())

    def counters(self) -> dict[str, int]:
        """None."""
        return {}


def drive_episode(env: Env, runner: Runner, init_state: int, source: ActionSource,
                  on_query: Callable[[SimObservation, Query], Any] | None = None
                  ) -> EpisodeResult:
    """One episode: reset to ``init_state`` (wait steps included), then one action per step.

    Every control step feeds the measured EE pose and twist to the runner (its controller)
    and executes ``source``'s action. When the source asks, the current frames are rendered
    (the steps themselves render nothing) and the policy is queried on them. Ends on LIBERO's
    success or at the env's step limit.
    """
    t_start = time.perf_counter()
    obs = env.reset(init_state_id=init_state, render=True)
    runner.reset()
    source.reset()
    result = EpisodeResult(False, 0, start_proprio=proprio(obs).tolist())

    def ask(current: SimObservation) -> np.ndarray:
        if current.agentview is None:
            current = env.observe(render=True)
        t0 = time.perf_counter()
        actions, report = runner.predict_action_chunk(
            policy_observation(current, env.instruction), now=float(current.timestamp))
        query = Query(current.step, (time.perf_counter() - t0) * 1e3, report)
        result.queries.append(query)
        if on_query is not None:
            on_query(current, query)
        return np.asarray(actions, dtype=np.float64)

    while not env.done:
        stamp = float(obs.timestamp)
        runner.update_pose(EEState(stamp, obs.ee_pos, obs.ee_quat))
        runner.update_twist(stamp, obs.ee_lin_vel, obs.ee_ang_vel)
        obs, _ = env.step(source.action(obs, ask), render=False)
        result.length = obs.step
    result.success = bool(env.success())
    result.counters = source.counters()
    result.wall_s = time.perf_counter() - t_start
    return result


def run_episode(env: Env, runner: Runner, init_state: int, open_loop_steps: int = OPEN_LOOP_STEPS,
                on_query: Callable[[SimObservation, Query], Any] | None = None) -> EpisodeResult:
    """One OFT episode: reset to ``init_state`` (wait steps included), then query and act.

    Every control step feeds the measured EE pose and twist to the runner (its controller);
    when the action queue is empty the current frames are rendered and the policy is queried;
    the first ``open_loop_steps`` actions of the chunk are executed, each through
    :func:`process_action` (:class:`OpenLoop` under :func:`drive_episode`). Ends on LIBERO's
    success or at the env's step limit.
    """
    return drive_episode(env, runner, init_state, OpenLoop(open_loop_steps), on_query)
