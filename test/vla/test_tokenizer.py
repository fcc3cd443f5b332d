"""Tests of the text tokenizers and OFT's prompt (specprune_ros.vla.tokenizer)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from itertools import pairwise

from checkpoint_builder import make_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from tokenizers import models, pre_tokenizers, processors, Tokenizer
from transformers import PreTrainedTokenizerFast

from specprune_ros.errors import ModelConfigError
from specprune_ros.vla.tokenizer import ByteTokenizer, HFTokenizer, oft_prompt, WordTokenizer

HEAD = 'In: What action should the robot take to '
SPACE = '\u2581'  # Llama's '▁'
INSTRUCTIONS = [
    'pick up the black bowl between the plate and the ramekin and place it on the plate',
    'Put both the Alphabet Soup and the TOMATO SAUCE in the basket',
    '  open the top drawer and put the bowl inside.  ',
    'turn on the stove, then put the moka pot on it!',
    'Pick up the ketchup (the red bottle) and place it in the basket?',
    '\tstack the 2 blocks\n',
    'İstanbul-style: put the crème brûlée on the plate',  # lower() changes the length
    'x',
]


@pytest.fixture(scope='module')
def hf_raw() -> PreTrainedTokenizerFast:
    """Build the tiny Llama-style BPE tokenizer that the checkpoint tests write."""
    return make_tokenizer()


@pytest.fixture(scope='module')
def hf(hf_raw: PreTrainedTokenizerFast) -> HFTokenizer:
    """Wrap ``hf_raw`` in the adapter."""
    return HFTokenizer(hf_raw)


def task_tokens(spans: list[tuple[int, int]], c0: int, c1: int) -> list[int]:
    """Return the tokens whose span overlaps [c0, c1) (the policy's task-token rule)."""
    return [i for i, (s, e) in enumerate(spans) if s < c1 and e > c0]


# --- oft_prompt --------------------------------------------------------------------------------

def test_oft_prompt_literal() -> None:
    prompt, span = oft_prompt('Open the top drawer of the cabinet')
    assert prompt == ('In: What action should the robot take to open the top drawer of the '
                      'cabinet?\nOut:')
    assert span == (41, 75)


@pytest.mark.parametrize('instruction', INSTRUCTIONS)
def test_oft_prompt_span_indexes_the_normalised_task(instruction: str) -> None:
    prompt, (c0, c1) = oft_prompt(instruction)
    task = instruction.strip().lower()
    assert prompt == f'{HEAD}{task}?\nOut:'
    assert prompt[c0:c1] == task
    assert prompt[:c0] == HEAD and prompt[c1:] == '?\nOut:'


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_oft_prompt_span_property(instruction: str) -> None:
    prompt, (c0, c1) = oft_prompt(instruction)
    assert prompt[c0:c1] == instruction.strip().lower()
    assert prompt.startswith(HEAD) and prompt.endswith('?\nOut:')
    assert c0 == len(HEAD) and c1 == len(prompt) - len('?\nOut:')


# --- ByteTokenizer -----------------------------------------------------------------------------

def test_byte_tokenizer_special_ids() -> None:
    tok = ByteTokenizer()
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.offset) == (0, 1, 2, 3)
    assert tok.vocab_size == 256 + tok.offset
    assert tok.encode('') == ([], [])


def test_byte_tokenizer_examples() -> None:
    tok = ByteTokenizer()
    assert tok.encode('Ab ') == ([65 + 3, 98 + 3, 32 + 3], [(0, 1), (1, 2), (2, 3)])
    ids, spans = tok.encode('é🤖!')  # 2-byte, 4-byte and 1-byte characters
    assert ids == [0xC3 + 3, 0xA9 + 3, 0xF0 + 3, 0x9F + 3, 0xA4 + 3, 0x96 + 3, ord('!') + 3]
    assert spans == [(0, 1)] * 2 + [(1, 2)] * 4 + [(2, 3)]
    assert tok.encode('\x00')[0] == [3]  # byte 0 is not the pad id
    assert tok.encode('\xff')[0] == [0xC3 + 3, 0xBF + 3]  # ids stay below vocab_size


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_byte_tokenizer_round_trips_any_text(text: str) -> None:
    tok = ByteTokenizer()
    ids, spans = tok.encode(text)
    data = text.encode('utf-8')
    assert len(ids) == len(spans) == len(data)
    assert all(tok.offset <= i < tok.vocab_size for i in ids)  # never pad/BOS/EOS
    assert bytes(i - tok.offset for i in ids).decode('utf-8') == text
    assert spans == sorted(spans)
    for pos, char in enumerate(text):
        owned = [i for i, span in enumerate(spans) if span == (pos, pos + 1)]
        assert bytes(ids[i] - tok.offset for i in owned) == char.encode('utf-8')


