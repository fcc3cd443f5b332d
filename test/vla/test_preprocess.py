"""Tests of OFT's image preprocessing (specprune_ros.vla.preprocess): synthetic and real images."""

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

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
from PIL import Image
import pytest
import torch

from specprune_ros.errors import InputError
from specprune_ros.vla.preprocess import (
    check_image,
    CROP_AREA,
    IMAGENET_MEAN,
    IMAGENET_STD,
    resize_image,
    SIGLIP_MEAN,
    SIGLIP_STD,
    to_pixels,
)

SIZE = 224
CPU = torch.device('cpu')


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def jpeg95(image: np.ndarray) -> np.ndarray:
    """Round trip ``image`` through JPEG at quality 95 (TF's ``encode_jpeg`` default, as OFT)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='JPEG', quality=95)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert('RGB'))


def lanczos(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Resize ``image`` to ``size``x``size`` with PIL's own Lanczos filter."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


def coordinate_image(size: int = SIZE, slope: int = 1) -> np.ndarray:
    """Build an RGB image whose red/green channels are ``slope`` times the column/row index."""
    ramp = np.tile(np.arange(size, dtype=np.uint8) * np.uint8(slope), (size, 1))
    return np.stack([ramp, ramp.T, np.full_like(ramp, 77)], axis=-1)


@pytest.fixture(scope='module')
def large_view(libero_images: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Upsample the real third-person view to a non-square 256x320 frame (camera-like)."""
    big = np.asarray(Image.fromarray(libero_images[0]).resize((320, 256),
                                                              Image.Resampling.BICUBIC))
    assert big.shape == (256, 320, 3)
    return big


# --- check_image -------------------------------------------------------------------------------

def test_check_image_accepts_rgb_uint8_and_returns_it(
        libero_images: tuple[np.ndarray, np.ndarray]) -> None:
    for view in libero_images:
        assert check_image(view, 'view') is view
    small = np.zeros((14, 14, 3), np.uint8)  # the smallest accepted size (one patch)
    assert check_image(small, 'small') is small
    wide = np.zeros((14, 640, 3), np.uint8)
    assert check_image(wide, 'wide') is wide


@pytest.mark.parametrize('image, fragments', [
    ([[[0, 0, 0]]], ('expected a numpy RGB uint8 array of shape (H, W, 3)', 'got list')),
    (None, ('expected a numpy RGB uint8 array', 'got NoneType')),
    (np.zeros((32, 32, 3), np.float32), ('expected dtype uint8 (0..255 RGB)', 'got float32')),
    (np.zeros((32, 32, 3), np.uint16), ('expected dtype uint8', 'got uint16')),
    (np.zeros((32, 32, 3), bool), ('expected dtype uint8', 'got bool')),
    (np.zeros((32, 32), np.uint8), ('expected shape (H, W, 3) RGB', 'got (32, 32)')),
    (np.zeros((2, 32, 32, 3), np.uint8), ('expected shape (H, W, 3)', 'got (2, 32, 32, 3)')),
    (np.zeros((32, 32, 4), np.uint8), ('expected shape (H, W, 3) RGB', 'got (32, 32, 4)')),
    (np.zeros((32, 32, 1), np.uint8), ('expected shape (H, W, 3)', 'got (32, 32, 1)')),
    (np.zeros((0, 0, 3), np.uint8), ('image (0, 0) is too small',
                                     'expected at least 14x14 pixels')),
    (np.zeros((13, 224, 3), np.uint8), ('image (13, 224) is too small', 'at least 14x14')),
    (np.zeros((224, 0, 3), np.uint8), ('image (224, 0) is too small', 'at least 14x14')),
], ids=['list', 'none', 'float32', 'uint16', 'bool', 'gray', '4d', 'rgba', 'one-channel',
        'empty', 'too-short', 'zero-width'])
def test_check_image_rejects_with_what_and_expected(image: object,
                                                    fragments: tuple[str, ...]) -> None:
    with pytest.raises(InputError) as info:
        check_image(image, 'wrist image')
    message = str(info.value)
    assert message.startswith('wrist image: ')  # names the offending input
    for fragment in fragments:
        assert fragment in message
    assert isinstance(info.value, ValueError)  # callers may catch ValueError


# --- resize_image ------------------------------------------------------------------------------

def test_resize_of_224_image_is_identity_without_options(
        libero_images: tuple[np.ndarray, np.ndarray]) -> None:
    for view in libero_images:
        out = resize_image(view, SIZE)
        assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, view)


def test_resize_uses_lanczos(large_view: np.ndarray) -> None:
    out = resize_image(large_view, SIZE)
    assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, lanczos(large_view))
    # the comparison can tell the filters apart on this image
    for other in (Image.Resampling.BICUBIC, Image.Resampling.BILINEAR):
        alt = np.asarray(Image.fromarray(large_view).resize((SIZE, SIZE), other))
        assert not np.array_equal(out, alt)


