"""ROS-free tests of the node's input plumbing (specprune_ros.ros.common.sync)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from specprune_ros.ros.common.sync import (
    ApproxTimeSync,
    LatestSlot,
    LogThrottle,
    StalenessMonitor,
    WindowStats,
)

NAMES = ('third_person', 'wrist', 'ee_state')


class FakeClock:
    """A settable clock."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_sync_matches_within_slop_and_uses_pivot_stamp() -> None:
    sync = ApproxTimeSync(NAMES, slop=0.02)
    assert sync.add('third_person', 1.000, 'a') is None
    assert sync.add('wrist', 1.010, 'b') is None
    got = sync.add('ee_state', 0.995, 'c')
    assert got is not None
    assert got.stamp == 1.000
    assert got.items == {'third_person': 'a', 'wrist': 'b', 'ee_state': 'c'}
    assert got.spread == pytest.approx(0.015)
    assert sync.counters.matched == 1


def test_sync_rejects_sets_wider_than_slop() -> None:
    sync = ApproxTimeSync(NAMES, slop=0.01)
    sync.add('third_person', 1.0, 'a')
    sync.add('wrist', 1.0, 'b')
    assert sync.add('ee_state', 1.05, 'c') is None
    sync.slop = 0.06
    assert sync.add('ee_state', 1.051, 'd') is not None  # the newer state is within slop now


def test_sync_newest_matching_set_wins_and_never_goes_back() -> None:
    sync = ApproxTimeSync(NAMES, slop=0.005)
    for i in range(3):
        sync.add('third_person', 1.0 + 0.1 * i, f'tp{i}')
    for i in range(3):
        sync.add('wrist', 1.0 + 0.1 * i, f'w{i}')
    got = sync.add('ee_state', 1.2, 'state')
    assert got is not None and got.items['third_person'] == 'tp2'
    # the older pivots can never produce a set any more
    assert sync.add('ee_state', 1.0, 'old') is None
    assert sync.add('third_person', 1.1, 'late') is None
    assert sync.counters.late == 1


def test_sync_nearest_member_is_chosen() -> None:
    sync = ApproxTimeSync(NAMES, slop=0.05)
    for t in (0.98, 0.99, 1.0, 1.01, 1.02):
        sync.add('ee_state', t, t)
    sync.add('wrist', 1.0, 'w')
    got = sync.add('third_person', 1.004, 'tp')
    assert got is not None and got.items['ee_state'] == 1.0


def test_sync_buffers_are_bounded() -> None:
    sync = ApproxTimeSync(NAMES, slop=0.001, queue_size=5)
    for i in range(1000):
        sync.add('third_person', float(i), i)  # no partner ever arrives
        sync.add('ee_state', i + 0.5, i)
    assert max(sync.buffered().values()) <= 5
    assert sync.counters.overflow > 0


def test_sync_costs_are_summed_and_clear_resets() -> None:
    sync = ApproxTimeSync(('a', 'b'), slop=0.0)
    sync.add('a', 1.0, 1, cost_s=0.001)
    got = sync.add('b', 1.0, 2, cost_s=0.002)
    assert got is not None and got.costs_s == pytest.approx(0.003)
    sync.clear()
    assert sync.buffered() == {'a': 0, 'b': 0}
    sync.add('a', 0.5, 1)
    assert sync.add('b', 0.5, 2) is not None  # after clear an older stamp may match again


def test_sync_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ApproxTimeSync(('a', 'a'), 0.1)
    with pytest.raises(ValueError):
        ApproxTimeSync(('a',), -1.0)
    sync = ApproxTimeSync(('a', 'b'), 0.1)
    with pytest.raises(KeyError):
        sync.add('c', 1.0, None)
    with pytest.raises(ValueError):
        sync.add('a', float('nan'), None)


def test_latest_slot_replaces_pending_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.dropped == 2 and slot.pending
    assert slot.take(0) == 3
    assert slot.take(0.01) is None
    assert slot.taken == 1 and slot.put_count == 3


