"""SpecPrune engine: a policy plus the three SpecPrune-VLA techniques across steps.

Per step: the action-aware controller picks fine/coarse mode from the EE speed (measured
pose/twist, else the last commanded action) → K_base; the frame history gives V_dynamic
against the reference frame I_{t−T}; the previous step's importance S_i gives V_global; the
:class:`StepPruner` prunes inside the layer loop. With ``enabled=False`` the plain policy runs.
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
import math
import threading
import time

import numpy as np
import torch

from specprune_ros.specprune.controller import ActionAwareController, ControllerState
from specprune_ros.specprune.flops import flops_ratio
from specprune_ros.specprune.frames import compute_v_dynamic, FrameHistory
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.specprune.pruner import AttentionShape, StepPruner
from specprune_ros.vla.policy import Observation, PreparedStep, VLAPolicy
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.state import EEState


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
        self._global_scores: np.ndarray | None = None  # S_i of the previous step
        self._step = 0
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

    def reset(self) -> None:
        """New episode: clear frames, controller, V_global scores."""
        self.history.clear()
        self.controller.reset()
        self._global_scores = None
        self._step = 0
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
            return self._cfg

    def _v_global(self, cfg: SpecPruneConfig) -> torch.Tensor:
        """Top-K_G visual indices by the previous step's S_i (empty on the first step)."""
        scores = self._global_scores
        if not cfg.use_global or scores is None or cfg.k_global == 0:
            return torch.zeros(0, dtype=torch.long)
        top = np.argsort(-scores, kind='stable')[:cfg.k_global]
        top = top[scores[top] > 0]  # never-scored tokens carry no global information
        return torch.from_numpy(np.sort(top))

    def predict_action_chunk(self, obs: Observation, now: float | None = None
                             ) -> tuple[np.ndarray, StepReport]:
        """Run one step: actions (H, D) and the full report.

        ``now`` judges the staleness of the EE state (default: the observation's stamp).
        """
        cfg = self._apply_pending()
        if not cfg.enabled:
            actions, report = self.policy.predict_action_chunk(obs)
            report.step, self._step = self._step, self._step + 1
            self.history.clear()  # frames would be stale when pruning is switched back on
            self._global_scores = None
            return actions, report
        t0 = time.perf_counter()
        ctrl: ControllerState = self.controller.step(now=obs.stamp if now is None else now)
        controller_s = time.perf_counter() - t0
        built: list[_Built] = []

        def make_hook(prep: PreparedStep) -> StepPruner:
            t1 = time.perf_counter()
            dyn = compute_v_dynamic(self.history, prep.images, ctrl.v_for_T, cfg,
                                    self.policy.cfg.patch_size)
            self.history.push(prep.images)
            t2 = time.perf_counter()
            pruner = StepPruner(cfg, prep.layout, self.policy.cfg.llm.num_layers, self._attn,
                                ctrl.k_base, self._v_global(cfg),
                                torch.from_numpy(dyn.indices), self.policy.model.device)
            built.append(_Built(pruner, dyn.reference_offset, t2 - t1,
                                time.perf_counter() - t2))
            return pruner

        actions, report = self.policy.predict_action_chunk(obs, make_hook)
        step = built[0]
        pruner = step.pruner
        t3 = time.perf_counter()
        self._global_scores = pruner.importance.float().cpu().numpy()
        self.controller.update_command(actions[0])  # fall-back speed for the next step
        self._fill(report, cfg, ctrl, pruner, step.reference_offset)
        parts = {'controller': controller_s, 'bookkeeping': time.perf_counter() - t3,
                 'frames': step.frames_s, 'scoring': pruner.scoring_s,
                 'selection': pruner.selection_s + step.setup_s}
        report.overhead_breakdown_ms = {k: v * 1e3 for k, v in parts.items()}
        report.overhead_ms = sum(report.overhead_breakdown_ms.values())
        report.step, self._step = self._step, self._step + 1
        return actions, report

    def _fill(self, report: StepReport, cfg: SpecPruneConfig, ctrl: ControllerState,
              pruner: StepPruner, offset: int) -> None:
        report.mode = ctrl.mode
        report.controller_source = ctrl.source
        report.v_t, report.v_r, report.dz = (0.0 if math.isnan(x) else x
                                             for x in (ctrl.v_t, ctrl.v_r, ctrl.dz))
        report.k_base = ctrl.k_base
        report.reference_offset = offset
        report.v_global = pruner.v_global.cpu().numpy() if cfg.use_global else report.v_global
        report.v_dynamic = pruner.v_dynamic.cpu().numpy() if cfg.use_dynamic else report.v_dynamic
        report.v_local = pruner.v_local.cpu().numpy()
        report.v_retain = (pruner.v_retain.cpu().numpy() if pruner.v_retain is not None
                           else np.arange(report.visual_tokens))
        report.tokens_per_layer = pruner.tokens_per_layer
        report.visual_per_layer = pruner.visual_per_layer
        report.flops_ratio = flops_ratio(pruner.tokens_per_layer, self.policy.cfg.llm)
