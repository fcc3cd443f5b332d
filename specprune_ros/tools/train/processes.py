"""The processes of one training run: one, or several under ``accelerate launch``.

Each step's batch is split into contiguous shares; gradients are summed over the processes
(gloo on CPUs, NCCL on GPUs), so every process applies the whole batch's update.
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

import numpy as np
import torch


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes (``accelerate launch``; else one).

    Each step's batch is split into contiguous shares; the gradients (each share's loss
    weighted by its size) are summed over the processes, so every process applies the
    update of the whole batch and the weights stay identical. Only process 0 writes.
    """

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files."""
        return self.rank == 0

    def part(self, samples: np.ndarray) -> tuple[np.ndarray, int]:
        """This process's share of a step's samples, and the index of its first one."""
        bounds = [len(samples) * r // self.world for r in range(self.world + 1)]
        return samples[bounds[self.rank]:bounds[self.rank + 1]], bounds[self.rank]

    def sum_(self, tensor: torch.Tensor) -> None:
        """Sum ``tensor`` over the processes, in place (nothing with one process)."""
        if self.world > 1:
            torch.distributed.all_reduce(tensor)


SINGLE = Processes()  # a run in one process


def processes() -> Processes:
    """The processes of this run: accelerate's (gloo on CPUs, NCCL on GPUs) when launched."""
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Processes(state.process_index, state.num_processes)
