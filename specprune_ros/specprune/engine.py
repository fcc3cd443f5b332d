"""SpecPrune engine: a policy plus the three SpecPrune-VLA techniques across steps.

Per step: the action-aware controller picks fine/coarse mode from the EE speed (measured
pose/twist, else the last commanded action) → K_base; the frame history gives V_dynamic
against the reference frame I_{t−T}; the previous step's importance S_i gives V_global; the
:class:`StepPruner` prunes inside the layer loop. With ``enabled=False`` the plain policy runs.

Everything per step stays on the device: the current views are uploaded once (with the
model's inputs), V_dynamic and V_global are masks computed there, S_i stays there for the next
step, and the report is copied to the host once after the step (``StepPruner.host_record``).
With ``cuda_graphs`` on a CUDA model the layer ranges and the vision towers replay CUDA graphs
(``VLAModel.graphs``); on a CPU that setting logs a warning once and the step runs eagerly.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
import logging
import math
import threading
import time

import numpy as np
import torch

from specprune_ros.specprune.baselines import (
    BaselineConfig,
    BaselineEngine,
    BudgetSchedule,
    layer_budget,
)
from specprune_ros.specprune.controller import ActionAwareController, ControllerState
from specprune_ros.specprune.flops import flops_ratio
from specprune_ros.specprune.frames import compute_v_dynamic_device, FrameHistory
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.pruner import AttentionShape, PrunerRecord, StepPruner
from specprune_ros.specprune.static_shapes import ShapePlan
from specprune_ros.vla.cuda_graphs import cuda_graphs_unavailable, GraphCache
from specprune_ros.vla.policy import Observation, PreparedStep, VLAPolicy
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import EEState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Built:
    """What the hook factory made for one step, and what it cost."""

    pruner: StepPruner
    reference_offset: int  # T used for V_dynamic
    frames_s: float  # frame comparison and history push
    setup_s: float  # V_global and the StepPruner


class SpecPruneEngine:
    """Runs ``policy`` with SpecPrune-VLA; thread-safe config updates apply at the next step."""

    def __init__(self, policy: VLAPolicy, cfg: SpecPruneConfig | None = None) -> None:
        self.policy = policy
        self._cfg = cfg or SpecPruneConfig()
        self._pending: SpecPruneConfig | None = None
        self._lock = threading.Lock()
        self.controller = ActionAwareController(self._cfg)
        self.history = FrameHistory(self._cfg.history_length)
        self._global_scores: torch.Tensor | None = None  # S_i of the previous step (device)
        self._step = 0
        self._history_queries = 0  # SpecPrune queries since the frames and S_i were last cleared
        self._baseline: tuple[SpecPruneConfig, BaselineEngine] | None = None  # method != specprune
        self._graphs_warned = False
        self._configure_graphs(self._cfg)
        llm = policy.model.llm.config
        head_dim = llm.hidden_size // llm.num_attention_heads
        self._attn = AttentionShape(llm.num_attention_heads, llm.num_key_value_heads,
                                    head_dim ** -0.5)

    @property
    def config(self) -> SpecPruneConfig:
        """The config in force (a pending one applies at the next step)."""
        return self._cfg

    def set_config(self, cfg: SpecPruneConfig) -> None:
        """Use ``cfg`` from the next step on (read-only fields may not change)."""
        with self._lock:
            self._pending = cfg
        self.controller.set_config(cfg)

    def reset(self, keep_measured: bool = False) -> None:
        """New episode: clear frames, controller, V_global scores.

        ``keep_measured``: the controller keeps the measured pose and twist (a new task for a
        robot that is where it was).
        """
        self.history.clear()
        self.controller.reset(keep_measured)
        self._global_scores = None
        self._step = 0
        self._history_queries = 0
        self._baseline = None
        self.policy.reset()

    def update_pose(self, state: EEState) -> None:
        """Measured EE pose (from the robot's state topic)."""
        self.controller.update_pose(state)

    def update_twist(self, stamp: float, linear: np.ndarray, angular: np.ndarray) -> None:
        """Measured EE twist [m/s, rad/s]."""
        self.controller.update_twist(stamp, linear, angular)

    def _apply_pending(self) -> SpecPruneConfig:
        with self._lock:
            if self._pending is not None:
                old, self._cfg, self._pending = self._cfg, self._pending, None
                if self._cfg.history_length != old.history_length:
                    self.history = FrameHistory(self._cfg.history_length)
                if self._cfg != old:  # captured graphs bake the config in
                    self._configure_graphs(self._cfg)
            return self._cfg

    def _configure_graphs(self, cfg: SpecPruneConfig) -> None:
        """A fresh graph cache on the model when ``cuda_graphs`` is on and possible."""
        model = self.policy.model
        reason = cuda_graphs_unavailable(model.device) if cfg.cuda_graphs else None
        if reason is not None and not self._graphs_warned:
            logger.warning('cuda_graphs is on but %s: running eagerly', reason)
            self._graphs_warned = True
        model.graphs = GraphCache(model.device) if cfg.cuda_graphs and reason is None else None

    def _v_global(self, cfg: SpecPruneConfig, num_visual: int) -> torch.Tensor:
        """Mask of the top-K_G visual tokens by the previous step's S_i (none on the first)."""
        device = self.policy.model.device
        mask = torch.zeros(num_visual, dtype=torch.bool, device=device)
        scores = self._global_scores
        if not cfg.use_global or scores is None or cfg.k_global == 0:
            return mask
        top = torch.argsort(scores, descending=True, stable=True)[:cfg.k_global]
        # never-scored tokens carry no global information
        return mask.index_put((top,), scores.index_select(0, top) > 0)

    def predict_action_chunk(self, obs: Observation, now: float | None = None
                             ) -> tuple[np.ndarray, StepReport]:
        """Run one step: actions (H, D) and the full report.

        ``now`` judges the staleness of the EE state (default: the observation's stamp).
        """
        cfg = self._apply_pending()
        if cfg.enabled and cfg.method not in ('specprune', 'none'):
            return self._baseline_step(cfg, obs, now)
        if not cfg.pruning:
            actions, report = self.policy.predict_action_chunk(obs)
            report.step, self._step = self._step, self._step + 1
            self._forget_history()
            return actions, report
        t0 = time.perf_counter()
        ctrl: ControllerState = self.controller.step(now=obs.stamp if now is None else now)
        controller_s = time.perf_counter() - t0
        built: list[_Built] = []
        # warm-up (episode start, or pruning switched back on): score S_i, prune nothing
        dense = self._history_queries < cfg.warmup_queries

        model = self.policy.model
        plan = ShapePlan.from_config(cfg, graphs=model.graphs is not None)

        def make_hook(prep: PreparedStep) -> StepPruner:
            t1 = time.perf_counter()
            # the current views, uploaded once with the model's inputs (before any device work)
            frame = torch.from_numpy(np.stack(prep.images)).to(model.device)
            dyn = compute_v_dynamic_device(self.history, prep.images, frame, ctrl.v_for_T, cfg,
                                           self.policy.cfg.patch_size, ctrl.mode == 'fine')
            self.history.push(prep.images, frame)
            t2 = time.perf_counter()
            pruner = StepPruner(cfg, prep.layout, self.policy.cfg.llm.num_layers, self._attn,
                                ctrl.k_base, self._v_global(cfg, prep.layout.num_visual),
                                dyn.mask, model.device, plan, dense)
            built.append(_Built(pruner, dyn.reference_offset, t2 - t1,
                                time.perf_counter() - t2))
            return pruner

        actions, report = self.policy.predict_action_chunk(obs, make_hook)
        step = built[0]
        pruner = step.pruner
        t3 = time.perf_counter()
        record = pruner.host_record()  # the report's one device-to-host copy
        if not record.ok:
            raise RuntimeError('a pruned step lost a token it must keep (a text row, or a '
                               'V_retain token beyond the static capacity); its actions are '
                               'discarded')
        self._global_scores = pruner.importance.clone()  # stays on the device
        self.controller.update_command(actions[0])  # fall-back speed for the next step
        self._fill(report, cfg, ctrl, pruner, record, step.reference_offset)
        if dense:
            report.mode = 'warmup'
        parts = {'controller': controller_s, 'bookkeeping': time.perf_counter() - t3,
                 'frames': step.frames_s, 'scoring': pruner.scoring_s,
                 'selection': pruner.selection_s + step.setup_s}
        report.overhead_breakdown_ms = {k: v * 1e3 for k, v in parts.items()}
        report.overhead_ms = sum(report.overhead_breakdown_ms.values())
        report.step, self._step = self._step, self._step + 1
        self._history_queries += 1
        return actions, report

    def _baseline_step(self, cfg: SpecPruneConfig, obs: Observation, now: float | None
                       ) -> tuple[np.ndarray, StepReport]:
        """``method`` names a baseline: it keeps ``baseline_budget`` tokens at the static cut."""
        if self._baseline is None or self._baseline[0] != cfg:
            pcfg = self.policy.cfg
            engine = BaselineEngine(self.policy, BaselineConfig(cfg.method), cfg)
            engine.set_budget(BudgetSchedule(fixed=layer_budget(
                cfg, pcfg.llm.num_layers, pcfg.num_views * pcfg.patches_per_view,
                min(cfg.baseline_budget, pcfg.num_views * pcfg.patches_per_view))))
            engine.reset()  # its own query count and RNG; the policy's reset is harmless
            self._baseline = (cfg, engine)
        actions, report = self._baseline[1].predict_action_chunk(obs, now)
        report.step, self._step = self._step, self._step + 1
        self._forget_history()
        return actions, report

    def _forget_history(self) -> None:
        """A query SpecPrune did not run: its frames and S_i would be stale when it is back on."""
        self.history.clear()
        self._global_scores = None
        self._history_queries = 0  # so the next SpecPrune queries warm up again

    def _fill(self, report: StepReport, cfg: SpecPruneConfig, ctrl: ControllerState,
              pruner: StepPruner, record: PrunerRecord, offset: int) -> None:
        report.mode = ctrl.mode
        report.controller_source = ctrl.source
        report.v_t, report.v_r, report.dz = (0.0 if math.isnan(x) else x
                                             for x in (ctrl.v_t, ctrl.v_r, ctrl.dz))
        report.k_base = ctrl.k_base
        report.reference_offset = offset
        report.v_global = record.v_global if cfg.use_global else report.v_global
        report.v_dynamic = record.v_dynamic if cfg.use_dynamic else report.v_dynamic
        report.v_local = record.v_local
        report.v_retain = record.v_retain  # all visual tokens when there was no static cut
        report.tokens_per_layer = record.tokens_per_layer
        report.visual_per_layer = record.visual_per_layer
        report.rows_per_layer = pruner.rows_per_layer
        report.flops_ratio = flops_ratio(record.tokens_per_layer, self.policy.cfg.llm)
