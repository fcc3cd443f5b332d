"""Tests of the fixed visual-token cut (vla.cut)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import torch

from specprune_ros.vla.cut import VisualCut
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState


def test_the_cut_keeps_exactly_k_tokens_at_their_positions() -> None:
    lay = TokenLayout(2, 256, 30, (3, 20), 56)
    hook = VisualCut(lay, 1, torch.tensor([0, 5, 300]))
    state = LoopState(torch.zeros(1, lay.total, 4), torch.zeros(1, lay.total, 2),
                      torch.zeros(1, lay.total, 2), torch.arange(lay.total))
    assert hook.before_layer(0, state) is None and not hook.wants_qk(1)
    rows = hook.before_layer(1, state)
    visual = rows[(rows >= lay.visual.start) & (rows < lay.visual.stop)] - lay.visual.start
    assert visual.tolist() == [0, 5, 300]
    assert rows.numel() == lay.total - lay.num_visual + 3
    others = rows[(rows < lay.visual.start) | (rows >= lay.visual.stop)]
    assert others.tolist() == [p for p in range(lay.total)
                               if not lay.visual.start <= p < lay.visual.stop]
