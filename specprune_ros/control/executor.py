"""ROS-free core of ``specprune_executor``: chunk queue, time alignment, blending and safety.

A chunk is stamped with its images' time ``s``; its step k belongs to ``s + k*P`` (P = one
control period). At a tick at time t every queued chunk is at step ``round((t - s)/P)``,
never going back and never repeating a step, so a chunk that arrives late starts at the first
step whose time has not passed and the earlier ones are *skipped* (counted, never sent).

Blending (``ExecutorConfig.blend``), over the queued chunks that have a step for the tick:

* ``latest``: the newest chunk, at once.
* ``crossfade``: the newest chunk fades in linearly over N ticks
  (weight ``(j+1)/(N+1)`` at its j-th tick) over whatever was sent before; a chunk that runs
  out while it is faded out holds its last step.
* ``temporal_ensemble``: ACT's weights ``w_i = exp(-m*i)``, i = 0 the oldest chunk.

The gripper value never blends: it follows the newest chunk, binarised. Then the safety
chain: a tick without a fresh chunk (``hold_timeout``) or without a step (the queue ran dry:
an *idle* tick) sends nothing, or with ``hold_action`` a zero-motion action; the motion values
are rate limited (``max_delta`` from the previous tick, zero motion after a tick without an
action) and clamped; a non-finite value is never sent. :meth:`ChunkExecutor.request_due` says
when to ask the policy for the next chunk (pipelined inference).

All times are seconds on one clock (the node's ROS clock). Not thread-safe: the node calls it
from its executor thread only.
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
from dataclasses import dataclass, field
import math
from typing import Any

import numpy as np

from specprune_ros.control.executor_config import ExecutorConfig
from specprune_ros.errors import ConfigError, InputError
from specprune_ros.vla.action_space import binarise_gripper, OPEN

MAX_QUEUED = 64  # chunks kept at most (older ones are dropped first)
RTT_WINDOW = 8  # request-to-chunk latencies the automatic threshold looks at


class ChunkError(InputError):
    """An action chunk the executor cannot use (shape, non-finite values, dimensions)."""


@dataclass(frozen=True)
class Chunk:
    """One action chunk: ``actions`` (H, D), step k meant for ``stamp + k*period``."""

    stamp: float
    actions: np.ndarray
    step: int = 0
    frame_id: str = ''
    source_stamp: Any = None  # the message's own stamp, handed back unchanged (exact)

    @classmethod
    def from_flat(cls, stamp: float, horizon: int, action_dim: int, values: object,
                  step: int = 0, frame_id: str = '', source_stamp: Any = None) -> Chunk:
        """A chunk from a row-major list (an ActionChunk's fields), or ChunkError."""
        flat = np.asarray(values, dtype=np.float64).ravel()
        if horizon < 1 or action_dim < 1 or flat.size != horizon * action_dim:
            raise ChunkError(f'chunk has {flat.size} values for horizon={horizon} x '
                             f'action_dim={action_dim}; expected horizon*action_dim >= 1')
        if not np.isfinite(flat).all():
            raise ChunkError('chunk has non-finite values; not executed')
        if not math.isfinite(stamp):
            raise ChunkError(f'chunk stamp must be finite, got {stamp!r}')
        return cls(float(stamp), flat.reshape(horizon, action_dim), int(step), frame_id,
                   source_stamp)

    @property
    def horizon(self) -> int:
        """Number of steps."""
        return int(self.actions.shape[0])


@dataclass
class Tick:
    """What one control tick produced; ``values`` is None when nothing is to be published."""

    kind: str  # action, idle, hold, disabled, waiting or nonfinite
    values: np.ndarray | None = None
    reason: str = ''
    chunk: Chunk | None = None  # the newest chunk that contributed
    index: int = 0  # its step
    blended: bool = False
    skipped: int = 0  # steps of that chunk skipped so far (their time had passed)
    hold: bool = False  # values are the zero-motion hold action
    limited: bool = False  # the rate limit or the clamp changed a value


@dataclass
class ExecutorStats:
    """Monotonic counters of a :class:`ChunkExecutor`."""

    ticks: int = 0
    actions: int = 0
    idle_ticks: int = 0  # chunks are fresh but none has a step for the tick (ran dry)
    hold_ticks: int = 0  # no fresh chunk within hold_timeout
    disabled_ticks: int = 0
    waiting_ticks: int = 0  # enabled, no chunk yet
    blended: int = 0
    limited: int = 0
    nonfinite: int = 0
    chunks: int = 0  # accepted
    late_chunks: int = 0  # every step already in the past when it arrived
    out_of_order: int = 0  # not newer than a chunk already received
    skipped_steps: int = 0
    requests: int = 0
    clock_resets: int = 0  # the clock went back: everything queued was dropped


@dataclass
class _Queued:
    chunk: Chunk
    next: int | None = None  # the step the next tick may use (None: not used yet)
    index: int = 0
    skipped: int = 0
    uses: int = 0


@dataclass
class ChunkExecutor:
    """Turns action chunks into one action per tick; see the module docstring."""

    cfg: ExecutorConfig
    enabled: bool = False
    stats: ExecutorStats = field(default_factory=ExecutorStats)

    def __post_init__(self) -> None:
        """Start empty."""
        self._queue: list[_Queued] = []
        self._last_stamp = -math.inf
        self._last_received: float | None = None
        self._previous: np.ndarray | None = None  # last published values (motion baseline)
        self._gripper = OPEN
        self._dim: int | None = None
        self._request_time: float | None = None
        self._last_tick = -math.inf
        self.rtts: deque[float] = deque(maxlen=RTT_WINDOW)
        self.ages: deque[float] = deque(maxlen=RTT_WINDOW)  # chunk age (now - stamp) on arrival

    # --- inputs -------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        """Enable or disable; either way the queue is dropped and motion restarts from zero."""
        self.enabled = bool(on)
        self.reset()

    def reset(self) -> None:
        """Forget queued chunks, the chunk order, the last chunk time and the motion baseline."""
        self._queue.clear()
        self._last_stamp = -math.inf
        self._last_received = None
        self._previous = None
        self._request_time = None

    def add(self, chunk: Chunk, now: float) -> str:
        """Queue a chunk received at ``now``: ``queued``, ``late`` or ``out_of_order``.

        Raises ChunkError when its action dimension does not fit the parameters.
        """
        try:
            self.cfg.limits(chunk.actions.shape[1])
        except ConfigError as exc:
            raise ChunkError(f'chunk not executed: {exc}') from exc
        if self._request_time is not None:
            self.rtts.append(max(0.0, now - self._request_time))
            self._request_time = None
        self.ages.append(now - chunk.stamp)
        if chunk.stamp <= self._last_stamp:
            self.stats.out_of_order += 1
            return 'out_of_order'
        self._last_stamp = chunk.stamp
        if self._step_at(chunk, now) >= chunk.horizon:
            self.stats.late_chunks += 1
            self.stats.skipped_steps += chunk.horizon
            return 'late'
        if self._dim is not None and chunk.actions.shape[1] != self._dim:
            self._queue.clear()  # another action layout: never blend across it
        self._dim = chunk.actions.shape[1]
        self._queue.append(_Queued(chunk))
        del self._queue[:-MAX_QUEUED]
        self._last_received = now
        self.stats.chunks += 1
        return 'queued'

    def set_config(self, cfg: ExecutorConfig) -> None:
        """Use ``cfg`` from the next tick on (ConfigError if it does not fit the chunks)."""
        if self._dim is not None:
            cfg.limits(self._dim)
        self.cfg = cfg

    # --- the tick -------------------------------------------------------------------------------
    def tick(self, now: float) -> Tick:
        """The action for the tick at ``now`` (or why there is none)."""
        self.stats.ticks += 1
        cfg = self.cfg
        if now < self._last_tick - cfg.period:  # the clock went back (a simulation reset)
            self.reset()
            self.stats.clock_resets += 1
        self._last_tick = now
        if not self.enabled:
            self.stats.disabled_ticks += 1
            self._previous = None
            return Tick('disabled', reason='disabled: nothing is published until ~/enable '
                        'is called with true')
        if self._last_received is None:
            self.stats.waiting_ticks += 1
            return Tick('waiting', reason='waiting for the first chunk on ~/action_chunk')
        age = now - self._last_received
        if age > cfg.hold_timeout:
            self.stats.hold_ticks += 1
            self._queue.clear()
            return self._hold('hold', f'hold: no new chunk for {age:.2f} s (hold_timeout '
                              f'{cfg.hold_timeout:g} s)')
        self._advance(now)
        blended = self._blend()
        if blended is None:
            self.stats.idle_ticks += 1
            self._queue.clear()
            return self._hold('idle', 'idle: the queue ran dry before the next chunk came '
                              '(raise request_at_remaining or make inference faster)')
        values, newest, mixed = blended
        return self._finish(values, newest, mixed)

    def _step_at(self, chunk: Chunk, now: float) -> int:
        return max(0, math.floor((now - chunk.stamp) / self.cfg.period + 0.5))

    def _advance(self, now: float) -> None:
        for q in self._queue:
            start = 0 if q.next is None else q.next
            k = max(start, self._step_at(q.chunk, now))
            gap = min(k, q.chunk.horizon) - min(start, q.chunk.horizon)
            q.skipped += gap
            self.stats.skipped_steps += gap
            q.index, q.next = k, k + 1

    def _blend(self) -> tuple[np.ndarray, _Queued, bool] | None:
        """(values, newest contributing chunk, several chunks mixed) or None when dry."""
        queue, cfg = self._queue, self.cfg
        if not queue or queue[-1].index >= queue[-1].chunk.horizon:
            return None
        newest = queue[-1]
        if cfg.blend == 'latest':
            del queue[:-1]
            return newest.chunk.actions[newest.index].copy(), newest, False
        if cfg.blend == 'temporal_ensemble':
            queue[:] = [q for q in queue if q.index < q.chunk.horizon]
            rows = np.stack([q.chunk.actions[q.index] for q in queue])
            weights = np.exp(-cfg.ensemble_m * np.arange(len(queue)))
            return (weights @ rows) / weights.sum(), newest, len(queue) > 1
        n = cfg.crossfade_ticks  # crossfade
        weights = [min(1.0, (q.uses + 1) / (n + 1)) for q in queue]
        full = max(i for i, w in enumerate(weights) if w >= 1.0 or i == 0)
        del queue[:full]
        weights = weights[full:]
        value = self._row(queue[0])
        for q, w in zip(queue[1:], weights[1:]):
            value = w * self._row(q) + (1.0 - w) * value
        for q in queue:
            q.uses += 1
        return value, newest, len(queue) > 1

    @staticmethod
    def _row(q: _Queued) -> np.ndarray:
        return q.chunk.actions[min(q.index, q.chunk.horizon - 1)]

    def _gripper_value(self, raw: float) -> float:
        self._gripper = binarise_gripper(raw, self.cfg.gripper_mode, self._gripper)
        return self._gripper

    def _finish(self, values: np.ndarray, newest: _Queued, mixed: bool) -> Tick:
        cfg = self.cfg
        dim = values.shape[0]
        low, high, max_delta = cfg.limits(dim)
        motion = np.ones(dim, dtype=bool)
        out = values.astype(np.float64)
        g = cfg.gripper_index
        if g >= 0:
            motion[g] = False
            out[g] = self._gripper_value(float(self._row(newest)[g]))
        if not np.isfinite(out).all():
            self.stats.nonfinite += 1
            self._previous = None
            return Tick('nonfinite', reason='a non-finite action was not published')
        previous = np.zeros(dim) if self._previous is None else self._previous
        limited_values = np.clip(previous + np.clip(out - previous, -max_delta, max_delta),
                                 low, high)
        changed = motion & ~np.isclose(limited_values, out, rtol=0.0, atol=1e-12)
        out[motion] = limited_values[motion]
        self._previous = out.copy()
        self.stats.actions += 1
        self.stats.blended += int(mixed)
        self.stats.limited += int(changed.any())
        return Tick('action', out, chunk=newest.chunk, index=newest.index, blended=mixed,
                    skipped=newest.skipped, limited=bool(changed.any()))

    def _hold(self, kind: str, reason: str) -> Tick:
        """A tick without a chunk step: nothing, or the zero-motion hold action."""
        self._previous = None
        if not self.cfg.hold_action or self._dim is None:
            return Tick(kind, reason=reason)
        values = np.zeros(self._dim)
        if 0 <= self.cfg.gripper_index < self._dim:
            values[self.cfg.gripper_index] = self._gripper
        return Tick(kind, values, reason=reason, hold=True)

    # --- pipelined inference --------------------------------------------------------------------
    def remaining(self, now: float | None = None) -> int:
        """Steps of the newest chunk not yet sent nor past at ``now`` (0 when queue is empty)."""
        if not self._queue:
            return 0
        q = self._queue[-1]
        start = 0 if q.next is None else q.next
        if now is not None:
            start = max(start, self._step_at(q.chunk, now))
        return max(0, q.chunk.horizon - start)

    def request_threshold(self) -> int:
        """``request_at_remaining``, or the automatic one from the measured latencies."""
        cfg = self.cfg
        if cfg.request_at_remaining > 0:
            return cfg.request_at_remaining
        if not self.rtts:
            return (self._queue[-1].chunk.horizon // 2) if self._queue else 4
        return math.ceil(max(self.rtts) / cfg.period - 1e-9) + cfg.request_margin

    def request_due(self, now: float) -> bool:
        """Whether to ask for the next chunk now (call after :meth:`tick`)."""
        cfg = self.cfg
        if not (self.enabled and cfg.request_chunks):
            return False
        if self._request_time is not None and now - self._request_time < cfg.request_timeout:
            return False
        return self.remaining(now) <= self.request_threshold()

    def requested(self, now: float) -> None:
        """Record that a request was sent at ``now`` (the next chunk measures the latency)."""
        self._request_time = now
        self.stats.requests += 1
