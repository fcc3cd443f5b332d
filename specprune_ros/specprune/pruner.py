"""SpecPrune-VLA token pruning inside one policy step (a :class:`StepHook`), on the device.

Action level (static, before layer ``static_layer``, paper: after the first two layers):
``V_retain = V_global ∪ V_dynamic ∪ V_local`` with ``V_local = V_(1) ∪ V_(2)``, the K_base
visual tokens of highest attention from the ``score_rows`` (the task text in the paper) in each
of the first layers, plus ``k_coverage`` grid tokens (beyond the paper; 0 by default). A
``dense`` (warm-up) step prunes nothing but still scores S_i. Layer level (dynamic):
the importance ``S_i`` is refreshed in L_update and the visual tokens with the top α·Q of S_i
survive each layer of L_prune. Text, proprio, BOS/EOS and action slots are never pruned; rows
keep their original positions (``LoopState.kept``), so RoPE and the action head are unaffected.

Every per-step value stays on the device, in ``LoopState.extra``: the sets are boolean masks
over the visual tokens, selections are fixed-size sorts and ``index_select``, and the number of
rows entering each layer is a host integer from :mod:`~specprune_ros.specprune.static_shapes`
(padding rows masked out as keys when it exceeds the real count). The only host read inside
the step is :meth:`StepPruner.sync`, which reads ``|V_retain|`` at the static cut (skipped with
``sync_free``); the report is copied to the host once, after the step (:meth:`host_record`).
Rows are always ``[BOS][the visual rows][the always-kept tail]``, so the text rows are known
from the row count; a device-side flag (``ok`` in the record) checks every such look-up.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
import math
import time

import numpy as np
import torch

from specprune_ros.specprune.coverage import coverage_set
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.scorer import query_positions, task_attention
from specprune_ros.specprune.static_shapes import (
    capacities,
    keep_count_device,
    ShapePlan,
    static_bound,
)
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState


@dataclass(frozen=True)
class AttentionShape:
    """What the scorer needs to know about the decoder's attention."""

    num_heads: int
    num_kv_heads: int
    scaling: float


