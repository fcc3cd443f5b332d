"""The explicit layer loop equals transformers' own forward; attention is bidirectional."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest
import torch

from specprune_ros.vla.config import get_preset
from specprune_ros.vla.layout import TokenLayout
from specprune_ros.vla.model import build_model


@pytest.fixture(scope='module')
def model():
    """A tiny model with GQA (4 query heads, 2 kv heads)."""
    return build_model(get_preset('tiny', device='cpu'))


def _embeds(model, length: int = 120, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, length, model.cfg.llm.hidden_size, generator=gen)


def test_layer_loop_parity_with_transformers_sdpa(model):
    emb = _embeds(model)
    pos = torch.arange(emb.shape[1]).unsqueeze(0)
    with torch.no_grad():
        ours = model.run_llm(emb).hidden
        ref = model.llm(inputs_embeds=emb, position_ids=pos, is_causal=False).last_hidden_state
    assert (ours - ref).abs().max().item() <= 1e-5


def test_layer_loop_parity_with_eager_explicit_bidirectional_mask(model):
    emb = _embeds(model, seed=1)
    length = emb.shape[1]
    pos = torch.arange(length).unsqueeze(0)
    zeros = torch.zeros(1, 1, length, length)  # additive mask: every query sees every key
    with torch.no_grad():
        ours = model.run_llm(emb).hidden
        model.llm.set_attn_implementation('eager')
        try:
            ref = model.llm(inputs_embeds=emb, position_ids=pos,
                            attention_mask=zeros).last_hidden_state
        finally:
            model.llm.set_attn_implementation('sdpa')
    assert (ours - ref).abs().max().item() <= 1e-5


def test_attention_is_bidirectional(model):
    emb = _embeds(model, seed=2)
    changed = emb.clone()
    changed[:, -1] += 1.0  # only the LAST token changes
    with torch.no_grad():
        a = model.run_llm(emb).hidden
        b = model.run_llm(changed).hidden
    # under causal attention the first token could not see the last one
    assert (a[:, 0] - b[:, 0]).abs().max().item() > 1e-4


def test_action_head_reads_the_action_query_rows_by_position(model):
    # OFT's convention: the rows just BEFORE the action slots (last prompt token .. last slot - 1)
    layout = TokenLayout(2, 256, 20, (5, 12), 56)
    queries = layout.action_queries
    assert (queries.start, queries.stop) == (layout.prompt.stop - 1, layout.actions.stop - 1)
    emb = _embeds(model, length=layout.total, seed=3)
    with torch.no_grad():
        state = model.run_llm(emb)
        ref = model.decode_actions(state, layout)
        assert torch.equal(ref, model.action_head(state.hidden[0, queries]))
        # rows outside the action queries do not matter to the head
        state.hidden[:, :queries.start] = 123.0
        state.hidden[:, queries.stop:] = -7.0  # the last action slot and EOS
        assert torch.equal(model.decode_actions(state, layout), ref)
        # the last prompt token is read: it drives the first dimension of chunk step 0
        last_prompt = state.hidden[:, queries.start].clone()
        state.hidden[:, queries.start] += 1.0
        assert not torch.equal(model.decode_actions(state, layout)[0], ref[0])
        assert torch.equal(model.decode_actions(state, layout)[1:], ref[1:])
        state.hidden[:, queries.start] = last_prompt
        # drop some visual rows: the head still finds the same rows through `kept`
        rows = torch.cat([torch.arange(0, 10), torch.arange(300, layout.total)])
        state.gather(rows)
        assert torch.equal(model.decode_actions(state, layout), ref)
        # dropping an action query is an error, never a silent read of another token
        state.gather(torch.arange(1, state.kept.numel()).index_select(
            0, torch.nonzero(state.kept[1:] != queries.start + 3).flatten()))
        with pytest.raises(RuntimeError, match='not among the kept'):
            model.decode_actions(state, layout)


def test_gqa_shapes(model):
    attn = model.llm.layers[0].self_attn
    assert attn.q_proj.out_features == 2 * attn.k_proj.out_features


def test_seeded_init_is_deterministic():
    a = build_model(get_preset('tiny', device='cpu'))
    b = build_model(get_preset('tiny', device='cpu'))
    c = build_model(get_preset('tiny', device='cpu', seed=1))
    wa, wb, wc = (m.llm.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_bfloat16_keeps_rope_frequencies_float32():
    fp32 = build_model(get_preset('tiny', device='cpu'))
    bf16 = build_model(get_preset('tiny', device='cpu', dtype='bfloat16'))
    assert bf16.projector.fc1.weight.dtype == torch.bfloat16
    for name, buf in bf16.llm.rotary_emb.named_buffers():
        assert buf.dtype == torch.float32, name
        assert torch.equal(buf, dict(fp32.llm.rotary_emb.named_buffers())[name])
    x = torch.zeros(1, 700, bf16.cfg.llm.hidden_size, dtype=torch.bfloat16)
    pos = torch.arange(700).unsqueeze(0)
    cos_bf, _ = bf16.llm.rotary_emb(x, pos)
    cos_32, _ = fp32.llm.rotary_emb(x.float(), pos)
    assert (cos_bf.float() - cos_32).abs().max().item() < 1e-2  # bf16 output rounding only
