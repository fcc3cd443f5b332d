"""Statistics of paired closed-loop episodes: intervals, paired tests, latency percentiles.

* Success rate: 95 % Wilson score interval (``scipy.stats.binomtest(...).proportion_ci``).
* Paired difference to the reference (``unpruned``) over the episodes both ran: the mean of
  ``s_config - s_reference`` with a percentile bootstrap interval over the pairs (seeded), and
  the exact McNemar test (two-sided binomial test of the discordant pairs at p = 0.5).
* LLM speedup: median over episodes of the per-episode median LLM time, reference ÷ config,
  with a bootstrap interval over the paired episodes.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_BOOTSTRAP = 10000
NAN = float('nan')


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE
                    ) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (nan, nan) when n == 0."""
    if n == 0:
        return NAN, NAN
    if not 0 <= successes <= n:
        raise ValueError(f'successes must be in 0..{n}, got {successes}')
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method='wilson')
    return float(ci.low), float(ci.high)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value of the discordant counts (1.0 when there are none).

    ``b``: pairs where only the configuration succeeded; ``c``: only the reference.
    """
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(int(min(b, c)), int(b + c), 0.5).pvalue)


@dataclass(frozen=True)
class PairedDifference:
    """Success of a configuration minus the reference's over ``n`` paired episodes."""

    n: int
    diff: float  # mean difference (fraction; ×100 = percentage points)
    low: float
    high: float
    b: int  # pairs where only the configuration succeeded
    c: int  # pairs where only the reference succeeded
    p_mcnemar: float


def paired_difference(config: Sequence[bool], reference: Sequence[bool],
                      confidence: float = CONFIDENCE, n_boot: int = N_BOOTSTRAP,
                      seed: int = 0) -> PairedDifference:
    """Paired success difference with its bootstrap interval and McNemar's exact p-value."""
    a = np.asarray(config, dtype=bool)
    r = np.asarray(reference, dtype=bool)
    if a.shape != r.shape or a.ndim != 1:
        raise ValueError(f'paired outcomes must be two equal 1-D lists, got {a.shape}, {r.shape}')
    n = a.size
    b, c = int(np.sum(a & ~r)), int(np.sum(~a & r))
    if n == 0:
        return PairedDifference(0, NAN, NAN, NAN, 0, 0, 1.0)
    d = a.astype(np.float64) - r.astype(np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return PairedDifference(n, float(d.mean()), float(lo), float(hi), b, c,
                            mcnemar_exact(b, c))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (linear interpolation); nan when empty."""
    v = np.asarray(values, dtype=np.float64)
    return float(np.percentile(v, q)) if v.size else NAN


def speedup(reference_ms: Sequence[float], config_ms: Sequence[float],
            confidence: float = CONFIDENCE, n_boot: int = 2000, seed: int = 0
            ) -> tuple[float, float, float]:
    """(speedup, low, high) from paired per-episode median times (reference ÷ config)."""
    ref = np.asarray(reference_ms, dtype=np.float64)
    cfg = np.asarray(config_ms, dtype=np.float64)
    if ref.shape != cfg.shape or ref.size == 0:
        return NAN, NAN, NAN
    point = float(np.median(ref) / np.median(cfg))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ref.size, size=(n_boot, ref.size))
    ratios = np.median(ref[idx], axis=1) / np.median(cfg[idx], axis=1)
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return point, float(lo), float(hi)


def fmt_pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage, '–' for nan."""
    return '–' if x is None or math.isnan(x) else f'{100 * x:.{digits}f}'
