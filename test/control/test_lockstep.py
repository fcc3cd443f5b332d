"""ROS-free tests of the lockstep rule (specprune_ros.control.lockstep)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np
import pytest

from specprune_ros.control.executor import Chunk, ChunkExecutor
from specprune_ros.control.executor_config import ExecutorConfig
from specprune_ros.control.lockstep import Lockstep

P = 0.05


def _lockstep(latency: float) -> Lockstep:
    ex = ChunkExecutor(ExecutorConfig().replace(blend='latest', hold_action=True,
                                                max_delta=(1e6,)))
    ex.set_enabled(True)
    return Lockstep(ex, latency)


def _chunk(stamp: float, base: float, horizon: int = 8) -> Chunk:
    rows = np.zeros((horizon, 7))
    rows[:, 0] = base + 0.01 * np.arange(horizon)  # row k: dx = base + k/100
    rows[:, 6] = -1.0
    return Chunk(stamp, rows)


def test_zero_latency_uses_step_zero_at_the_requesting_tick() -> None:
    ls = _lockstep(0.0)
    assert ls.begin_tick(0.0) and ls.awaiting == 0.0  # nothing queued: ask, hold the tick
    assert not ls.answers(-P) and ls.answers(0.0)  # an older chunk does not answer
    ls.receive(_chunk(0.0, 0.1), now=0.0)
    assert ls.awaiting is None
    tick = ls.tick(0.0)
    assert tick.kind == 'action' and tick.values[0] == pytest.approx(0.1)  # step 0, at once
    assert list(ls.executor.rtts) == [0.0] and ls.results == ['queued']
    dx = []
    for k in range(1, 8):  # the next request when one step is left (latency 0 + margin 1)
        if ls.begin_tick(k * P):
            assert k == 7
            ls.receive(_chunk(k * P, 0.5), now=k * P)
        dx.append(ls.tick(k * P).values[0])
    np.testing.assert_allclose(dx, [0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.5])


def test_latency_delivers_the_chunk_that_much_simulated_time_later() -> None:
    ls = _lockstep(0.07)
    assert ls.begin_tick(0.0)
    ls.receive(_chunk(0.0, 0.1), now=0.0)
    kinds = [ls.tick(0.0).kind]
    assert not ls.begin_tick(P)  # the request is still open in simulated time
    kinds.append(ls.tick(P).kind)
    assert kinds == ['waiting', 'waiting'] and not ls.executor.rtts
    tick = ls.tick(2 * P)  # the first tick at or after 0.07 s: rows 0 and 1 are past
    assert tick.values[0] == pytest.approx(0.12) and tick.skipped == 2
    assert list(ls.executor.rtts) == [pytest.approx(2 * P)]
    assert ls.executor.request_threshold() == 3  # 2 ticks of latency + request_margin 1


def test_a_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match='sim_latency'):
        Lockstep(ChunkExecutor(ExecutorConfig()), -0.01)


def test_a_chunk_older_than_the_request_leaves_it_open() -> None:
    ls = _lockstep(0.0)
    assert ls.begin_tick(P)
    assert not ls.receive(_chunk(0.0, 0.1), now=P)  # frames from before the request
    assert ls.awaiting == P  # still waiting for the tick's own chunk
    assert ls.receive(_chunk(P, 0.5), now=P) and ls.awaiting is None
