"""CUDA graphs of fixed-shape stages: capture once per key, replay afterwards.

A stage is a function from a dict of tensors to a dict of tensors that launches kernels only:
no host reads, no tensors built from host data, no shapes that depend on tensor values (the
pruned step guarantees this; see :mod:`specprune_ros.specprune.static_shapes`). The first call
with a key (plus the names, shapes and dtypes of its inputs) copies the inputs into static
buffers, warms the stage up on a side stream and captures it; every later call copies the new
inputs into those buffers and replays the graph. The outputs are the graph's own buffers: they
hold the results until the next replay of the same graph.

If a capture fails (an operation that cannot be captured), the stage runs eagerly for that key
from then on and a warning is logged once; :attr:`GraphCache.fallbacks` counts such keys.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
import logging

import torch

logger = logging.getLogger(__name__)

Tensors = dict[str, torch.Tensor]
Stage = Callable[[Tensors], Tensors]


def cuda_graphs_unavailable(device: torch.device | str) -> str | None:
    """Why CUDA graphs cannot run on ``device`` (None when they can)."""
    device = torch.device(device)
    if device.type != 'cuda':
        return f'CUDA graphs need a CUDA device; the model runs on {device}'
    if not torch.cuda.is_available():
        return 'CUDA graphs need a CUDA device; torch sees no GPU'
    return None


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    inputs: Tensors  # static input buffers
    outputs: Tensors  # static output buffers (may alias inputs)


class GraphCache:
    """One CUDA graph per (key, input signature) on ``device``."""

    def __init__(self, device: torch.device | str, warmup: int = 2) -> None:
        """Raise ValueError when ``device`` cannot run CUDA graphs."""
        reason = cuda_graphs_unavailable(device)
        if reason is not None:
            raise ValueError(reason)
        self.device = torch.device(device)
        self.warmup = warmup
        self._graphs: dict[Hashable, _Graph | None] = {}  # None: capture failed, run eagerly
        self.captures = 0
        self.replays = 0
        self.fallbacks = 0

    def __len__(self) -> int:
        """Number of keys seen (captured or fallen back)."""
        return len(self._graphs)

    def clear(self) -> None:
        """Forget every graph (e.g. after a config change that reshapes the stages)."""
        self._graphs.clear()

    def run(self, key: Hashable, stage: Stage, inputs: Tensors) -> Tensors:
        """``stage(inputs)`` as a replayed graph (captured on the first call with ``key``)."""
        signature = tuple((name, tuple(t.shape), t.dtype) for name, t in sorted(inputs.items()))
        full = (key, signature)
        if full not in self._graphs:
            self._graphs[full] = self._capture(key, stage, inputs)
        entry = self._graphs[full]
        if entry is None:
            return stage(dict(inputs))
        for name, tensor in inputs.items():
            entry.inputs[name].copy_(tensor)
        entry.graph.replay()
        self.replays += 1
        return dict(entry.outputs)

    def _capture(self, key: Hashable, stage: Stage, inputs: Tensors) -> _Graph | None:
        static = {name: t.clone() for name, t in inputs.items()}
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        try:
            side.wait_stream(current)
            with torch.cuda.stream(side):  # warm-up (lazy inits, workspaces) off the graph
                for _ in range(self.warmup):
                    stage(dict(static))
            current.wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, capture_error_mode='thread_local'):
                outputs = stage(dict(static))
        except RuntimeError as exc:  # an operation that cannot be captured
            self.fallbacks += 1
            logger.warning('CUDA graph capture of %r failed, running it eagerly: %s', key, exc)
            return None
        self.captures += 1
        logger.debug('captured CUDA graph %r', key)
        return _Graph(graph, static, outputs)
