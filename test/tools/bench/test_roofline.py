"""Roofline: the GPU table, overrides, and the 7B figures the issue quotes."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest

from specprune_ros.specprune.flops import layer_flops
from specprune_ros.tools.bench.roofline import layer_weight_bytes, lookup, Roofline
from specprune_ros.vla.config import PRESETS

LLM_7B = PRESETS['oft-7b'].llm


@pytest.mark.parametrize('name, tflops, gbs', [
    ('NVIDIA H100 80GB HBM3', 989.0, 3350.0), ('NVIDIA H100 PCIe', 756.0, 2000.0),
    ('NVIDIA H100 NVL', 835.0, 3900.0), ('NVIDIA H200', 989.0, 4800.0),
    ('NVIDIA A100-SXM4-80GB', 312.0, 2039.0), ('NVIDIA A100-SXM4-40GB', 312.0, 1555.0),
    ('NVIDIA A100 80GB PCIe', 312.0, 1935.0), ('NVIDIA L40S', 362.0, 864.0),
    ('NVIDIA GeForce RTX 4090', 165.2, 1008.0)])
def test_table_by_device_name(name, tflops, gbs):
    assert lookup(name) == Roofline(name, tflops, gbs)


def test_overrides_and_unknown_devices():
    assert lookup('cpu') is None and lookup('NVIDIA T4') is None
    assert lookup('cpu', 1.0) is None  # both peaks are needed for an unlisted device
    assert lookup('cpu', 1.0, 20.0) == Roofline('cpu', 1.0, 20.0)
    assert lookup('NVIDIA H200', peak_tflops=900.0) == Roofline('NVIDIA H200', 900.0, 4800.0)


def test_the_7b_decoder_figures():
    weights = 32 * layer_weight_bytes(LLM_7B, 2)
    assert weights == pytest.approx(12.95e9, rel=2e-3)  # bf16
    h100, h200 = lookup('NVIDIA H100 80GB HBM3'), lookup('NVIDIA H200')
    assert h100.llm_ms([1] * 32, LLM_7B, 2) == pytest.approx(3.87, abs=0.01)  # memory-bound
    assert h200.llm_ms([1] * 32, LLM_7B, 2) == pytest.approx(2.70, abs=0.01)
    assert h100.ridge_tokens(LLM_7B, 2) == pytest.approx(295, abs=2)
    assert h200.ridge_tokens(LLM_7B, 2) == pytest.approx(206, abs=2)
    # compute-bound at 700 tokens: FLOPs over the peak
    assert h100.layer_ms(700, LLM_7B, 2) == pytest.approx(
        1e3 * layer_flops(700, LLM_7B) / 989e12)
    assert h100.llm_ms([700, 300], LLM_7B, 2) == pytest.approx(
        h100.layer_ms(700, LLM_7B, 2) + h100.layer_ms(300, LLM_7B, 2))
