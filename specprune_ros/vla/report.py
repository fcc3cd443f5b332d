"""The per-step report: timings, token counts, and what the pruner kept and why."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class StepReport:
    """Everything one policy step measured. Times in milliseconds."""

    step: int = 0
    preprocess_ms: float = 0.0
    vision_ms: float = 0.0
    llm_ms: float = 0.0
    head_ms: float = 0.0
    total_ms: float = 0.0
    overhead_ms: float = 0.0  # pruning work (scoring, selection, frames, controller)
    overhead_breakdown_ms: dict[str, float] = field(default_factory=dict)  # per part
    tokens_total: int = 0  # sequence length L before pruning
    visual_tokens: int = 0  # visual tokens before pruning
    tokens_per_layer: list[int] = field(default_factory=list)  # tokens entering each layer
    visual_per_layer: list[int] = field(default_factory=list)  # visual tokens entering each
    # rows computed in each layer, padding rows of a bucketed step included (empty: as above)
    rows_per_layer: list[int] = field(default_factory=list)
    # --- SpecPrune (left at defaults when pruning is off) ---
    mode: str = 'off'  # 'fine' | 'coarse' | 'off'
    controller_source: str = 'none'
    v_t: float = 0.0  # m/step
    v_r: float = 0.0  # rad/step
    dz: float = 0.0  # m/step
    k_base: int = 0
    reference_offset: int = 0  # T
    v_global: np.ndarray = field(default_factory=_empty)  # visual indices 0..V·P-1
    v_dynamic: np.ndarray = field(default_factory=_empty)
    v_local: np.ndarray = field(default_factory=_empty)
    v_retain: np.ndarray = field(default_factory=_empty)  # kept after static pruning
    flops_ratio: float = 1.0  # LLM FLOPs of this step / unpruned
    # the views as the model saw them (image_size, after resize/crop): what the patches cover
    images: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def visual_kept(self) -> int:
        """Visual tokens kept after static pruning (all when pruning is off)."""
        return int(self.v_retain.size) if self.mode != 'off' else self.visual_tokens

    def kept_per_view(self, patches_per_view: int, num_views: int = 2) -> list[int]:
        """Visual tokens kept after static pruning, per camera view."""
        if self.mode == 'off':
            return [patches_per_view] * num_views
        return np.bincount(self.v_retain // patches_per_view, minlength=num_views).tolist()
