"""Text tokenizers: byte-level and word-level ones for the built-in models, a wrapper for HF."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterable
import re
from typing import Any, Protocol

from specprune_ros.errors import ModelConfigError


class TextTokenizer(Protocol):
    """What the policy needs from a tokenizer."""

    bos_id: int
    eos_id: int

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids (no special tokens) and each token's [start, end) character span."""


class ByteTokenizer:
    """UTF-8 byte-level tokenizer: ids 0/1/2 are pad/BOS/EOS, byte b is id b + 3."""

    pad_id = 0
    bos_id = 1
    eos_id = 2
    offset = 3
    vocab_size = 259

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Encode ``text``; every byte of a character carries that character's span."""
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        for pos, char in enumerate(text):
            for byte in char.encode('utf-8'):
                ids.append(byte + self.offset)
                spans.append((pos, pos + 1))
        return ids, spans


class WordTokenizer:
    r"""Word-level tokenizer over a fixed vocabulary (the prompts of a training set).

    A token is a run of word characters or one punctuation mark (regex ``\w+|[^\w\s]``);
    whitespace separates tokens and is not a token. Ids 0/1/2/3 are pad/BOS/EOS/unknown, word
    ``vocab[i]`` is id i + 4. OFT's LIBERO prompt is about 30 tokens this way (~130 bytes).
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3
    offset = 4
    _TOKEN = re.compile(r'\w+|[^\w\s]')

    def __init__(self, vocab: Iterable[str]) -> None:
        self.vocab = tuple(vocab)
        bad = [w for w in self.vocab if not isinstance(w, str)
               or [m.group() for m in self._TOKEN.finditer(w)] != [w]]
        if bad:
            raise ModelConfigError(f'word vocabulary entries must each be one token, got '
                                   f'{bad[:5]}')
        if len(set(self.vocab)) != len(self.vocab):
            raise ModelConfigError('word vocabulary has duplicate entries')
        self._ids = {w: i + self.offset for i, w in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        """Number of ids (special ids included)."""
        return self.offset + len(self.vocab)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> 'WordTokenizer':
        """The vocabulary of ``texts``, sorted (so equal sets of texts give equal ids)."""
        return cls(sorted({m.group() for t in texts for m in cls._TOKEN.finditer(t)}))

    def unknown(self, text: str) -> list[str]:
        """Tokens of ``text`` that are not in the vocabulary (they encode as ``unk_id``)."""
        return [m.group() for m in self._TOKEN.finditer(text) if m.group() not in self._ids]

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids and each token's [start, end) character span; unknown words → unk_id."""
        found = list(self._TOKEN.finditer(text))
        return ([self._ids.get(m.group(), self.unk_id) for m in found],
                [m.span() for m in found])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (saved with a model)."""
        return {'type': 'word', 'vocab': list(self.vocab)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'WordTokenizer':
        """Inverse of :meth:`to_dict`; a malformed entry raises ModelConfigError."""
        if not isinstance(data, dict) or data.get('type') != 'word' or not isinstance(
                data.get('vocab'), list):
            raise ModelConfigError(f'expected {{"type": "word", "vocab": [...]}}, got '
                                   f'{str(data)[:80]}')
        return cls(data['vocab'])


class HFTokenizer:
    """Adapter for a ``transformers`` fast tokenizer loaded from local files."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        self.bos_id = int(tokenizer.bos_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        # OpenVLA/OFT end the prompt with Llama-2's empty token '▁' (id 29871) after 'Out:'
        space = tokenizer.convert_tokens_to_ids('▁')
        self._space_id = None if space in (None, tokenizer.unk_token_id) else int(space)

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Encode without special tokens, with character offsets (plus OFT's trailing '▁')."""
        enc = self._tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc['input_ids'])
        spans = [tuple(o) for o in enc['offset_mapping']]
        if self._space_id is not None and (not ids or ids[-1] != self._space_id):
            ids.append(self._space_id)
            spans.append((len(text), len(text)))
        return ids, spans


def oft_prompt(instruction: str) -> tuple[str, tuple[int, int]]:
    """OFT's prompt for ``instruction`` and the character span of the task text in it."""
    task = instruction.strip().lower()
    head = 'In: What action should the robot take to '
    prompt = f'{head}{task}?\nOut:'
    return prompt, (len(head), len(head) + len(task))
