"""SpecPrune-VLA token pruning inside one policy step (a :class:`LayerHook`).

Action level (static, before layer ``static_layer``, paper: after the first two layers):
``V_retain = V_global ∪ V_dynamic ∪ V_local`` with ``V_local = V_(1) ∪ V_(2)``, the K_base
visual tokens of highest task attention in each of the first layers. Layer level (dynamic):
the importance ``S_i`` is refreshed in L_update and the visual tokens with the top α·Q of S_i
survive each layer of L_prune. Text, proprio, BOS/EOS and action slots are never pruned; rows
keep their original positions (``LoopState.kept``), so RoPE and the action head are unaffected.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, field
import math
import time

import torch

from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.scorer import task_attention
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState


@dataclass(frozen=True)
class AttentionShape:
    """What the scorer needs to know about the decoder's attention."""

    num_heads: int
    num_kv_heads: int
    scaling: float


def rank_weights(scores: torch.Tensor, k: float) -> torch.Tensor:
    """ω_rank,i = σ(−k·rank_i) / Σ_j σ(−k·rank_j), rank 0 = most attended."""
    order = torch.argsort(scores, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    w = torch.sigmoid(-k * rank.to(torch.float32))
    return w / w.sum()


def layer_confidence(scores: torch.Tensor, eps: float) -> float:
    """ω_conf = μ_attn / (σ_attn + ε) of the layer's task-attention weights."""
    if scores.numel() < 2:
        return 0.0
    return float(scores.mean() / (scores.std() + eps))


@dataclass
class StepPruner:
    """Per-step pruning state; build one per policy step."""

    cfg: SpecPruneConfig
    layout: TokenLayout
    num_layers: int
    attn: AttentionShape
    k_base: int
    v_global: torch.Tensor  # visual indices (0 .. V·P−1), sorted
    v_dynamic: torch.Tensor
    device: torch.device
    importance: torch.Tensor = field(init=False)  # S_i over all visual indices
    v_local_layers: list[torch.Tensor] = field(default_factory=list)
    v_retain: torch.Tensor | None = None
    tokens_per_layer: list[int] = field(default_factory=list)
    visual_per_layer: list[int] = field(default_factory=list)
    scoring_s: float = 0.0  # task-attention scores and S_i updates
    selection_s: float = 0.0  # choosing and gathering kept rows

    def __post_init__(self) -> None:
        cfg, lay = self.cfg, self.layout
        self.importance = torch.zeros(lay.num_visual, dtype=torch.float32, device=self.device)
        self.static = cfg.use_global or cfg.use_dynamic or cfg.use_local
        self.prune_layers = (set(cfg.resolved_prune_layers(self.num_layers))
                             if cfg.use_layer_pruning else set())
        self.update_layers = (set(cfg.resolved_update_layers(self.num_layers))
                              if cfg.use_layer_pruning or cfg.use_global else set())
        use_local = cfg.use_local and self.static
        self.local_layers = set(range(cfg.static_layer)) if use_local else set()
        self.always = lay.always_kept(self.device)  # BOS, proprio, prompt, action slots, EOS
        self.task_pos = lay.indices(lay.task, self.device)
        self.v_start = lay.visual.start

    # --- LayerHook -------------------------------------------------------------------------
    def wants_qk(self, layer: int) -> bool:
        """Scores are needed for V_local (first layers) and the S_i updates."""
        return layer in self.local_layers or layer in self.update_layers

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        """Static pruning at ``static_layer``; top α·Q by S_i at the L_prune layers."""
        t0 = time.perf_counter()
        rows = None
        if layer == self.cfg.static_layer and self.static:
            rows = self._static_rows(state)
        elif layer in self.prune_layers:
            rows = self._layer_rows(state)
        kept = state.kept if rows is None else state.kept.index_select(0, rows)
        self.tokens_per_layer.append(int(kept.numel()))
        self.visual_per_layer.append(int(self._visual_mask(kept).sum()))
        self.selection_s += time.perf_counter() - t0
        return rows

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        """Score the visual tokens from this layer's q/k; collect V_local and update S_i."""
        if q is None or k is None:
            return
        t0 = time.perf_counter()
        vis_rows = torch.nonzero(self._visual_mask(state.kept)).flatten()
        text_rows = TokenLayout.rows_of(state.kept, self.task_pos)
        score = task_attention(q, k, state.cos, state.sin, text_rows, vis_rows,
                               self.attn.num_heads, self.attn.num_kv_heads, self.attn.scaling)
        vis_idx = state.kept.index_select(0, vis_rows) - self.v_start  # original visual ids
        if layer in self.local_layers:  # V_(l): top-K_base by task attention in this layer
            top = torch.topk(score, min(self.k_base, score.numel()), sorted=False).indices
            self.v_local_layers.append(vis_idx.index_select(0, top))
        if layer in self.update_layers:  # S_i ← (1−β)·S_i + β·ω_rank,i·ω_conf
            s = rank_weights(score, self.cfg.rank_k) * layer_confidence(score, self.cfg.eps)
            beta = self.cfg.beta
            self.importance[vis_idx] = (1 - beta) * self.importance[vis_idx] + beta * s
        self.scoring_s += time.perf_counter() - t0

    # --- selection -------------------------------------------------------------------------
    def _visual_mask(self, kept: torch.Tensor) -> torch.Tensor:
        return (kept >= self.v_start) & (kept < self.v_start + self.layout.num_visual)

    @property
    def v_local(self) -> torch.Tensor:
        """V_local = V_(1) ∪ V_(2) (sorted visual indices)."""
        if not self.v_local_layers:
            return torch.zeros(0, dtype=torch.long, device=self.device)
        return torch.unique(torch.cat(self.v_local_layers))

    def _static_rows(self, state: LoopState) -> torch.Tensor:
        parts = [self.v_local]
        if self.cfg.use_global:
            parts.append(self.v_global.to(self.device))
        if self.cfg.use_dynamic:
            parts.append(self.v_dynamic.to(self.device))
        self.v_retain = torch.unique(torch.cat(parts))  # V_global ∪ V_dynamic ∪ V_local
        keep_pos = torch.cat([self.always, self.v_retain + self.v_start]).sort().values
        return TokenLayout.rows_of(state.kept, keep_pos)

    def _layer_rows(self, state: LoopState) -> torch.Tensor | None:
        visual = self._visual_mask(state.kept)
        vis_rows = torch.nonzero(visual).flatten()
        n_vis = vis_rows.numel()
        n_keep = min(n_vis, max(self.cfg.min_visual_tokens,
                                math.ceil(self.cfg.layer_keep_fraction() * n_vis)))
        if n_keep == n_vis:
            return None
        s = self.importance[state.kept.index_select(0, vis_rows) - self.v_start]
        top = torch.topk(s, n_keep, sorted=False).indices
        keep = torch.ones_like(visual)
        keep[vis_rows] = False
        keep[vis_rows.index_select(0, top)] = True
        return torch.nonzero(keep).flatten()
