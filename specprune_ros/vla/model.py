"""The OpenVLA-OFT-shaped model and its explicit decoder layer loop.

``VLAModel.run_llm`` is our own loop over the transformers ``LlamaDecoderLayer`` modules:
rotary embeddings are computed once from the ORIGINAL position ids, attention is bidirectional
(``is_causal=False``, as OFT's parallel decoding), and a :class:`LayerHook` may drop rows before
any layer and observe the layer's q/k projections after it. Rows always carry their original
position in ``LoopState.kept``.

Padding rows (``LoopState.alive`` False) keep a shape fixed while the number of real tokens
varies: they are masked out of attention as keys by a (1, 1, 1, L') boolean mask; with no
padding the mask is None and SDPA runs unmasked. A :class:`StepHook` keeps its per-step device
state in ``LoopState.extra``, so that the loop can run as CUDA graphs (``VLAModel.graphs``, see
:mod:`specprune_ros.vla.cuda_graphs`): one graph per layer range between the hook's host reads.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Hashable
import contextlib
from dataclasses import dataclass, field
import itertools
from typing import Protocol, runtime_checkable

from accelerate import init_empty_weights
import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel

from specprune_ros.vla.config import PolicyConfig
from specprune_ros.vla.cuda_graphs import GraphCache
from specprune_ros.vla.heads import FusedProjector, L1RegressionActionHead, ProprioProjector
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.vision import FusedVisionBackbone


def llama_config(cfg: PolicyConfig) -> LlamaConfig:
    """transformers LlamaConfig of the policy's decoder (sdpa attention)."""
    llm = cfg.llm
    return LlamaConfig(
        hidden_size=llm.hidden_size, intermediate_size=llm.intermediate_size,
        num_hidden_layers=llm.num_layers, num_attention_heads=llm.num_heads,
        num_key_value_heads=llm.num_kv_heads, vocab_size=llm.vocab_size,
        rms_norm_eps=llm.rms_norm_eps, max_position_embeddings=llm.max_position_embeddings,
        rope_theta=llm.rope_theta, attn_implementation='sdpa')


@dataclass
class LoopState:
    """Rows flowing through the decoder; ``kept[r]`` is the original position of row r."""

    hidden: torch.Tensor  # (1, L', D)
    cos: torch.Tensor  # (1, L', head_dim), rows of the original positions
    sin: torch.Tensor  # (1, L', head_dim)
    kept: torch.Tensor  # (L',) sorted original positions
    # (L,) bool over ORIGINAL positions: False marks a padding row; None: every row is real
    alive: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # a StepHook's device state

    def gather(self, rows: torch.Tensor) -> None:
        """Keep ``rows`` (sorted row indices) of every per-token tensor together."""
        self.hidden = self.hidden.index_select(1, rows)
        self.cos = self.cos.index_select(1, rows)
        self.sin = self.sin.index_select(1, rows)
        self.kept = self.kept.index_select(0, rows)

    def row_alive(self) -> torch.Tensor | None:
        """(L',) bool: which rows are real tokens; None when all are."""
        return None if self.alive is None else self.alive.index_select(0, self.kept)

    def key_mask(self) -> torch.Tensor | None:
        """SDPA mask (1, 1, 1, L'): every query attends to the real rows only; None: to all."""
        alive = self.row_alive()
        return None if alive is None else alive.view(1, 1, 1, -1)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor by name (the inputs and outputs of a captured layer range)."""
        out = {'hidden': self.hidden, 'cos': self.cos, 'sin': self.sin, 'kept': self.kept}
        if self.alive is not None:
            out['alive'] = self.alive
        out.update({f'extra.{k}': v for k, v in self.extra.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> 'LoopState':
        """Inverse of :meth:`to_tensors`."""
        extra = {k[len('extra.'):]: v for k, v in tensors.items() if k.startswith('extra.')}
        return cls(tensors['hidden'], tensors['cos'], tensors['sin'], tensors['kept'],
                   tensors.get('alive'), extra)


class LayerHook(Protocol):
    """The seam where pruning plugs into the layer loop."""

    def before_layer(self, layer: int, state: LoopState) -> torch.Tensor | None:
        """Rows to keep before ``layer`` runs (sorted), or None to keep all."""

    def wants_qk(self, layer: int) -> bool:
        """Whether ``after_layer`` needs this layer's q/k projections."""

    def after_layer(self, layer: int, state: LoopState, q: torch.Tensor | None,
                    k: torch.Tensor | None) -> None:
        """Observe a finished layer; q: (1, L', H·hd), k: (1, L', KV·hd) before RoPE."""


