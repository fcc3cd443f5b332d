"""Per-stage wall times of one policy step without a host sync between the stages.

On a CUDA device every stage is bracketed by CUDA events on the model's current stream; they
are read after the step, once its last copy to the host has synchronised the stream. On the CPU
the stages are timed with ``time.perf_counter``. Either way a stage's time is the wall time from
its start to its end as the device sees it, so host work inside a stage (JPEG/Lanczos in the
preprocessing) counts, and device work still queued when a stage's host code returns is
charged to the stage that waits for it.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import time
from typing import Any

import torch


class StageTimer:
    """Times named stages of one step on ``device`` (CUDA events, else perf_counter)."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._cuda = self.device.type == 'cuda'
        self._marks: dict[str, tuple[Any, Any]] = {}

    def _mark(self) -> Any:
        if not self._cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body as stage ``name``."""
        start = self._mark()
        yield
        self._marks[name] = (start, self._mark())

    def elapsed_ms(self) -> dict[str, float]:
        """Milliseconds per stage; call after the step (waits for the last CUDA event)."""
        if not self._cuda:
            return {name: (end - start) * 1e3 for name, (start, end) in self._marks.items()}
        if self._marks:
            list(self._marks.values())[-1][1].synchronize()
        return {name: start.elapsed_time(end) for name, (start, end) in self._marks.items()}
