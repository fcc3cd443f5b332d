"""Model configuration: OpenVLA-OFT-shaped policies and the built-in presets."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TYPE_CHECKING

from specprune_ros.errors import ModelConfigError

if TYPE_CHECKING:  # torch is imported where a device is resolved; the presets stay torch-free
    import torch


@dataclass(frozen=True)
class VisionTowerConfig:
    """One ViT tower; ``depth`` counts every block in the checkpoint (the last is unused)."""

    hidden_size: int
    depth: int
    num_heads: int
    mlp_size: int
    num_registers: int = 0  # DINOv2-reg: 4 registers + 1 class token; SigLIP: no prefix


@dataclass(frozen=True)
class LLMConfig:
    """Llama decoder shape."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    max_position_embeddings: int = 2048


@dataclass(frozen=True)
class PolicyConfig:
    """Everything needed to build an OpenVLA-OFT-family policy (no download)."""

    name: str
    dino: VisionTowerConfig
    siglip: VisionTowerConfig
    llm: LLMConfig
    image_size: int = 224
    patch_size: int = 14
    num_views: int = 2
    proprio_dim: int = 8
    action_dim: int = 7
    horizon: int = 8
    seed: int = 0
    device: str = 'auto'  # 'auto' → cuda if available else cpu
    dtype: str = 'auto'  # 'auto' → bfloat16 on cuda, float32 on cpu
    center_crop: bool = False  # OFT's 90%-area center crop (for models trained with it)
    jpeg_roundtrip: bool = False  # JPEG round trip before the resize (frames not image_size)
    tokenizer: str = 'byte'  # 'byte' (built-in), 'word' (vocabulary saved with the model) or 'hf'
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = {'image_size': self.image_size, 'patch_size': self.patch_size,
                 'proprio_dim': self.proprio_dim, 'action_dim': self.action_dim,
                 'horizon': self.horizon,
                 **{f'llm.{k}': v for k, v in vars(self.llm).items() if isinstance(v, int)},
                 **{f'{tower}.{k}': v for tower in ('dino', 'siglip')
                    for k, v in vars(getattr(self, tower)).items() if k != 'num_registers'}}
        bad = {k: v for k, v in sizes.items() if v < 1}
        if bad:
            raise ModelConfigError(f'sizes must be positive integers, got {bad}')
        if self.dino.num_registers < 0:
            raise ModelConfigError(f'dino.num_registers must be >= 0, got '
                                   f'{self.dino.num_registers}')
        if self.image_size % self.patch_size:
            raise ModelConfigError(f'image_size {self.image_size} must be a multiple of '
                                   f'patch_size {self.patch_size}')
        llm = self.llm
        if llm.hidden_size % llm.num_heads or llm.num_heads % llm.num_kv_heads:
            raise ModelConfigError('llm.hidden_size must divide by num_heads and num_heads by '
                                   f'num_kv_heads, got {llm}')
        if self.num_views != 2:
            raise ModelConfigError(f'num_views must be 2 (third-person + wrist), got '
                                   f'{self.num_views}')

    @property
    def patches_per_view(self) -> int:
        """Patch tokens per camera view (256 at 224 px / 14 px)."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def vision_dim(self) -> int:
        """Channel-wise fused feature size (1024 + 1152 = 2176 for OFT)."""
        return self.dino.hidden_size + self.siglip.hidden_size

    def torch_device(self) -> torch.device:
        """The resolved device."""
        import torch

        if self.device == 'auto':
            return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
        return torch.device(self.device)

    def torch_dtype(self) -> torch.dtype:
        """The resolved dtype: bfloat16 on CUDA, float32 on CPU unless set."""
        import torch

        if self.dtype == 'auto':
            return torch.bfloat16 if self.torch_device().type == 'cuda' else torch.float32
        dtypes = {'float32': torch.float32, 'bfloat16': torch.bfloat16,
                  'float16': torch.float16}
        if self.dtype not in dtypes:
            raise ModelConfigError(f'dtype {self.dtype!r} is not one of {sorted(dtypes)}')
        return dtypes[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'PolicyConfig':
        """Inverse of :meth:`to_dict`; unknown or missing fields raise ModelConfigError."""
        try:
            data = dict(data)
            data['dino'] = VisionTowerConfig(**data['dino'])
            data['siglip'] = VisionTowerConfig(**data['siglip'])
            data['llm'] = LLMConfig(**data['llm'])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise ModelConfigError(f'invalid policy config: {exc}') from exc

    def replace(self, **changes: Any) -> 'PolicyConfig':
        """Copy with changes; an unknown field name raises ModelConfigError."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise ModelConfigError(f'unknown PolicyConfig field(s) {unknown}; expected some of '
                                   f'{names}')
        return dataclasses.replace(self, **changes)


BYTE_VOCAB = 259  # pad, BOS, EOS + 256 byte values

PRESETS: dict[str, PolicyConfig] = {
    # Tests: a forward well under a second on two CPU cores; real token counts.
    'tiny': PolicyConfig(
        name='tiny',
        dino=VisionTowerConfig(64, 3, 2, 256, num_registers=4),
        siglip=VisionTowerConfig(64, 3, 2, 256),
        llm=LLMConfig(128, 6, 4, 2, 344, BYTE_VOCAB),
    ),
    # CPU benchmarks: about one second per step on two cores. Deep enough (16 layers) that,
    # as in the 32-layer original, the two unpruned layers are a small part of the LLM.
    'small': PolicyConfig(
        name='small',
        dino=VisionTowerConfig(256, 5, 4, 1024, num_registers=4),
        siglip=VisionTowerConfig(288, 5, 4, 1152),
        llm=LLMConfig(768, 16, 12, 12, 2048, BYTE_VOCAB),
    ),
    # Trainable on two CPU cores (specprune-train on LIBERO demos): the real 2 x 256 patch grid
    # and sequence layout, tiny towers (one built block each), a narrow 12-layer LLM so that the
    # static layer 2 and later prune layers exist. Trained with crop augmentation (centre crop
    # at inference); specprune-train swaps the byte vocabulary for a word tokenizer's.
    'libero-demo': PolicyConfig(
        name='libero-demo',
        dino=VisionTowerConfig(32, 2, 2, 128, num_registers=4),
        siglip=VisionTowerConfig(32, 2, 2, 128),
        llm=LLMConfig(64, 12, 2, 2, 176, BYTE_VOCAB),
        center_crop=True, jpeg_roundtrip=True,
    ),
    # The real OpenVLA-OFT shape (DINOv2 ViT-L/14-reg4 + SigLIP so400m/14 + Llama-2-7B).
    'oft-7b': PolicyConfig(
        name='oft-7b',
        dino=VisionTowerConfig(1024, 24, 16, 4096, num_registers=4),
        siglip=VisionTowerConfig(1152, 27, 16, 4304),
        llm=LLMConfig(4096, 32, 32, 32, 11008, 32064),
    ),
}


def get_preset(name: str, **overrides: Any) -> PolicyConfig:
    """A built-in preset by name, with optional field overrides."""
    if name not in PRESETS:
        raise ModelConfigError(f'unknown preset {name!r}; expected one of {sorted(PRESETS)}')
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
