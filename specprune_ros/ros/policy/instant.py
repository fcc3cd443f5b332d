"""Waiting for an instant: the newest stamp a stream has delivered. ROS-free, thread-safe.

In simulated time the policy steps on a set only once the twist and gripper state of the set's
instant have been handled too (they travel on their own topics): :class:`StampWatermark`.
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


class StampWatermark:
    """The newest stamp seen on one stream; :meth:`wait_for` an instant (thread-safe)."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        self._cond = threading.Condition()
        self.newest = -math.inf

    def mark(self, stamp: float) -> None:
        """A message stamped ``stamp`` was handled."""
        with self._cond:
            if stamp > self.newest:
                self.newest = stamp
                self._cond.notify_all()

    def wait_for(self, stamp: float, timeout: float) -> bool:
        """Wait up to ``timeout`` s (wall) for a stamp at or after ``stamp``; whether it came."""
        with self._cond:
            return self._cond.wait_for(lambda: self.newest >= stamp, timeout)

    def reset(self) -> None:
        """Forget what was seen."""
        with self._cond:
            self.newest = -math.inf
