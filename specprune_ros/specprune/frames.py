"""Frame comparison for V_dynamic (SpecPrune-VLA, section 4.2, eqs. 2-3).

Every view is cut into the vision transformer's patch grid (14x14 pixels at 224x224, i.e.
16x16 = 256 patches per view); patch ``row * grid_w + col`` is visual token ``row * grid_w +
col`` of that view, and view ``v`` occupies the flat visual indices ``[v * P, (v + 1) * P)``
with ``P`` patches per view (third-person first, then wrist, as in the OFT sequence).

Reference-frame convention: :class:`FrameHistory` holds the PAST frames only. The current
frame I_t is compared with I_{t-T} = ``history.get(T - 1)`` BEFORE I_t is pushed, so T = 1 is
the previous frame. The caller pushes I_t after :func:`compute_v_dynamic`.

:func:`compute_v_dynamic` is the numpy reference; :func:`compute_v_dynamic_device` is the same
selection on the device (what the engine runs): the frames stay on the device in the history,
the similarity is computed in float64 (the pixel sums are exact integers below 2^53, so it
equals the numpy value up to the last bit of the square root) and V_dynamic comes back as a
boolean mask over the visual tokens, with no host read. ROS-free.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
import logging
import math

import numpy as np
import torch

from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.preprocess import check_image

_LOG = logging.getLogger(__name__)

PATCH = 14  # vision transformer patch size (DINOv2/SigLIP ViT-*/14)

Views = tuple[np.ndarray, ...]


def patchify(image: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """Cut an HxWx3 uint8 image into flattened patches in row-major grid order.

    Returns a float32 array of shape ``(H/patch * W/patch, patch*patch*3)``; row ``r * grid_w +
    c`` is the patch at grid row ``r`` and column ``c`` (the ViT token order), its values are
    ordered (dy, dx, channel). H and W must be multiples of ``patch``.
    """
    arr = check_image(image, 'image')
    if patch < 1:
        raise ValueError(f'patch must be a positive number of pixels, got {patch}')
    h, w, _ = arr.shape
    if h % patch or w % patch or h == 0 or w == 0:
        raise ValueError(f'image size {h}x{w} is not a non-zero multiple of the patch size '
                         f'{patch}; resize to the model input size (e.g. 224x224) first')
    gh, gw = h // patch, w // patch
    grid = arr.reshape(gh, patch, gw, patch, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(gh * gw, patch * patch * 3).astype(np.float32)


def patch_similarity(current: np.ndarray, reference: np.ndarray,
                     patch: int = PATCH) -> np.ndarray:
    """Cosine similarity Sim(P_t, P_{t-T}) of each patch pair on raw pixel values (0..255).

    Returns a float64 array of shape ``(num_patches,)`` with values in [0, 1] (pixels are
    non-negative). Patches that are identical (including both all-black) have similarity
    exactly 1.0; an all-black patch against a non-black one has similarity 0.0. Never NaN.
    """
    cur = check_image(current, 'current frame')
    ref = check_image(reference, 'reference frame')
    if cur.shape != ref.shape:
        raise ValueError(f'current frame {cur.shape} and reference frame {ref.shape} must have '
                         'the same shape')
    a = patchify(cur, patch).astype(np.float64)
    b = patchify(ref, patch).astype(np.float64)
    dot = np.einsum('ij,ij->i', a, b)
    norm_sq = np.einsum('ij,ij->i', a, a) * np.einsum('ij,ij->i', b, b)
    sim = np.zeros(a.shape[0], dtype=np.float64)
    nonzero = norm_sq > 0.0
    sim[nonzero] = dot[nonzero] / np.sqrt(norm_sq[nonzero])
    # Identical patches (this covers both-black) are exactly 1, whatever the rounding.
    sim[np.all(a == b, axis=1)] = 1.0
    return np.clip(sim, 0.0, 1.0)


def reference_offset(v: float, available: int, t_max: int) -> int:
    """Reference-frame offset T from the end-effector speed (paper section 4.2).

    ``T = floor(-16/3 * v/6 + 22/3) + 4`` (computed as ``floor((66 - 8 v) / 9) + 4``, the same
    value without rounding trouble at integer boundaries), clamped to ``[1, min(available,
    t_max)]``. ``v`` is the non-negative translational speed in commanded-action units per
    control step (metres per step divided by ``action_translation_scale``; see
    ``ControllerState.v_for_T``), so v = 0 gives T = 11, v = 3 gives T = 8 and v > 10.5 gives
    T = 1 (also for an infinite speed). ``available`` is the number of past frames in the history;
    with none, 0 is returned (no reference frame). Algorithm 1 of the paper prints the formula
    without the /6; we follow section 4.2.
    """
    v = float(v)
    if math.isnan(v) or v < 0.0:
        raise ValueError(f'speed v must be a non-negative number (commanded-action units per '
                         f'step), got {v!r}')
    if available < 0:
        raise ValueError(f'available must be >= 0 past frames, got {available}')
    if t_max < 1:
        raise ValueError(f't_max must be >= 1 step, got {t_max}')
    if available == 0:
        return 0
    upper = min(int(available), int(t_max))
    if math.isinf(v):
        return 1
    t = math.floor((66.0 - 8.0 * v) / 9.0) + 4
    return max(1, min(upper, t))


class FrameHistory:
    """Bounded ring buffer of past multi-view frames (newest at offset 0).

    Every entry is a tuple of N views, each an HxWx3 uint8 array; all views of an entry share
    one shape and every entry has the same N and shape as the first one pushed (``clear()``
    forgets that). Frames are copied and stored read-only, so callers may reuse their buffers.
    """

    def __init__(self, maxlen: int) -> None:
        """Create an empty history that keeps at most ``maxlen`` frames."""
        if maxlen < 1:
            raise ValueError(f'FrameHistory maxlen must be >= 1 frame, got {maxlen}')
        self._frames: collections.deque[Views] = collections.deque(maxlen=int(maxlen))
        # the same frames as (V, H, W, 3) uint8 device tensors, where they were pushed with one
        self._tensors: collections.deque[torch.Tensor | None] = collections.deque(
            maxlen=int(maxlen))
        self._layout: tuple[int, tuple[int, ...]] | None = None

    @property
    def maxlen(self) -> int:
        """Largest number of frames kept."""
        return int(self._frames.maxlen or 0)

    @property
    def num_views(self) -> int:
        """Views per frame (0 while the history has never been filled)."""
        return 0 if self._layout is None else self._layout[0]

    def check_views(self, views: Sequence[np.ndarray]) -> Views:
        """Validate ``views`` against this history's layout; return them as a tuple.

        Raises ValueError naming the offending view when it is not HxWx3 uint8, when the views
        differ in shape, or when they do not match the frames already stored.
        """
        if isinstance(views, np.ndarray) or not isinstance(views, (tuple, list)):
            raise ValueError('views must be a tuple/list of HxWx3 uint8 images (one per camera),'
                             f' got {type(views).__name__}')
        if len(views) == 0:
            raise ValueError('views must hold at least one image')
        arrs = tuple(check_image(v, f'view {i}') for i, v in enumerate(views))
        shape = arrs[0].shape
        for i, arr in enumerate(arrs[1:], start=1):
            if arr.shape != shape:
                raise ValueError(f'all views must have the same shape; view 0 is {shape}, '
                                 f'view {i} is {arr.shape}')
        if self._layout is not None and self._layout != (len(arrs), shape):
            raise ValueError(f'frame layout changed: history holds {self._layout[0]} view(s) '
                             f'of shape {self._layout[1]}, got {len(arrs)} of shape {shape} '
                             '(call clear() when the cameras change)')
        return arrs

    def push(self, views: Sequence[np.ndarray], tensor: torch.Tensor | None = None) -> None:
        """Append the newest frame (a copy); the oldest drops out when full.

        ``tensor``: the same views as one (V, H, W, 3) uint8 device tensor, kept (not copied)
        for :func:`compute_v_dynamic_device`.
        """
        arrs = self.check_views(views)
        if tensor is not None and (tensor.dtype != torch.uint8 or tuple(tensor.shape) != (
                len(arrs), *arrs[0].shape)):
            raise ValueError(f'frame tensor {tuple(tensor.shape)} {tensor.dtype} does not hold '
                             f'the {len(arrs)} views of shape {arrs[0].shape} as uint8')
        stored = []
        for arr in arrs:
            copy = np.array(arr, dtype=np.uint8, copy=True)
            copy.setflags(write=False)
            stored.append(copy)
        self._layout = (len(arrs), arrs[0].shape)
        self._frames.appendleft(tuple(stored))
        self._tensors.appendleft(tensor)

    def get(self, offset: int) -> Views:
        """Frame ``offset`` steps back: 0 is the newest pushed, ``len(self) - 1`` the oldest."""
        if offset < 0 or offset >= len(self._frames):
            raise IndexError(f'frame offset {offset} out of range: the history holds '
                             f'{len(self._frames)} frame(s), valid offsets 0..'
                             f'{len(self._frames) - 1}')
        return self._frames[offset]

    def get_tensor(self, offset: int, device: torch.device | str) -> torch.Tensor:
        """Frame ``offset`` steps back as a (V, H, W, 3) uint8 tensor on ``device``."""
        views = self.get(offset)
        tensor = self._tensors[offset]
        if tensor is None:  # pushed without a device copy: upload it
            tensor = torch.from_numpy(np.stack(views))
        return tensor.to(device)

    def clear(self) -> None:
        """Forget all frames and the frame layout."""
        self._frames.clear()
        self._tensors.clear()
        self._layout = None

    def __len__(self) -> int:
        """Number of frames stored."""
        return len(self._frames)


def select_dynamic(similarity: np.ndarray, tau: float, k_dynamic: int) -> np.ndarray:
    """V_dynamic: the K_D least similar patches among those with Sim < tau, over all views.

    ``similarity`` has shape (num_views, num_patches). Returns the sorted unique int64 flat
    visual indices ``view * num_patches + patch``. Ties are broken by the lower flat index
    (stable sort), so the result is deterministic.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ValueError(f'similarity must have shape (num_views, num_patches), got {sim.shape}')
    if np.isnan(sim).any():
        raise ValueError('similarity holds NaN values')
    if k_dynamic < 0:
        raise ValueError(f'k_dynamic (K_D) must be >= 0, got {k_dynamic}')
    if math.isnan(tau):
        raise ValueError('tau must be a number, got NaN')
    flat = sim.reshape(-1)
    candidates = np.flatnonzero(flat < tau)
    if k_dynamic == 0 or candidates.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(flat[candidates], kind='stable')[:k_dynamic]
    return np.sort(candidates[order]).astype(np.int64)


