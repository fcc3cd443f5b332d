"""Shared builders for the tests: the fixture observation and a tiny policy."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import numpy as np
import pytest
import torch

from specprune_ros.tools.fixtures import load_observation
from specprune_ros.vla.policy import Observation, VLAPolicy


@pytest.fixture(scope='session')
def fixture_obs() -> Observation:
    """The real LIBERO observation."""
    return load_observation()


@pytest.fixture(scope='session')
def tiny_policy() -> VLAPolicy:
    """The built-in tiny policy (float32, CPU), shared by the session: do not mutate."""
    return VLAPolicy.from_preset('tiny', device='cpu')


@torch.no_grad()
def perturb(module: torch.nn.Module, seed: int, scale: float) -> None:
    """Add seeded N(0, scale²) noise to every parameter.

    Zero-initialised tokens and unit LayerNorms would otherwise hide a missing or misplaced
    weight.
    """
    gen = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.add_(scale * torch.randn(p.shape, generator=gen))


def make_obs(obs: Observation, **changes: object) -> Observation:
    """A copy of ``obs`` with fields replaced."""
    fields = dict(images=obs.images, proprio=np.array(obs.proprio), instruction=obs.instruction,
                  stamp=obs.stamp)
    fields.update(changes)
    return Observation(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope='session')
def libero_images(fixture_obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    """The fixture's (third-person, wrist) RGB uint8 224x224 images."""
    return fixture_obs.images
