"""The kept-tokens debug image: which image patches static pruning kept, and why.

Layout (see :data:`LAYOUT`): a header strip on top, then the views (each resized to
224x224) side by side, separated by a gap of header-background colour::

    +-----------------------------------------------+
    | [mode swatch] coarse | kept 154/512 | T=3      |  header (text, never over patches;
    | [] global [] dynamic [] local [] pruned        |  the view names at the right of line 1)
                                                       colour legend: the colours shown only
    +----------------------+---+--------------------+
    | third-person 224x224 |gap| wrist 224x224      |
    +----------------------+---+--------------------+

Every patch (``patch`` x ``patch`` pixels, 16x16 per view at 14) is one visual token, index
``view * 256 + row * 16 + col``. A kept patch gets a 1-pixel border of the exact colour of its
source and an interior tinted towards it; a pruned patch is dimmed to ``DIM/256`` of its
brightness and gets no border. One colour per patch, by priority
**local > dynamic > global > kept**: a patch in several sets shows the highest one; ``kept``
(white) marks a retained patch in none of the three sets. Every source colour has a channel
above 89, the brightest a dimmed pixel can be, so borders decode exactly on any image content.
In mode ``'off'`` (no pruning) every patch is kept and drawn untouched. The mode is also coded
as the exact colour of the swatch at the start of the header.

ROS-free: numpy and Pillow only. :func:`decode_kept_tokens` reads the pixels back.
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
from functools import lru_cache
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from specprune_ros.errors import InputError
from specprune_ros.vla.report import StepReport


@dataclass(frozen=True)
class Layout:
    """Geometry of the debug image (pixels)."""

    header_height: int = 36  # header strip above the views
    gap: int = 8  # between views
    view_size: int = 224  # every view is resized to view_size x view_size
    swatch_x: int = 4  # mode swatch: top-left corner and side
    swatch_y: int = 4
    swatch_size: int = 10

    def width(self, num_views: int) -> int:
        """Image width for ``num_views`` views."""
        return num_views * self.view_size + (num_views - 1) * self.gap

    def view_x(self, view: int) -> int:
        """Left column of view ``view``."""
        return view * (self.view_size + self.gap)


LAYOUT = Layout()
BACKGROUND = (24, 24, 24)
TEXT_COLOUR = (235, 235, 235)
#: Source colours (RGB); the 1-px border of a kept patch has exactly this colour.
SOURCE_COLOURS: dict[str, tuple[int, int, int]] = {
    'global': (40, 140, 255),  # blue
    'dynamic': (30, 220, 60),  # green
    'local': (255, 150, 0),  # orange
    'kept': (255, 255, 255),  # white: in v_retain but in none of the three sets
}
#: Priority when a patch is in several sets (first wins).
SOURCE_PRIORITY: tuple[str, ...] = ('local', 'dynamic', 'global', 'kept')
#: Exact colour of the mode swatch in the header.
MODE_COLOURS: dict[str, tuple[int, int, int]] = {
    'coarse': (0, 255, 255), 'fine': (255, 0, 255), 'off': (128, 128, 128),
    'warmup': (255, 128, 0), 'unknown': (255, 255, 0)}
DIM = 90  # pruned pixel = pixel * DIM >> 8 (at most 89)
TINT = 64  # kept interior = (pixel * (256 - TINT) + colour * TINT) >> 8
PRUNED_LEGEND = (60, 60, 60)

# Labels of patches: 0 pruned, 1.. = index into _LABEL_NAMES, last = untouched ('off').
_LABEL_NAMES = ('global', 'dynamic', 'local', 'kept')
VIEW_NAMES = ('third-person', 'wrist')  # the policy's two views, in the model's order
_UNTOUCHED = len(_LABEL_NAMES) + 1


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label: multiplier (n,), addend (n, 3) and border colour (n, 3), all uint16."""
    n = _UNTOUCHED + 1
    mul = np.full(n, 256, dtype=np.uint16)  # untouched: (pixel * 256) >> 8 == pixel
    add = np.zeros((n, 3), dtype=np.uint16)
    border = np.zeros((n, 3), dtype=np.uint16)
    mul[0] = DIM
    for label, name in enumerate(_LABEL_NAMES, start=1):
        colour = np.array(SOURCE_COLOURS[name], dtype=np.uint16)
        mul[label] = 256 - TINT
        add[label] = colour * TINT
        border[label] = colour
    return mul, add, border


_MUL, _ADD, _BORDER = _tables()


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=11)
    except (OSError, TypeError, ValueError):  # no FreeType: Pillow's bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=64)
