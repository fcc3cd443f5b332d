"""Policy API: ``VLAPolicy.predict_action_chunk(observation) -> (actions, report)``."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
import time
from typing import Any

import numpy as np
import torch

from specprune_ros.errors import CheckpointError, InputError
from specprune_ros.vla.config import get_preset, PolicyConfig
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import build_model, LayerHook, VLAModel
from specprune_ros.vla.preprocess import (
    check_image,
    IMAGENET_MEAN,
    IMAGENET_STD,
    resize_image,
    SIGLIP_MEAN,
    SIGLIP_STD,
    to_pixels,
)
from specprune_ros.vla.report import StepReport
from specprune_ros.vla.timing import StageTimer
from specprune_ros.vla.tokenizer import ByteTokenizer, oft_prompt, TextTokenizer


@dataclass
class Observation:
    """One synchronised observation: two RGB uint8 views, proprio vector, instruction."""

    images: tuple[np.ndarray, np.ndarray]  # (third-person, wrist), any size, HxWx3 uint8
    proprio: np.ndarray  # (proprio_dim,) e.g. LIBERO: eef xyz, axis-angle, gripper (2)
    instruction: str
    stamp: float = 0.0  # seconds; the images' time


@dataclass(frozen=True)
class NormStats:
    """q01/q99 bounds of actions and proprio (OFT's BOUNDS_Q99 normalisation)."""

    action_q01: np.ndarray
    action_q99: np.ndarray
    action_mask: np.ndarray  # True where actions are un-normalised (LIBERO: first 6 dims)
    proprio_q01: np.ndarray
    proprio_q99: np.ndarray

    @classmethod
    def from_dataset_statistics(cls, stats: dict[str, Any], unnorm_key: str | None
                                ) -> 'NormStats':
        """Pick ``unnorm_key`` from a dataset_statistics.json dict."""
        keys = sorted(stats)
        if unnorm_key is None:
            if len(keys) != 1:
                raise CheckpointError(f'unnorm_key is required: the statistics hold {keys}; '
                                      'set unnorm_key to one of them')
            unnorm_key = keys[0]
        if unnorm_key not in stats:
            raise CheckpointError(f'unnorm_key {unnorm_key!r} not found; available: {keys}')
        entry = stats[unnorm_key]
        try:
            act, prop = entry['action'], entry['proprio']
            q01 = np.asarray(act['q01'], dtype=np.float64)
            return cls(q01, np.asarray(act['q99'], dtype=np.float64),
                       np.asarray(act.get('mask', [True] * q01.size), dtype=bool),
                       np.asarray(prop['q01'], dtype=np.float64),
                       np.asarray(prop['q99'], dtype=np.float64))
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f'statistics for {unnorm_key!r} lack {exc}: expected '
                                  "'action' and 'proprio' with 'q01'/'q99'") from exc

    def to_dataset_statistics(self, key: str) -> dict[str, Any]:
        """Inverse of :meth:`from_dataset_statistics`."""
        return {key: {'action': {'q01': self.action_q01.tolist(),
                                 'q99': self.action_q99.tolist(),
                                 'mask': self.action_mask.tolist()},
                      'proprio': {'q01': self.proprio_q01.tolist(),
                                  'q99': self.proprio_q99.tolist()}}}

    def normalize_proprio(self, proprio: np.ndarray) -> np.ndarray:
        """Map to [-1, 1] by q01/q99 and clip (dims with q99 == q01 map to 0)."""
        span = self.proprio_q99 - self.proprio_q01
        safe = np.where(span > 0, span, 1.0)
        x = np.where(span > 0, 2.0 * (proprio - self.proprio_q01) / safe - 1.0, 0.0)
        return np.clip(x, -1.0, 1.0)

    def unnormalize_actions(self, x: np.ndarray) -> np.ndarray:
        """``a = 0.5·(x+1)·(q99−q01) + q01`` where the mask is true; else left as is."""
        a = 0.5 * (x + 1.0) * (self.action_q99 - self.action_q01) + self.action_q01
        return np.where(self.action_mask, a, x)


def builtin_norm_stats() -> NormStats:
    """Illustrative LIBERO-like bounds for the built-in random models."""
    return NormStats(
        action_q01=np.array([-0.75, -0.66, -0.94, -0.11, -0.21, -0.36, -1.0]),
        action_q99=np.array([0.94, 0.86, 0.94, 0.20, 0.35, 0.38, 1.0]),
        action_mask=np.array([True] * 6 + [False]),
        proprio_q01=np.array([-0.35, -0.35, 0.85, 2.5, -0.8, -0.8, 0.0, -0.045]),
        proprio_q99=np.array([0.25, 0.35, 1.35, 3.5, 0.8, 0.8, 0.045, 0.0]))


@dataclass
class PreparedStep:
    """A validated, preprocessed observation and its token layout."""

    images: list[np.ndarray]  # views at image_size, RGB uint8 (what the patches see)
    pixels_dino: torch.Tensor  # (V, 3, S, S)
    pixels_siglip: torch.Tensor  # (V, 3, S, S)
    proprio: torch.Tensor  # (P,) normalised
    prompt_ids: torch.Tensor  # (prompt_len,)
    layout: TokenLayout
    stamp: float


