"""Tests of the uniform coverage order (specprune.coverage)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np

from specprune_ros.specprune.coverage import coverage_set, grid_rank, uniform_order


def test_uniform_order_covers_the_grid_at_every_prefix() -> None:
    order = uniform_order(2, 16)
    assert order.shape == (512,) and len(set(order.tolist())) == 512
    for per_view, block in ((4, 8), (16, 4), (64, 2)):  # one token per block of each view
        keep = np.argsort(-order, kind='stable')[:2 * per_view]
        for v in range(2):
            cells = keep[(keep >= v * 256) & (keep < (v + 1) * 256)] - v * 256
            blocks = {(int(c) // 16 // block, int(c) % 16 // block) for c in cells}
            assert len(cells) == per_view and len(blocks) == per_view, (per_view, v)


def test_coverage_set_is_the_prefix_of_the_order() -> None:
    order = uniform_order(2, 16)
    for k in (0, 1, 7, 64, 512):
        assert coverage_set(2, 16, k).tolist() == sorted(np.argsort(-order)[:k].tolist())
    rank = grid_rank(2, 16)
    assert sorted(rank.tolist()) == list(range(512)) and not rank.flags.writeable
