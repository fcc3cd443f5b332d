"""What the probe measures on one query: attention per layer, cuts, rankings, attribution.

All runs of one query share its vision features and input embeddings (``QueryRunner``): the
unpruned reference run captures the attention every visual token receives in every layer from
three groups of rows (the task text, the action-query rows, every non-visual row; eq. 1 of the
paper with different query rows), and each pruned run keeps K visual tokens at the static cut
(before ``static_layer``; the earlier layers see every token, as in SpecPrune) with their
original positions. The arithmetic (top-k overlaps, rankings, the spatially uniform order) is
plain numpy and tested on hand-computed sets. ROS-free.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from specprune_ros.errors import InputError
from specprune_ros.specprune.scorer import task_attention
from specprune_ros.vla.cut import VisualCut
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import LoopState
from specprune_ros.vla.policy import Observation, PreparedStep, VLAPolicy

ROW_GROUPS = ('task', 'action', 'nonvisual')  # whose attention: eq. 1's query rows


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the ``k`` highest scores, as a set.

    Ties go to the lower index, or with ``rng`` in a random order: a flat score (uniform
    attention) then ranks like chance instead of like the token order.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not 0 < k <= scores.size:
        raise InputError(f'k={k} must be within 1..{scores.size}')
    tiebreak = np.arange(scores.size) if rng is None else rng.permutation(scores.size)
    return np.lexsort((tiebreak, -scores))[:k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a| for two index sets of the same size (the paper's hit rate)."""
    a, b = np.unique(a), np.unique(b)
    if a.size == 0 or a.size != b.size:
        raise InputError(f'overlap needs two sets of the same non-zero size, got {a.size}, '
                         f'{b.size}')
    return float(np.intersect1d(a, b).size / a.size)


def projection(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """A random output projection ``w`` of the attribution (float64, on the CPU)."""
    return torch.randn(shape, generator=gen, dtype=torch.float64)


@dataclass
class _Capture:
    """LayerHook: every layer's attention onto the visual tokens, from three row groups."""

    layout: TokenLayout
    attn: tuple[int, int, float]
    device: torch.device
    scores: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lay, dev = self.layout, self.device
        visual = lay.indices(lay.visual, dev)
        every = torch.arange(lay.total, device=dev)
        self.rows = {'task': lay.indices(lay.task, dev),
                     'action': lay.indices(lay.action_queries, dev),
                     'nonvisual': every[(every < visual[0]) | (every > visual[-1])]}
        self.visual = visual
        self.scores = {g: [] for g in ROW_GROUPS}

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        return None

    def wants_qk(self, layer: int) -> bool:
        return True

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        heads, kv_heads, scaling = self.attn
        for group, rows in self.rows.items():
            s = task_attention(q, k, state.cos, state.sin, rows, self.visual, heads, kv_heads,
                               scaling)
            self.scores[group].append(s.double().cpu().numpy())


@dataclass
class Reference:
    """The unpruned run of a query: its chunk and the attention each visual token received."""

    chunk: np.ndarray  # (H, D) normalised actions
    attention: dict[str, np.ndarray]  # group -> (layers, n) attention onto the visual tokens
    images: list[np.ndarray]  # the views as the model saw them


class QueryRunner:
    """Every run of one query on one shared set of input embeddings."""

    def __init__(self, policy: VLAPolicy, obs: Observation, static_layer: int) -> None:
        """Prepare ``obs`` and encode its images once; ``static_layer``: the cut's layer."""
        self.policy, self.model = policy, policy.model
        if not 0 < static_layer < policy.cfg.llm.num_layers:
            raise InputError(f'static_layer {static_layer} must be within 1..'
                             f'{policy.cfg.llm.num_layers - 1}')
        self.static_layer = static_layer
        llm = policy.cfg.llm
        self.attn = (llm.num_heads, llm.num_kv_heads, (llm.hidden_size // llm.num_heads) ** -0.5)
        with torch.no_grad():
            self.prep: PreparedStep = policy.prepare(obs)
            lay, tok = self.prep.layout, policy.tokenizer
            patches = self.model.encode_images(self.prep.pixels_dino, self.prep.pixels_siglip)
            self.embeds = self.model.build_embeddings(lay, patches, self.prep.proprio,
                                                      self.prep.prompt_ids, tok.bos_id,
                                                      tok.eos_id).clone()
        self.layout = lay
        self.num_visual = lay.num_visual

    def _run(self, hook: object | None) -> np.ndarray:
        with torch.no_grad():
            state = self.model.run_llm(self.embeds, hook)  # type: ignore[arg-type]
            return self.model.decode_actions(state, self.layout).double().cpu().numpy()

    def reference(self) -> Reference:
        """The unpruned chunk and the captured attention (every layer, every row group)."""
        cap = _Capture(self.layout, self.attn, self.model.device)
        chunk = self._run(cap)
        return Reference(chunk, {g: np.stack(s) for g, s in cap.scores.items()},
                         list(self.prep.images))

    def cut(self, keep: np.ndarray) -> np.ndarray:
        """The normalised chunk with only the ``keep`` visual tokens after the static cut."""
        keep = np.unique(np.asarray(keep, dtype=np.int64))
        if keep.size == 0 or keep[0] < 0 or keep[-1] >= self.num_visual:
            raise InputError(f'kept visual tokens must be within 0..{self.num_visual - 1}')
        hook = VisualCut(self.layout, self.static_layer,
                         torch.as_tensor(keep, device=self.model.device))
        return self._run(hook)

    def attribution(self, projections: int = 3, seed: int = 0) -> np.ndarray:
        """|gradient × input| of each visual token's embedding, for random chunk projections.

        The sensitivity of ``<w, chunk>`` to scaling a token's input embedding, averaged over
        ``projections`` random ``w``: an importance reference that is not attention.
        """
        lay = self.layout
        embeds = self.embeds.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            state = self.model.run_llm(embeds, None)
            chunk = self.model.decode_actions(state, lay)
            gen = torch.Generator().manual_seed(seed)
            out = torch.zeros(self.num_visual, dtype=torch.float64)
            for p in range(projections):
                w = projection(chunk.shape, gen).to(chunk.device, chunk.dtype)
                (grad,) = torch.autograd.grad((chunk * w).sum(), embeds,
                                              retain_graph=p < projections - 1)
                gx = (grad[0, lay.visual] * embeds[0, lay.visual]).sum(-1)
                out += gx.detach().abs().double().cpu()
        return (out / projections).numpy()