@pytest.mark.parametrize('shape', [(14, 14), (100, 37), (480, 640), (225, 224)])
def test_resize_outputs_square_uint8_of_requested_size(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    for size in (SIZE, 112):
        for crop in (False, True):
            out = resize_image(image, size, jpeg_roundtrip=True, center_crop=crop)
            assert out.shape == (size, size, 3) and out.dtype == np.uint8


def test_resize_accepts_strided_views(large_view: np.ndarray) -> None:
    flipped = large_view[::-1, ::-1]  # e.g. LIBERO's upside-down camera frames
    assert not flipped.flags['C_CONTIGUOUS']
    np.testing.assert_array_equal(resize_image(flipped, SIZE, center_crop=True),
                                  resize_image(np.ascontiguousarray(flipped), SIZE,
                                               center_crop=True))


def test_jpeg_roundtrip_only_when_the_frame_is_resized(
        libero_images: tuple[np.ndarray, np.ndarray], large_view: np.ndarray) -> None:
    # OFT's prepare_images_for_vla: JPEG + Lanczos only for a frame that is not 224x224
    for view in libero_images:
        np.testing.assert_array_equal(resize_image(view, SIZE, jpeg_roundtrip=False), view)
        np.testing.assert_array_equal(resize_image(view, SIZE, jpeg_roundtrip=True), view)
        assert not np.array_equal(jpeg95(view), view)  # a round trip would have shown
    plain = resize_image(large_view, SIZE, jpeg_roundtrip=False)
    jpeg = resize_image(large_view, SIZE, jpeg_roundtrip=True)
    assert not np.array_equal(jpeg, plain)
    # quality 95: close to the input (quality 75, PIL's default, is ~7 dB worse here)
    assert 40.0 < psnr(jpeg, plain) < math.inf
    np.testing.assert_array_equal(resize_image(large_view, SIZE, jpeg_roundtrip=True), jpeg)


def test_jpeg_roundtrip_happens_before_the_lanczos_resize(large_view: np.ndarray) -> None:
    out = resize_image(large_view, SIZE, jpeg_roundtrip=True)
    np.testing.assert_array_equal(out, lanczos(jpeg95(large_view)))
    assert not np.array_equal(out, jpeg95(lanczos(large_view)))
    assert not np.array_equal(out, lanczos(large_view))


@pytest.mark.parametrize('size, slope', [(SIZE, 1), (64, 4)])
def test_center_crop_keeps_90_percent_of_the_area_centred(size: int, slope: int) -> None:
    # Bilinear resampling (OFT's crop_and_resize) reproduces a linear ramp, so each output
    # pixel's value tells which source coordinate it was sampled from; the steeper ramp resolves
    # it to a quarter pixel, which also tells bilinear from nearest-neighbour sampling.
    # TF's float -> uint8 conversion (convert_image_dtype) truncates value * 255.5 / 255, so
    # dividing that factor out leaves each value up to one uint8 step BELOW the exact sample.
    image = coordinate_image(size, slope)
    raw = resize_image(image, size, center_crop=True).astype(np.float64)
    out = raw / (255.5 / 255) / slope
    assert CROP_AREA == 0.9
    side = size * math.sqrt(CROP_AREA)
    start = (size - side) / 2
    centres = start + (np.arange(size) + 0.5) * side / size - 0.5
    for row in (0, size // 3, size - 1):
        for below in (centres - out[row, :, 0], centres - out[:, row, 1]):  # columns, rows
            assert below.min() > -1e-6 and below.max() < 1 / slope, below
    np.testing.assert_array_equal(raw[..., 2], 77)
    fit, _ = np.polyfit(np.arange(size), out[size // 2, :, 0], 1)
    assert fit ** 2 == pytest.approx(CROP_AREA, abs=2e-3)  # kept area fraction
    mid = out[size // 2 - 1:size // 2 + 1, size // 2 - 1:size // 2 + 1, :2].mean()
    assert mid == pytest.approx((size - 1) / 2, abs=1 / slope)  # centred (within truncation)


def test_center_crop_drops_a_known_border() -> None:
    # sqrt(0.9) * 224 = 212.5: the crop starts 5.75 px in, so a 5 px frame is cut away entirely
    # while a 7 px frame still shows at the edges.
    for border, visible in ((5, False), (7, True)):
        image = np.zeros((SIZE, SIZE, 3), np.uint8)
        image[:border], image[-border:], image[:, :border], image[:, -border:] = 255, 255, 255, 255
        uncropped = resize_image(image, SIZE)
        assert uncropped[0].min() == 255 and uncropped[:, -1].min() == 255
        out = resize_image(image, SIZE, center_crop=True)
        edges = (out[0], out[-1], out[:, 0], out[:, -1])
        assert all(bool(edge.any()) == visible for edge in edges)
        assert not out[10:-10, 10:-10].any()  # the interior stays black
        assert not uncropped[border:-border, border:-border].any()


def test_center_crop_zooms_the_real_view_about_its_centre(
        libero_images: tuple[np.ndarray, np.ndarray]) -> None:
    for view in libero_images:
        out = resize_image(view, SIZE, center_crop=True)
        assert out.shape == view.shape and out.dtype == np.uint8
        assert psnr(out, view) < 30.0  # it really changes the image
        # Shrinking the output by sqrt(0.9) gives back the central part of the input.
        inner = round(SIZE * math.sqrt(CROP_AREA))
        lo = (SIZE - inner) // 2
        small = np.asarray(Image.fromarray(out).resize((inner, inner),
                                                       Image.Resampling.BILINEAR))
        centre = view[lo:lo + inner, lo:lo + inner]
        assert psnr(small[8:-8, 8:-8], centre[8:-8, 8:-8]) > psnr(out, view) + 5.0


def test_full_oft_pipeline_on_real_views(libero_images: tuple[np.ndarray, np.ndarray],
                                         large_view: np.ndarray) -> None:
    images = [resize_image(check_image(v, 'view'), SIZE, jpeg_roundtrip=True, center_crop=True)
              for v in libero_images]
    for out, view in zip(images, libero_images):
        assert out.shape == (SIZE, SIZE, 3) and out.dtype == np.uint8
        # 224 frames skip the JPEG round trip (OFT uses them as is)
        np.testing.assert_array_equal(out, resize_image(view, SIZE, center_crop=True))
    big = resize_image(large_view, SIZE, jpeg_roundtrip=True, center_crop=True)
    assert not np.array_equal(big, resize_image(large_view, SIZE, center_crop=True))
    pixels = to_pixels(images, IMAGENET_MEAN, IMAGENET_STD, CPU, torch.float32)
    assert pixels.shape == (2, 3, SIZE, SIZE) and torch.isfinite(pixels).all()


# --- to_pixels ---------------------------------------------------------------------------------

def test_backbone_constants() -> None:
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406) and IMAGENET_STD == (0.229, 0.224, 0.225)
    assert SIGLIP_MEAN == (0.5, 0.5, 0.5) and SIGLIP_STD == (0.5, 0.5, 0.5)


def reference_pixels(images: list[np.ndarray], mean: tuple[float, ...],
                     std: tuple[float, ...]) -> np.ndarray:
    """(x / 255 - mean) / std in float64, as (V, 3, S, S)."""
    x = np.stack(images).astype(np.float64).transpose(0, 3, 1, 2) / 255.0
    return (x - np.asarray(mean).reshape(1, 3, 1, 1)) / np.asarray(std).reshape(1, 3, 1, 1)


@pytest.mark.parametrize('mean, std', [(IMAGENET_MEAN, IMAGENET_STD), (SIGLIP_MEAN, SIGLIP_STD)],
                         ids=['dinov2', 'siglip'])
def test_to_pixels_normalises_real_views(libero_images: tuple[np.ndarray, np.ndarray],
                                         mean: tuple[float, ...],
                                         std: tuple[float, ...]) -> None:
    images = list(libero_images)
    got = to_pixels(images, mean, std, CPU, torch.float32)
    assert got.shape == (2, 3, SIZE, SIZE) and got.dtype == torch.float32
    assert got.device == CPU
    np.testing.assert_allclose(got.numpy(), reference_pixels(images, mean, std), atol=1e-5)
    half = to_pixels(images, mean, std, CPU, torch.bfloat16)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), got, atol=0.02, rtol=0.01)


def test_to_pixels_channel_order_and_siglip_range() -> None:
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 0, 51  # R, G, B
    siglip = to_pixels([image], SIGLIP_MEAN, SIGLIP_STD, CPU, torch.float32)
    assert siglip.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(siglip[0, :, 3, 5].numpy(), [1.0, -1.0, -0.6], atol=1e-6)
    dino = to_pixels([image], IMAGENET_MEAN, IMAGENET_STD, CPU, torch.float32)
    want = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    np.testing.assert_allclose(dino[0, :, 0, 0].numpy(), want, rtol=1e-5)
    # the views stay in order
    two = to_pixels([image, 255 - image], SIGLIP_MEAN, SIGLIP_STD, CPU, torch.float32)
    torch.testing.assert_close(two[1], -two[0])


unit = st.floats(0.05, 0.95)
positive = st.floats(0.05, 2.0)


@settings(max_examples=40, deadline=None)
@given(images=hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), st.just(5), st.just(5),
                                             st.just(3))),
       mean=st.tuples(unit, unit, unit), std=st.tuples(positive, positive, positive))
def test_to_pixels_matches_the_formula(images: np.ndarray, mean: tuple[float, float, float],
                                       std: tuple[float, float, float]) -> None:
    views = list(images)
    got = to_pixels(views, mean, std, CPU, torch.float64)
    assert got.dtype == torch.float64 and got.shape == (len(views), 3, 5, 5)
    np.testing.assert_allclose(got.numpy(), reference_pixels(views, mean, std), atol=1e-5)
