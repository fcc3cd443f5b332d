"""Host-side row counts of a pruned step: exact, bucketed, or sized without a host read.

The pruned hidden states always hold ``[rows before the visual block][C visual rows][the
always-kept tail]``. ``C``, the visual capacity entering each layer, is a host integer, so
every shape in the layer loop is known to the host before a kernel is launched. What is only
known on the device is how many of those C rows are real tokens: the others are padding rows
(real visual tokens that were not selected), masked out of attention as keys, never read by
the action head and never selected by a later layer cut.

* ``bucket = 0, sync_free = False`` (exact): the static cut reads ``|V_retain|`` once (the
  step's one host read) and C equals the real count in every layer: no padding at all.
* ``bucket = b``: the static cut rounds that count up to a multiple of b, so the rest of the
  step has one of ``num_visual / b`` shapes (one CUDA graph each).
* ``sync_free = True``: the static cut is sized by its upper bound
  ``|V_global| + |V_dynamic| + |V_local| + |V_coverage| <= K_G + K_D + static_layer * K_base +
  k_coverage`` (rounded to the bucket; variant 'authors': every non-static patch may be in
  V_dynamic), so nothing is read on the host during the step, at the price of more padding.

After the static cut the capacities follow from C alone: a prune layer keeps
``keep_count(C) = min(C, max(floor, ceil(f * C)))`` rows (f = alpha*Q, the floor
``min_visual_tokens``; variant 'authors': their 0.8 and 60). ``keep_count`` is
monotone, so the real count of kept tokens (the same formula applied on the device to the
real count) never exceeds the capacity.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
import math

import torch

from specprune_ros.specprune.params import SpecPruneConfig

GRAPH_BUCKET = 32  # visual rows per bucket when CUDA graphs are on and token_bucket is 0


def keep_count(n: int, fraction: float, minimum: int) -> int:
    """Visual tokens a prune layer keeps out of ``n``: ``min(n, max(minimum, ceil(f*n)))``."""
    return min(n, max(minimum, math.ceil(fraction * n)))


def keep_count_device(n: torch.Tensor, fraction: float, minimum: int) -> torch.Tensor:
    """:func:`keep_count` of a 0-d long tensor, on its device (float64, as Python's ceil)."""
    want = torch.ceil(n.double() * fraction).clamp(min=minimum).long()
    return torch.minimum(n, want)


@dataclass(frozen=True)
class ShapePlan:
    """How the host sizes the visual rows of a pruned step (see the module docstring)."""

    bucket: int = 0  # round the static cut up to a multiple of this (0: exact)
    sync_free: bool = False  # size the static cut by its upper bound (no host read)

    def __post_init__(self) -> None:
        if self.bucket < 0:
            raise ValueError(f'bucket must be >= 0 visual rows, got {self.bucket}')

    @classmethod
    def from_config(cls, cfg: SpecPruneConfig, graphs: bool) -> 'ShapePlan':
        """The plan of ``cfg``; CUDA graphs need buckets (:data:`GRAPH_BUCKET` by default)."""
        bucket = cfg.token_bucket or (GRAPH_BUCKET if graphs else 0)
        return cls(bucket, cfg.sync_free)

    @property
    def padded(self) -> bool:
        """Whether capacities may exceed the real counts (padding rows, key mask on)."""
        return self.bucket > 0 or self.sync_free

    @property
    def reads_count(self) -> bool:
        """Whether the static cut reads ``|V_retain|`` on the host (the one documented sync)."""
        return not self.sync_free

    def round_up(self, n: int, limit: int) -> int:
        """``n`` rounded up to the bucket, at most ``limit``."""
        if self.bucket == 0:
            return min(n, limit)
        return min(limit, -(-n // self.bucket) * self.bucket)

    def static_capacity(self, count: int | None, bound: int, limit: int) -> int:
        """Visual rows after the static cut: the read ``count`` or the ``bound``, rounded."""
        if self.sync_free or count is None:
            return self.round_up(bound, limit)
        return self.round_up(count, limit)


def static_bound(cfg: SpecPruneConfig, k_base: int, num_visual: int,
                 n_global: int | None = None, n_dynamic: int | None = None) -> int:
    """Upper bound of ``|V_global ∪ V_dynamic ∪ V_local|`` known before the step runs.

    ``n_global``/``n_dynamic``: the sizes of those sets where the host knows them (else K_G
    and K_D, the most the engine selects).
    """
    local = cfg.static_layer * min(k_base, num_visual) if cfg.use_local else 0
    g = cfg.k_global if n_global is None else n_global
    most_dynamic = num_visual if cfg.variant == 'authors' else cfg.k_dynamic  # all non-static
    d = most_dynamic if n_dynamic is None else n_dynamic
    bound = ((g if cfg.use_global else 0) + (d if cfg.use_dynamic else 0) + local
             + cfg.k_coverage)
    return min(num_visual, bound)


def capacities(num_layers: int, num_visual: int, static_layer: int | None,
               static_rows: int | None, prune_layers: Collection[int], fraction: float,
               minimum: int) -> list[int | None]:
    """Visual rows entering every layer; None from ``static_layer`` on while still unknown.

    ``static_layer`` None: no static cut. ``static_rows`` None: the static cut is not sized yet
    (it is read at the cut); the capacities before it are still returned.
    """
    out: list[int | None] = []
    cap: int | None = num_visual
    for layer in range(num_layers):
        if layer == static_layer:
            cap = static_rows
        elif layer in prune_layers and cap is not None:
            cap = keep_count(cap, fraction, minimum)
        out.append(cap)
    return out
