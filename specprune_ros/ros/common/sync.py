"""ROS-free input plumbing of the policy node.

* :class:`ApproxTimeSync` matches the two cameras and the EE state by header stamp with a slop
  (bounded buffer per input; the newest complete set wins).
* :class:`LatestSlot` hands one item to a worker thread; a newer item replaces a pending one
  and counts as a drop, so nothing ever queues without bound.
* :class:`StalenessMonitor` is the watchdog: which inputs have not arrived for longer than a
  timeout (receipt time on a monotonic clock, so bag stamps and clock offsets do not matter).
* :class:`WindowStats` and :class:`LogThrottle`: rates, mean/max timings, throttled logging.

Everything is thread-safe and imports neither rclpy nor torch.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import math
import threading
import time
from typing import Any, Generic, TypeVar

T = TypeVar('T')


@dataclass(frozen=True)
class MatchedSet:
    """One synchronised set: ``stamp`` is the pivot input's stamp [s]."""

    stamp: float
    items: dict[str, Any]
    stamps: dict[str, float]
    costs_s: float = 0.0  # summed conversion + sync time of the member messages [s]

    @property
    def spread(self) -> float:
        """Largest stamp difference inside the set [s]."""
        return max(self.stamps.values()) - min(self.stamps.values())


@dataclass
class _Entry:
    stamp: float
    item: Any
    cost_s: float = 0.0


@dataclass
class SyncCounters:
    """What :class:`ApproxTimeSync` did (monotonic counters)."""

    received: dict[str, int] = field(default_factory=dict)
    matched: int = 0
    late: int = 0  # pivot messages not newer than the last set (out of order / duplicate)
    overflow: int = 0  # messages pushed out of a full buffer before they matched


class ApproxTimeSync:
    """Approximate-time synchroniser of named inputs.

    Each input keeps the newest ``queue_size`` messages sorted by stamp. After every arrival
    the pivot input's messages are tried from the newest down: for each, every other input
    contributes its message nearest in stamp, and the first set whose stamps all lie within
    ``slop`` seconds of each other (max - min <= slop) is returned. A set is only returned when
    its pivot stamp is newer than the previous set's, and the messages it can no longer beat
    (older than that stamp minus ``slop``) are discarded. The pivot is ``names[0]`` unless
    given.
    """

    def __init__(self, names: Sequence[str], slop: float, queue_size: int = 10,
                 pivot: str | None = None) -> None:
        """Create an empty synchroniser (``slop`` in seconds, ``queue_size`` >= 1)."""
        if len(names) < 1 or len(set(names)) != len(names):
            raise ValueError(f'names must be unique and non-empty, got {list(names)}')
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        self._names = tuple(names)
        self._pivot = self._names[0] if pivot is None else pivot
        if self._pivot not in self._names:
            raise ValueError(f'pivot {self._pivot!r} is not one of {self._names}')
        self._queue_size = int(queue_size)
        self._lock = threading.Lock()
        self._buffers: dict[str, list[_Entry]] = {n: [] for n in self._names}
        self._last = -math.inf
        self._slop = 0.0
        self.slop = slop
        self.counters = SyncCounters(received=dict.fromkeys(self._names, 0))

    @property
    def names(self) -> tuple[str, ...]:
        """The inputs, pivot first as given."""
        return self._names

    @property
    def slop(self) -> float:
        """Largest stamp spread of a set [s]."""
        return self._slop

    @slop.setter
    def slop(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f'slop must be a finite number of seconds >= 0, got {value!r}')
        self._slop = value

    def clear(self) -> None:
        """Forget every buffered message and the last set (counters are kept)."""
        with self._lock:
            for buf in self._buffers.values():
                buf.clear()
            self._last = -math.inf

    def buffered(self) -> dict[str, int]:
        """Messages buffered per input."""
        with self._lock:
            return {n: len(b) for n, b in self._buffers.items()}

    def add(self, name: str, stamp: float, item: Any, cost_s: float = 0.0
            ) -> MatchedSet | None:
        """Add one message; return the newest new complete set it made possible, if any."""
        if name not in self._buffers:
            raise KeyError(f'unknown input {name!r}; known: {self._names}')
        stamp = float(stamp)
        if not math.isfinite(stamp):
            raise ValueError(f'{name}: stamp must be finite, got {stamp!r}')
        with self._lock:
            self.counters.received[name] += 1
            if name == self._pivot and stamp <= self._last:
                self.counters.late += 1
                return None
            buf = self._buffers[name]
            stamps = [e.stamp for e in buf]
            pos = bisect.bisect_right(stamps, stamp)
            if pos > 0 and stamps[pos - 1] == stamp:
                buf[pos - 1] = _Entry(stamp, item, cost_s)  # same stamp: newer message wins
            else:
                buf.insert(pos, _Entry(stamp, item, cost_s))
                if len(buf) > self._queue_size:
                    del buf[0]
                    self.counters.overflow += 1
            return self._match()

    def _nearest(self, name: str, stamp: float) -> _Entry | None:
        buf = self._buffers[name]
        if not buf:
            return None
        pos = bisect.bisect_left([e.stamp for e in buf], stamp)
        cands = buf[max(0, pos - 1):pos + 1]
        return min(cands, key=lambda e: (abs(e.stamp - stamp), -e.stamp))

    def _match(self) -> MatchedSet | None:
        others = [n for n in self._names if n != self._pivot]
        for pivot in reversed(self._buffers[self._pivot]):
            if pivot.stamp <= self._last:
                break
            members = {self._pivot: pivot}
            for n in others:
                near = self._nearest(n, pivot.stamp)
                if near is None:
                    return None  # an input has nothing buffered: no set is possible yet
                members[n] = near
            stamps = [e.stamp for e in members.values()]
            if max(stamps) - min(stamps) <= self._slop:
                self._last = pivot.stamp
                self._discard(pivot.stamp - self._slop)
                self.counters.matched += 1
                return MatchedSet(pivot.stamp, {n: e.item for n, e in members.items()},
                                  {n: e.stamp for n, e in members.items()},
                                  sum(e.cost_s for e in members.values()))
        return None

    def _discard(self, before: float) -> None:
        """Drop the messages no later set can use (pivot <= last set, others < ``before``)."""
        for n, buf in self._buffers.items():
            limit = self._last if n == self._pivot else before
            keep = [e for e in buf if (e.stamp > limit if n == self._pivot
                                       else e.stamp >= limit)]
            buf[:] = keep


