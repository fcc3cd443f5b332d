"""Text tokenizers: a byte-level one for the built-in models, a wrapper for HF tokenizers."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from typing import Any, Protocol


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
