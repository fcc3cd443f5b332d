"""Coverage without ranking: a priority whose every top-K prefix spreads evenly over the grid.

Beyond the paper: on small models a uniform grid of visual tokens loses less than an
attention ranking (the probe's measurement), so SpecPrune can add ``k_coverage`` grid tokens
to V_retain, and the ``grid`` baseline keeps its budget from the same order.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _bit_reverse(x: int, bits: int) -> int:
    return int(f'{x:0{bits}b}'[::-1], 2) if bits else 0


def uniform_order(num_views: int, side: int) -> np.ndarray:
    """A priority per visual token (higher = first) whose every top-K prefix covers the grid.

    Within a view, the bit-reversed Morton code of (row, col) (a 2-D van der Corput order);
    views alternate. Returns (num_views * side * side,) float64.
    """
    bits = max(1, (side - 1).bit_length())
    n = side * side
    order = np.empty(num_views * n)
    for r in range(side):
        for c in range(side):
            morton = 0
            for b in range(bits):
                morton |= ((r >> b) & 1) << (2 * b + 1) | ((c >> b) & 1) << (2 * b)
            rank = _bit_reverse(morton, 2 * bits)
            for v in range(num_views):
                order[v * n + r * side + c] = -(rank * num_views + v)
    return order


@lru_cache(maxsize=16)
def _ranks(num_views: int, side: int) -> np.ndarray:
    order = np.argsort(-uniform_order(num_views, side), kind='stable')
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    rank.setflags(write=False)
    return rank


def grid_rank(num_views: int, side: int) -> np.ndarray:
    """rank[i] of each visual token in the uniform order (0 = first); read-only."""
    return _ranks(num_views, side)


def coverage_set(num_views: int, side: int, k: int) -> np.ndarray:
    """The first ``k`` tokens of the uniform order, as sorted visual indices."""
    return np.flatnonzero(grid_rank(num_views, side) < k)
