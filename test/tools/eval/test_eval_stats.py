"""Statistics against their closed forms: Wilson interval, exact McNemar, paired bootstrap."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from math import comb, isnan, sqrt

import pytest

from specprune_ros.tools.eval.stats import (
    mcnemar_exact,
    paired_difference,
    percentile,
    speedup,
    wilson_interval,
)


@pytest.mark.parametrize('k, n', [(49, 50), (0, 10), (10, 10), (7, 20), (490, 500)])
def test_wilson_matches_the_formula(k: int, n: int) -> None:
    z, p = 1.959963984540054, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(max(0.0, centre - half), abs=1e-9)
    assert hi == pytest.approx(min(1.0, centre + half), abs=1e-9)
    assert all(isnan(x) for x in wilson_interval(0, 0))


def test_mcnemar_exact_is_the_binomial_tail() -> None:
    b, c = 2, 9
    n = b + c
    tail = sum(comb(n, i) for i in range(0, b + 1)) / 2 ** n
    assert mcnemar_exact(b, c) == pytest.approx(min(1.0, 2 * tail))
    assert mcnemar_exact(c, b) == mcnemar_exact(b, c)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_paired_difference() -> None:
    ref = [True] * 40 + [False] * 10
    cfg = [True] * 35 + [False] * 5 + [True] * 2 + [False] * 8
    d = paired_difference(cfg, ref, seed=3)
    assert d.n == 50 and (d.b, d.c) == (2, 5)
    assert d.diff == pytest.approx((37 - 40) / 50)
    assert d.low < d.diff < d.high and d.low > -0.25 and d.high < 0.1
    assert d.p_mcnemar == pytest.approx(mcnemar_exact(2, 5))
    same = paired_difference(ref, ref)
    assert (same.diff, same.low, same.high, same.p_mcnemar) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        paired_difference([True], [True, False])
    assert paired_difference([], []).n == 0


def test_speedup_and_percentiles() -> None:
    s, lo, hi = speedup([10.0, 10.0, 12.0, 11.0], [5.0, 5.0, 6.0, 5.5])
    assert s == pytest.approx(2.0) and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
    assert percentile([1, 2, 3, 4, 5], 50) == 3 and percentile([1, 2, 3, 4, 5], 90) == \
        pytest.approx(4.6)
    assert isnan(percentile([], 50)) and isnan(speedup([], [])[0])
