"""Tests of specprune_ros.specprune.debug_image: render, decode back, layout, speed."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from specprune_ros.errors import InputError
from specprune_ros.specprune.debug_image import (
    BACKGROUND,
    decode_kept_tokens,
    DIM,
    displayed_sources,
    LAYOUT,
    MODE_COLOURS,
    render_kept_tokens,
    SOURCE_COLOURS,
)
from specprune_ros.vla.report import StepReport

N = 512
SOURCES = ('global', 'dynamic', 'local', 'kept')


def make_report(rng: np.random.Generator, mode: str = 'coarse', sizes=(40, 30, 60),
                extra_kept: int = 0, outside: int = 0) -> StepReport:
    """Build a report with random sets.

    ``extra_kept``: retained tokens in no set; ``outside``: set members not retained.
    """
    sets = [np.sort(rng.choice(N, k, replace=False)) for k in sizes]
    retain = np.union1d(np.union1d(sets[0], sets[1]), sets[2])
    free = np.setdiff1d(np.arange(N), retain)
    retain = np.union1d(retain, rng.choice(free, extra_kept, replace=False))
    if outside:
        sets[0] = np.union1d(sets[0], rng.choice(np.setdiff1d(np.arange(N), retain), outside,
                                                 replace=False))
    return StepReport(mode=mode, reference_offset=3, visual_tokens=N, v_global=sets[0],
                      v_dynamic=sets[1], v_local=sets[2], v_retain=retain)


def assert_decodes(image: np.ndarray, report: StepReport) -> None:
    got = decode_kept_tokens(image)
    want = displayed_sources(report, N)
    assert got['mode'] == report.mode and got['num_views'] == 2
    for key in ('retain', *SOURCES):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_layout_shape_and_dtype(libero_images):
    out = render_kept_tokens(libero_images, make_report(np.random.default_rng(0)))
    assert out.dtype == np.uint8
    assert out.shape == (LAYOUT.header_height + 224, 2 * 224 + LAYOUT.gap, 3)
    assert LAYOUT.width(2) == out.shape[1] and LAYOUT.view_x(1) == 224 + LAYOUT.gap
    gap = out[LAYOUT.header_height:, 224:224 + LAYOUT.gap]
    assert (gap == BACKGROUND).all()


def test_decode_recovers_retain_and_sources_on_fixture(libero_images):
    rng = np.random.default_rng(1)
    for mode in ('coarse', 'fine'):
        report = make_report(rng, mode)
        image = render_kept_tokens(libero_images, report)
        assert_decodes(image, report)
        got = decode_kept_tokens(image)
        np.testing.assert_array_equal(got['retain'], report.v_retain)
        np.testing.assert_array_equal(got['local'], report.v_local)  # top priority: exact


def test_priority_local_over_dynamic_over_global(libero_images):
    report = StepReport(mode='fine', v_global=np.array([0, 1, 2, 3]),
                        v_dynamic=np.array([1, 2, 300]), v_local=np.array([2, 3, 511]),
                        v_retain=np.array([0, 1, 2, 3, 300, 511, 100]))
    got = decode_kept_tokens(render_kept_tokens(libero_images, report))
    assert got['global'].tolist() == [0]
    assert got['dynamic'].tolist() == [1, 300]
    assert got['local'].tolist() == [2, 3, 511]
    assert got['kept'].tolist() == [100]
    assert got['retain'].tolist() == [0, 1, 2, 3, 100, 300, 511]


def test_kept_border_colour_and_pruned_dimming(libero_images):
    report = StepReport(mode='coarse', v_local=np.array([17]), v_retain=np.array([17]))
    out = render_kept_tokens(libero_images, report)
    body = out[LAYOUT.header_height:]
    y, x = 1 * 14, 1 * 14  # token 17 = view 0, row 1, col 1
    cell = body[y:y + 14, x:x + 14]
    assert (cell[0] == SOURCE_COLOURS['local']).all() and (cell[:, -1] ==
                                                           SOURCE_COLOURS['local']).all()
    third = libero_images[0].astype(np.uint16)
    np.testing.assert_array_equal(body[:14, :14], (third[:14, :14] * DIM) >> 8)
    wrist = libero_images[1].astype(np.uint16)
    x1 = LAYOUT.view_x(1)
    np.testing.assert_array_equal(body[:, x1:x1 + 224], (wrist * DIM) >> 8)
    assert body[:, :224].max() <= 255 and ((third * DIM) >> 8).max() <= 89


def test_mode_off_keeps_everything_untinted(libero_images):
    report = make_report(np.random.default_rng(2), mode='off')
    out = render_kept_tokens(libero_images, report)
    body = out[LAYOUT.header_height:]
    np.testing.assert_array_equal(body[:, :224], libero_images[0])
    np.testing.assert_array_equal(body[:, LAYOUT.view_x(1):], libero_images[1])
    got = decode_kept_tokens(out)
    assert got['mode'] == 'off'
    np.testing.assert_array_equal(got['retain'], np.arange(N))
    assert all(got[s].size == 0 for s in SOURCES)


def test_nothing_kept_and_everything_kept(libero_images):
    empty = StepReport(mode='coarse')
    got = decode_kept_tokens(render_kept_tokens(libero_images, empty))
    assert got['retain'].size == 0
    full = StepReport(mode='fine', v_local=np.arange(N), v_retain=np.arange(N))
    got = decode_kept_tokens(render_kept_tokens(libero_images, full))
    np.testing.assert_array_equal(got['local'], np.arange(N))


def test_header_has_text_and_mode_swatch(libero_images):
    out = render_kept_tokens(libero_images, make_report(np.random.default_rng(3)))
    header = out[:LAYOUT.header_height]
    text_area = header[:, LAYOUT.swatch_x + LAYOUT.swatch_size + 2:]
    assert (text_area != BACKGROUND).any(axis=2).sum() > 200  # status text and legend
    s = LAYOUT.swatch_size // 2
    assert tuple(header[LAYOUT.swatch_y + s, LAYOUT.swatch_x + s]) == MODE_COLOURS['coarse']
    other = render_kept_tokens(libero_images, make_report(np.random.default_rng(3),
                                                          sizes=(10, 10, 10)))
    assert not np.array_equal(other[:LAYOUT.header_height, :200], header[:, :200])


def test_adversarial_image_content():
    """Images painted in the source colours still decode exactly."""
    rng = np.random.default_rng(4)
    palette = np.array([*SOURCE_COLOURS.values(), *MODE_COLOURS.values()], np.uint8)
    images = [palette[rng.integers(0, len(palette), (224, 224))] for _ in range(2)]
    images[1][:] = SOURCE_COLOURS['local']
    for mode in ('coarse', 'off'):
        report = make_report(rng, mode, extra_kept=5, outside=7)
        assert_decodes(render_kept_tokens(images, report), report)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sizes=st.tuples(*[st.integers(0, 120)] * 3),
       extra=st.integers(0, 20), outside=st.integers(0, 20),
       mode=st.sampled_from(['coarse', 'fine', 'off']))
def test_random_reports_round_trip(libero_images, seed, sizes, extra, outside, mode):
    rng = np.random.default_rng(seed)
    report = make_report(rng, mode, sizes, extra, outside)
    images = libero_images if seed % 2 else [rng.integers(0, 256, (224, 224, 3), np.uint8)
                                             for _ in range(2)]
    assert_decodes(render_kept_tokens(images, report), report)


def test_other_image_sizes_are_resized(libero_images):
    small = [np.asarray(img[::2, ::2]) for img in libero_images]
    report = make_report(np.random.default_rng(5))
    out = render_kept_tokens(small, report)
    assert out.shape == (LAYOUT.header_height + 224, LAYOUT.width(2), 3)
    assert_decodes(out, report)


def test_other_token_grids_adapt_the_cell_size(libero_images):
    """A 448-px model (32x32 tokens per view) is drawn with 7-px cells and decodes with 7."""
    n = 2 * 32 * 32
    rng = np.random.default_rng(6)
    local = np.sort(rng.choice(n, 300, replace=False))
    report = StepReport(mode='fine', visual_tokens=n, v_local=local, v_retain=local)
    out = render_kept_tokens(libero_images, report)  # the node passes the model's patch, 14
    assert out.shape == (LAYOUT.header_height + 224, LAYOUT.width(2), 3)
    got = decode_kept_tokens(out, patch=7)
    np.testing.assert_array_equal(got['local'], local)
    np.testing.assert_array_equal(got['retain'], local)
    assert decode_kept_tokens(render_kept_tokens(libero_images, StepReport(
        mode='coarse', visual_tokens=N, v_retain=np.arange(5))))['kept'].tolist() == list(
        range(5))


def test_bad_inputs_raise(libero_images):
    with pytest.raises(InputError, match=r'outside 0\.\.511'):
        render_kept_tokens(libero_images, StepReport(mode='fine', v_retain=np.array([512])))
    with pytest.raises(InputError, match='uint8 RGB'):
        render_kept_tokens([libero_images[0][:, :, 0], libero_images[1]], StepReport())
    with pytest.raises(InputError, match='with patch 13: the token grid must divide 224'):
        render_kept_tokens(libero_images, StepReport(), patch=13)
    with pytest.raises(InputError, match='cannot draw 500 visual tokens of 2 views'):
        render_kept_tokens(libero_images, StepReport(visual_tokens=500))
    with pytest.raises(ValueError, match='not a kept-tokens debug image'):
        decode_kept_tokens(np.zeros((100, 456, 3), np.uint8))
    with pytest.raises(ValueError, match='mode swatch'):
        decode_kept_tokens(np.zeros((LAYOUT.header_height + 224, 456, 3), np.uint8))
