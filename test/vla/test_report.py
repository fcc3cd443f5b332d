"""Tests of specprune_ros.vla.report: the StepReport defaults and its derived token counts."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import numpy as np

from specprune_ros.vla.report import StepReport

P = 256  # patches per view at 224 px / 14 px


def test_defaults_describe_an_unpruned_step() -> None:
    report = StepReport()
    assert report.mode == 'off' and report.controller_source == 'none'
    assert report.flops_ratio == 1.0 and report.step == 0 and report.total_ms == 0.0
    for name in ('v_global', 'v_dynamic', 'v_local', 'v_retain'):
        arr = getattr(report, name)
        assert arr.shape == (0,) and arr.dtype == np.int64, name
    assert report.tokens_per_layer == [] and report.overhead_breakdown_ms == {}
    assert report.images == []


def test_default_containers_are_not_shared() -> None:
    a, b = StepReport(), StepReport()
    a.tokens_per_layer.append(600)
    a.visual_per_layer.append(512)
    a.overhead_breakdown_ms['scoring'] = 1.5
    a.images.append(np.zeros((2, 2, 3), np.uint8))
    assert b.tokens_per_layer == [] and b.visual_per_layer == []
    assert b.overhead_breakdown_ms == {} and b.images == []
    assert a.v_retain is not b.v_retain


def test_visual_kept_counts_the_retained_tokens_when_pruning() -> None:
    for mode in ('coarse', 'fine'):
        report = StepReport(mode=mode, visual_tokens=2 * P, v_retain=np.arange(0, 2 * P, 3))
        kept = report.visual_kept
        assert kept == len(range(0, 2 * P, 3)) and type(kept) is int
        assert StepReport(mode=mode, visual_tokens=2 * P).visual_kept == 0


def test_visual_kept_is_everything_when_pruning_is_off() -> None:
    report = StepReport(mode='off', visual_tokens=2 * P, v_retain=np.arange(10))
    assert report.visual_kept == 2 * P


def test_kept_per_view_splits_by_view() -> None:
    report = StepReport(mode='fine', v_retain=np.array([0, 5, P - 1, P, P + 44, 2 * P - 1]))
    assert report.kept_per_view(P) == [3, 3]
    only_wrist = StepReport(mode='coarse', v_retain=np.array([P, P + 1]))
    assert only_wrist.kept_per_view(P) == [0, 2]  # one entry per view, even an empty view
    assert StepReport(mode='coarse').kept_per_view(P) == [0, 0]
    got = report.kept_per_view(P)
    assert all(type(v) is int for v in got)
    # Other grids: 4 patches per view, 3 views.
    small = StepReport(mode='fine', v_retain=np.array([0, 3, 4, 8, 9, 11]))
    assert small.kept_per_view(4, num_views=3) == [2, 1, 3]


def test_kept_per_view_when_pruning_is_off() -> None:
    report = StepReport(mode='off', visual_tokens=2 * P, v_retain=np.array([0, 1]))
    assert report.kept_per_view(P) == [P, P]
    assert report.kept_per_view(16, num_views=3) == [16, 16, 16]


@given(st.sets(st.integers(0, 2 * P - 1), max_size=2 * P), st.sampled_from(['coarse', 'fine']))
def test_kept_per_view_adds_up_to_visual_kept(kept: set[int], mode: str) -> None:
    retain = np.array(sorted(kept), dtype=np.int64)
    report = StepReport(mode=mode, visual_tokens=2 * P, v_retain=retain)
    third, wrist = report.kept_per_view(P)
    assert third + wrist == report.visual_kept == len(kept)
    assert third == sum(1 for i in kept if i < P)


def test_repr_leaves_out_the_images() -> None:
    report = StepReport(step=3, images=[np.full((224, 224, 3), 7, np.uint8)])
    text = repr(report)
    assert 'step=3' in text and 'mode=' in text
    assert 'images' not in text
