"""Roofline time of the decoder for token counts: max(FLOPs / peak, weight bytes / bandwidth).

Per layer with L tokens: the FLOPs of :func:`specprune_ros.specprune.flops.layer_flops` at the
peak dense 16-bit tensor throughput, or reading the layer's weights once at the memory
bandwidth, whichever takes longer (activations are small next to the weights and are left out,
so the bound is optimistic). For the 7B bfloat16 decoder the weights are 12.95 GB: 3.9 ms on an
H100 SXM, 2.7 ms on an H200; above about 300 (H100) or 200 (H200) tokens it is compute-bound.

The peaks come from :data:`GPU_PEAKS` by the CUDA device name (dense bf16/fp16 tensor FLOPs
without sparsity, HBM/GDDR bandwidth, from the vendors' data sheets), or from the command
line; a CPU has no entry, so its roofline is skipped unless both peaks are given.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from specprune_ros.specprune.flops import layer_flops
from specprune_ros.vla.config import LLMConfig

# (substrings of the device name, all required) -> (dense 16-bit TFLOP/s, bandwidth GB/s);
# first match wins, so the specific variants come before the generic names
GPU_PEAKS: tuple[tuple[tuple[str, ...], float, float], ...] = (
    (('h100', 'pcie'), 756.0, 2000.0),
    (('h100', 'nvl'), 835.0, 3900.0),
    (('h100',), 989.0, 3350.0),  # SXM5
    (('h200',), 989.0, 4800.0),
    (('a100', '40gb'), 312.0, 1555.0),
    (('a100', 'pcie'), 312.0, 1935.0),  # 80 GB PCIe
    (('a100',), 312.0, 2039.0),  # 80 GB SXM4
    (('l40s',), 362.0, 864.0),
    (('4090',), 165.2, 1008.0),  # fp32 accumulation, as PyTorch's bf16 matmuls
)


@dataclass(frozen=True)
class Roofline:
    """Peak throughput of one device."""

    name: str
    peak_tflops: float  # dense 16-bit tensor TFLOP/s
    bandwidth_gbs: float  # memory GB/s

    def layer_ms(self, tokens: int, llm: LLMConfig, bytes_per_param: int) -> float:
        """Roofline milliseconds of one decoder layer on ``tokens`` tokens."""
        compute = layer_flops(tokens, llm) / (self.peak_tflops * 1e12)
        memory = layer_weight_bytes(llm, bytes_per_param) / (self.bandwidth_gbs * 1e9)
        return 1e3 * max(compute, memory)

    def llm_ms(self, tokens_per_layer: Sequence[int], llm: LLMConfig,
               bytes_per_param: int) -> float:
        """Roofline milliseconds of the decoder given the tokens entering each layer."""
        return sum(self.layer_ms(t, llm, bytes_per_param) for t in tokens_per_layer)

    def ridge_tokens(self, llm: LLMConfig, bytes_per_param: int) -> float:
        """Token count above which a layer is compute-bound (quadratic attention ignored)."""
        per_token = layer_flops(1, llm)  # linear part: 2 FLOPs per weight per token
        return (self.peak_tflops * 1e12) * layer_weight_bytes(llm, bytes_per_param) / (
            self.bandwidth_gbs * 1e9) / per_token


def layer_weight_bytes(llm: LLMConfig, bytes_per_param: int) -> int:
    """Bytes of one decoder layer's weights (projections, SwiGLU MLP, two RMSNorms)."""
    d, i = llm.hidden_size, llm.intermediate_size
    d_kv = d // llm.num_heads * llm.num_kv_heads
    return bytes_per_param * (d * (2 * d + 2 * d_kv) + 3 * d * i + 2 * d)


def lookup(device_name: str, peak_tflops: float | None = None,
           bandwidth_gbs: float | None = None) -> Roofline | None:
    """The roofline of ``device_name`` from :data:`GPU_PEAKS`, with overrides; None if unknown.

    Both overrides given: they are used whatever the name (e.g. a CPU, an unlisted GPU).
    """
    lower = device_name.lower()
    for keys, tflops, gbs in GPU_PEAKS:
        if all(k in lower for k in keys):
            return Roofline(device_name, peak_tflops or tflops, bandwidth_gbs or gbs)
    if peak_tflops and bandwidth_gbs:
        return Roofline(device_name, peak_tflops, bandwidth_gbs)
    return None
