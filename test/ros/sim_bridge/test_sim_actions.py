"""ActionInbox: which action each step of the bridge executes (ROS-free)."""

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
import time

import numpy as np
import pytest

from specprune_ros.errors import InputError
from specprune_ros.ros.sim_bridge.actions import ActionInbox, binarise_gripper


def act(x: float, gripper: float = -1.0) -> list[float]:
    return [x, 0.0, 0.0, 0.0, 0.0, 0.0, gripper]


def test_action_source_executes_the_action_of_the_step_once() -> None:
    inbox = ActionInbox('action')
    inbox.put_action(1.00, act(0.1))
    inbox.put_action(1.05, act(0.2))
    got = inbox.take(1.05, 0.0)
    assert got.kind == 'action' and got.values[0] == pytest.approx(0.2) and got.stamp == 1.05
    held = inbox.take(1.10, 0.0)  # used: nothing new for the next step
    assert held.held and np.array_equal(held.values, act(0.0))


def test_an_action_of_an_earlier_tick_is_never_executed_late() -> None:
    inbox = ActionInbox('action')
    inbox.put_action(1.00, act(0.5, gripper=1.0))
    got = inbox.take(1.05, 0.0)
    assert got.held and got.values[0] == 0.0
    assert got.values[6] == -1.0  # nothing executed yet: the gripper is still open


def test_hold_keeps_the_last_gripper_command() -> None:
    inbox = ActionInbox('action')
    inbox.put_action(1.0, act(0.3, gripper=1.0))
    inbox.take(1.0, 0.0)
    assert np.array_equal(inbox.take(1.05, 0.0).values, act(0.0, gripper=1.0))
    inbox.clear()  # a new episode opens the gripper again
    assert inbox.take(1.1, 0.0).values[6] == -1.0


def test_take_waits_for_an_action_from_another_thread() -> None:
    inbox = ActionInbox('action')
    timer = threading.Timer(0.05, inbox.put_action, (2.0, act(0.4)))
    timer.start()
    got = inbox.take(2.0, 5.0)
    timer.join()
    assert got.kind == 'action' and got.stamp == 2.0


def test_the_executors_hold_does_not_start_an_episode() -> None:
    inbox = ActionInbox('action')
    inbox.put_action(1.0, act(0.0), hold=True)
    assert inbox.take(None, 0.0, allow_hold=False) is None
    inbox.put_action(1.05, act(0.1))
    assert inbox.take(None, 0.0, allow_hold=False).kind == 'action'


@pytest.mark.parametrize('values', [act(0.1)[:6], [*act(0.1), 0.0], act(float('nan')),
                                    act(float('inf'))])
def test_bad_actions_are_rejected(values: list[float]) -> None:
    inbox = ActionInbox('action')
    with pytest.raises(InputError):
        inbox.put_action(1.0, values)
    assert inbox.take(1.0, 0.0).held


def test_chunk_source_runs_the_first_steps_in_order_then_the_newest_chunk() -> None:
    inbox = ActionInbox('chunk', chunk_steps=3)
    assert inbox.wants_chunk()
    chunk = np.zeros((8, 7))
    chunk[:, 0] = np.arange(8) / 10
    chunk[:, 6] = 0.9  # OFT's model: 1 = open -> -1
    inbox.put_chunk(1.0, 8, 7, chunk.ravel())
    assert not inbox.wants_chunk()
    rows = [inbox.take(None, 0.0)]  # the chunk starts; newer ones wait until it is used up
    newer = chunk.copy()
    newer[:, 0] += 0.5
    newer[:, 6] = 0.1  # close -> +1
    inbox.put_chunk(1.1, 8, 7, newer.ravel())
    inbox.put_chunk(1.05, 8, 7, (newer + 9).ravel())  # older than the newest: ignored
    rows += [inbox.take(None, 0.0) for _ in range(5)]
    assert [r.index for r in rows] == [0, 1, 2, 0, 1, 2]
    assert [r.stamp for r in rows] == [1.0] * 3 + [1.1] * 3
    np.testing.assert_allclose([r.values[0] for r in rows], [0, 0.1, 0.2, 0.5, 0.6, 0.7])
    assert [r.values[6] for r in rows] == [-1.0] * 3 + [1.0] * 3
    assert inbox.wants_chunk() and inbox.current_stamp() == 1.1
    assert inbox.take(None, 0.0).held
    newest = chunk.copy()
    inbox.put_chunk(1.2, 8, 7, newest.ravel())
    inbox.put_chunk(1.3, 8, 7, (newest + 0.25).ravel())  # replaces the one not started
    assert inbox.take(None, 0.0).stamp == 1.3


def test_bad_chunks_are_rejected() -> None:
    inbox = ActionInbox('chunk')
    with pytest.raises(InputError):
        inbox.put_chunk(1.0, 8, 6, np.zeros(48))  # not LIBERO's 7
    with pytest.raises(InputError):
        inbox.put_chunk(1.0, 8, 7, np.zeros(55))
    with pytest.raises(InputError):
        inbox.put_chunk(1.0, 1, 7, [np.nan] * 7)
    assert inbox.wants_chunk()


def test_gripper_rule_is_the_executors() -> None:
    assert binarise_gripper(0.9, 'oft_libero', 1.0) == -1.0
    assert binarise_gripper(0.2, 'oft_libero', -1.0) == 1.0
    assert binarise_gripper(0.5, 'oft_libero', 1.0) == 1.0  # exactly 0: keep
    assert binarise_gripper(-0.3, 'sign', 1.0) == -1.0


def test_an_empty_executor_hold_is_the_bridges_hold() -> None:
    inbox = ActionInbox('action')
    inbox.put_action(1.0, [0.1, 0, 0, 0, 0, 0, 1.0])
    assert inbox.take(1.0, 0.0).kind == 'action'
    inbox.put_action(1.05, [], hold=True)  # lockstep: the tick sent nothing
    got = inbox.take(1.05, 0.0)
    assert got.held and got.values.tolist() == [0, 0, 0, 0, 0, 0, 1.0]  # gripper as commanded
    with pytest.raises(InputError):
        inbox.put_action(1.1, [], hold=False)  # no values and no hold: not an action


def test_lockstep_wait_returns_on_a_noted_request() -> None:
    inbox = ActionInbox('action')
    threading.Timer(0.05, inbox.note_request, args=(1.0,)).start()
    t0 = time.monotonic()
    assert inbox.take(1.0, 5.0, hold_on_timeout=False) is None  # woke up for the request
    assert time.monotonic() - t0 < 2.0 and inbox.request_stamp == 1.0
    inbox.note_chunk(1.0)
    assert inbox.chunk_stamp == 1.0
    inbox.clear()
    assert inbox.request_stamp == inbox.chunk_stamp == -math.inf
