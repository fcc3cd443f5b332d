"""OFT image preprocessing (openvla-oft ``prepare_images_for_vla``).

Validate; a frame that is not already 224×224 gets an optional JPEG round trip and a Lanczos
resize (a 224 frame is used as is, like OFT); optional 90%-area centre crop reproducing TF's
``crop_and_resize`` + ``convert_image_dtype`` in float32; per-backbone normalisation.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import io

import numpy as np
from PIL import Image
import torch

from specprune_ros.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DINOv2
IMAGENET_STD = (0.229, 0.224, 0.225)
SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)
CROP_AREA = 0.9  # OFT's center crop keeps 90% of the image area


def check_image(image: object, name: str) -> np.ndarray:
    """Return ``image`` if it is an RGB uint8 HxWx3 array, else raise InputError."""
    if not isinstance(image, np.ndarray):
        raise InputError(f'{name}: expected a numpy RGB uint8 array of shape (H, W, 3), got '
                         f'{type(image).__name__}')
    if image.dtype != np.uint8:
        raise InputError(f'{name}: expected dtype uint8 (0..255 RGB), got {image.dtype}')
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f'{name}: expected shape (H, W, 3) RGB, got {image.shape}')
    if min(image.shape[:2]) < 14:
        raise InputError(f'{name}: image {image.shape[:2]} is too small; expected at least '
                         '14x14 pixels')
    return image


def resize_image(image: np.ndarray, size: int, jpeg_roundtrip: bool = False,
                 center_crop: bool = False) -> np.ndarray:
    """RGB uint8 → RGB uint8 ``size``×``size`` (a new array) the way OFT prepares its inputs.

    Only a frame that is not ``size``×``size`` is resized: JPEG round trip first when
    ``jpeg_roundtrip`` (OFT's ``resize_image_for_policy``, as its training data), then Lanczos.
    A frame already at ``size`` is used as is. Then :func:`center_crop_image` if asked.
    """
    if image.shape[:2] != (size, size):
        pil = Image.fromarray(image)
        if jpeg_roundtrip:  # OFT trained on JPEG-encoded frames
            buf = io.BytesIO()
            pil.save(buf, format='JPEG', quality=95)
            buf.seek(0)
            pil = Image.open(buf).convert('RGB')
        image = np.asarray(pil.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)
    if center_crop:
        return center_crop_image(image)
    return np.array(image, dtype=np.uint8)


def _crop_grid(n: int, scale: np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF ``crop_and_resize`` sample grid of one axis for the centred box, n → n samples.

    Box ``[lo, lo + scale]`` with ``lo = (1 − scale) / 2`` in normalised coordinates; sample k
    sits at ``lo·(n−1) + k·(scale·(n−1))/(n−1)`` pixels (corner to corner), all in float32 as
    TF's kernel. Returns the lower/upper source index and the lerp weight of each sample.
    """
    f32 = np.float32
    lo = (f32(1) - scale) / f32(2)
    hi = lo + scale
    # TF: (y2 − y1)·(H − 1)/(crop_height − 1), with crop_height = H (back to the input size)
    step = (hi - lo) * f32(n - 1) / f32(n - 1) if n > 1 else f32(0)
    pos = lo * f32(n - 1) + np.arange(n, dtype=f32) * step
    low = np.floor(pos).astype(np.intp)
    return low, np.ceil(pos).astype(np.intp), (pos - low.astype(f32)).astype(f32)


def center_crop_image(image: np.ndarray, area: float = CROP_AREA) -> np.ndarray:
    """OFT's ``center_crop_image``: the centred box of ``area`` resized back to H×W.

    As TF does it: ``convert_image_dtype`` (u8 · 1/255), ``crop_and_resize`` with the box side
    ``sqrt(area)`` (bilinear, top then bottom row lerp, float32), clip to [0, 1], and
    ``convert_image_dtype(..., uint8, saturate=True)`` (· 255.5, truncated).
    """
    f32 = np.float32
    scale = np.sqrt(f32(area)).astype(f32)
    x = image.astype(f32) * f32(1.0 / 255)
    (top, bottom, wy), (left, right, wx) = (_crop_grid(n, scale) for n in image.shape[:2])
    wx = wx[None, :, None]
    upper, lower = x[top], x[bottom]
    row_t = upper[:, left] + (upper[:, right] - upper[:, left]) * wx
    row_b = lower[:, left] + (lower[:, right] - lower[:, left]) * wx
    out = np.clip(row_t + (row_b - row_t) * wy[:, None, None], f32(0), f32(1))
    return (out * f32(255.5)).astype(np.uint8)


def to_pixels(images: list[np.ndarray], mean: tuple[float, ...], std: tuple[float, ...],
              device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(V, S, S, 3) uint8 → (V, 3, S, S) normalised tensor."""
    x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return ((x - m) / s).to(dtype)