def rank_weights(scores: torch.Tensor, k: float, valid: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """ω_rank,i = σ(−k·rank_i) / Σ_j σ(−k·rank_j), rank 0 = most attended.

    Rows where ``valid`` is False (padding) are ranked last and get weight 0.
    """
    key = scores if valid is None else scores.masked_fill(~valid, float('-inf'))
    order = torch.argsort(key, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(
        0, order, torch.arange(order.numel(), device=order.device))
    w = torch.sigmoid(-k * rank.to(torch.float32))
    if valid is not None:
        w = w * valid
    return w / w.sum()


def layer_confidence(scores: torch.Tensor, eps: float, valid: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """ω_conf = μ_attn / (σ_attn + ε) of the layer's task-attention weights (0-d tensor).

    Over the ``valid`` rows only when given; 0 with fewer than two of them.
    """
    if valid is None:
        if scores.numel() < 2:
            return scores.new_zeros(())
        return scores.mean() / (scores.std() + eps)
    n = valid.sum()
    w = valid.to(scores.dtype)
    mean = (scores * w).sum() / n.clamp(min=1)
    var = ((scores - mean) ** 2 * w).sum() / (n - 1).clamp(min=1)
    conf = mean / (var.sqrt() + eps)
    return torch.where(n >= 2, conf, torch.zeros_like(conf))


@dataclass(frozen=True)
class PrunerRecord:
    """What one pruned step kept, on the host (one copy, after the step)."""

    v_global: np.ndarray  # sorted visual indices
    v_dynamic: np.ndarray
    v_local: np.ndarray
    v_retain: np.ndarray  # all visual indices when there was no static cut
    tokens_per_layer: list[int]  # real tokens entering each layer
    visual_per_layer: list[int]
    ok: bool  # every row look-up found its token and the static cut held all of V_retain


@dataclass
class StepPruner:
    """Per-step pruning hook; build one per policy step."""

    cfg: SpecPruneConfig
    layout: TokenLayout
    num_layers: int
    attn: AttentionShape
    k_base: int
    v_global: torch.Tensor  # (V·P,) bool mask, or sorted visual indices (0 .. V·P−1)
    v_dynamic: torch.Tensor
    device: torch.device
    plan: ShapePlan = field(default_factory=ShapePlan)
    dense: bool = False  # a warm-up query: nothing is pruned, S_i is still scored
    v_local_layers: list[torch.Tensor] = field(default_factory=list)  # eager runs only
    scoring_s: float = 0.0  # task-attention scores and S_i updates (host time)
    selection_s: float = 0.0  # choosing and gathering kept rows (host time)

    def __post_init__(self) -> None:
        cfg, lay = self.cfg, self.layout
        self.static = (cfg.use_global or cfg.use_dynamic or cfg.use_local) and not self.dense
        self.prune_layers = (set(cfg.resolved_prune_layers(self.num_layers))
                             if cfg.use_layer_pruning and not self.dense else set())
        self.update_layers = (set(cfg.resolved_update_layers(self.num_layers))
                              if cfg.use_layer_pruning or cfg.use_global else set())
        use_local = cfg.use_local and self.static
        self.local_layers = set(range(cfg.static_layer)) if use_local else set()
        self.static_layer = (cfg.static_layer if self.static and cfg.static_layer < self.num_layers
                             else None)
        self.group_pos = {g: query_positions(lay, g, self.device)
                          for g in {cfg.score_rows, cfg.importance_rows()}}
        self.v_start = lay.visual.start  # rows before the visual block: BOS, never pruned
        side = math.isqrt(lay.patches_per_view)
        self.coverage = torch.zeros(lay.num_visual, dtype=torch.bool, device=self.device)
        if cfg.k_coverage:
            grid = coverage_set(lay.num_views, side, cfg.k_coverage)
            self.coverage[torch.as_tensor(grid, device=self.device)] = True
        self.n_always = lay.total - lay.num_visual
        sizes = [None if v.dtype == torch.bool else v.numel()
                 for v in (self.v_global, self.v_dynamic)]  # index sets: sizes known
        self._bound = static_bound(cfg, self.k_base, lay.num_visual, *sizes)
        self.caps = self._capacities(None if self.plan.reads_count else self._bound)
        self._extra: dict[str, torch.Tensor] = {}
        self._record: PrunerRecord | None = None

    def _capacities(self, static_rows: int | None) -> list[int | None]:
        if static_rows is not None:
            static_rows = self.plan.static_capacity(static_rows, self._bound,
                                                    self.layout.num_visual)
        return capacities(self.num_layers, self.layout.num_visual, self.static_layer,
                          static_rows, self.prune_layers, self.cfg.layer_keep_fraction(),
                          self.cfg.layer_floor())

    # --- StepHook ----------------------------------------------------------------------------
    def begin(self, state: LoopState) -> None:
        """This step's inputs and state, as device tensors in ``state.extra``."""
        n, dev = self.layout.num_visual, self.device
        state.extra.update(
            importance=torch.zeros(n, dtype=torch.float32, device=dev),  # S_i
            v_local=torch.zeros(n, dtype=torch.bool, device=dev),
            v_global=self._as_mask(self.v_global), v_dynamic=self._as_mask(self.v_dynamic),
            v_retain=torch.ones(n, dtype=torch.bool, device=dev),  # all until the static cut
            retain_count=torch.full((), n, dtype=torch.long, device=dev),
            n_visual=torch.full((), n, dtype=torch.long, device=dev),  # real visual rows
            visual_count=torch.zeros(self.num_layers, dtype=torch.long, device=dev),
            ok=torch.ones((), dtype=torch.bool, device=dev))
        self._extra = state.extra

    def sync_layers(self) -> tuple[int, ...]:
        """The static layer, unless the plan sizes the cut without reading the device."""
        if self.static_layer is None or not self.plan.reads_count:
            return ()
        return (self.static_layer,)

    def sync(self, layer: int, state: LoopState) -> None:
        """The step's one host read: ``|V_retain|`` sizes the static cut and what follows."""
        self.caps = self._capacities(int(state.extra['retain_count']))

    def graph_key(self, start: int, stop: int) -> Hashable:
        """Host values that shape layers ``start..stop-1``."""
        return ('specprune', self.cfg, self.layout, self.k_base, self.plan, self.dense,
                tuple(self.caps[start:stop]))

    def finish(self, state: LoopState) -> None:
        """Keep the final state's tensors for :meth:`host_record`."""
        self._extra = state.extra

    def wants_qk(self, layer: int) -> bool:
        """Scores are needed for V_local (first layers) and the S_i updates."""
        return layer in self.local_layers or layer in self.update_layers

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        """Static pruning at ``static_layer``; top α·Q by S_i at the L_prune layers."""
        t0 = time.perf_counter()
        rows = None
        if layer == self.static_layer:
            rows = self._static_rows(state, self.caps[layer])
        elif layer in self.prune_layers and self.caps[layer] != self.caps[layer - 1]:
            rows = self._layer_rows(state, self.caps[layer - 1], self.caps[layer])
        ex = state.extra
        ex['visual_count'] = ex['visual_count'].index_copy(
            0, torch.full((1,), layer, device=self.device), ex['n_visual'].view(1))
        self.selection_s += time.perf_counter() - t0
        return rows

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        """Score the visual tokens from this layer's q/k; collect V_local and update S_i."""
        t0 = time.perf_counter()
        if q is not None and k is not None:
            self._score(layer, state, q, k)
        if layer + 1 == self.static_layer:
            self._retain(state)
        self.scoring_s += time.perf_counter() - t0

    # --- scoring -----------------------------------------------------------------------------
    def _score(self, layer: int, state: LoopState, q: torch.Tensor, k: torch.Tensor) -> None:
        lay, ex = self.layout, state.extra
        cap = state.kept.numel() - self.n_always  # visual rows (real and padding)
        vis = slice(self.v_start, self.v_start + cap)
        tail = self.v_start + cap - lay.visual.stop  # row of tail position p: p + tail
        alive = state.row_alive()
        scores: dict[str, torch.Tensor] = {}

        def scored(group: str) -> torch.Tensor:  # eq. 1 with this group's query rows
            if group not in scores:
                pos = self.group_pos[group]
                rows = torch.where(pos < self.v_start, pos, pos + tail)
                ex['ok'] = ex['ok'] & (state.kept.index_select(0, rows) == pos).all()
                scores[group] = task_attention(q, k, state.cos, state.sin, rows, vis,
                                               self.attn.num_heads, self.attn.num_kv_heads,
                                               self.attn.scaling, alive)
            return scores[group]

        vis_idx = state.kept[vis] - self.v_start  # original visual ids
        if layer in self.local_layers:  # V_(l): top-K_base by the score_rows' attention
            score = scored(self.cfg.score_rows)
            top = torch.topk(score, min(self.k_base, cap), sorted=False).indices
            local = vis_idx.index_select(0, top)
            self.v_local_layers.append(local)
            ex['v_local'] = ex['v_local'].index_fill(0, local, True)
        if layer in self.update_layers:  # S_i ← (1−β)·S_i + β·ω_rank,i·ω_conf
            score = scored(self.cfg.importance_rows())
            real = None if alive is None else alive[vis]
            s = rank_weights(score, self.cfg.rank_k, real) * layer_confidence(
                score, self.cfg.eps, real)
            old = ex['importance'].index_select(0, vis_idx)
            new = (1 - self.cfg.beta) * old + self.cfg.beta * s
            if real is not None:
                new = torch.where(real, new, old)  # padding rows keep their S_i
            ex['importance'] = ex['importance'].index_copy(0, vis_idx, new)

    def _retain(self, state: LoopState) -> None:
        """V_retain = V_global ∪ V_dynamic ∪ V_local, as a mask, and its size (on the device)."""
        ex, cfg = state.extra, self.cfg
        retain = ex['v_local'] if cfg.use_local else torch.zeros_like(ex['v_local'])
        if cfg.use_global:
            retain = retain | ex['v_global']
        if cfg.use_dynamic:
            retain = retain | ex['v_dynamic']
        retain = retain | self.coverage  # V_coverage (k_coverage = 0: empty)
        ex['v_retain'], ex['retain_count'] = retain, retain.sum()

    # --- selection ---------------------------------------------------------------------------
    def _rows(self, visual_rows: torch.Tensor, cap: int, state: LoopState) -> torch.Tensor:
        """All rows: those before the visual block, ``visual_rows``, then the tail."""
        dev, tail = self.device, self.v_start + cap
        return torch.cat([torch.arange(self.v_start, device=dev), visual_rows,
                          torch.arange(tail, state.kept.numel(), device=dev)])

    def _static_rows(self, state: LoopState, cap: int) -> torch.Tensor:
        lay, ex = self.layout, state.extra
        if state.kept.numel() != lay.total:
            raise RuntimeError('the static cut must be the first cut of the step')
        retain = ex['v_retain']
        order = torch.argsort((~retain).to(torch.int32), stable=True)  # retained first
        chosen = order[:cap].sort().values  # V_retain (+ padding), visual indices
        ex['ok'] = ex['ok'] & (ex['retain_count'] <= cap)  # the capacity holds V_retain
        if self.plan.padded:
            alive = torch.ones(lay.total, dtype=torch.bool, device=self.device)
            alive[lay.visual] = retain
            state.alive = alive
        ex['n_visual'] = ex['retain_count']
        return self._rows(chosen + self.v_start, lay.num_visual, state)

    def _layer_rows(self, state: LoopState, cap: int, new_cap: int) -> torch.Tensor:
        ex = state.extra
        vis = slice(self.v_start, self.v_start + cap)
        vis_pos = state.kept[vis]
        s = ex['importance'].index_select(0, vis_pos - self.v_start)
        alive = state.row_alive()
        if alive is not None:
            s = s.masked_fill(~alive[vis], float('-inf'))  # padding is never selected
        order = torch.argsort(s, descending=True, stable=True)[:new_cap]
        n_keep = keep_count_device(ex['n_visual'], self.cfg.layer_keep_fraction(),
                                   self.cfg.layer_floor())
        if state.alive is not None:  # the first n_keep by S_i are real, the rest padding
            real = torch.arange(new_cap, device=self.device) < n_keep
            state.alive = state.alive.index_fill(0, vis_pos, False).index_put(
                (vis_pos.index_select(0, order),), real)
        ex['n_visual'] = n_keep
        return self._rows(order.sort().values + self.v_start, cap, state)

    def _as_mask(self, v: torch.Tensor) -> torch.Tensor:
        n = self.layout.num_visual
        if v.dtype == torch.bool:
            if v.shape != (n,):
                raise ValueError(f'a visual mask must have shape ({n},), got {tuple(v.shape)}')
            return v.to(self.device)
        return torch.zeros(n, dtype=torch.bool, device=self.device).index_fill(
            0, v.to(self.device, torch.long), True)

    # --- on the host, after the step -----------------------------------------------------------
    def host_record(self) -> PrunerRecord:
        """Copy what the step kept to the host: ONE device-to-host copy (cached)."""
        if self._record is None:
            ex = self._extra
            parts = [ex[k].float().flatten() for k in
                     ('v_global', 'v_dynamic', 'v_local', 'v_retain', 'visual_count', 'ok')]
            host = torch.cat(parts).cpu().numpy()  # the one copy
            n, layers = self.layout.num_visual, self.num_layers
            masks = [np.flatnonzero(host[i * n:(i + 1) * n]) for i in range(4)]
            visual = [int(v) for v in host[4 * n:4 * n + layers]]
            self._record = PrunerRecord(*masks, [self.n_always + v for v in visual], visual,
                                        bool(host[-1]))
        return self._record

    @property
    def importance(self) -> torch.Tensor:
        """S_i over all visual indices (device tensor)."""
        return self._extra.get('importance', torch.zeros(self.layout.num_visual))

    @property
    def v_local(self) -> torch.Tensor:
        """V_local = V_(1) ∪ V_(2) (sorted visual indices; host copy after the step)."""
        return torch.from_numpy(self.host_record().v_local)

    @property
    def v_retain(self) -> torch.Tensor | None:
        """V_retain (sorted visual indices) after the static cut, else None."""
        return None if self.static_layer is None else torch.from_numpy(
            self.host_record().v_retain)

    @property
    def tokens_per_layer(self) -> list[int]:
        """Real tokens entering each layer (host copy after the step)."""
        return self.host_record().tokens_per_layer

    @property
    def visual_per_layer(self) -> list[int]:
        """Real visual tokens entering each layer (host copy after the step)."""
        return self.host_record().visual_per_layer

    @property
    def rows_per_layer(self) -> list[int]:
        """Rows computed in each layer, padding included (host values, no copy)."""
        return [self.n_always + (c if c is not None else 0) for c in self.caps]
