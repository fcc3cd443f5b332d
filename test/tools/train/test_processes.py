"""Tests of the training processes' batch shares (tools.train.processes)."""

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

from specprune_ros.tools.train.processes import Processes, SINGLE


@pytest.mark.parametrize('world, size', [(1, 16), (2, 16), (3, 16), (4, 5)])
def test_shares_cover_the_batch_in_order(world: int, size: int) -> None:
    samples = np.arange(100, 100 + size)
    parts = [Processes(rank, world).part(samples) for rank in range(world)]
    assert np.array_equal(np.concatenate([p for p, _ in parts]), samples)
    sizes = [len(p) for p, _ in parts]
    assert [first for _, first in parts] == np.cumsum([0] + sizes)[:-1].tolist()
    assert max(len(p) for p, _ in parts) - min(len(p) for p, _ in parts) <= 1
    assert SINGLE.main and not Processes(1, 2).main
