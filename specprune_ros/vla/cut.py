"""A fixed visual-token cut: the simplest :class:`~specprune_ros.vla.model.LayerHook`.

Before one layer it keeps every non-visual row and a given set of visual tokens; the kept rows
carry their original positions (RoPE), exactly as the pruner removes tokens. The probe measures
pruned chunks with it, and training drops visual tokens with it (PatchDropout-style), so both
remove tokens the way inference does.
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

import torch

from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState


@dataclass
class VisualCut:
    """LayerHook: before ``layer`` keep every non-visual row and only the ``keep`` visual tokens.

    It must be the first cut of the forward (row r is position r when it runs).
    """

    layout: TokenLayout
    layer: int
    keep: torch.Tensor  # (K,) visual indices in 0..num_visual-1, on the model's device

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        """Rows to keep before ``layer``; None before every other layer."""
        if layer != self.layer:
            return None
        lay = self.layout
        visual = (state.kept >= lay.visual.start) & (state.kept < lay.visual.stop)
        keep = ~visual
        keep[lay.visual_positions(self.keep)] = True  # no earlier cut: row == position
        return torch.nonzero(keep).flatten()

    def wants_qk(self, layer: int) -> bool:
        """Never: the cut is fixed in advance."""
        return False

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        """Nothing to observe."""
        return None
