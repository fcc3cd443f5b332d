"""OFT image preprocessing.

Validate, optionally JPEG round trip, resize to 224 with Lanczos, optional 90%-area center
crop, per-backbone normalisation.
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
import math

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
    """RGB uint8 → RGB uint8 ``size``×``size`` the way OFT prepares its inputs."""
    pil = Image.fromarray(image)
    if jpeg_roundtrip:  # OFT trained on JPEG-encoded frames
        buf = io.BytesIO()
        pil.save(buf, format='JPEG', quality=95)
        buf.seek(0)
        pil = Image.open(buf).convert('RGB')
    if pil.size != (size, size):
        pil = pil.resize((size, size), Image.Resampling.LANCZOS)
    if center_crop:
        side = size * math.sqrt(CROP_AREA)
        off = (size - side) / 2
        pil = pil.resize((size, size), Image.Resampling.BILINEAR,
                         box=(off, off, off + side, off + side))
    return np.asarray(pil, dtype=np.uint8)


def to_pixels(images: list[np.ndarray], mean: tuple[float, ...], std: tuple[float, ...],
              device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(V, S, S, 3) uint8 → (V, 3, S, S) normalised tensor."""
    x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return ((x - m) / s).to(dtype)