@dataclass(frozen=True)
class DynamicSelection:
    """Result of :func:`compute_v_dynamic`.

    ``indices``: sorted int64 flat visual indices of V_dynamic. ``similarity``: per-view patch
    similarity (num_views, num_patches) against the reference frame, or None when no comparison
    was made. ``reference_offset``: the T used (0 = no reference frame).
    """

    indices: np.ndarray
    similarity: np.ndarray | None
    reference_offset: int


def _empty(offset: int = 0) -> DynamicSelection:
    """An empty V_dynamic (no comparison made)."""
    return DynamicSelection(np.zeros(0, dtype=np.int64), None, offset)


def compute_v_dynamic(history: FrameHistory, current_views: Sequence[np.ndarray], v: float,
                      cfg: SpecPruneConfig, patch: int = PATCH) -> DynamicSelection:
    """Select V_dynamic for the current frame I_t against the reference I_{t-T}.

    Call BEFORE pushing ``current_views`` into ``history``: T = reference_offset(v, len(history),
    cfg.t_max) and the reference is ``history.get(T - 1)`` (T = 1 is the previous frame).
    ``v`` is the speed in commanded-action units (``ControllerState.v_for_T``). Returns empty
    indices when ``cfg.use_dynamic`` is False or the history is empty.
    """
    if not cfg.use_dynamic:
        return _empty()
    views = history.check_views(current_views)
    offset = reference_offset(v, len(history), cfg.t_max)
    if offset == 0:
        return _empty()
    reference = history.get(offset - 1)
    sim = np.stack([patch_similarity(cur, ref, patch) for cur, ref in zip(views, reference)])
    indices = select_dynamic(sim, cfg.tau, cfg.k_dynamic)
    _LOG.debug('V_dynamic: T=%d, %d of %d patches below tau=%.4f, kept %d', offset,
               int((sim < cfg.tau).sum()), sim.size, cfg.tau, indices.size)
    return DynamicSelection(indices, sim, offset)