def _legend(width: int, shown: tuple[str, ...]) -> np.ndarray:
    """The header background with the legend of the ``shown`` colours on line 2 (read-only)."""
    im = Image.new('RGB', (width, LAYOUT.header_height), BACKGROUND)
    draw = ImageDraw.Draw(im)
    x, y, s = LAYOUT.swatch_x, LAYOUT.header_height - 15, LAYOUT.swatch_size
    entries = [(n, SOURCE_COLOURS[n]) for n in _LABEL_NAMES if n in shown]
    entries += [('pruned', PRUNED_LEGEND)] if 'pruned' in shown else []
    for name, colour in entries:
        draw.rectangle((x, y, x + s - 1, y + s - 1), fill=colour)
        draw.text((x + s + 3, y - 2), name, fill=TEXT_COLOUR, font=_font())
        x += s + 9 + int(draw.textlength(name, font=_font()))
    out = np.asarray(im, dtype=np.uint8).copy()
    out.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _status(text: str, mode_key: str, width: int, shown: tuple[str, ...],
            views: str) -> np.ndarray:
    """Draw the complete header: legend, mode swatch, status ``text`` and the view names."""
    im = Image.fromarray(_legend(width, shown))
    draw = ImageDraw.Draw(im)
    x, y, s = LAYOUT.swatch_x, LAYOUT.swatch_y, LAYOUT.swatch_size
    draw.rectangle((x, y, x + s - 1, y + s - 1), fill=MODE_COLOURS[mode_key])
    draw.text((x + s + 6, y - 2), text, fill=TEXT_COLOUR, font=_font())
    right = width - LAYOUT.swatch_x - int(draw.textlength(views, font=_font()))
    draw.text((right, y - 2), views, fill=TEXT_COLOUR, font=_font())
    out = np.asarray(im, dtype=np.uint8).copy()
    out.setflags(write=False)
    return out


def _indices(values: np.ndarray, n: int, what: str) -> np.ndarray:
    idx = np.asarray(values, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f'report.{what} holds visual indices outside 0..{n - 1}: '
                         f'{idx[(idx < 0) | (idx >= n)][:5].tolist()}')
    return idx


def patch_labels(report: StepReport, num_tokens: int) -> np.ndarray:
    """Per visual token: 0 pruned, 1 global, 2 dynamic, 3 local, 4 kept (priority applied)."""
    if report.mode == 'off':
        return np.full(num_tokens, _UNTOUCHED, dtype=np.intp)
    source = np.zeros(num_tokens, dtype=np.intp)
    for label, name in enumerate(('global', 'dynamic', 'local'), start=1):  # later wins
        source[_indices(getattr(report, f'v_{name}'), num_tokens, f'v_{name}')] = label
    kept = np.zeros(num_tokens, dtype=bool)
    kept[_indices(report.v_retain, num_tokens, 'v_retain')] = True
    return np.where(kept, np.where(source > 0, source, 4), 0)


def displayed_sources(report: StepReport, num_tokens: int = 512) -> dict[str, np.ndarray]:
    """Return what :func:`decode_kept_tokens` must read back for ``report`` (priority)."""
    labels = patch_labels(report, num_tokens)
    if report.mode == 'off':
        out = {name: np.zeros(0, dtype=np.int64) for name in _LABEL_NAMES}
        out['retain'] = np.arange(num_tokens, dtype=np.int64)
        return out
    out = {name: np.flatnonzero(labels == i).astype(np.int64)
           for i, name in enumerate(_LABEL_NAMES, start=1)}
    out['retain'] = np.flatnonzero(labels > 0).astype(np.int64)
    return out


