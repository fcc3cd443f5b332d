"""Pairs the gripper state with the EE pose of the same instant, by stamp.

The policy's proprio holds both the EE pose and the two finger positions, which arrive on two
topics. Taking "the newest gripper state" when a pose arrives is wrong whenever the executor
runs the pose callback before the gripper message of the same step (rclpy serves ready
subscriptions in creation order, not arrival order): the proprio then carries the previous
step's fingers. A policy trained on LIBERO demos failed through ROS for exactly that reason.

:class:`GripperTrack` keeps the recent gripper states by stamp. :meth:`proprio_gripper` gives the
state stamped like the pose when it is there, else the newest one not after the pose; the pose's
array is remembered, and when the gripper message of that stamp comes later its values are
written into it (the proprio still waits in the synchroniser for the images). Unstamped gripper
messages (stamp 0) mean "the current state" and are used as the newest. ROS-free.
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

import numpy as np

from specprune_ros.control.wire import SAME_INSTANT

HISTORY = 64  # gripper states / waiting poses remembered


class GripperTrack:
    """Recent gripper states by stamp, and the poses still waiting for theirs."""

    def __init__(self, history: int = HISTORY) -> None:
        """Start with the fingers at 0 (no gripper message yet)."""
        self.latest = np.zeros(2)
        self._states: deque[tuple[float, np.ndarray]] = deque(maxlen=history)
        self._waiting: deque[tuple[float, np.ndarray]] = deque(maxlen=history)

    def add(self, stamp: float, value: np.ndarray) -> None:
        """A gripper state (2,); fills in the poses of the same stamp that came first."""
        value = np.asarray(value, dtype=np.float64).reshape(2)
        self.latest = value
        if stamp <= 0.0:
            return
        self._states.append((stamp, value))
        for pose_stamp, proprio in self._waiting:
            if abs(pose_stamp - stamp) <= SAME_INSTANT:
                proprio[-2:] = value
        self._waiting = deque(((s, p) for s, p in self._waiting if s > stamp + SAME_INSTANT),
                              maxlen=self._waiting.maxlen)

    def proprio_gripper(self, stamp: float, proprio: np.ndarray) -> np.ndarray:
        """Write the gripper state of the pose at ``stamp`` into ``proprio[-2:]``; returns it.

        The same-stamp state when known; else the newest state not after ``stamp`` (or the
        newest at all), and ``proprio`` is updated in place if its own state comes later.
        """
        for s, value in reversed(self._states):
            if abs(s - stamp) <= SAME_INSTANT:
                proprio[-2:] = value
                return proprio
        older = [v for s, v in self._states if s < stamp]
        proprio[-2:] = older[-1] if older else self.latest
        if stamp > 0.0:
            self._waiting.append((stamp, proprio))
        return proprio