HookFactory = Callable[[PreparedStep], LayerHook]


class VLAPolicy:
    """An OpenVLA-OFT-family policy with a plain (unpruned) forward and a pruning seam."""

    def __init__(self, model: VLAModel, tokenizer: TextTokenizer, norm_stats: NormStats,
                 cfg: PolicyConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.norm_stats = norm_stats
        self.cfg = cfg
        self._prompt_cache: dict[str, tuple[torch.Tensor, tuple[int, int]]] = {}
        self._step = 0

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> 'VLAPolicy':
        """A built-in random-initialised policy (``tiny``, ``small``, ``oft-7b``)."""
        cfg = get_preset(name, **overrides)
        return cls(build_model(cfg), ByteTokenizer(), builtin_norm_stats(), cfg)

    def reset(self) -> None:
        """Forget per-episode state (step counter)."""
        self._step = 0

    def _prompt(self, instruction: str) -> tuple[torch.Tensor, tuple[int, int]]:
        if instruction not in self._prompt_cache:
            text, (c0, c1) = oft_prompt(instruction)
            ids, spans = self.tokenizer.encode(text)
            task = [i for i, (s, e) in enumerate(spans) if s < c1 and e > c0]
            if not task:
                raise InputError(f'instruction {instruction!r} produced no task tokens')
            ids_t = torch.tensor(ids, dtype=torch.long, device=self.model.device)
            self._prompt_cache[instruction] = (ids_t, (task[0], task[-1] + 1))
        return self._prompt_cache[instruction]

    def prepare(self, obs: Observation) -> PreparedStep:
        """Validate and preprocess; raises InputError naming what is wrong."""
        cfg = self.cfg
        if not isinstance(obs.images, (tuple, list)) or len(obs.images) != cfg.num_views:
            raise InputError(f'expected {cfg.num_views} images (third-person, wrist)')
        names = ('third_person image', 'wrist image')
        images = [resize_image(check_image(im, n), cfg.image_size, cfg.jpeg_roundtrip,
                               cfg.center_crop) for im, n in zip(obs.images, names)]
        proprio = np.asarray(obs.proprio, dtype=np.float64)
        if proprio.shape != (cfg.proprio_dim,):
            raise InputError(f'proprio: expected shape ({cfg.proprio_dim},), got '
                             f'{proprio.shape}')
        if not np.isfinite(proprio).all():
            raise InputError(f'proprio holds NaN/inf: {proprio.tolist()}; expected finite')
        if not isinstance(obs.instruction, str) or not obs.instruction.strip():
            raise InputError('instruction is empty; expected a task description')
        if not math.isfinite(obs.stamp):
            raise InputError(f'stamp must be finite, got {obs.stamp}')
        ids, task = self._prompt(obs.instruction)
        dev, dt = self.model.device, self.model.dtype
        layout = TokenLayout(cfg.num_views, cfg.patches_per_view, int(ids.numel()), task,
                             cfg.horizon * cfg.action_dim)
        prop = torch.tensor(self.norm_stats.normalize_proprio(proprio), device=dev,
                            dtype=torch.float32)
        return PreparedStep(images, to_pixels(images, IMAGENET_MEAN, IMAGENET_STD, dev, dt),
                            to_pixels(images, SIGLIP_MEAN, SIGLIP_STD, dev, dt), prop, ids,
                            layout, obs.stamp)

    @torch.inference_mode()
    def predict_action_chunk(self, obs: Observation, hook_factory: HookFactory | None = None
                             ) -> tuple[np.ndarray, StepReport]:
        """Actions (horizon, action_dim), un-normalised, and the step's report."""
        report = StepReport(step=self._step)
        t0 = time.perf_counter()
        timer = StageTimer(self.model.device)  # CUDA events: no sync between the stages
        with timer.stage('preprocess'):
            prep = self.prepare(obs)
        hook = hook_factory(prep) if hook_factory is not None else None
        layout, tok = prep.layout, self.tokenizer
        with timer.stage('vision'):
            patches = self.model.encode_images(prep.pixels_dino, prep.pixels_siglip)
        with timer.stage('llm'):
            embeds = self.model.build_embeddings(layout, patches, prep.proprio,
                                                 prep.prompt_ids, tok.bos_id, tok.eos_id)
            state = self.model.run_llm(embeds, hook)
        with timer.stage('head'):  # ends with the step's copy of the actions to the host
            norm = self.model.decode_actions(state, layout).float().cpu().numpy()
            actions = self.norm_stats.unnormalize_actions(norm.astype(np.float64))
        report.total_ms = (time.perf_counter() - t0) * 1e3
        for name, ms in timer.elapsed_ms().items():
            setattr(report, f'{name}_ms', ms)
        report.images = prep.images
        report.tokens_total = layout.total
        report.visual_tokens = layout.num_visual
        if hook is None:
            report.tokens_per_layer = [layout.total] * self.cfg.llm.num_layers
            report.visual_per_layer = [layout.num_visual] * self.cfg.llm.num_layers
        self._step += 1
        return actions.astype(np.float32), report
