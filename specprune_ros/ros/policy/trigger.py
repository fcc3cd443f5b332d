"""When the policy node runs inference: every synchronised set, or one per request.

``trigger_mode: continuous`` (the default) hands every new synchronised set to the inference
thread. ``on_request`` holds the newest set and hands one over per ``~/request`` (sent by
``specprune_executor`` when its current chunk runs low): the newest set at once if it was not
used yet, otherwise the next one that arrives. Inference then always runs on the newest frames
and only when a chunk is needed. A request may name the instant its chunk must see
(``min_stamp``, the lockstep executor's tick time): then only a set stamped at or after it
serves, and a request that a set already served is answered (a resend) is ignored, so each
instant is inferred once. ROS-free and thread-safe (callbacks and the inference thread).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math
import threading
from typing import Generic, TypeVar

T = TypeVar('T')
TRIGGER_MODES = ('continuous', 'on_request')


class RequestGate(Generic[T]):
    """Decides which synchronised sets go to inference (see the module docstring)."""

    def __init__(self) -> None:
        """Start with no set and no pending request."""
        self._lock = threading.Lock()
        self._latest: tuple[float, T] | None = None
        self._used = -math.inf  # stamp of the newest set handed over
        self._pending = False
        self._min_stamp = -math.inf  # the pending request's earliest acceptable stamp
        self.requests = 0
        self.served = 0

    def offer(self, stamp: float, item: T, on_request: bool) -> T | None:
        """A new set with ``stamp``: returns it when it should be inferred now."""
        if not on_request:
            return item
        with self._lock:
            self._latest = (stamp, item)
            if not self._pending or stamp < self._min_stamp:
                return None
            self._pending = False
            return self._serve()

    def request(self, min_stamp: float = -math.inf) -> T | None:
        """A request: the newest unused set to infer now, or None (the next set will go).

        ``min_stamp``: only a set stamped at or after it may serve; when the last set served
        already was, the request is a resend of an answered one and is ignored.
        """
        with self._lock:
            self.requests += 1
            if min_stamp > -math.inf and self._used >= min_stamp:
                return None
            latest = self._latest
            if latest is not None and latest[0] > self._used and latest[0] >= min_stamp:
                return self._serve()
            self._pending, self._min_stamp = True, min_stamp
            return None

    def _serve(self) -> T:
        assert self._latest is not None
        self._used = self._latest[0]
        self.served += 1
        return self._latest[1]

    def unserve(self, stamp: float) -> None:
        """The set stamped ``stamp`` gave no chunk: a request (or its resend) may use it again."""
        with self._lock:
            if self._used == stamp:
                self._used = -math.inf

    def clear(self) -> None:
        """Forget the held set and a pending request (counters are kept)."""
        with self._lock:
            self._latest, self._pending, self._used = None, False, -math.inf
            self._min_stamp = -math.inf

    @property
    def pending(self) -> bool:
        """Whether a request waits for the next set."""
        return self._pending