# --- on the device -----------------------------------------------------------------------------

def patch_similarity_device(current: torch.Tensor, reference: torch.Tensor,
                            patch: int = PATCH) -> torch.Tensor:
    """:func:`patch_similarity` of every view at once: (V, H, W, 3) uint8 → (V, P) float64."""
    if current.shape != reference.shape or current.dtype != torch.uint8 or current.ndim != 4:
        raise ValueError(f'frames must be two (V, H, W, 3) uint8 tensors of one shape, got '
                         f'{tuple(current.shape)} {current.dtype} and '
                         f'{tuple(reference.shape)} {reference.dtype}')
    views, h, w, _ = current.shape
    if h % patch or w % patch:
        raise ValueError(f'image size {h}x{w} is not a multiple of the patch size {patch}')
    # (V*P, 2, patch*patch*3): each patch of both frames, (dy, dx, channel) order, in one copy
    both = torch.stack([current, reference]).reshape(
        2, views, h // patch, patch, w // patch, patch, 3).permute(1, 2, 4, 0, 3, 5, 6)
    both = both.reshape(-1, 2, patch * patch * 3).double()
    gram = torch.bmm(both, both.transpose(1, 2))  # exact: integer sums below 2^53
    cur_sq, ref_sq, dot = gram[:, 0, 0], gram[:, 1, 1], gram[:, 0, 1]
    norm_sq = cur_sq * ref_sq
    sim = torch.where(norm_sq > 0, dot / norm_sq.clamp(min=1.0).sqrt(), torch.zeros_like(dot))
    identical = cur_sq + ref_sq - 2 * dot == 0  # |a - b|^2 == 0, exactly
    sim = torch.where(identical, torch.ones_like(sim), sim).view(views, -1)
    return sim.clamp(0.0, 1.0)


def select_dynamic_device(similarity: torch.Tensor, tau: float, k_dynamic: int) -> torch.Tensor:
    """:func:`select_dynamic` as a (V·P,) bool mask: the K_D least similar with Sim < tau."""
    flat = similarity.flatten()
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    if k_dynamic == 0:
        return mask
    changed = flat < tau
    order = torch.argsort(flat.masked_fill(~changed, float('inf')), stable=True)[:k_dynamic]
    return mask.index_put((order,), changed.index_select(0, order))


def authors_dynamic_device(similarity: torch.Tensor, tau: float, max_static: int
                           ) -> torch.Tensor:
    """variant 'authors': every patch except each view's pixel-static ones, as a (V·P,) mask.

    Static (prunable) = among the patches with Sim >= tau, the ``max_static`` most similar of
    each view (ties: the lower index). Everything else must be kept.
    """
    candidate = similarity >= tau
    key = similarity.masked_fill(~candidate, float('-inf'))
    order = torch.argsort(key, dim=1, descending=True, stable=True)[:, :max_static]
    static = torch.zeros_like(candidate).scatter(1, order, candidate.gather(1, order))
    return ~static.flatten()


@dataclass(frozen=True)
class DeviceDynamic:
    """Result of :func:`compute_v_dynamic_device`: V_dynamic as a mask, and the T used."""

    mask: torch.Tensor  # (V·P,) bool on the frames' device
    reference_offset: int  # 0 = no reference frame


def compute_v_dynamic_device(history: FrameHistory, current_views: Sequence[np.ndarray],
                             current: torch.Tensor, v: float, cfg: SpecPruneConfig,
                             patch: int = PATCH, fine: bool = False) -> DeviceDynamic:
    """:func:`compute_v_dynamic` on the device; ``current`` holds ``current_views`` (V, H, W, 3).

    Call BEFORE pushing the current frame (``history.push(current_views, current)``). Variant
    'authors': :func:`authors_dynamic_device` with ``cfg.max_static(fine)``; with no reference
    frame the current one is its own reference, as in their code (every patch is static, so
    the capped pool is pruned unless attention keeps it).
    """
    views, h, w, _ = current.shape
    empty = torch.zeros(views * (h // patch) * (w // patch), dtype=torch.bool,
                        device=current.device)
    if not cfg.use_dynamic:
        return DeviceDynamic(empty, 0)
    history.check_views(current_views)
    offset = reference_offset(v, len(history), cfg.t_max)
    authors = cfg.variant == 'authors'
    if offset == 0 and not authors:
        return DeviceDynamic(empty, 0)
    if offset == 0:  # the authors compare the first frame with itself: every patch is static
        sim = torch.ones(views, (h // patch) * (w // patch), dtype=torch.float64,
                         device=current.device)
    else:
        reference = history.get_tensor(offset - 1, current.device)
        sim = patch_similarity_device(current, reference, patch)
    if authors:
        return DeviceDynamic(authors_dynamic_device(sim, cfg.tau, cfg.max_static(fine)), offset)
    return DeviceDynamic(select_dynamic_device(sim, cfg.tau, cfg.k_dynamic), offset)
