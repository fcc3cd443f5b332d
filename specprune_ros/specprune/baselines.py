"""Same-budget baselines for SpecPrune-VLA, one per entry of ``registry.BASELINES``.

Each baseline keeps exactly a given number of visual tokens entering every decoder layer (a
*budget*: SpecPrune's ``StepReport.visual_per_layer`` of the paired step, see
:class:`BudgetSchedule`), so only *which* tokens are kept differs from SpecPrune. A baseline
ranks the visual tokens once per step and every cut (the static cut before ``static_layer``
and the later, smaller budgets) keeps the best-ranked tokens still present:

* ``random``: a uniformly random order (seeded, :meth:`BaselineEngine.set_seed`).
* ``grid`` (coverage): the uniform order of :mod:`~specprune_ros.specprune.coverage`, so every
  budget spreads its tokens evenly over both views.
* ``frame_diff`` (VLA-Cache-like): pixel cosine similarity of each patch to the previous
  query's frame (:func:`specprune_ros.specprune.frames.patch_similarity`); the most changed
  patches first. The *static set* is the at most ``static_top`` (150) most similar patches with
  similarity ≥ ``static_sim`` (0.996), the tokens VLA-Cache would reuse: they rank last, and
  with ``vla_cache_budget`` exactly they are pruned (VLA-Cache's own count instead of the
  matched one). The first query of an episode has no previous frame: a random order.
* ``attention_only`` (FastV / EfficientVLA-like): the task attention (eq. 1,
  :func:`specprune_ros.specprune.scorer.task_attention`) of layer ``score_layer`` alone (0-based
  1, the paper's "layer 2"), highest first; needs the scoring layer to run on all tokens.
* ``action_attention`` (VLA-Pruner-like): the same from the action-query rows (the rows that
  decode the chunk) instead of the task text.

The seam is the policy's own :class:`~specprune_ros.vla.model.LayerHook`
(``VLAPolicy.predict_action_chunk(obs, hook_factory)``), the same one
:class:`~specprune_ros.specprune.engine.SpecPruneEngine` uses, so timings are measured by the
same code for every configuration. Kept rows keep their original positions.
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
from dataclasses import dataclass, field
import math
import time

import numpy as np
import torch

from specprune_ros.errors import ConfigError, InputError
from specprune_ros.specprune.coverage import grid_rank
from specprune_ros.specprune.flops import flops_ratio
from specprune_ros.specprune.frames import patch_similarity
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.registry import BASELINES
from specprune_ros.specprune.scorer import query_positions, task_attention
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState
from specprune_ros.vla.policy import Observation, PreparedStep, VLAPolicy
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import EEState


@dataclass(frozen=True)
class BaselineConfig:
    """Which baseline and its constants (defaults: DESIGN.md §6)."""

    kind: str
    score_layer: int = 1  # attention rankers: 0-based layer whose attention ranks
    static_sim: float = 0.996  # frame_diff: similarity from which a patch is static
    static_top: int = 150  # frame_diff: at most this many static patches
    vla_cache_budget: bool = False  # frame_diff: prune exactly the static set (no matching)

    def __post_init__(self) -> None:
        if self.kind not in BASELINES:
            raise ConfigError(f'unknown baseline {self.kind!r}; expected one of '
                              f'{tuple(BASELINES)}')
        if self.score_layer < 0 or self.static_top < 0 or not -1 <= self.static_sim <= 1:
            raise ConfigError(f'invalid baseline constants: {self}')
        if self.vla_cache_budget and self.kind != 'frame_diff':
            raise ConfigError('vla_cache_budget applies to frame_diff only')


def layer_budget(cfg: SpecPruneConfig, num_layers: int, num_visual: int, kept: int
                 ) -> tuple[int, ...]:
    """Visual tokens entering each layer with SpecPrune's schedule and a static cut to ``kept``.

    All tokens before ``static_layer``; ``kept`` from there; each layer of L_prune keeps
    ``min(n, max(floor, ceil(f*n)))`` of the n before it (as the pruner: f = alpha*Q and the
    floor min_visual_tokens; variant 'authors': theirs).
    """
    if not 0 <= kept <= num_visual:
        raise InputError(f'budget must be in 0..{num_visual} visual tokens, got {kept}')
    prune = set(cfg.resolved_prune_layers(num_layers)) if cfg.use_layer_pruning else set()
    out, n = [], num_visual
    for layer in range(num_layers):
        if layer == cfg.static_layer:
            n = kept
        elif layer in prune:
            n = min(n, max(cfg.layer_floor(), math.ceil(cfg.layer_keep_fraction() * n)))
        out.append(n)
    return tuple(out)


@dataclass
class BudgetSchedule:
    """Per query of an episode, the visual tokens to keep entering each layer.

    "Match" in closed loop: the paired SpecPrune episode ran the same (task, init state, seed)
    but its trajectory and length differ, so query ``i`` uses SpecPrune's counts of its query
    ``i`` when it had one, else the per-layer mean (rounded) over all of SpecPrune's queries of
    that episode, else ``fixed`` (a fixed budget), else it raises.
    """

    reference: list[tuple[int, ...]] = field(default_factory=list)
    fixed: tuple[int, ...] | None = None

    def at(self, query: int) -> tuple[int, ...]:
        """The budget of query ``query`` (0-based) of the episode."""
        if query < len(self.reference):
            return self.reference[query]
        if self.reference:
            return tuple(round(float(v)) for v in np.mean(np.asarray(self.reference), axis=0))
        if self.fixed is not None:
            return self.fixed
        raise InputError('no budget: neither a paired SpecPrune episode nor a fixed budget')


def ranks_from_priority(priority: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """rank[i] of each token (0 = kept first): by ``priority`` descending, ties by ``tiebreak``."""
    order = np.lexsort((tiebreak, -np.asarray(priority, dtype=np.float64)))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank


@dataclass
class BaselinePruner:
    """A :class:`~specprune_ros.vla.model.LayerHook` keeping ``budget[l]`` visual tokens."""

    cfg: BaselineConfig
    layout: TokenLayout
    budget: tuple[int, ...]  # visual tokens entering each layer
    rank: np.ndarray | None  # per visual index (None: attention rankers, set after score_layer)
    attn: tuple[int, int, float]  # heads, kv heads, scaling
    device: torch.device
    tiebreak: np.ndarray = field(default_factory=lambda: np.zeros(0))
    v_retain: np.ndarray | None = None
    tokens_per_layer: list[int] = field(default_factory=list)
    visual_per_layer: list[int] = field(default_factory=list)
    selection_s: float = 0.0
    scoring_s: float = 0.0

    def __post_init__(self) -> None:
        self.spec = BASELINES[self.cfg.kind]
        self.v_start = self.layout.visual.start
        self._rank_t = None if self.rank is None else torch.as_tensor(self.rank,
                                                                      device=self.device)

    def _visual_mask(self, kept: torch.Tensor) -> torch.Tensor:
        return (kept >= self.v_start) & (kept < self.v_start + self.layout.num_visual)

    def wants_qk(self, layer: int) -> bool:
        """Only the attention rankers score, in their one layer."""
        return self.spec.ranks_by == 'attention' and layer == self.cfg.score_layer

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        """Attention rankers: rank the visual tokens by this layer's attention (their rows)."""
        if q is None or k is None or not self.wants_qk(layer):
            return
        t0 = time.perf_counter()
        vis_rows = torch.nonzero(self._visual_mask(state.kept)).flatten()
        if vis_rows.numel() != self.layout.num_visual:
            raise ConfigError(f'{self.cfg.kind} scores layer {layer}, but tokens were pruned '
                              'before it: the scoring layer must come before the first cut')
        positions = query_positions(self.layout, self.spec.score_rows, self.device)
        text_rows = TokenLayout.rows_of(state.kept, positions)
        heads, kv_heads, scaling = self.attn
        score = task_attention(q, k, state.cos, state.sin, text_rows, vis_rows, heads, kv_heads,
                               scaling)
        self.rank = ranks_from_priority(score.float().cpu().numpy(), self.tiebreak)
        self._rank_t = torch.as_tensor(self.rank, device=self.device)
        self.scoring_s += time.perf_counter() - t0

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        """Keep the ``budget[layer]`` best-ranked visual tokens still present."""
        t0 = time.perf_counter()
        visual = self._visual_mask(state.kept)
        vis_rows = torch.nonzero(visual).flatten()
        target, rows = self.budget[layer], None
        if target < vis_rows.numel():
            if self._rank_t is None:
                raise ConfigError(f'{self.cfg.kind}: no ranking before layer {layer} (an '
                                  'attention ranker\'s score_layer must come before the first '
                                  'cut)')
            ranks = self._rank_t.index_select(0, state.kept.index_select(0, vis_rows)
                                              - self.v_start)
            top = torch.topk(ranks, target, largest=False, sorted=False).indices
            keep = ~visual
            keep[vis_rows.index_select(0, top)] = True
            rows = torch.nonzero(keep).flatten()
        kept = state.kept if rows is None else state.kept.index_select(0, rows)
        kept_visual = kept[self._visual_mask(kept)]
        if self.v_retain is None and kept_visual.numel() < self.layout.num_visual:
            self.v_retain = (kept_visual - self.v_start).cpu().numpy()
        self.tokens_per_layer.append(int(kept.numel()))
        self.visual_per_layer.append(int(kept_visual.numel()))
        self.selection_s += time.perf_counter() - t0
        return rows


