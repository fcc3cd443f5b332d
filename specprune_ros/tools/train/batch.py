"""Training samples, batches, OFT-style augmentation and the batched training forward.

The forward is the policy's own: ``encode_images`` → ``build_embeddings`` (per sample, by its
:class:`TokenLayout`) → ``run_llm`` (bidirectional, a batch of equal-length sequences) →
``decode_actions`` (per sample: the rows OFT's head reads). Samples whose prompts differ in
length run as separate sub-batches of one step.

Augmentation (OpenVLA-OFT's ``image_aug``): a random square crop of 90 % of the area resized
back to 224 (bilinear, corner-aligned like TF's ``crop_and_resize``; with the box centred it
is the inference centre crop), then brightness ±0.2, contrast and saturation ×[0.8, 1.2]
(OFT also jitters hue by 0.05; not done here). Every random draw comes from a generator
seeded by (seed, step), so a resumed run sees exactly the batches it would have seen.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
import torch
import torch.nn.functional as F

from specprune_ros.tools.train.data import (
    chunk_indices,
    Demo,
    FrameStore,
    model_actions,
    normalize_actions,
)
from specprune_ros.vla.cut import VisualCut
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState, VLAModel
from specprune_ros.vla.policy import NormStats, VLAPolicy
from specprune_ros.vla.preprocess import (
    center_crop_image,
    CROP_AREA,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SIGLIP_MEAN,
    SIGLIP_STD,
    to_pixels,
)


@dataclass(frozen=True)
class AugmentConfig:
    """OFT's training augmentation (``random_resized_crop`` scale 0.9, ratio 1, colour)."""

    crop_area: float = CROP_AREA
    brightness: float = 0.2  # additive, uniform in ±brightness
    contrast: float = 0.2  # factor uniform in 1 ± contrast
    saturation: float = 0.2  # factor uniform in 1 ± saturation
    enabled: bool = True


@dataclass
class Batch:
    """One step's samples, ready for :func:`forward_chunks`."""

    images: np.ndarray  # (B, V, S, S, 3) uint8, resized, not cropped
    proprio: torch.Tensor  # (B, P) normalised, clipped to [-1, 1]
    prompts: list[int]  # index into TrainSet.prompts per sample
    target: torch.Tensor  # (B, H, D) normalised chunk (the gripper in the model's convention)


class TrainSet:
    """Every (demo, step) sample of ``demos`` with its normalised proprio and target chunk."""

    def __init__(self, demos: list[Demo], frames: FrameStore, stats: NormStats,
                 policy: VLAPolicy) -> None:
        cfg = policy.cfg
        self.frames = frames
        instructions = sorted({d.instruction for d in demos})
        self.prompts = [prompt_layout(policy, text) for text in instructions]
        index, proprio, target, prompt = [], [], [], []
        for i, d in enumerate(demos):
            norm = normalize_actions(model_actions(d.actions), stats)
            target.append(norm[chunk_indices(len(d), cfg.horizon)])  # (T, H, D)
            proprio.append(stats.normalize_proprio(d.proprio))
            index += [(i, t) for t in range(len(d))]
            prompt += [instructions.index(d.instruction)] * len(d)
        self.index = np.asarray(index, dtype=np.int64).reshape(-1, 2)
        self.proprio = torch.from_numpy(np.concatenate(proprio)).float()
        self.target = torch.from_numpy(np.concatenate(target)).float()
        self.prompt = np.asarray(prompt, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, samples: np.ndarray) -> Batch:
        """The samples with these indices."""
        images = np.stack([self.frames.get(int(d), int(t)) for d, t in self.index[samples]])
        idx = torch.from_numpy(np.asarray(samples, dtype=np.int64))
        return Batch(images, self.proprio[idx], self.prompt[samples].tolist(), self.target[idx])


def prompt_layout(policy: VLAPolicy, instruction: str) -> tuple[torch.Tensor, TokenLayout]:
    """Prompt ids and the sequence layout of ``instruction``, exactly as the policy builds them."""
    cfg = policy.cfg
    ids, task = policy._prompt(instruction)  # the policy's own prompt + task-token rule
    return ids, TokenLayout(cfg.num_views, cfg.patches_per_view, int(ids.numel()), task,
                            cfg.horizon * cfg.action_dim)


