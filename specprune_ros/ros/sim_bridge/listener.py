"""The listener of the closed-loop demo: chunk lines, the episode video and the debug PNG.

Subscribes to the bridge's cameras and ``~/episode`` and to the policy's ``~/action_chunk``,
``~/stats`` and ``~/debug/kept_tokens``. Each camera step becomes one video frame: the
third-person and wrist views side by side over the newest kept-token image (the policy's input
views with the kept patches coloured), with the step, mode and kept tokens written above. The
video is MP4 through imageio-ffmpeg, or a GIF where ffmpeg is missing. The PNG is the debug
image of the pruned query nearest the middle of the episode (not the first, which has no
history to prune from) whose coloured patches are exactly the kept tokens of its stats.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from specprune_ros.msg import ActionChunk, StepStats
from specprune_ros.ros.common.conversions import image_msg_to_rgb, stamp_to_sec
from specprune_ros.specprune.debug_image import decode_kept_tokens, LAYOUT

log = logging.getLogger('specprune_sim_demo')
SIM, POLICY = '/specprune_sim', '/specprune_policy'
BAR = 24  # px: the text line above each video frame
SIM_PERIOD = 0.05  # s of simulated time per control step (LIBERO's 20 Hz)


def _writer(path_stem: Path, fps: float) -> tuple[Any, Path]:
    """An imageio writer: MP4 (imageio-ffmpeg) or, without it, a GIF."""
    import imageio.v2 as imageio

    try:
        import imageio_ffmpeg  # noqa: F401

        path = path_stem.with_suffix('.mp4')
        return imageio.get_writer(path, fps=fps, codec='libx264', quality=7,
                                  macro_block_size=8), path
    except ImportError:
        path = path_stem.with_suffix('.gif')
        return imageio.get_writer(path, mode='I', duration=1.0 / fps, loop=0), path


class EpisodeListener(Node):
    """Prints the chunks, records the video, saves the debug PNG, keeps the final status."""

    def __init__(self, out_dir: Path, fps: float = 10.0) -> None:
        """Subscribe; files go to ``out_dir`` (sim_demo.mp4 or .gif, kept_tokens.png)."""
        super().__init__('specprune_sim_demo_listener')
        self.out_dir, self.fps = out_dir, fps
        self.final: dict[str, Any] | None = None
        self.status: dict[str, Any] = {}
        self.chunks = 0
        self.frames = 0
        self.stats: dict[float, Any] = {}
        self.chunk_msgs: dict[float, tuple[int, int, Any]] = {}
        self._waiting_frame = False
        self.last_frame_stamp = -1.0
        self.debug: dict[float, np.ndarray] = {}
        # t: (sim step, query, image) of the pruned queries that may become the PNG
        self.candidates: dict[float, tuple[int, int, np.ndarray]] = {}
        self.latest_debug: np.ndarray | None = None
        self.latest_text = 'waiting for the first chunk'
        self.views: dict[float, dict[str, np.ndarray]] = {}
        self.png: Path | None = None
        self._writer: Any = None
        self.video: Path | None = None
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(String, f'{SIM}/episode', self._on_status, latched)
        for cam in ('third_person', 'wrist'):
            self.create_subscription(Image, f'{SIM}/{cam}/image_raw',
                                     lambda m, c=cam: self._on_view(c, m), QoSProfile(depth=20))
        self.create_subscription(ActionChunk, f'{POLICY}/action_chunk', self._on_chunk, 10)
        self.create_subscription(StepStats, f'{POLICY}/stats', self._on_stats, 10)
        self.create_subscription(Image, f'{POLICY}/debug/kept_tokens', self._on_debug,
                                 QoSProfile(depth=5))

    # --- callbacks -----------------------------------------------------------------------------
    def _on_status(self, msg: String) -> None:
        status = json.loads(msg.data)
        if status['state'] == 'running' and self.status.get('state') != 'running':
            log.info('episode %d: the first action arrived; running', status['episode'])
        self.status = status
        if (status['done'] or status['state'] == 'failed') and self.final is None:
            self.final = status

    def _on_chunk(self, msg: ActionChunk) -> None:
        self.chunks += 1
        t = stamp_to_sec(msg.header.stamp)
        step = self.sim_step(t)
        self.chunk_msgs[t] = (self.chunks, step, msg)
        self.latest_text = (f'step {step}  mode {msg.mode}  kept '
                            f'{msg.visual_tokens_kept}/{msg.visual_tokens_total}')
        self._print(t)

    def sim_step(self, t: float) -> int:
        """The simulator step of sim time ``t`` (from the newest status' step and time)."""
        status = self.status
        if not status or not status.get('sim_time'):
            return 0
        return max(0, int(status['step']) - round((status['sim_time'] - t) / SIM_PERIOD))

    def _on_stats(self, msg: StepStats) -> None:
        t = stamp_to_sec(msg.header.stamp)
        self.stats[t] = msg
        self._print(t)
        self._try_png(t)

    def _print(self, t: float) -> None:
        """One line per chunk, once its chunk and its stats are both here."""
        if t not in self.chunk_msgs or t not in self.stats:
            return
        number, step, chunk = self.chunk_msgs.pop(t)
        stats = self.stats[t]
        if number == 1:
            log.info('(per query: the simulator step and simulated time t it was asked at; the '
                     "pruning mode; visual tokens kept of 512 and each source's share, V_global "
                     '/ V_dynamic / V_local, which overlap; LLM FLOPs / unpruned; the policy '
                     "step's wall time on this machine)")
        log.info('chunk %d at step %d (t=%.2f s): mode %s, kept %d/%d visual tokens (global '
                 '%d, dynamic %d, local %d), FLOPs %.2f, %.0f ms', number, step, t, chunk.mode,
                 chunk.visual_tokens_kept, chunk.visual_tokens_total, stats.kept_global,
                 stats.kept_dynamic, stats.kept_local, stats.flops_ratio, chunk.latency_ms)

    def _on_debug(self, msg: Image) -> None:
        t = stamp_to_sec(msg.header.stamp)
        self.latest_debug = image_msg_to_rgb(msg)
        self.debug[t] = self.latest_debug
        self._try_png(t)

    def _on_view(self, camera: str, msg: Image) -> None:
        t = stamp_to_sec(msg.header.stamp)
        if t <= self.last_frame_stamp:  # a republished instant (lockstep): already a frame
            return
        views = self.views.setdefault(t, {})
        views[camera] = image_msg_to_rgb(msg)
        if len(views) == 2:
            del self.views[t]
            self._frame(views['third_person'], views['wrist'])
            self.last_frame_stamp = t
        for old in [s for s in self.views if s < t - 5.0]:  # a view whose pair never came
            del self.views[old]

    # --- outputs ------------------------------------------------------------------------------
    def _frame(self, third: np.ndarray, wrist: np.ndarray) -> None:
        if self.status.get('state', 'waiting') == 'waiting':  # the arm still: one frame
            if self._waiting_frame:
                return
            self._waiting_frame = True
        top = np.concatenate([third, wrist], axis=1)
        width = top.shape[1]
        size = (width, top.shape[0] + LAYOUT.header_height)  # the debug image's layout
        if self.latest_debug is None:
            debug = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        else:
            debug = np.asarray(PILImage.fromarray(self.latest_debug).resize(
                size, PILImage.Resampling.BILINEAR))
        frame = np.concatenate([self._text_bar(width), top, debug], axis=0)
        frame = frame[:frame.shape[0] - frame.shape[0] % 8]  # whole macro blocks
        if self._writer is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._writer, self.video = _writer(self.out_dir / 'sim_demo', self.fps)
        self._writer.append_data(frame)
        self.frames += 1

    def _text_bar(self, width: int) -> np.ndarray:
        bar = PILImage.new('RGB', (width, BAR), (20, 20, 20))
        ImageDraw.Draw(bar).text((6, 5), self.latest_text, fill=(255, 255, 255))
        return np.asarray(bar)

    def _try_png(self, t: float) -> None:
        """Keep a candidate for the PNG: a pruned query whose image matches its stats."""
        if t not in self.stats or t not in self.debug or t in self.candidates:
            return
        stats, image = self.stats[t], self.debug.pop(t)
        if stats.mode == 'off' or stats.step == 0:
            return  # show a step with global, dynamic and local tokens
        kept = decode_kept_tokens(image)['retain']
        if len(kept) != stats.kept_total:
            log.error('debug image shows %d kept patches, stats say %d', len(kept),
                      stats.kept_total)
            return
        self.candidates[t] = (self.status.get('step', 0), int(stats.step), image)

    def stats_list(self) -> list[Any]:
        """The StepStats of every query, oldest first."""
        return [self.stats[t] for t in sorted(self.stats)]

    def _write_png(self) -> None:
        """The candidate nearest the middle of the episode, as kept_tokens.png."""
        if not self.candidates:
            return
        middle = (self.final or self.status).get('step', 0) / 2
        sim_step, query, image = min(self.candidates.values(),
                                     key=lambda c: (abs(c[0] - middle), c[1]))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.png = self.out_dir / 'kept_tokens.png'
        PILImage.fromarray(image).save(self.png)
        log.debug('debug image of query %d (sim step %d) saved to %s', query, sim_step, self.png)

    def has_last_frame(self) -> bool:
        """Whether the frame of the final status' step is in the video."""
        final = self.final
        return final is not None and abs(self.last_frame_stamp - final['sim_time']) < 1e-6

    def finish(self) -> dict[str, Path | None]:
        """Close the video, write the PNG; the files written."""
        self._write_png()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            log.debug('video: %d frames at %.0f fps', self.frames, self.fps)
        return {'video': self.video, 'debug_png': self.png}