def _views(images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Stack the views into one (V, size, size, 3) uint8 array (resized if needed)."""
    if len(images) == 0:
        raise InputError('render_kept_tokens needs at least one image')
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        arr = np.asarray(img)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise InputError(f'image {i} must be (H, W, 3) uint8 RGB, got shape {arr.shape} '
                             f'dtype {arr.dtype}')
        if arr.shape[:2] != (size, size):
            arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.BILINEAR))
        out[i] = arr
    return out


def _cell_size(report: StepReport, num_views: int, patch: int) -> int:
    """Pixels per token cell in the 224-px views: ``patch``, or adapted to the token grid."""
    size = LAYOUT.view_size
    tokens = int(report.visual_tokens)
    if patch >= 3 and size % patch == 0 and tokens in (0, num_views * (size // patch) ** 2):
        return patch
    side = math.isqrt(max(tokens, 0) // num_views)
    if tokens > 0 and side * side * num_views == tokens and size % side == 0 and size >= 3 * side:
        return size // side  # e.g. 448-px inputs: 32x32 tokens per view, 7-px cells
    raise InputError(f'cannot draw {tokens} visual tokens of {num_views} views with patch '
                     f'{patch}: the token grid must divide {size} px into cells >= 3 px')


def render_kept_tokens(images: Sequence[np.ndarray], report: StepReport,
                       patch: int = 14) -> np.ndarray:
    """Render the debug image (H, W, 3) uint8 of ``images`` and ``report`` (see module).

    ``patch`` is the cell size in the 224-px views (14: 16x16 tokens per view). When
    ``report.visual_tokens`` says the grid is different (e.g. 448-px model inputs), the cell
    size follows the grid (``224 // tokens_per_side``); decode with that ``patch``.
    """
    size = LAYOUT.view_size
    views = _views(images, size)
    num_views = views.shape[0]
    patch = _cell_size(report, num_views, patch)
    grid = size // patch
    n = num_views * grid * grid
    labels = patch_labels(report, n).reshape(num_views, grid, grid)
    # (V, grid rows, patch rows, grid cols, patch cols, 3): per-patch factors broadcast
    mixed = views.reshape(num_views, grid, patch, grid, patch, 3) * _MUL[labels].reshape(
        num_views, grid, 1, grid, 1, 1)
    mixed += _ADD[labels].reshape(num_views, grid, 1, grid, 1, 3)
    mixed >>= 8
    kept = (labels > 0) & (labels < _UNTOUCHED)
    if kept.any():
        cells = mixed.transpose(0, 1, 3, 2, 4, 5)  # (V, gr, gc, pr, pc, 3), a view
        colour = _BORDER[labels[kept]][:, None, :]
        last = patch - 1
        cells[kept, 0] = colour
        cells[kept, last] = colour
        cells[kept, :, 0] = colour
        cells[kept, :, last] = colour
    width = LAYOUT.width(num_views)
    out = np.empty((LAYOUT.header_height + size, width, 3), dtype=np.uint8)
    if report.mode == 'off':
        mode_key = 'off'
        text = f'off | kept {n}/{n}'
    else:
        mode_key = report.mode if report.mode in MODE_COLOURS else 'unknown'
        kept_count = int(np.count_nonzero(labels))
        text = f'{report.mode} | kept {kept_count}/{n} | T={report.reference_offset}'
    shown = tuple(name for i, name in enumerate(_LABEL_NAMES, start=1) if (labels == i).any())
    shown += ('pruned',) if (labels == 0).any() else ()
    names = VIEW_NAMES if num_views == len(VIEW_NAMES) else tuple(
        f'view {v}' for v in range(num_views))
    views_text = 'left to right: ' + ', '.join(names)
    out[:LAYOUT.header_height] = _status(text, mode_key, width, shown, views_text)
    body = out[LAYOUT.header_height:]
    for v in range(num_views):
        x = LAYOUT.view_x(v)
        body[:, x:x + size] = mixed[v].reshape(size, size, 3)
        body[:, x + size:x + size + LAYOUT.gap] = BACKGROUND
    return out


def decode_kept_tokens(debug_image: np.ndarray, patch: int = 14) -> dict[str, object]:
    """Read back a :func:`render_kept_tokens` image.

    Returns ``{'mode': str, 'num_views': int, 'retain': idx, 'global': idx, 'dynamic': idx,
    'local': idx, 'kept': idx}`` with sorted int64 visual indices; a source entry holds the
    patches displayed in that colour (priority applied, see :func:`displayed_sources`).
    Raises ValueError when the image does not have the debug-image layout.
    """
    img = np.asarray(debug_image)
    size, hh = LAYOUT.view_size, LAYOUT.header_height
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] != hh + size:
        raise ValueError(f'not a kept-tokens debug image: shape {img.shape}, expected '
                         f'({hh + size}, W, 3)')
    num_views, rem = divmod(img.shape[1] + LAYOUT.gap, size + LAYOUT.gap)
    if rem or num_views < 1 or patch < 3 or size % patch:
        raise ValueError(f'not a kept-tokens debug image: width {img.shape[1]} is not '
                         f'V * {size} + (V - 1) * {LAYOUT.gap} (or bad patch {patch})')
    c = LAYOUT.swatch_size // 2
    swatch = tuple(int(v) for v in img[LAYOUT.swatch_y + c, LAYOUT.swatch_x + c])
    modes = {colour: name for name, colour in MODE_COLOURS.items()}
    if swatch not in modes:
        raise ValueError(f'not a kept-tokens debug image: mode swatch colour {swatch}')
    mode = modes[swatch]
    grid = size // patch
    n = num_views * grid * grid
    out: dict[str, object] = {'mode': mode, 'num_views': num_views}
    if mode == 'off':
        out.update({name: np.zeros(0, dtype=np.int64) for name in _LABEL_NAMES})
        out['retain'] = np.arange(n, dtype=np.int64)
        return out
    ring = np.ones((patch, patch), dtype=bool)
    ring[1:-1, 1:-1] = False
    labels = np.zeros((num_views, grid, grid), dtype=np.intp)
    for v in range(num_views):
        x = LAYOUT.view_x(v)
        view = img[hh:, x:x + size].reshape(grid, patch, grid, patch, 3).transpose(0, 2, 1, 3, 4)
        pixels = view[:, :, ring]  # (grid, grid, ring pixels, 3)
        for label, name in enumerate(_LABEL_NAMES, start=1):
            match = np.all(pixels == np.array(SOURCE_COLOURS[name], dtype=img.dtype),
                           axis=(2, 3))
            labels[v][match] = label
    flat = labels.reshape(-1)
    out.update({name: np.flatnonzero(flat == i).astype(np.int64)
                for i, name in enumerate(_LABEL_NAMES, start=1)})
    out['retain'] = np.flatnonzero(flat > 0).astype(np.int64)
    return out