def batch_order(num_samples: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Sample indices of training step ``step``: epochs are seeded permutations, last cut."""
    per_epoch = max(1, num_samples // batch_size)
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(num_samples)
    return perm[k * batch_size:(k + 1) * batch_size]


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """An RNG of one step (independent of everything before it).

    ``stream`` 0 draws the augmentation, 1 the visual-token dropout: adding dropout leaves
    the augmentation of every step as it was.
    """
    entropy = [seed, step] + ([stream] if stream else [])
    mixed = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed))


def crop_resize(x: torch.Tensor, corner: torch.Tensor, area: float) -> torch.Tensor:
    """Square boxes of ``area`` (fraction of the image) resized back to S×S.

    ``corner``: (N, 2) box corners (x, y) in [0, 1 − side], normalised. Bilinear, with the
    box corners on pixel centres, as TF's ``crop_and_resize``.
    """
    n = x.shape[0]
    side = math.sqrt(area)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = side
    theta[:, :, 2] = 2.0 * corner + side - 1.0  # box centre in [-1, 1] coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=True)


def augment(images: torch.Tensor, gen: torch.Generator, aug: AugmentConfig,
            draw: tuple[int, int] | None = None) -> torch.Tensor:
    """(N, S, S, 3) uint8 → (N, 3, S, S) float in [0, 1]: random crop + colour jitter.

    ``draw`` = (start, total): these N images are rows start..start+N of a batch of ``total``
    (one process's shard); the draws are made for the whole batch, so every image gets the
    augmentation it would get in a single process.
    """
    x = images.permute(0, 3, 1, 2).float() / 255.0
    n = x.shape[0]
    start, total = draw if draw is not None else (0, n)
    side = math.sqrt(aug.crop_area)
    corner = torch.rand(total, 2, generator=gen)[start:start + n]
    x = crop_resize(x, corner * (1.0 - side), aug.crop_area)
    u = torch.rand(total, 3, generator=gen)[start:start + n] * 2.0 - 1.0
    x = x + (aug.brightness * u[:, 0]).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = (x - mean) * (1.0 + aug.contrast * u[:, 1]).view(n, 1, 1, 1) + mean
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = (x - gray) * (1.0 + aug.saturation * u[:, 2]).view(n, 1, 1, 1) + gray
    return x.clamp(0.0, 1.0)


def _normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def batch_pixels(images: np.ndarray, center_crop: bool, gen: torch.Generator | None,
                 aug: AugmentConfig, device: torch.device, dtype: torch.dtype,
                 shard: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V, S, S, 3) uint8 → DINOv2 and SigLIP pixels (B·V, 3, S, S), sample-major.

    With ``gen`` (training): :func:`augment` (``shard`` = (first sample, samples in the whole
    step) when these B are one process's part). Without (evaluation): the inference path,
    ``center_crop_image`` when the model uses it, then ``to_pixels``.
    """
    flat = images.reshape(-1, *images.shape[2:])
    if gen is not None and aug.enabled:
        views = images.shape[1]
        draw = None if shard is None else (shard[0] * views, shard[1] * views)
        x = augment(torch.from_numpy(flat), gen, aug, draw)
        return (_normalise(x, IMAGENET_MEAN, IMAGENET_STD).to(device, dtype),
                _normalise(x, SIGLIP_MEAN, SIGLIP_STD).to(device, dtype))
    frames = [center_crop_image(f) if center_crop else f for f in flat]
    return (to_pixels(frames, IMAGENET_MEAN, IMAGENET_STD, device, dtype),
            to_pixels(frames, SIGLIP_MEAN, SIGLIP_STD, device, dtype))


def visual_keep(num_visual: int, keep_min: float, gen: torch.Generator) -> torch.Tensor:
    """A random sorted set of visual indices: a fraction U[keep_min, 1] of ``num_visual``.

    PatchDropout/FLIP-style token dropout. One set per step, shared by its samples, so the
    step runs as one batch of equal-length sequences (the decoder's cost falls with it).
    """
    fraction = keep_min + (1.0 - keep_min) * float(torch.rand(1, generator=gen))
    k = max(1, round(fraction * num_visual))
    return torch.randperm(num_visual, generator=gen)[:k].sort().values


def forward_chunks(model: VLAModel, prompts: list[tuple[torch.Tensor, TokenLayout]],
                   batch_prompts: list[int], pixels_dino: torch.Tensor,
                   pixels_siglip: torch.Tensor, proprio: torch.Tensor, bos_id: int,
                   eos_id: int, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised (B, H, D) chunks by the inference forward, differentiable.

    ``keep`` (visual indices): only those visual tokens enter the decoder, cut before layer 0
    by :class:`~specprune_ros.vla.cut.VisualCut` as a pruned inference would cut them; None:
    every token (the unpruned forward).
    """
    batch = len(batch_prompts)
    patches = model.encode_images(pixels_dino, pixels_siglip)  # (B·V·P, D)
    patches = patches.view(batch, -1, patches.shape[-1])  # (B, V·P, D)
    proprio = proprio.to(patches.device)
    out: list[torch.Tensor | None] = [None] * batch
    for total in sorted({prompts[p][1].total for p in batch_prompts}):
        members = [b for b, p in enumerate(batch_prompts) if prompts[p][1].total == total]
        embeds = torch.cat([model.build_embeddings(prompts[batch_prompts[b]][1], patches[b],
                                                   proprio[b], prompts[batch_prompts[b]][0],
                                                   bos_id, eos_id) for b in members])
        hook = None if keep is None else VisualCut(prompts[batch_prompts[members[0]]][1], 0, keep)
        state = model.run_llm(embeds, hook)  # (b, L', D) rows at positions state.kept
        for row, b in enumerate(members):
            one = LoopState(state.hidden[row:row + 1], state.cos, state.sin, state.kept)
            out[b] = model.decode_actions(one, prompts[batch_prompts[b]][1])
    return torch.stack(out)  # type: ignore[arg-type]
