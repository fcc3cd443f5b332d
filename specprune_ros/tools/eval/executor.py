"""``specprune-eval --via-executor``: episodes through the project's chunk executor.

OFT's open loop (execute 8 actions of a chunk, then query) is the one rule this replaces;
everything else is OFT's protocol (:mod:`specprune_ros.tools.eval.protocol`: wait steps, step
limit, initial states, seeds, rendering). :class:`ExecutorSource` runs each episode in
*simulated time* through :class:`specprune_ros.control.executor.ChunkExecutor`, the logic of
the ``specprune_executor`` node, configured as the main job's executor
(:data:`~specprune_ros.control.executor_config.SIMULATION_SETTINGS` over the node's defaults,
``config/executor.yaml``: crossfade over 3 ticks, automatic request threshold, zero-motion
holds, clamp and rate limit), with optional ``--executor-params`` over it.

Control step k of an episode is at sim time ``t = k * 0.05`` s (LIBERO's 20 Hz, the executor's
``control_rate``). At each step, first, when the executor's request logic says a chunk is due
(:meth:`ChunkExecutor.request_due`), the current frames are rendered, the policy is queried and
its chunk is handed over stamped with ``t`` and received at ``t + sim_latency``
(:class:`~specprune_ros.control.lockstep.Lockstep`, the rule of the executor node in lockstep;
``sim_latency`` 0 by default: **inference takes zero sim time**, the measured latency is 0, so
the automatic threshold asks with one step left). Then
the executor's tick at ``t`` gives the env action (motion values as the executor sends them,
gripper binarised by its ``oft_libero`` rule, which equals OFT's ``process_action``). A tick
that sends nothing executes the bridge's hold (zero motion, gripper as last commanded), as
``specprune_sim`` does. Counted per episode: ``held_steps`` (steps that executed a hold, the
executor's or that one) and ``late_steps`` (chunk steps skipped because their time had
passed), then the executor's own counters.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
import math
from typing import Any

import numpy as np

from specprune_ros.control.executor import Chunk, ChunkExecutor
from specprune_ros.control.executor_config import (
    executor_specs,
    ExecutorConfig,
    SIMULATION_SETTINGS,
)
from specprune_ros.control.lockstep import Lockstep
from specprune_ros.control.wire import as_sent, clamp_actions
from specprune_ros.errors import ConfigError, InputError
from specprune_ros.sim.config import CONTROL_PERIOD, NOOP_ACTION
from specprune_ros.sim.observation import SimObservation
from specprune_ros.tools.eval.configs import parse_value
from specprune_ros.tools.eval.protocol import Ask

# Parameters of the node's ROS side (outputs, lifecycle) or fixed by the simulation.
NODE_ONLY = ('lockstep', 'start_enabled', 'autostart', 'diagnostics_period', 'frame_id',
             'publish_twist', 'twist_linear_scale', 'twist_angular_scale')


def parse_executor_params(text: str) -> dict[str, Any]:
    """``--executor-params`` ``key=value,...`` → JSON-ready values (``a/b/c`` → a list)."""
    out: dict[str, Any] = {}
    for item in filter(None, ''.join(str(text).split()).split(',')):
        key, eq, value = item.partition('=')
        if not eq or not key or not value or key in out:
            raise InputError(f'--executor-params {text!r}: expected distinct key=value items, '
                             f'got {item!r}')
        parsed = parse_value(value)
        out[key] = list(parsed) if isinstance(parsed, tuple) else parsed
    return out


def executor_config(params: Mapping[str, Any] | None = None) -> ExecutorConfig:
    """The main job's executor config with ``params`` over it (InputError when invalid)."""
    params = dict(params or {})
    specs = {s.name: s for s in executor_specs()}
    fixed = sorted(set(params) & set(NODE_ONLY))
    if fixed:
        raise InputError(f'--executor-params: {fixed} are node settings the evaluation does '
                         'not use')
    for key, value in params.items():  # one value of a per-dimension list: all dims
        if key in specs and specs[key].type is tuple and not isinstance(value, (list, tuple)):
            params[key] = (value,)
    try:
        cfg = ExecutorConfig().replace(**SIMULATION_SETTINGS, **params)
    except ConfigError as exc:
        raise InputError(f'--executor-params: {exc}') from exc
    if not math.isclose(cfg.period, CONTROL_PERIOD):
        raise InputError(f'--executor-params: control_rate must be the simulator\'s '
                         f'{1.0 / CONTROL_PERIOD:g} Hz (one tick per control step), got '
                         f'{cfg.control_rate:g}')
    try:
        cfg.limits(len(NOOP_ACTION))
    except ConfigError as exc:
        raise InputError(f'--executor-params: {exc}') from exc
    return cfg


POLICY_BOUNDS = ((-1.0,) * len(NOOP_ACTION), (1.0,) * len(NOOP_ACTION))  # the node's defaults


class ExecutorSource:
    """An action source of ``drive_episode``: a :class:`ChunkExecutor` in simulated time."""

    def __init__(self, cfg: ExecutorConfig,
                 bounds: tuple[tuple[float, ...], tuple[float, ...]] = POLICY_BOUNDS) -> None:
        """``bounds``: the policy node's action_low/action_high (its defaults: -1..1)."""
        self.cfg, self.bounds = cfg, bounds
        self.executor = ChunkExecutor(cfg)
        self.lockstep = Lockstep(self.executor, cfg.sim_latency)
        self.held = 0
        self._gripper = float(NOOP_ACTION[-1])

    def reset(self) -> None:
        """A fresh executor (nothing queued, counters at zero), enabled; the gripper open."""
        self.executor = ChunkExecutor(self.cfg)
        self.executor.set_enabled(True)
        self.lockstep = Lockstep(self.executor, self.cfg.sim_latency)
        self.held = 0
        self._gripper = float(NOOP_ACTION[-1])

    def action(self, obs: SimObservation, ask: Ask) -> np.ndarray:
        """The executor's action at the step's sim time, after handing it a chunk if due."""
        lockstep, now = self.lockstep, float(obs.timestamp)
        if lockstep.begin_tick(now):
            chunk = ask(obs)
            sent = clamp_actions(chunk, *self.bounds) if chunk.shape[-1:] == (7,) else None
            if sent is not None:  # what the policy node publishes (float32, clamped)
                chunk = sent.astype(np.float64)
            horizon, dim = chunk.shape if chunk.ndim == 2 else (0, 0)  # 0: ChunkError
            lockstep.receive(Chunk.from_flat(now, horizon, dim, chunk, step=obs.step), now)
        tick = lockstep.tick(now)
        if tick.values is None or tick.hold:
            self.held += 1
        if tick.values is None:  # nothing sent: the bridge's hold
            values = np.zeros(len(NOOP_ACTION))
            values[-1] = self._gripper
            return values
        values = as_sent(tick.values)  # the executor's Action message is float32
        if values.shape != (len(NOOP_ACTION),):
            raise InputError(f'the executor sent {values.shape[0]} values; LIBERO takes '
                             f'{len(NOOP_ACTION)}')
        self._gripper = float(values[-1])
        return values

    def counters(self) -> dict[str, int]:
        """``held_steps``, ``late_steps``, then every counter of the executor's stats."""
        stats = asdict(self.executor.stats)
        return {'held_steps': self.held, 'late_steps': int(stats['skipped_steps']),
                **{k: int(v) for k, v in stats.items()}}
