"""``--video``: one clip per episode, the camera views beside the kept-token debug image.

One frame per policy query (the frames the policy saw; 8 control steps apart at OFT's
``num_open_loop_steps``): the third-person and wrist views (policy view, 224 px) on the left,
:func:`~specprune_ros.specprune.debug_image.render_kept_tokens` of that query on the right.
MP4 (H.264 through imageio-ffmpeg) when an ffmpeg encoder is available, else an animated GIF.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
import re
from typing import Any

import imageio.v2 as imageio
import numpy as np

from specprune_ros.specprune.debug_image import render_kept_tokens

log = logging.getLogger(__name__)
FPS = 2.5  # one frame per query: 20 Hz control / 8 steps per chunk


def has_ffmpeg() -> bool:
    """Whether imageio can write MP4 here (the imageio-ffmpeg package is installed)."""
    return importlib.util.find_spec('imageio_ffmpeg') is not None


def compose_frame(views: list[np.ndarray], debug: np.ndarray) -> np.ndarray:
    """Camera views side by side, bottom-aligned, beside the debug image (even sizes)."""
    height = max(debug.shape[0], *(v.shape[0] for v in views))
    parts = []
    for img in [*views, debug]:
        pad = height - img.shape[0]
        parts.append(np.pad(img, ((pad, 0), (0, 0), (0, 0))))
    frame = np.concatenate(parts, axis=1)
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))


class EpisodeVideo:
    """Collects the frames of one episode (``add`` is :func:`run_episode`'s ``on_query``)."""

    def __init__(self, patch: int = 14) -> None:
        self.patch = patch
        self.frames: list[np.ndarray] = []

    def add(self, obs: Any, query: Any) -> None:
        """One query: the simulator observation and the :class:`Query` with its report."""
        report = query.report
        debug = render_kept_tokens(report.images or obs.images, report, self.patch)
        self.frames.append(compose_frame(list(obs.images), debug))

    def write(self, folder: Path, label: str, key: Any) -> str:
        """Write the clip; returns its path ('' when there are no frames)."""
        if not self.frames:
            return ''
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r'[^A-Za-z0-9_.=-]+', '_', label) + f'__task{key.task}_trial{key.trial}'
        if has_ffmpeg():
            path = folder / f'{stem}.mp4'
            imageio.mimwrite(path, self.frames, fps=FPS, codec='libx264', macro_block_size=1,
                             quality=7)
        else:
            path = folder / f'{stem}.gif'
            imageio.mimwrite(path, self.frames, duration=1000 / FPS, loop=0)
        log.info('wrote %s (%d frames)', path, len(self.frames))
        return str(path)
