"""Explicit index bookkeeping for one policy step's token sequence.

``[BOS][view 0 patches][view 1 patches][proprio][prompt][H*D action slots][EOS]``

Every group's position comes from :class:`TokenLayout`; nothing downstream uses offsets of
its own. Pruning keeps a sorted vector ``kept`` of original positions, and
:meth:`TokenLayout.rows_of` maps original positions to rows of the pruned hidden states.

The action head reads the ``action_queries`` rows: each action slot's position − 1, i.e. the
last prompt token through the second-to-last slot. OpenVLA-OFT trains like a causal LM (the
hidden state at t is supervised with token t+1), so that is where its head looks; invariant:
every action query is in :meth:`TokenLayout.always_kept`, so pruning never drops one.
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


@dataclass(frozen=True)
class TokenLayout:
    """Where every token group lives in the unpruned sequence."""

    num_views: int
    patches_per_view: int
    prompt_len: int
    task_span: tuple[int, int]  # [start, end) of the task text inside the prompt
    action_slots: int  # horizon * action_dim

    def __post_init__(self) -> None:
        start, end = self.task_span
        if not 0 <= start < end <= self.prompt_len:
            raise ValueError(f'task span {self.task_span} must be a non-empty part of the '
                             f'prompt of {self.prompt_len} tokens')
        queries = range(self.action_queries.start, self.action_queries.stop)
        if not all(any(q in r for r in self._always_kept_ranges()) for q in queries):
            raise ValueError(f'action queries {self.action_queries} must all be always kept')

    @property
    def bos(self) -> int:
        """Position of BOS."""
        return 0

    @property
    def num_visual(self) -> int:
        """Visual tokens over all views."""
        return self.num_views * self.patches_per_view

    @property
    def visual(self) -> slice:
        """All visual tokens (view-major, then patch row-major)."""
        return slice(1, 1 + self.num_visual)

    def view(self, v: int) -> slice:
        """Visual tokens of view ``v``."""
        start = self.visual.start + v * self.patches_per_view
        return slice(start, start + self.patches_per_view)

    @property
    def proprio(self) -> int:
        """Position of the proprio token."""
        return self.visual.stop

    @property
    def prompt(self) -> slice:
        """Prompt text tokens."""
        return slice(self.proprio + 1, self.proprio + 1 + self.prompt_len)

    @property
    def task(self) -> slice:
        """The task-text tokens t_j whose attention scores the visual tokens."""
        return slice(self.prompt.start + self.task_span[0], self.prompt.start + self.task_span[1])

    @property
    def actions(self) -> slice:
        """Action slots, chunk-step-major: slot h*D + d is step h, dimension d."""
        return slice(self.prompt.stop, self.prompt.stop + self.action_slots)

    @property
    def action_queries(self) -> slice:
        """Rows the action head reads: each action slot's position − 1 (OFT's convention).

        From the last prompt token through the second-to-last action slot, chunk-step-major
        like :attr:`actions`: query h*D + d predicts step h, dimension d.
        """
        return slice(self.actions.start - 1, self.actions.stop - 1)

    @property
    def eos(self) -> int:
        """Position of EOS."""
        return self.actions.stop

    @property
    def total(self) -> int:
        """Sequence length."""
        return self.eos + 1

    def indices(self, part: slice, device: torch.device | str = 'cpu') -> torch.Tensor:
        """Original positions of a slice as a LongTensor."""
        return torch.arange(part.start, part.stop, device=device)

    def visual_positions(self, visual_idx: torch.Tensor) -> torch.Tensor:
        """Sequence positions of visual indices (0 .. num_visual-1)."""
        return visual_idx + self.visual.start

    def _always_kept_ranges(self) -> tuple[range, ...]:
        """The never-pruned groups: BOS, then proprio through EOS (prompt and slots between)."""
        return range(self.bos, self.bos + 1), range(self.proprio, self.total)

    def always_kept(self, device: torch.device | str = 'cpu') -> torch.Tensor:
        """Positions that are never pruned: BOS, proprio, prompt, action slots, EOS.

        Holds every :attr:`action_queries` position (checked when the layout is built).
        """
        return torch.cat([torch.arange(r.start, r.stop, device=device)
                          for r in self._always_kept_ranges()])

    @staticmethod
    def find_rows(kept: torch.Tensor, positions: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows holding original ``positions`` and, per position, whether it is really kept.

        Stays on the device (no host read): a row whose flag is False belongs to another
        token. ``kept`` is the sorted vector of original positions of the current rows.
        """
        rows = torch.searchsorted(kept, positions).clamp(max=kept.numel() - 1)
        return rows, kept.index_select(0, rows) == positions

    @staticmethod
    def rows_of(kept: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rows of the (pruned) hidden states holding original ``positions``.

        ``kept`` is the sorted vector of original positions of the current rows. Raises if any
        requested position was pruned, so a reader can never silently get another token (this
        check reads one bool on the host; :meth:`find_rows` is the sync-free lookup).
        """
        rows, ok = TokenLayout.find_rows(kept, positions)
        if not bool(ok.all()):
            missing = positions[~ok].tolist()
            raise RuntimeError(f'positions {missing[:8]} are not among the kept tokens')
        return rows
