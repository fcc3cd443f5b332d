"""Token layout index bookkeeping."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest
import torch

from specprune_ros.vla.layout import TokenLayout


def test_groups_tile_the_sequence_in_oft_order():
    lay = TokenLayout(2, 256, 30, (10, 20), 56)
    parts = [range(lay.bos, lay.bos + 1), range(lay.view(0).start, lay.view(0).stop),
             range(lay.view(1).start, lay.view(1).stop), range(lay.proprio, lay.proprio + 1),
             range(lay.prompt.start, lay.prompt.stop), range(lay.actions.start, lay.actions.stop),
             range(lay.eos, lay.eos + 1)]
    flat = [i for p in parts for i in p]
    assert flat == list(range(lay.total))
    assert lay.total == 1 + 512 + 1 + 30 + 56 + 1
    assert lay.task == slice(lay.prompt.start + 10, lay.prompt.start + 20)
    kept = lay.always_kept()
    assert not set(kept.tolist()) & set(range(lay.visual.start, lay.visual.stop))
    assert len(kept) == lay.total - lay.num_visual


def test_rows_of_maps_positions_and_rejects_pruned():
    kept = torch.tensor([0, 3, 4, 9, 12])
    assert TokenLayout.rows_of(kept, torch.tensor([4, 12])).tolist() == [2, 4]
    with pytest.raises(RuntimeError):
        TokenLayout.rows_of(kept, torch.tensor([5]))
    with pytest.raises(RuntimeError):
        TokenLayout.rows_of(kept, torch.tensor([13]))


def test_bad_task_span():
    with pytest.raises(ValueError, match='task span'):
        TokenLayout(2, 256, 10, (4, 4), 56)


def test_action_queries_are_the_rows_before_the_slots_and_always_kept():
    # OFT's fixture: 612 tokens, the head reads rows 554..609 (last prompt token .. slot 54)
    lay = TokenLayout(2, 256, 41, (10, 20), 56)
    assert lay.total == 612 and lay.actions == slice(555, 611)
    assert lay.action_queries == slice(554, 610)
    assert lay.action_queries.start == lay.prompt.stop - 1  # the last prompt token
    for other in (lay, TokenLayout(1, 4, 1, (0, 1), 3), TokenLayout(2, 256, 30, (10, 20), 56)):
        queries = set(range(other.action_queries.start, other.action_queries.stop))
        assert len(queries) == other.action_slots
        assert queries <= set(other.always_kept().tolist())  # pruning can never drop one
        assert other.prompt.stop - 1 in other.always_kept().tolist()