@pytest.mark.parametrize('instruction', INSTRUCTIONS)
def test_byte_tokenizer_task_tokens_are_exactly_the_task(instruction: str) -> None:
    tok = ByteTokenizer()
    prompt, (c0, c1) = oft_prompt(instruction)
    ids, spans = tok.encode(prompt)
    task = task_tokens(spans, c0, c1)
    assert task == list(range(task[0], task[-1] + 1))  # contiguous
    assert bytes(ids[i] - tok.offset for i in task).decode() == instruction.strip().lower()


# --- HFTokenizer -------------------------------------------------------------------------------

def test_hf_special_ids(hf: HFTokenizer, hf_raw: PreTrainedTokenizerFast) -> None:
    assert hf.bos_id == hf_raw.bos_token_id and hf.eos_id == hf_raw.eos_token_id
    assert hf_raw.convert_ids_to_tokens([hf.bos_id, hf.eos_id]) == ['<s>', '</s>']
    assert isinstance(hf.bos_id, int) and isinstance(hf.eos_id, int)


@pytest.mark.parametrize('instruction', INSTRUCTIONS[:5])
def test_hf_appends_ofts_trailing_space_token(hf: HFTokenizer,
                                              hf_raw: PreTrainedTokenizerFast,
                                              instruction: str) -> None:
    prompt, _ = oft_prompt(instruction)
    space = hf_raw.convert_tokens_to_ids(SPACE)
    assert space not in (None, hf_raw.unk_token_id)
    raw = hf_raw(prompt, add_special_tokens=False)['input_ids']
    assert raw[-1] != space  # '...Out:' does not end with '▁' by itself
    ids, spans = hf.encode(prompt)
    assert ids == raw + [space]
    assert hf_raw.convert_ids_to_tokens(ids[-1]) == SPACE
    assert spans[-1] == (len(prompt), len(prompt))  # empty span after the text
    assert len(spans) == len(ids)
    assert hf.bos_id not in ids and hf.eos_id not in ids  # no special tokens


def test_hf_does_not_double_a_trailing_space_token(hf: HFTokenizer,
                                                   hf_raw: PreTrainedTokenizerFast) -> None:
    space = hf_raw.convert_tokens_to_ids(SPACE)
    raw = hf_raw('Out: ', add_special_tokens=False)['input_ids']
    assert raw[-1] == space
    ids, spans = hf.encode('Out: ')
    assert ids == raw and ids.count(space) == raw.count(space)
    assert len(spans) == len(ids)
    assert hf.encode('') == ([space], [(0, 0)])


@pytest.mark.parametrize('instruction', INSTRUCTIONS[:5])
def test_hf_spans_tile_the_prompt_and_find_the_task(hf: HFTokenizer,
                                                    hf_raw: PreTrainedTokenizerFast,
                                                    instruction: str) -> None:
    prompt, (c0, c1) = oft_prompt(instruction)
    ids, spans = hf.encode(prompt)
    text_spans = spans[:-1]
    assert text_spans[0][0] == 0 and text_spans[-1][1] == len(prompt)
    assert all(a[1] == b[0] for a, b in pairwise(text_spans))  # contiguous
    assert all(isinstance(s, tuple) and s[0] < s[1] for s in text_spans)
    tokens = hf_raw.convert_ids_to_tokens(ids)
    for (s, e), token in zip(text_spans, tokens):
        assert prompt[s:e].replace(' ', SPACE).endswith(token.lstrip(SPACE))
    task = task_tokens(spans, c0, c1)
    assert task and len(ids) - 1 not in task  # the appended '▁' is never a task token
    covered = prompt[spans[task[0]][0]:spans[task[-1]][1]]
    assert instruction.strip().lower() in covered
    assert all(spans[i][1] <= c0 for i in range(task[0]))  # the head stays outside
    assert all(spans[i][0] >= c1 for i in range(task[-1] + 1, len(spans)))


