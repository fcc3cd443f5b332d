"""ROS-free tests of the policy node's inference trigger (specprune_ros.ros.policy.trigger)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from specprune_ros.ros.policy.trigger import RequestGate


def test_continuous_passes_every_set() -> None:
    gate: RequestGate[str] = RequestGate()
    assert [gate.offer(t, f's{t}', on_request=False) for t in (1.0, 2.0)] == ['s1.0', 's2.0']


def test_on_request_serves_the_newest_unused_set_once() -> None:
    gate: RequestGate[str] = RequestGate()
    assert gate.request() is None and gate.pending  # nothing yet: the next set goes
    assert gate.offer(1.0, 'a', on_request=True) == 'a' and not gate.pending
    assert gate.offer(2.0, 'b', on_request=True) is None  # no request: held
    assert gate.offer(3.0, 'c', on_request=True) is None
    assert gate.request() == 'c'  # the newest, at once
    assert gate.request() is None  # 'c' was used: wait for a newer one
    assert gate.offer(4.0, 'd', on_request=True) == 'd'
    assert (gate.requests, gate.served) == (3, 3)
    gate.clear()
    assert gate.request() is None


def test_a_stamped_request_waits_for_its_instant_and_ignores_resends() -> None:
    gate: RequestGate[str] = RequestGate()
    assert gate.offer(1.0, 'a', on_request=True) is None
    assert gate.request(min_stamp=1.05) is None and gate.pending  # 'a' is too old
    assert gate.offer(1.0, 'a again', on_request=True) is None  # a republish of the old one
    assert gate.offer(1.05, 'b', on_request=True) == 'b'
    assert gate.request(min_stamp=1.05) is None and not gate.pending  # a resend: answered
    assert gate.offer(1.1, 'c', on_request=True) is None  # no extra inference from it
    assert gate.request(min_stamp=1.1) == 'c'
    gate.unserve(1.1)  # 'c' gave no chunk (e.g. no instruction yet): a resend may use it
    assert gate.request(min_stamp=1.1) == 'c'
