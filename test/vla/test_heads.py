"""OFT's small MLPs (specprune_ros.vla.heads): layouts, formulas and the action-slot grouping."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from conftest import perturb
import pytest
import torch
import torch.nn.functional as F

from specprune_ros.vla.heads import (
    FusedProjector,
    L1RegressionActionHead,
    MLPResNet,
    MLPResNetBlock,
    ProprioProjector,
)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _lin(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def _ln(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, eps=1e-5)


def _assert_exact_gelu(act: torch.nn.Module) -> None:
    x = torch.linspace(-4.0, 4.0, 161)
    torch.testing.assert_close(act(x), F.gelu(x), atol=1e-7, rtol=0)
    assert (act(x) - F.gelu(x, approximate='tanh')).abs().max() > 1e-4


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_fused_projector_layout_and_formula() -> None:
    proj = FusedProjector(12, 10)
    perturb(proj, 1, 0.3)
    assert _shapes(proj) == {'fc1.weight': (48, 12), 'fc1.bias': (48,),
                             'fc2.weight': (10, 48), 'fc2.bias': (10,),
                             'fc3.weight': (10, 10), 'fc3.bias': (10,)}
    _assert_exact_gelu(proj.act_fn1)
    _assert_exact_gelu(proj.act_fn2)
    x = _randn(2, 5, 12, seed=2)  # leading dims are kept: (views, patches, Dv)
    with torch.no_grad():
        out = proj(x)
        ref = _lin(F.gelu(_lin(F.gelu(_lin(x, proj.fc1)), proj.fc2)), proj.fc3)
        no_act2 = _lin(_lin(F.gelu(_lin(x, proj.fc1)), proj.fc2), proj.fc3)
    assert out.shape == (2, 5, 10)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)
    assert (out - no_act2).abs().max() > 1e-3  # both GELUs are applied


def test_proprio_projector_layout_and_formula() -> None:
    proj = ProprioProjector(8, 16)
    perturb(proj, 3, 0.3)
    assert _shapes(proj) == {'fc1.weight': (16, 8), 'fc1.bias': (16,),
                             'fc2.weight': (16, 16), 'fc2.bias': (16,)}
    _assert_exact_gelu(proj.act_fn1)
    x = _randn(3, 8, seed=4)
    with torch.no_grad():
        out = proj(x)
    assert out.shape == (3, 16)
    torch.testing.assert_close(out, _lin(F.gelu(_lin(x, proj.fc1)), proj.fc2),
                               atol=1e-6, rtol=1e-6)


def test_oft_7b_sizes() -> None:
    """The DESIGN shapes: projector 2176→8704→4096→4096, proprio 8→4096, head 7·4096→4096→7."""
    with torch.device('meta'):
        proj, proprio = FusedProjector(1024 + 1152, 4096), ProprioProjector(8, 4096)
        head = L1RegressionActionHead(4096, 7)
    assert (proj.fc1.in_features, proj.fc1.out_features) == (2176, 8704)
    assert (proj.fc2.out_features, proj.fc3.in_features, proj.fc3.out_features) == (4096,) * 3
    assert (proprio.fc1.in_features, proprio.fc2.out_features) == (8, 4096)
    assert (head.model.fc1.in_features, head.model.fc1.out_features) == (7 * 4096, 4096)
    assert head.model.layer_norm1.normalized_shape == (7 * 4096,)
    assert (head.model.fc2.in_features, head.model.fc2.out_features) == (4096, 7)


def test_mlp_resnet_block_is_residual_relu() -> None:
    block = MLPResNetBlock(6)
    perturb(block, 5, 0.3)
    norm, linear, relu = block.ffn
    assert isinstance(norm, torch.nn.LayerNorm) and isinstance(relu, torch.nn.ReLU)
    x = _randn(4, 6, seed=6)
    with torch.no_grad():
        out = block(x)
        torch.testing.assert_close(out, x + F.relu(_lin(_ln(x, norm), linear)),
                                   atol=1e-6, rtol=1e-6)
        assert (out - x).min() >= 0 and (out - x).max() > 1e-2  # ReLU then skip, not after
        linear.weight.zero_()
        linear.bias.zero_()
        assert torch.equal(block(x), x)  # a zeroed Linear makes the block the identity


def test_mlp_resnet_formula_and_zeroed_blocks() -> None:
    net = MLPResNet(2, 9, 6, 3)
    perturb(net, 7, 0.3)
    x = _randn(5, 9, seed=8)
    with torch.no_grad():
        h = F.relu(_lin(_ln(x, net.layer_norm1), net.fc1))
        for block in net.mlp_resnet_blocks:
            h = h + F.relu(_lin(_ln(h, block.ffn[0]), block.ffn[1]))
        torch.testing.assert_close(net(x), _lin(_ln(h, net.layer_norm2), net.fc2),
                                   atol=1e-6, rtol=1e-6)
        # with every block's Linear zeroed the net equals the same net without blocks
        bare = MLPResNet(0, 9, 6, 3)
        missing, unexpected = bare.load_state_dict(net.state_dict(), strict=False)
        assert missing == [] and all(k.startswith('mlp_resnet_blocks.') for k in unexpected)
        assert (net(x) - bare(x)).abs().max() > 1e-3
        for block in net.mlp_resnet_blocks:
            block.ffn[1].weight.zero_()
            block.ffn[1].bias.zero_()
        torch.testing.assert_close(net(x), bare(x), atol=0, rtol=0)


def test_action_head_layout_matches_checkpoint_keys() -> None:
    head = L1RegressionActionHead(16, 7)
    assert len(head.model.mlp_resnet_blocks) == 2 and head.action_dim == 7
    expected = {'model.layer_norm1.weight': (112,), 'model.layer_norm1.bias': (112,),
                'model.fc1.weight': (16, 112), 'model.fc1.bias': (16,),
                'model.layer_norm2.weight': (16,), 'model.layer_norm2.bias': (16,),
                'model.fc2.weight': (7, 16), 'model.fc2.bias': (7,)}
    for i in range(2):
        expected.update({f'model.mlp_resnet_blocks.{i}.ffn.0.weight': (16,),
                         f'model.mlp_resnet_blocks.{i}.ffn.0.bias': (16,),
                         f'model.mlp_resnet_blocks.{i}.ffn.1.weight': (16, 16),
                         f'model.mlp_resnet_blocks.{i}.ffn.1.bias': (16,)})
    assert _shapes(head) == expected


@pytest.mark.parametrize('horizon', [1, 8])
def test_action_head_groups_consecutive_slots_per_step(horizon: int) -> None:
    dim, action_dim = 16, 3  # 16 ReLUs: a step whose units all die would hide a slot
    head = L1RegressionActionHead(dim, action_dim)
    perturb(head, 9, 0.3)
    # float64: batched and one-row matmuls round differently in float32 (~2e-6 under load)
    head, slots = head.double(), _randn(horizon * action_dim, dim, seed=10).double()
    with torch.no_grad():
        out = head(slots)
        assert out.shape == (horizon, action_dim)
        for h in range(horizon):  # step h = MLPResNet(concat of slots h·D … h·D + D − 1)
            step = slots[h * action_dim:(h + 1) * action_dim].reshape(1, -1)
            torch.testing.assert_close(out[h:h + 1], head.model(step), atol=1e-6, rtol=1e-6)
        for j in range(horizon * action_dim):  # one slot moves only its own step
            moved = slots.clone()
            moved[j] += _randn(dim, seed=100 + j).double()
            changed = (head(moved) - out).abs().amax(dim=1) > 1e-6
            assert changed.tolist() == [h == j // action_dim for h in range(horizon)], j
        swapped = slots.clone()
        swapped[[0, 1]] = slots[[1, 0]]
        assert (head(swapped)[0] - out[0]).abs().max() > 1e-4  # concatenated, not pooled


def test_action_head_rejects_a_partial_step() -> None:
    head = L1RegressionActionHead(5, 3)
    with torch.no_grad(), pytest.raises(RuntimeError):
        head(_randn(8 * 3 + 1, 5, seed=11))


def test_seeded_construction_is_deterministic() -> None:
    def build(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        modules = (FusedProjector(6, 4), ProprioProjector(3, 4), L1RegressionActionHead(4, 2))
        return [p.detach().clone() for m in modules for p in m.parameters()]

    first, again, other = build(0), build(0), build(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    weights = [i for i, p in enumerate(first) if p.dim() == 2]
    assert all(not torch.equal(first[i], other[i]) for i in weights)