def test_hf_leaves_bos_to_the_model_even_if_the_tokenizer_adds_it() -> None:
    # Llama-2's tokenizer.json prepends <s> by default; the policy places BOS itself.
    tok = make_tokenizer()
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', tok.bos_token_id)])
    prompt, _ = oft_prompt('open the top drawer')
    assert tok(prompt)['input_ids'][0] == tok.bos_token_id
    ids, spans = HFTokenizer(tok).encode(prompt)
    plain = make_tokenizer()
    assert (ids, spans) == HFTokenizer(plain).encode(prompt)
    assert tok.bos_token_id not in ids


def test_hf_without_a_space_token_appends_nothing() -> None:
    vocab = {'<unk>': 0, '<s>': 1, '</s>': 2, 'open': 3, 'the': 4, 'drawer': 5}
    raw = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token='<unk>', bos_token='<s>',
                                   eos_token='</s>')
    tok = HFTokenizer(fast)
    assert (tok.bos_id, tok.eos_id) == (1, 2)
    ids, spans = tok.encode('open the drawer')
    assert ids == [3, 4, 5]
    assert spans == [(0, 4), (5, 8), (9, 15)]
    assert tok.encode('open a drawer')[0] == [3, 0, 5]  # unknown words stay unk, nothing added


# --- WordTokenizer -----------------------------------------------------------------------------

LIBERO_SPATIAL = [
    'pick up the black bowl between the plate and the ramekin and place it on the plate',
    'pick up the black bowl next to the ramekin and place it on the plate',
    'pick up the black bowl on the wooden cabinet and place it on the plate',
]


@pytest.fixture(scope='module')
def word() -> WordTokenizer:
    """A word tokenizer over the OFT prompts of three LIBERO-Spatial tasks."""
    return WordTokenizer.from_texts(oft_prompt(i)[0] for i in LIBERO_SPATIAL)


def test_word_tokenizer_ids_and_spans(word: WordTokenizer) -> None:
    assert (word.pad_id, word.bos_id, word.eos_id, word.unk_id, word.offset) == (0, 1, 2, 3, 4)
    assert word.vocab == tuple(sorted(word.vocab)) and word.vocab_size == 4 + len(word.vocab)
    prompt, _ = oft_prompt(LIBERO_SPATIAL[0])
    ids, spans = word.encode(prompt)
    assert [prompt[s:e] for s, e in spans] == prompt.replace('?', ' ?').replace(':', ' :').split()
    assert [word.vocab[i - word.offset] for i in ids] == [prompt[s:e] for s, e in spans]
    assert len(ids) == 29 and len(ByteTokenizer().encode(prompt)[0]) == len(prompt) == 129
    assert word.encode('') == ([], [])


@pytest.mark.parametrize('instruction', LIBERO_SPATIAL)
def test_word_tokenizer_task_tokens_are_exactly_the_task(word: WordTokenizer,
                                                         instruction: str) -> None:
    prompt, (c0, c1) = oft_prompt(instruction)
    ids, spans = word.encode(prompt)
    task = task_tokens(spans, c0, c1)
    assert task == list(range(task[0], task[-1] + 1))
    assert ' '.join(word.vocab[ids[i] - word.offset] for i in task) == instruction
    assert word.unk_id not in ids


def test_word_tokenizer_unknown_words_and_round_trip(word: WordTokenizer) -> None:
    ids, _ = word.encode('pick up the zebra!')
    assert ids[3:] == [word.unk_id, word.unk_id] and word.unknown('the zebra!') == ['zebra', '!']
    again = WordTokenizer.from_dict(word.to_dict())
    assert again.vocab == word.vocab
    assert again.encode(oft_prompt(LIBERO_SPATIAL[2])[0]) == word.encode(
        oft_prompt(LIBERO_SPATIAL[2])[0])


def test_word_tokenizer_rejects_bad_vocabularies() -> None:
    with pytest.raises(ModelConfigError, match='one token'):
        WordTokenizer(['two words'])
    with pytest.raises(ModelConfigError, match='duplicate'):
        WordTokenizer(['a', 'a'])
    with pytest.raises(ModelConfigError, match='expected'):
        WordTokenizer.from_dict({'type': 'byte'})
