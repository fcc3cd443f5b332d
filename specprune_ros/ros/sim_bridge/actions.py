"""ROS-free core of the ``specprune_sim`` bridge: which action each simulator step executes.

The node's subscriptions put actions (``~/action``, the executor's) or action chunks
(``~/action_chunk``) into an :class:`ActionInbox`; the simulation thread takes one
:class:`StepAction` per control step:

* ``action`` source: the newest action stamped at or after the step's time (simulated time:
  the executor's tick at that /clock value; real time: any action not yet used). An action of
  an earlier tick is never executed late.
* ``chunk`` source: the first ``chunk_steps`` steps of a chunk, in order, from its step 0 (the
  open-loop protocol of OpenVLA-OFT), then the newest chunk that is newer than it. The gripper
  value is binarised like the executor does (``oft_libero``: ``-sign(2g-1)``).

When nothing arrives within the wait the step *holds*: zero motion, gripper as last commanded
(open, -1, at the start of an episode); an executor action with ``hold`` and no values (a
lockstep tick that sends nothing) is that same hold. Bad input (wrong length, non-finite
values) raises :class:`InputError` and is never executed. In lockstep the inbox also notes the
newest chunk request and chunk seen on the watched topics (:meth:`ActionInbox.note_request`,
:meth:`ActionInbox.note_chunk`), so the bridge can render the requested instant and name a
silent node. Thread-safe.
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
import math
import threading
import time

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.sim.config import NOOP_ACTION
from specprune_ros.vla.action_space import binarise_gripper

ACTION_DIM = len(NOOP_ACTION)  # LIBERO: dx, dy, dz, droll, dpitch, dyaw, gripper
GRIPPER = ACTION_DIM - 1
OPEN = NOOP_ACTION[GRIPPER]  # -1: LIBERO's open gripper
STAMP_TOLERANCE = 1e-4  # s: stamps this close count as the same tick


@dataclass(frozen=True)
class StepAction:
    """The action of one step: ``kind`` action | chunk | hold (nothing arrived in time)."""

    values: np.ndarray
    kind: str
    stamp: float = math.nan  # the message's stamp (nan for a hold)
    index: int = 0  # chunk source: the step of the chunk

    @property
    def held(self) -> bool:
        """Whether this is a hold (zero motion), the bridge's or the executor's."""
        return self.kind == 'hold'


def check_action(values: object, what: str) -> np.ndarray:
    """``values`` as a (7,) float64 array, or InputError saying what is wrong."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.shape != (ACTION_DIM,):
        raise InputError(f'{what} has {arr.size} values; LIBERO needs {ACTION_DIM} (dx, dy, dz, '
                         'droll, dpitch, dyaw, gripper); not executed')
    if not np.isfinite(arr).all():
        raise InputError(f'{what} has non-finite values {arr.tolist()}; not executed')
    return arr