class LatestSlot(Generic[T]):
    """A one-item handoff: ``put`` never blocks and replaces a pending item (a drop)."""

    def __init__(self) -> None:
        """Create an empty, open slot."""
        self._cond = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self.put_count = 0
        self.taken = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Offer ``item``; True when it replaced a pending item (counted in ``dropped``)."""
        with self._cond:
            replaced = self._full
            self._item, self._full = item, True
            self.put_count += 1
            if replaced:
                self.dropped += 1
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Wait up to ``timeout`` s for an item; None on timeout or when closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if self._closed:
                return None
            item, self._item, self._full = self._item, None, False
            self.taken += 1
            return item

    def clear(self) -> bool:
        """Discard a pending item (not counted as a drop); True if there was one."""
        with self._cond:
            had, self._item, self._full = self._full, None, False
            return had

    def close(self) -> None:
        """Wake every waiter; later ``take`` calls return None at once."""
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()

    def reopen(self) -> None:
        """Open a closed slot again (empty)."""
        with self._cond:
            self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (and not :meth:`reopen`)."""
        return self._closed

    @property
    def pending(self) -> bool:
        """Whether an item waits to be taken."""
        return self._full


class StalenessMonitor:
    """Watchdog: an input is stale when it never arrived or arrived > ``timeout`` s ago."""

    def __init__(self, names: Sequence[str], timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Watch ``names`` (in this order) with ``timeout`` seconds."""
        self._names = tuple(names)
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._timeout = 0.0
        self.timeout = timeout

    @property
    def timeout(self) -> float:
        """Largest allowed age [s]."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f'timeout must be a finite number of seconds > 0, got {value!r}')
        self._timeout = value

    def mark(self, name: str, when: float | None = None) -> None:
        """Record that ``name`` arrived (now, or at ``when`` on the monitor's clock).

        An arrival older than the newest one recorded (a message taken late from a queue)
        never makes the input look fresher than it is.
        """
        if name not in self._names:
            raise KeyError(f'unknown input {name!r}; known: {self._names}')
        with self._lock:
            when = self._clock() if when is None else float(when)
            self._seen[name] = max(when, self._seen.get(name, when))

    def reset(self) -> None:
        """Forget every arrival (all inputs are stale again)."""
        with self._lock:
            self._seen.clear()

    def ages(self, now: float | None = None) -> dict[str, float | None]:
        """Seconds since each input arrived (None: never)."""
        now = self._clock() if now is None else now
        with self._lock:
            return {n: (now - self._seen[n] if n in self._seen else None) for n in self._names}

    def stale(self, now: float | None = None) -> list[str]:
        """The stale inputs, in declaration order (empty: all fresh)."""
        return [n for n, age in self.ages(now).items() if age is None or age > self._timeout]

    @staticmethod
    def describe(ages: dict[str, float | None], stale: Sequence[str]) -> str:
        """A log/diagnostics line like ``ee_state stale (0.82 s), wrist never received``."""
        parts = []
        for n in stale:
            age = ages.get(n)
            parts.append(f'{n} never received' if age is None else f'{n} stale ({age:.2f} s)')
        return ', '.join(parts)


class WindowStats:
    """Count and timing samples over a sliding time window (rate, mean, max)."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 max_samples: int = 10000) -> None:
        """Keep at most ``max_samples`` samples of the last ``window_s`` seconds."""
        self._window = float(window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self.total = 0

    def add(self, value: float = 0.0, when: float | None = None) -> None:
        """Record one event with a value (e.g. a duration in ms)."""
        with self._lock:
            self._samples.append((self._clock() if when is None else when, float(value)))
            self.total += 1

    def _recent(self, now: float) -> list[float]:
        while self._samples and self._samples[0][0] < now - self._window:
            self._samples.popleft()
        return [v for _, v in self._samples]

    def summary(self, now: float | None = None) -> dict[str, float]:
        """``{'count', 'rate_hz', 'mean', 'max'}`` of the window (zeros when empty)."""
        now = self._clock() if now is None else now
        with self._lock:
            values = self._recent(now)
            span = min(self._window, now - self._samples[0][0]) if self._samples else 0.0
        if not values:
            return {'count': 0, 'rate_hz': 0.0, 'mean': 0.0, 'max': 0.0}
        rate = (len(values) - 1) / span if len(values) > 1 and span > 0 else 0.0
        return {'count': len(values), 'rate_hz': rate, 'mean': sum(values) / len(values),
                'max': max(values)}


class LogThrottle:
    """Rate-limit log messages per key; reports how many were suppressed in between."""

    def __init__(self, period_s: float = 2.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        """At most one message per key every ``period_s`` seconds."""
        self._period = float(period_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, key: str, text: str, emit: Callable[[str], Any]) -> bool:
        """Call ``emit(text)`` unless ``key`` was emitted recently; True when emitted."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            skipped = self._suppressed.pop(key, 0)
        emit(text if not skipped else f'{text} ({skipped} similar messages suppressed)')
        return True
