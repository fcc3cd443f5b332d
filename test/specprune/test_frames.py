"""Tests of specprune_ros.specprune.frames (V_dynamic) on the real LIBERO fixture images."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from fractions import Fraction
import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from specprune_ros.specprune.frames import (
    compute_v_dynamic,
    compute_v_dynamic_device,
    FrameHistory,
    patch_similarity,
    patch_similarity_device,
    patchify,
    reference_offset,
    select_dynamic,
)
from specprune_ros.specprune.params import SpecPruneConfig

P = 14
GRID = 16
NUM = GRID * GRID
GREEN = (0, 255, 0)


@pytest.fixture(scope='module')
def real_views(libero_images) -> tuple[np.ndarray, np.ndarray]:
    """(third_person, wrist) of the real fixture, 224x224x3 uint8, read-only."""
    views = []
    for arr in libero_images:
        assert arr.shape == (224, 224, 3) and arr.dtype == np.uint8
        arr = arr.copy()
        arr.setflags(write=False)
        views.append(arr)
    return views[0], views[1]


def touched(y0: int, y1: int, x0: int, x1: int) -> set[int]:
    """Patch indices touched by the pixel rectangle rows [y0, y1), cols [x0, x1)."""
    return {r * GRID + c for r in range(y0 // P, (y1 - 1) // P + 1)
            for c in range(x0 // P, (x1 - 1) // P + 1)}


def paint(img: np.ndarray, y0: int, y1: int, x0: int, x1: int, colour=GREEN) -> np.ndarray:
    """Copy of ``img`` with a solid block over rows [y0, y1), cols [x0, x1)."""
    out = np.array(img, copy=True)
    out[y0:y1, x0:x1] = colour
    return out


def flagged(cur: np.ndarray, ref: np.ndarray, tau: float = 0.986) -> set[int]:
    """Patches of one view that select_dynamic keeps with an unlimited K_D."""
    return set(select_dynamic(patch_similarity(cur, ref)[None], tau, NUM).tolist())


# --- patchify -------------------------------------------------------------------------------

def test_patchify_matches_stride_14_conv(real_views):
    torch = pytest.importorskip('torch')
    img = real_views[0]
    patches = patchify(img)
    assert patches.shape == (NUM, P * P * 3) and patches.dtype == np.float32
    # One-hot kernel: output channel (dy*P + dx)*3 + c picks pixel (dy, dx) channel c.
    weight = torch.zeros(P * P * 3, 3, P, P, dtype=torch.float64)
    for dy in range(P):
        for dx in range(P):
            for c in range(3):
                weight[(dy * P + dx) * 3 + c, c, dy, dx] = 1.0
    x = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None]
    out = torch.nn.functional.conv2d(x, weight, stride=P)  # (1, C, 16, 16)
    tokens = out.flatten(2).transpose(1, 2)[0].numpy()  # ViT token order: row-major
    np.testing.assert_array_equal(patches, tokens)


def test_patchify_row_major_manual(real_views):
    img = real_views[1]
    patches = patchify(img)
    for r, c in [(0, 0), (0, 15), (1, 0), (7, 9), (15, 15)]:
        expected = img[r * P:(r + 1) * P, c * P:(c + 1) * P].reshape(-1)
        np.testing.assert_array_equal(patches[r * GRID + c], expected)


@pytest.mark.parametrize('bad, text', [
    (np.zeros((224, 224, 3), np.float32), 'uint8'),
    (np.zeros((224, 224), np.uint8), '(H, W, 3)'),
    (np.zeros((224, 224, 4), np.uint8), '(H, W, 3)'),
    (np.zeros((224, 220, 3), np.uint8), 'multiple of the patch size'),
])
def test_patchify_rejects_bad_images(bad, text):
    with pytest.raises(ValueError, match=r'.*' + text.replace('(', r'\(').replace(')', r'\)')):
        patchify(bad)


# --- patch similarity and selection on the real fixture --------------------------------------

def test_identical_frames_flag_nothing(real_views):
    for img in real_views:
        sim = patch_similarity(img, np.array(img, copy=True))
        assert sim.shape == (NUM,)
        assert np.all(sim == 1.0)
        assert flagged(img, img, tau=1.0) == set()


@pytest.mark.parametrize('rect', [
    (28, 56, 42, 70),     # aligned to the grid: patch rows 2-3, cols 3-4
    (35, 77, 91, 119),    # not aligned: half-patch offsets, rows 2-5, cols 6-8
    (0, 224, 210, 224),   # last patch column
    (100, 107, 100, 107),  # 7x7 block inside one patch
])
def test_changed_block_flags_exactly_touched_patches(real_views, rect):
    for img in real_views:
        changed = paint(img, *rect)
        assert flagged(changed, img) == touched(*rect)
        assert flagged(img, changed) == touched(*rect)  # symmetric


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_block_flags_touched_patches(real_views, data):
    # Rectangle edges lie at most 7 px into the first/last patch they touch from outside, so
    # every touched patch has >= 7x7 changed pixels (enough to fall below tau).
    def span(name):
        a = data.draw(st.integers(0, GRID - 1), label=name + ' first patch')
        b = data.draw(st.integers(a, GRID - 1), label=name + ' last patch')
        lo_off = data.draw(st.integers(0, 7), label=name + ' start offset')
        hi_off = data.draw(st.integers(lo_off + 7 if a == b else 7, P), label=name + ' end')
        return a * P + lo_off, b * P + hi_off
    y0, y1 = span('row')
    x0, x1 = span('col')
    colour = data.draw(st.sampled_from([(0, 255, 0), (255, 0, 255), (0, 0, 0)]))
    img = real_views[data.draw(st.integers(0, 1))]
    changed = paint(img, y0, y1, x0, x1, colour)
    assert flagged(changed, img) == touched(y0, y1, x0, x1)


def test_black_patches_defined():
    black = np.zeros((28, 28, 3), np.uint8)
    grey = np.full((28, 28, 3), 90, np.uint8)
    mixed = black.copy()
    mixed[:14, :14] = 200  # patch 0 non-black
    assert patch_similarity(black, black).tolist() == [1.0] * 4
    assert patch_similarity(black, grey).tolist() == [0.0] * 4
    assert patch_similarity(grey, black).tolist() == [0.0] * 4
    assert patch_similarity(mixed, black).tolist() == [0.0, 1.0, 1.0, 1.0]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_similarity_range_symmetry_no_nan(seed, black_fraction):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (28, 42, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (28, 42, 3), dtype=np.uint8)
    a[rng.random((28, 42)) < black_fraction] = 0
    b[:14, :14] = 0
    sab, sba = patch_similarity(a, b), patch_similarity(b, a)
    assert not np.isnan(sab).any()
    assert np.all((sab >= 0.0) & (sab <= 1.0))
    np.testing.assert_allclose(sab, sba, rtol=0, atol=1e-12)
    assert np.all(patch_similarity(a, a) == 1.0)


def test_k_dynamic_keeps_least_similar(real_views):
    img = real_views[0]
    changed = np.array(img, copy=True)
    # Blend the top half towards different colours per patch: distinct similarities.
    for r in range(8):
        for c in range(GRID):
            w = 0.2 + 0.8 * ((r * GRID + c) % 17) / 16
            block = changed[r * P:(r + 1) * P, c * P:(c + 1) * P].astype(np.float64)
            tint = np.array([255.0, 0.0, 255.0 * (r % 2)])
            changed[r * P:(r + 1) * P, c * P:(c + 1) * P] = ((1 - w) * block + w * tint)
    sim = patch_similarity(changed, img)
    candidates = np.flatnonzero(sim < 0.986)
    assert candidates.size > 20
    got = select_dynamic(sim[None], 0.986, 20)
    assert got.dtype == np.int64 and got.size == 20
    assert np.all(np.diff(got) > 0)
    threshold = np.sort(sim[candidates])[19]
    assert np.all(sim[got] <= threshold)
    assert np.all(sim[np.setdiff1d(candidates, got)] >= threshold)
    assert set(got.tolist()) <= set(candidates.tolist())


def test_second_view_indices_offset(real_views):
    third, wrist = real_views
    rect = (35, 77, 91, 119)
    sim = np.stack([patch_similarity(third, third),
                    patch_similarity(paint(wrist, *rect), wrist)])
    got = select_dynamic(sim, 0.986, 512)
    assert set(got.tolist()) == {NUM + i for i in touched(*rect)}


def test_select_dynamic_ties_and_edges():
    sim = np.array([[0.5, 0.9, 0.5, 1.0], [0.5, 0.2, 0.99, 0.5]])
    np.testing.assert_array_equal(select_dynamic(sim, 0.95, 1), [5])
    np.testing.assert_array_equal(select_dynamic(sim, 0.95, 3), [0, 2, 5])  # ties: lower index
    np.testing.assert_array_equal(select_dynamic(sim, 0.95, 100), [0, 1, 2, 4, 5, 7])
    assert select_dynamic(sim, 0.95, 0).size == 0
    assert select_dynamic(sim, 0.1, 10).size == 0
    with pytest.raises(ValueError, match='num_views, num_patches'):
        select_dynamic(sim[0], 0.95, 3)
    with pytest.raises(ValueError, match='NaN'):
        select_dynamic(np.array([[np.nan, 0.1]]), 0.95, 3)
    with pytest.raises(ValueError, match='k_dynamic'):
        select_dynamic(sim, 0.95, -1)


# --- reference offset T ----------------------------------------------------------------------

@pytest.mark.parametrize('v, available, t_max, expected', [
    (0.0, 20, 12, 11), (0.375, 20, 12, 11), (0.376, 20, 12, 10), (3.0, 20, 12, 8),
    (10.5, 20, 12, 2), (10.51, 20, 12, 1), (1e6, 20, 12, 1), (math.inf, 20, 12, 1),
    (0.0, 3, 12, 3), (0.0, 20, 5, 5), (0.0, 1, 12, 1), (0.0, 0, 12, 0), (50.0, 0, 12, 0),
])
def test_reference_offset_table(v, available, t_max, expected):
    assert reference_offset(v, available, t_max) == expected


@given(st.floats(0.0, 20.0))
def test_reference_offset_is_paper_formula(v):
    exact = math.floor(Fraction(-16, 3) * Fraction(v) / 6 + Fraction(22, 3)) + 4
    assert reference_offset(v, 255, 255) == max(1, exact)


@pytest.mark.parametrize('v', [math.nan, -0.1])
def test_reference_offset_rejects_bad_speed(v):
    with pytest.raises(ValueError, match='non-negative'):
        reference_offset(v, 5, 12)


# --- frame history ---------------------------------------------------------------------------

def frame(value: int, shape=(28, 28, 3)):
    return (np.full(shape, value, np.uint8), np.full(shape, value + 1, np.uint8))


def test_history_bounded_and_ordered():
    hist = FrameHistory(maxlen=4)
    for i in range(10):
        hist.push(frame(i))
        assert len(hist) == min(i + 1, 4)
    assert [int(hist.get(k)[0][0, 0, 0]) for k in range(4)] == [9, 8, 7, 6]
    assert int(hist.get(0)[1][0, 0, 0]) == 10
    with pytest.raises(IndexError, match='holds 4 frame'):
        hist.get(4)
    with pytest.raises(IndexError, match='out of range'):
        hist.get(-1)
    hist.clear()
    assert len(hist) == 0
    hist.push(frame(1, shape=(14, 14, 3)))  # layout forgotten by clear()


def test_history_copies_and_is_read_only():
    hist = FrameHistory(maxlen=2)
    views = frame(5)
    hist.push(views)
    views[0][:] = 0
    assert int(hist.get(0)[0][0, 0, 0]) == 5
    with pytest.raises(ValueError):
        hist.get(0)[0][0, 0, 0] = 1


@pytest.mark.parametrize('views, text', [
    ((np.zeros((28, 28, 3), np.float32),), 'view 0: expected dtype uint8'),
    ((np.zeros((28, 28, 3), np.uint8), np.zeros((28, 28), np.uint8)), r'view 1: expected shape'),
    ((np.zeros((28, 28, 3), np.uint8), np.zeros((14, 28, 3), np.uint8)), 'same shape'),
    ((), 'at least one'),
    (np.zeros((28, 28, 3), np.uint8), 'tuple/list'),
])
def test_history_rejects_bad_views(views, text):
    with pytest.raises(ValueError, match=text):
        FrameHistory(maxlen=3).push(views)


def test_history_rejects_layout_change():
    hist = FrameHistory(maxlen=3)
    hist.push(frame(1))
    with pytest.raises(ValueError, match='layout changed'):
        hist.push(frame(1)[:1])
    with pytest.raises(ValueError, match='layout changed'):
        hist.push(frame(1, shape=(14, 14, 3)))
    assert len(hist) == 1
    with pytest.raises(ValueError, match='maxlen'):
        FrameHistory(maxlen=0)


# --- compute_v_dynamic -----------------------------------------------------------------------

def test_compute_v_dynamic_uses_frame_t_steps_back(real_views):
    """Past frame i has a block in patch column i; the flags reveal which frame was I_{t-T}."""
    cfg = SpecPruneConfig().replace(k_dynamic=512)
    hist = FrameHistory(cfg.history_length)
    current = tuple(real_views)
    for i in range(6):
        hist.push((paint(current[0], 0, 28, i * P, (i + 1) * P), current[1]))
    for v, t_expected in [(0.0, 6), (10.5, 2), (100.0, 1), (3.0, 6)]:
        sel = compute_v_dynamic(hist, current, v, cfg)
        assert sel.reference_offset == t_expected
        column = 6 - t_expected  # frame pushed at i = 6 - T is T steps back
        assert set(sel.indices.tolist()) == {column, GRID + column}
        assert sel.similarity.shape == (2, NUM)
    cfg_short = cfg.replace(t_max=3)
    assert compute_v_dynamic(hist, current, 0.0, cfg_short).reference_offset == 3
    one = compute_v_dynamic(hist, current, 0.0, cfg.replace(k_dynamic=1)).indices.tolist()
    assert one in ([0], [GRID])


def test_compute_v_dynamic_empty_cases(real_views):
    cfg = SpecPruneConfig()
    hist = FrameHistory(cfg.history_length)
    sel = compute_v_dynamic(hist, real_views, 0.0, cfg)
    assert sel.indices.size == 0 and sel.reference_offset == 0 and sel.similarity is None
    hist.push((paint(real_views[0], 0, 224, 0, 224), real_views[1]))
    assert compute_v_dynamic(hist, real_views, 0.0, cfg).indices.size == cfg.k_dynamic
    off = compute_v_dynamic(hist, real_views, 0.0, cfg.replace(use_dynamic=False))
    assert off.indices.size == 0 and off.indices.dtype == np.int64
    with pytest.raises(ValueError, match='layout changed'):
        compute_v_dynamic(hist, real_views[:1], 0.0, cfg)


# --- on the device: the same selection, as a mask ----------------------------------------------

def _tensor(views) -> torch.Tensor:
    return torch.from_numpy(np.stack(views))


def test_device_similarity_is_the_numpy_value(real_views):
    moved = (np.roll(real_views[0], 3, axis=1), paint(real_views[1], 40, 90, 20, 130))
    black = np.zeros_like(real_views[0])
    for cur, ref in [(moved, real_views), ((black, real_views[1]), (black, moved[1]))]:
        ours = patch_similarity_device(_tensor(cur), _tensor(ref)).numpy()
        ref_sim = np.stack([patch_similarity(c, r) for c, r in zip(cur, ref)])
        assert np.abs(ours - ref_sim).max() <= 4e-16  # exact sums; the sqrt within an ulp
        assert np.array_equal(ours == 1.0, ref_sim == 1.0)
    with pytest.raises(ValueError, match='uint8'):
        patch_similarity_device(_tensor(moved).float(), _tensor(real_views).float())


@pytest.mark.parametrize('k_dynamic, tau', [(128, 0.986), (7, 0.999), (0, 0.986), (512, 2.0)])
def test_device_v_dynamic_equals_the_numpy_reference(real_views, k_dynamic, tau):
    cfg = SpecPruneConfig(k_dynamic=k_dynamic, tau=min(tau, 1.0))
    hist = FrameHistory(cfg.history_length)
    frames = [(np.roll(real_views[0], 4 * i, axis=1), np.roll(real_views[1], i, axis=0))
              for i in range(4)]
    for views in frames[:3]:
        hist.push(views, _tensor(views) if len(hist) % 2 else None)  # some without a tensor
    for v in (0.0, 6.0, 100.0):
        ref = compute_v_dynamic(hist, frames[3], v, cfg)
        dev = compute_v_dynamic_device(hist, frames[3], _tensor(frames[3]), v, cfg)
        assert dev.reference_offset == ref.reference_offset
        assert np.flatnonzero(dev.mask.numpy()).tolist() == ref.indices.tolist()
    empty = compute_v_dynamic_device(FrameHistory(4), frames[0], _tensor(frames[0]), 0.0, cfg)
    assert empty.reference_offset == 0 and not empty.mask.any() and empty.mask.shape == (512,)


def test_history_rejects_a_tensor_of_other_frames(real_views):
    hist = FrameHistory(3)
    with pytest.raises(ValueError, match='does not hold'):
        hist.push(real_views, _tensor(real_views)[:1])
    hist.push(real_views, _tensor(real_views))
    assert torch.equal(hist.get_tensor(0, 'cpu'), _tensor(real_views))


def test_authors_static_pool_is_capped_per_view() -> None:
    from specprune_ros.specprune.frames import authors_dynamic_device
    sim = torch.tensor([[0.999, 0.990, 0.5, 0.9999],  # view 0: three at or above tau
                        [0.2, 0.3, 0.995, 0.1]], dtype=torch.float64)
    keep = authors_dynamic_device(sim, 0.986, 2).view(2, 4)
    # view 0: the two most similar static patches (3, 0) may go; 0.990 is capped, 0.5 changed
    assert keep[0].tolist() == [False, True, True, False]
    assert keep[1].tolist() == [True, True, False, True]
    assert authors_dynamic_device(sim, 0.986, 0).all()  # no pool: keep everything
    assert authors_dynamic_device(sim, 2.0, 200).all()  # nothing similar enough
