"""The chunk executor in lockstep simulated time: request before the tick, a latency in sim time.

In a simulation the clock is the simulator's, so inference can take any *simulated* time we
choose instead of whatever the CPU happened to need. :class:`Lockstep` wraps a
:class:`~specprune_ros.control.executor.ChunkExecutor` for that case; it is the one rule shared
by ``specprune-eval --via-executor`` and the ``specprune_executor`` node with ``lockstep:=true``
(the main job), so both run the same episode:

1. :meth:`Lockstep.begin_tick` at tick time ``t``: chunks whose simulated delivery time has come
   are handed to the executor; then, when :meth:`ChunkExecutor.request_due` says so, a request
   is recorded at ``t`` and True comes back: the caller queries the policy on the frames of
   instant ``t`` (the clock master does not advance while it waits) and hands the answer to
   :meth:`Lockstep.receive`.
2. :meth:`Lockstep.receive`: the chunk is delivered at ``t + sim_latency`` (simulated), i.e.
   the executor sees it from the first tick at or after that time, and measures that latency.
3. :meth:`Lockstep.tick`: the executor's tick at ``t`` after the deliveries due by then.

With ``sim_latency`` 0 the requesting tick already uses step 0 of its chunk (inference takes no
simulated time). ROS-free, not thread-safe.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from specprune_ros.control.executor import Chunk, ChunkExecutor, Tick
from specprune_ros.control.wire import SAME_INSTANT


class Lockstep:
    """A :class:`ChunkExecutor` driven in simulated lockstep (see the module docstring)."""

    def __init__(self, executor: ChunkExecutor, sim_latency: float = 0.0) -> None:
        """``sim_latency``: simulated seconds between a request and the use of its chunk."""
        if not sim_latency >= 0.0:
            raise ValueError(f'sim_latency must be >= 0 s, got {sim_latency!r}')
        self.executor, self.sim_latency = executor, float(sim_latency)
        self.awaiting: float | None = None  # the tick time of the open request
        self._transit: list[tuple[float, Chunk]] = []  # (delivery time, chunk)
        self.results: list[str] = []  # what ChunkExecutor.add said, newest last

    def reset(self) -> None:
        """Forget an open request and the chunks in transit."""
        self.awaiting = None
        self._transit.clear()

    def begin_tick(self, now: float) -> bool:
        """Deliver the chunks due by ``now``; True when a chunk must be requested now."""
        self._deliver(now)
        if not self.executor.request_due(now):
            return False
        self.executor.requested(now)
        self.awaiting = now
        return True

    def receive(self, chunk: Chunk, now: float) -> bool:
        """A chunk from the policy, delivered ``sim_latency`` after its request.

        True when it answers the open request (stamped at or after the request's tick: the
        request is closed); any other chunk leaves the request open and counts from ``now``.
        """
        answered = self.answers(chunk.stamp)
        sent = self.awaiting if answered else now
        if answered:
            self.awaiting = None
        self._transit.append((sent + self.sim_latency, chunk))
        return answered

    def answers(self, stamp: float) -> bool:
        """Whether a chunk stamped ``stamp`` answers the open request."""
        return self.awaiting is not None and stamp >= self.awaiting - SAME_INSTANT

    def tick(self, now: float) -> Tick:
        """The executor's tick at ``now``, after the chunks due by then."""
        self._deliver(now)
        return self.executor.tick(now)

    def _deliver(self, now: float) -> None:
        due = [c for t, c in self._transit if t <= now + SAME_INSTANT]
        self._transit = [(t, c) for t, c in self._transit if t > now + SAME_INSTANT]
        for chunk in due:  # ChunkError (wrong dimension) goes to the caller
            self.results.append(self.executor.add(chunk, now))
            del self.results[:-16]