class ActionInbox:
    """Actions or chunks from the subscriptions, one :class:`StepAction` per step."""

    def __init__(self, source: str = 'action', chunk_steps: int = 8,
                 gripper_mode: str = 'oft_libero') -> None:
        """``source``: action | chunk (see the module docstring)."""
        if source not in ('action', 'chunk'):
            raise InputError(f'action source must be action or chunk, got {source!r}')
        self.source, self.chunk_steps, self.gripper_mode = source, chunk_steps, gripper_mode
        self._cond = threading.Condition()
        self._actions: list[tuple[float, np.ndarray | None, bool]] = []  # (stamp, values, hold)
        self._pending: tuple[float, np.ndarray] | None = None  # newest chunk not yet started
        self._chunk: tuple[float, np.ndarray] | None = None  # the chunk being executed
        self._index = 0
        self._gripper = OPEN
        self.received = 0
        self.request_stamp = -math.inf  # newest chunk request seen (lockstep watch)
        self.chunk_stamp = -math.inf  # newest chunk seen (lockstep watch)

    # --- producers (subscription callbacks) ---------------------------------------------------
    def put_action(self, stamp: float, values: object, hold: bool = False) -> None:
        """An executor action (``hold``: its zero-motion hold; a hold without values: ours)."""
        arr = (None if hold and len(values) == 0  # type: ignore[arg-type]
               else check_action(values, 'action'))
        with self._cond:
            self._actions.append((float(stamp), arr, bool(hold)))
            del self._actions[:-16]  # only the newest few can still be used
            self.received += 1
            self._cond.notify_all()

    def put_chunk(self, stamp: float, horizon: int, action_dim: int, values: object) -> None:
        """An action chunk (row-major ``values``, ``horizon`` x ``action_dim``)."""
        flat = np.asarray(values, dtype=np.float64).ravel()
        if action_dim != ACTION_DIM or horizon < 1 or flat.size != horizon * action_dim:
            raise InputError(f'chunk of {flat.size} values for horizon={horizon} x action_dim='
                             f'{action_dim}; LIBERO needs action_dim {ACTION_DIM}; not executed')
        if not np.isfinite(flat).all():
            raise InputError('chunk has non-finite values; not executed')
        with self._cond:
            newest = self._pending or self._chunk
            if newest is not None and stamp <= newest[0]:
                return  # not newer than one already received
            self._pending = (float(stamp), flat.reshape(horizon, action_dim))
            self.received += 1
            self._cond.notify_all()

    def note_request(self, stamp: float) -> None:
        """A chunk request for the frames of ``stamp`` was seen (lockstep watch)."""
        with self._cond:
            self.request_stamp = max(self.request_stamp, float(stamp))
            self._cond.notify_all()

    def note_chunk(self, stamp: float) -> None:
        """A chunk stamped ``stamp`` was seen on its way to the executor (lockstep watch)."""
        with self._cond:
            self.chunk_stamp = max(self.chunk_stamp, float(stamp))

    def clear(self) -> None:
        """A new episode: forget every action and chunk; the gripper command is open again."""
        with self._cond:
            self._actions.clear()
            self._pending = self._chunk = None
            self._index, self._gripper = 0, OPEN
            self.request_stamp = self.chunk_stamp = -math.inf

    # --- the consumer (simulation thread) ---------------------------------------------------
    def hold(self) -> StepAction:
        """Zero motion, gripper as last commanded."""
        values = np.zeros(ACTION_DIM)
        values[GRIPPER] = self._gripper
        return StepAction(values, 'hold')

    def current_stamp(self) -> float:
        """Chunk source: the stamp of the chunk being executed (-inf before the first)."""
        with self._cond:
            return -math.inf if self._chunk is None else self._chunk[0]

    def wants_chunk(self) -> bool:
        """Chunk source: the current chunk is used up and no newer one is waiting."""
        with self._cond:
            return self.source == 'chunk' and self._pending is None and not self._chunk_left()

    def take(self, min_stamp: float | None, timeout: float, allow_hold: bool = True,
             hold_on_timeout: bool = True) -> StepAction | None:
        """The action of the next step, waiting up to ``timeout`` s (wall clock).

        ``min_stamp``: action source, the step's time (the action must be stamped at or after
        it); None = any action not used yet. ``allow_hold=False``: an executor hold action does
        not count, and None comes back instead of the bridge's hold. ``hold_on_timeout=False``:
        None instead of the bridge's hold, also when a chunk request is noted (lockstep).
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            requested = self.request_stamp
            while True:
                got = self._ready(min_stamp, allow_hold)
                if got is not None:
                    return got
                left = deadline - time.monotonic()
                if left <= 0.0 or (not hold_on_timeout and self.request_stamp != requested):
                    return self.hold() if allow_hold and hold_on_timeout else None
                self._cond.wait(left)

    def _chunk_left(self) -> bool:
        chunk = self._chunk
        return chunk is not None and self._index < min(self.chunk_steps, len(chunk[1]))

    def _ready(self, min_stamp: float | None, allow_hold: bool) -> StepAction | None:
        if self.source == 'chunk':
            if not self._chunk_left():
                if self._pending is None:
                    return None
                self._chunk, self._pending, self._index = self._pending, None, 0
            stamp, actions = self._chunk
            row = np.clip(actions[self._index], -1.0, 1.0)
            self._gripper = binarise_gripper(float(actions[self._index, GRIPPER]),
                                             self.gripper_mode, self._gripper)
            row[GRIPPER] = self._gripper
            self._index += 1
            return StepAction(row, 'chunk', stamp, self._index - 1)
        floor = -math.inf if min_stamp is None else min_stamp - STAMP_TOLERANCE
        usable = [a for a in self._actions if a[0] >= floor and (allow_hold or not a[2])]
        if not usable:
            return None
        stamp, values, hold = usable[-1]
        self._actions = [a for a in self._actions if a[0] > stamp]  # used, or too old now
        if values is None:  # the executor sent nothing this tick: our hold
            return StepAction(self.hold().values, 'hold', stamp)
        self._gripper = float(values[GRIPPER])
        return StepAction(values.copy(), 'hold' if hold else 'action', stamp)