@runtime_checkable
class StepHook(LayerHook, Protocol):
    """A LayerHook whose per-step device state lives in ``LoopState.extra``.

    Between ``begin`` and ``finish`` (plain Python, every step) the layers run in ranges split
    at ``sync_layers``; ``sync`` may read the device there (a host sync) to size the next
    range. Each range is a CUDA graph under ``VLAModel.graphs``, keyed by ``graph_key``, so
    ``before_layer``/``after_layer`` must not read the device or build host tensors.
    """

    def begin(self, state: LoopState) -> None:
        """Put this step's device inputs and state into ``state.extra``."""

    def sync_layers(self) -> tuple[int, ...]:
        """Layers before which :meth:`sync` runs on the host."""

    def sync(self, layer: int, state: LoopState) -> None:
        """Host work between layer ranges (may read the device)."""

    def graph_key(self, start: int, stop: int) -> Hashable:
        """Everything on the host that shapes layers ``start..stop-1``."""

    def finish(self, state: LoopState) -> None:
        """Take the final state's outputs."""


class _QKCapture:
    """Forward hooks that keep a layer's q_proj/k_proj outputs while armed (no recompute)."""

    def __init__(self, llm: LlamaModel) -> None:
        self.armed: int | None = None
        self.q: torch.Tensor | None = None
        self.k: torch.Tensor | None = None
        for i, layer in enumerate(llm.layers):
            layer.self_attn.q_proj.register_forward_hook(self._hook(i, 'q'))
            layer.self_attn.k_proj.register_forward_hook(self._hook(i, 'k'))

    def _hook(self, layer: int, which: str):
        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            if self.armed == layer:
                setattr(self, which, output)
        return keep

    def take(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        q, k, self.q, self.k, self.armed = self.q, self.k, None, None, None
        return q, k


class VLAModel(nn.Module):
    """Vision backbone → projector → Llama (bidirectional) → action head."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.llm.hidden_size
        self.vision_backbone = FusedVisionBackbone(cfg)
        self.projector = FusedProjector(cfg.vision_dim, dim)
        self.llm = LlamaModel(llama_config(cfg))
        self.proprio_projector = ProprioProjector(cfg.proprio_dim, dim)
        self.action_head = L1RegressionActionHead(dim, cfg.action_dim)
        self._qk = _QKCapture(self.llm)
        self.graphs: GraphCache | None = None  # set to replay CUDA graphs (CUDA only)

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return self.projector.fc1.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the weights."""
        return self.projector.fc1.weight.dtype

    def encode_images(self, pixels_dino: torch.Tensor, pixels_siglip: torch.Tensor
                      ) -> torch.Tensor:
        """(V, 3, S, S) per backbone → projected patch embeddings (V·P, D), view-major.

        Under :attr:`graphs` the result is the graph's output buffer: use it before the next
        step.
        """
        def encode(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            feats = self.vision_backbone(t['dino'], t['siglip'])  # (V, P, Dv)
            return {'patches': self.projector(feats).flatten(0, 1)}  # (V·P, D)

        pixels = {'dino': pixels_dino, 'siglip': pixels_siglip}
        if self.graphs is None:
            return encode(pixels)['patches']
        return self.graphs.run(('vision',), encode, pixels)['patches']

    def build_embeddings(self, layout: TokenLayout, patches: torch.Tensor,
                         proprio: torch.Tensor, prompt_ids: torch.Tensor, bos_id: int,
                         eos_id: int) -> torch.Tensor:
        """Assemble the (1, L, D) input embeddings by the layout; action slots are zero."""
        embed = self.llm.embed_tokens
        dim = patches.shape[-1]
        out = patches.new_zeros(layout.total, dim)
        # rows of the embedding table (nn.Embedding without max_norm): no host tensor to upload
        special = embed.weight[bos_id], embed.weight[eos_id]
        out[layout.bos] = special[0]
        out[layout.visual] = patches
        out[layout.proprio] = self.proprio_projector(proprio.to(patches.dtype))
        out[layout.prompt] = embed(prompt_ids)
        out[layout.eos] = special[1]
        return out.unsqueeze(0)

    def run_llm(self, embeds: torch.Tensor, hook: LayerHook | None = None) -> LoopState:
        """Run every decoder layer on ``embeds`` (1, L, D); returns the final, normed rows.

        Layer ranges run as CUDA graphs when :attr:`graphs` is set and the hook (if any) is a
        :class:`StepHook`; the returned rows are then the graph's buffers (use them before the
        next step).
        """
        length = embeds.shape[1]
        positions = torch.arange(length, device=embeds.device)
        cos, sin = self.llm.rotary_emb(embeds, positions.unsqueeze(0))  # (1, L, hd) each
        state = LoopState(embeds, cos, sin, positions)
        staged = isinstance(hook, StepHook)
        num_layers = len(self.llm.layers)
        syncs = set(hook.sync_layers()) if staged else set()
        if staged:
            hook.begin(state)
        bounds = sorted({0, num_layers} | {s for s in syncs if 0 < s < num_layers})
        for start, stop in itertools.pairwise(bounds):
            if start in syncs:
                hook.sync(start, state)
            state = self._run_range(state, hook, start, stop, staged)
        if staged:
            hook.finish(state)
        return state

    def _run_range(self, state: LoopState, hook: LayerHook | None, start: int, stop: int,
                   staged: bool) -> LoopState:
        """Layers ``start..stop-1`` (+ the final norm at the end), eagerly or as a graph."""
        def run(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return self._layers(LoopState.from_tensors(tensors), hook, start, stop).to_tensors()

        if self.graphs is None or not (hook is None or staged):
            return self._layers(state, hook, start, stop)
        key = ('llm', start, stop, hook.graph_key(start, stop) if staged else None)
        return LoopState.from_tensors(self.graphs.run(key, run, state.to_tensors()))

    def _layers(self, state: LoopState, hook: LayerHook | None, start: int, stop: int
                ) -> LoopState:
        for i in range(start, stop):
            if hook is not None:
                rows = hook.before_layer(i, state)
                if rows is not None:
                    state.gather(rows)
            want_qk = hook is not None and hook.wants_qk(i)
            self._qk.armed = i if want_qk else None
            state.hidden = self.llm.layers[i](
                state.hidden, attention_mask=state.key_mask(),
                position_embeddings=(state.cos, state.sin), is_causal=False)
            if hook is not None:
                q, k = self._qk.take() if want_qk else (None, None)
                hook.after_layer(i, state, q, k)
        if stop == len(self.llm.layers):
            state.hidden = self.llm.norm(state.hidden)
        return state

    def decode_actions(self, state: LoopState, layout: TokenLayout) -> torch.Tensor:
        """Normalised (H, D) chunk from the ``layout.action_queries`` rows (by original position).

        Those are the rows just before the action slots (OFT's causal-LM training convention);
        an action query that was pruned raises instead of reading another token.
        """
        queries = layout.indices(layout.action_queries, state.kept.device)
        rows = TokenLayout.rows_of(state.kept, queries)
        return self.action_head(state.hidden[0].index_select(0, rows))


def place(model: VLAModel, device: torch.device, dtype: torch.dtype) -> VLAModel:
    """Move and cast for inference; the RoPE inverse frequencies stay float32.

    ``Module.to(bfloat16)`` would also round the rotary ``inv_freq`` buffers, which shifts the
    rotation angles of late positions by radians; transformers keeps them in float32 too.
    """
    rotary = model.llm.rotary_emb
    keep = {name: buf.detach().float().clone() for name, buf in rotary.named_buffers()}
    model = model.to(device=device, dtype=dtype)
    for name, buf in keep.items():
        setattr(rotary, name, buf.to(device))
    return model.eval().requires_grad_(False)


def build_model(cfg: PolicyConfig) -> VLAModel:
    """Deterministically random-initialised model (seeded), on the config's device/dtype.

    On CUDA the weights are created on the GPU (a 7B model never passes through host memory
    in float32); on the CPU they are created in float32 and cast.
    """
    device = cfg.torch_device()
    where = torch.device(device) if device.type == 'cuda' else contextlib.nullcontext()
    with torch.random.fork_rng(devices=[device] if device.type == 'cuda' else []), where:
        torch.manual_seed(cfg.seed)
        model = VLAModel(cfg)
    return place(model, device, cfg.torch_dtype())


def meta_model(cfg: PolicyConfig) -> VLAModel:
    """Build a model whose parameters are on ``meta`` (no weight memory).

    Allocate them with :func:`materialise`, then fill them; buffers (rotary frequencies,
    position ids) are real: accelerate's ``init_empty_weights(include_buffers=False)``.
    The global RNG is left untouched.
    """
    with torch.random.fork_rng(devices=[]), init_empty_weights(include_buffers=False):
        return VLAModel(cfg)


def materialise(model: VLAModel, device: torch.device, dtype: torch.dtype) -> VLAModel:
    """Replace every meta parameter by an empty one on ``device`` (shared ones stay shared)."""
    made: dict[int, nn.Parameter] = {}
    for module in model.modules():
        for name, p in module._parameters.items():
            if p is not None:
                if id(p) not in made:
                    made[id(p)] = nn.Parameter(torch.empty(p.shape, device=device, dtype=dtype),
                                               requires_grad=False)
                module._parameters[name] = made[id(p)]
    return place(model, device, dtype)