class BaselineEngine:
    """Runs ``policy`` with one baseline; the same calls as ``SpecPruneEngine``.

    ``base`` gives ``static_layer`` and the layer schedule of a fixed budget; the budget of
    each query comes from :meth:`set_budget` (a :class:`BudgetSchedule`).
    """

    def __init__(self, policy: VLAPolicy, cfg: BaselineConfig,
                 base: SpecPruneConfig | None = None) -> None:
        self.policy = policy
        self.cfg = cfg
        self.base = base or SpecPruneConfig()
        llm = policy.cfg.llm
        self._attn = (llm.num_heads, llm.num_kv_heads, (llm.hidden_size // llm.num_heads) ** -0.5)
        self.spec = BASELINES[cfg.kind]
        if self.spec.ranks_by == 'attention' and cfg.score_layer >= self.base.static_layer:
            raise ConfigError(f'{cfg.kind}: score_layer {cfg.score_layer} must be before the '
                              f'static cut (static_layer {self.base.static_layer})')
        self.schedule = BudgetSchedule()
        self._seed = 0
        self._rng = np.random.default_rng(0)
        self._previous: list[np.ndarray] | None = None
        self._query = 0

    @property
    def config(self) -> SpecPruneConfig:
        """The SpecPrune config whose schedule a fixed budget follows."""
        return self.base

    def set_seed(self, seed: int) -> None:
        """Seed of the random orders (applied at the next :meth:`reset`)."""
        self._seed = int(seed)

    def set_budget(self, schedule: BudgetSchedule) -> None:
        """The budgets of the coming episode."""
        self.schedule = schedule

    def reset(self) -> None:
        """New episode: forget the previous frame, restart the query count and the RNG."""
        self._rng = np.random.default_rng(self._seed)
        self._previous = None
        self._query = 0
        self.policy.reset()

    def update_pose(self, state: EEState) -> None:
        """Baselines use no controller (accepted for the same call sequence)."""

    def update_twist(self, stamp: float, linear: np.ndarray, angular: np.ndarray) -> None:
        """Baselines use no controller (accepted for the same call sequence)."""

    def _ranking(self, prep: PreparedStep, n: int) -> tuple[np.ndarray | None, np.ndarray,
                                                            np.ndarray]:
        """(rank or None, tiebreak, similarity or empty) for this step."""
        tiebreak = self._rng.permutation(n)
        by = self.spec.ranks_by
        if by == 'attention':
            return None, tiebreak, np.zeros(0)
        if by == 'grid':
            side = math.isqrt(prep.layout.patches_per_view)
            return grid_rank(prep.layout.num_views, side).copy(), tiebreak, np.zeros(0)
        if by == 'frame_diff' and self._previous is not None:
            sim = np.concatenate([patch_similarity(c, p, self.policy.cfg.patch_size)
                                  for c, p in zip(prep.images, self._previous)])
            return ranks_from_priority(-sim, tiebreak), tiebreak, sim
        return tiebreak.astype(np.int64), tiebreak, np.zeros(0)

    def _static_set(self, rank: np.ndarray, sim: np.ndarray) -> np.ndarray:
        """frame_diff: the ≤ static_top most similar patches with sim ≥ static_sim."""
        count = min(self.cfg.static_top, int((sim >= self.cfg.static_sim).sum()))
        return np.sort(np.flatnonzero(rank >= rank.size - count)) if count else np.zeros(0, int)

    def predict_action_chunk(self, obs: Observation, now: float | None = None
                             ) -> tuple[np.ndarray, StepReport]:
        """One query with the baseline's selection; actions (H, D) and the report."""
        built: list[tuple[BaselinePruner, np.ndarray, np.ndarray]] = []
        num_layers = self.policy.cfg.llm.num_layers

        def make_hook(prep: PreparedStep) -> BaselinePruner:
            n = prep.layout.num_visual
            rank, tiebreak, sim = self._ranking(prep, n)
            static = self._static_set(rank, sim) if sim.size else np.zeros(0, int)
            if self.cfg.vla_cache_budget:
                budget = layer_budget(self.base.replace(use_layer_pruning=False), num_layers,
                                      n, n - static.size)
            else:
                budget = tuple(int(b) for b in self.schedule.at(self._query))
            if len(budget) != num_layers:
                raise InputError(f'budget has {len(budget)} layers, the model {num_layers}')
            self._previous = [np.array(im) for im in prep.images]
            pruner = BaselinePruner(self.cfg, prep.layout, budget, rank, self._attn,
                                    self.policy.model.device, tiebreak)
            built.append((pruner, static, sim))
            return pruner

        actions, report = self.policy.predict_action_chunk(obs, make_hook)
        pruner = built[0][0]
        n = report.visual_tokens
        kept = pruner.v_retain if pruner.v_retain is not None else np.arange(n)
        report.mode = self.cfg.kind
        report.controller_source = 'none'
        report.v_retain = np.sort(kept).astype(np.int64)
        if self.spec.ranks_by == 'frame_diff':
            report.v_dynamic = report.v_retain
        elif self.spec.ranks_by == 'attention':
            report.v_local = report.v_retain
        report.tokens_per_layer = pruner.tokens_per_layer
        report.visual_per_layer = pruner.visual_per_layer
        report.flops_ratio = flops_ratio(pruner.tokens_per_layer, self.policy.cfg.llm)
        report.overhead_breakdown_ms = {'scoring': pruner.scoring_s * 1e3,
                                        'selection': pruner.selection_s * 1e3}
        report.overhead_ms = sum(report.overhead_breakdown_ms.values())
        report.step = self._query
        self._query += 1
        return actions, report


def matched_counts(reports: Sequence[StepReport]) -> list[tuple[int, ...]]:
    """SpecPrune's visual tokens per layer of each query: a :class:`BudgetSchedule` reference."""
    return [tuple(int(v) for v in r.visual_per_layer) for r in reports]
