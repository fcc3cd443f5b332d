"""OFT's small MLPs: vision projector, proprio projector, MLPResNet L1-regression action head.

Attribute names follow the checkpoint keys (``projector.fc1``, ``module.fc1``,
``module.model.mlp_resnet_blocks.0.ffn.1``) so the loader maps them one to one.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import torch
from torch import nn


class FusedProjector(nn.Module):
    """fc1 (Dv → 4·Dv), GELU, fc2 (→ D), GELU, fc3 (D → D)."""

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(vision_dim, 4 * vision_dim)
        self.fc2 = nn.Linear(4 * vision_dim, llm_dim)
        self.fc3 = nn.Linear(llm_dim, llm_dim)
        self.act_fn1 = nn.GELU()
        self.act_fn2 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., Dv) → (..., D)."""
        return self.fc3(self.act_fn2(self.fc2(self.act_fn1(self.fc1(x)))))


class ProprioProjector(nn.Module):
    """fc1 (P → D), GELU, fc2 (D → D)."""

    def __init__(self, proprio_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(proprio_dim, llm_dim)
        self.fc2 = nn.Linear(llm_dim, llm_dim)
        self.act_fn1 = nn.GELU()

    def forward(self, proprio: torch.Tensor) -> torch.Tensor:
        """(..., P) → (..., D)."""
        return self.fc2(self.act_fn1(self.fc1(proprio)))


class MLPResNetBlock(nn.Module):
    """x + ReLU(Linear(LayerNorm(x)))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual MLP block."""
        return x + self.ffn(x)


class MLPResNet(nn.Module):
    """LayerNorm → Linear → ReLU → blocks → LayerNorm → Linear."""

    def __init__(self, num_blocks: int, input_dim: int, hidden_dim: int, output_dim: int) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(input_dim)
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.relu = nn.ReLU()
        self.mlp_resnet_blocks = nn.ModuleList(MLPResNetBlock(hidden_dim)
                                               for _ in range(num_blocks))
        self.layer_norm2 = nn.LayerNorm(hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., input_dim) → (..., output_dim)."""
        x = self.relu(self.fc1(self.layer_norm1(x)))
        for block in self.mlp_resnet_blocks:
            x = block(x)
        return self.fc2(self.layer_norm2(x))


class L1RegressionActionHead(nn.Module):
    """Maps the H·D action-query hidden states (``TokenLayout.action_queries``) to an H×D chunk."""

    def __init__(self, llm_dim: int, action_dim: int, num_blocks: int = 2) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.model = MLPResNet(num_blocks, llm_dim * action_dim, llm_dim, action_dim)

    def forward(self, slot_hidden: torch.Tensor) -> torch.Tensor:
        """(H·D, dim) → (H, D): chunk step h reads query rows h·D … h·D + D − 1."""
        per_step = slot_hidden.reshape(-1, self.action_dim * slot_hidden.shape[-1])  # (H, D·dim)
        return self.model(per_step)