def test_latest_slot_close_wakes_waiter_quickly() -> None:
    slot: LatestSlot[int] = LatestSlot()
    out: list[object] = []
    th = threading.Thread(target=lambda: out.append(slot.take(10.0)))
    th.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    slot.close()
    th.join(2.0)
    assert not th.is_alive() and out == [None]
    assert time.monotonic() - t0 < 0.5
    assert slot.put(1) is False and slot.take(0) is None  # closed: nothing comes out
    slot.reopen()
    slot.put(5)
    assert slot.take(0) == 5


def test_latest_slot_consumer_sees_newest_under_load() -> None:
    slot: LatestSlot[int] = LatestSlot()
    seen: list[int] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            item = slot.take(0.05)
            if item is not None:
                seen.append(item)
                time.sleep(0.005)  # a slow consumer

    th = threading.Thread(target=consume)
    th.start()
    for i in range(2000):
        slot.put(i)
    time.sleep(0.1)
    done.set()
    th.join(2.0)
    assert seen[-1] == 1999
    assert seen == sorted(seen)
    assert slot.dropped + slot.taken == 2000


def test_staleness_monitor_reports_which_input() -> None:
    clock = FakeClock()
    mon = StalenessMonitor(NAMES, timeout=0.5, clock=clock)
    assert mon.stale() == list(NAMES)
    for n in NAMES:
        mon.mark(n)
    assert mon.stale() == []
    clock.t += 0.4
    mon.mark('third_person')
    mon.mark('wrist')
    clock.t += 0.2
    assert mon.stale() == ['ee_state']
    ages = mon.ages()
    assert ages['ee_state'] == pytest.approx(0.6)
    text = StalenessMonitor.describe(ages, mon.stale())
    assert 'ee_state stale (0.60 s)' in text
    mon.timeout = 1.0
    assert mon.stale() == []
    mon.reset()
    assert 'never received' in StalenessMonitor.describe(mon.ages(), mon.stale())
    with pytest.raises(ValueError):
        mon.timeout = 0.0
    with pytest.raises(KeyError):
        mon.mark('nope')


def test_window_stats_rate_mean_max() -> None:
    clock = FakeClock(0.0)
    stats = WindowStats(window_s=2.0, clock=clock)
    assert stats.summary()['count'] == 0
    for i in range(11):
        clock.t = i * 0.1
        stats.add(float(i))
    s = stats.summary()
    assert s['count'] == 11 and s['rate_hz'] == pytest.approx(10.0)
    assert s['mean'] == pytest.approx(5.0) and s['max'] == 10.0
    clock.t = 10.0
    assert stats.summary()['count'] == 0 and stats.total == 11


def test_log_throttle_suppresses_and_reports_count() -> None:
    clock = FakeClock(0.0)
    throttle = LogThrottle(1.0, clock=clock)
    out: list[str] = []
    assert throttle('bad', 'x', out.append)
    assert not throttle('bad', 'x', out.append)
    assert not throttle('bad', 'x', out.append)
    assert throttle('other', 'y', out.append)
    clock.t = 1.5
    assert throttle('bad', 'x', out.append)
    assert out == ['x', 'y', 'x (2 similar messages suppressed)']


def test_node_plumbing_imports_no_ros() -> None:
    code = ('import sys, specprune_ros, specprune_ros.ros.common.sync, '
            'specprune_ros.ros.policy.config, '
            'specprune_ros.ros.common.conversions, specprune_ros.specprune.debug_image; '
            "assert 'rclpy' not in sys.modules, 'rclpy was imported'")
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr


def test_monitor_a_late_taken_message_never_makes_an_input_fresher() -> None:
    now = [100.0]
    mon = StalenessMonitor(['ee_state'], timeout=0.5, clock=lambda: now[0])
    mon.mark('ee_state', when=99.9)
    now[0] = 101.0
    assert mon.stale() == ['ee_state']
    mon.mark('ee_state', when=99.95)  # received before, taken from the queue only now
    assert mon.stale() == ['ee_state'] and mon.ages()['ee_state'] == pytest.approx(1.05)
    mon.mark('ee_state', when=99.0)  # an even older one changes nothing
    assert mon.ages()['ee_state'] == pytest.approx(1.05)
    mon.mark('ee_state', when=100.9)
    assert mon.stale() == []
