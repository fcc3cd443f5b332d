"""Host syncs of one pruned step: exactly the documented ones, none inside the layer loop.

On the CPU a ``TorchDispatchMode`` sees every aten op of a real SpecPrune step and records the
ones that make the host wait for the device on a GPU (reading a value, data-dependent output
sizes, boolean-mask gathers, tensors built from host data) with the code that issued them. On a
GPU, ``torch.cuda.set_sync_debug_mode('error')`` checks the layer loop itself.

The documented syncs (``ALLOWED``; the two device-to-host copies after the step, of the
actions and of the report, are not visible on the CPU and are the only others):
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections import Counter
from pathlib import Path
import traceback

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.sequence import synthetic_sequence
from specprune_ros.vla.policy import VLAPolicy

PKG = Path(__file__).resolve().parents[2] / 'specprune_ros'
# ops that read a device value on the host (all reported as 'read': int(), float(), bool(),
# .item()), or whose output size depends on device values, or that upload host data
READ_OPS = {'_local_scalar_dense', 'item', 'is_nonzero'}
SYNC_OPS = READ_OPS | {
    'nonzero', 'nonzero_numpy', 'argwhere', 'masked_select', '_unique2', 'unique_dim',
    'unique_consecutive', 'equal', 'allclose', 'bincount', 'repeat_interleave', 'histc',
    'lift_fresh', 'lift_fresh_copy'}  # lift_fresh: a tensor from host data (an upload)
MASK_INDEX_OPS = {'index', 'index_put', 'index_put_', '_index_put_impl_'}

# (module, function, op) -> why it is allowed
ALLOWED = {
    ('vla/preprocess.py', 'to_pixels', 'lift_fresh'):
        'the views are uploaded as the model input, before any device work of the step',
    ('vla/policy.py', 'prepare', 'lift_fresh'):
        'the normalised proprio vector is uploaded with the model input',
    ('specprune/engine.py', 'make_hook', 'lift_fresh'):
        'the current views are uploaded once for the frame comparison, with the model input',
    ('specprune/pruner.py', 'sync', 'read'):
        '|V_retain| sizes the static cut (exact and bucketed plans; never with sync_free)',
    ('vla/layout.py', 'rows_of', 'read'):
        'the head checks that every action query row was kept, just before the actions are '
        'copied to the host',
}
__doc__ += ''.join(f'\n- ``{m}:{f}`` ({op}): {why}.' for (m, f, op), why in ALLOWED.items())


class SyncRecorder(TorchDispatchMode):
    """Records (module, function, op, in_layer_loop) of every syncing op."""

    def __init__(self) -> None:
        super().__init__()
        self.found: Counter[tuple[str, str, str, bool]] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        indices = args[1] if name in MASK_INDEX_OPS and len(args) > 1 else ()
        mask_index = any(isinstance(t, torch.Tensor) and t.dtype in (torch.bool, torch.uint8)
                         for t in (indices or ()))
        if name in SYNC_OPS or mask_index:
            kind = 'read' if name in READ_OPS else name + ('[bool mask]' if mask_index else '')
            self.found[self._where(kind)] += 1
        return func(*args, **(kwargs or {}))

    @staticmethod
    def _where(op: str) -> tuple[str, str, str, bool]:
        stack = traceback.extract_stack()
        ours = [f for f in stack if f.filename.startswith(str(PKG))]
        in_loop = any(f.name == 'run_llm' and f.filename.endswith('model.py') for f in ours)
        if not ours:
            return ('<outside the package>', stack[-3].name, op, in_loop)
        last = ours[-1]
        return (str(Path(last.filename).relative_to(PKG)), last.name, op, in_loop)


@pytest.fixture(scope='module')
def sequence(fixture_obs):
    return synthetic_sequence(fixture_obs, 4)


def _record_step(policy: VLAPolicy, cfg: SpecPruneConfig, sequence) -> Counter:
    """Syncs of the 4th step (V_global, V_dynamic and layer pruning all active)."""
    engine = SpecPruneEngine(policy, cfg)
    for item in sequence[:3]:
        engine.update_pose(item.pose)
        engine.predict_action_chunk(item.observation)
    engine.update_pose(sequence[3].pose)
    with SyncRecorder() as rec:
        _, report = engine.predict_action_chunk(sequence[3].observation)
    assert report.v_global.size and report.v_dynamic.size and report.v_local.size
    assert report.tokens_per_layer[-1] < report.tokens_per_layer[2] < report.tokens_total
    return rec.found


def test_the_recorder_sees_every_kind_of_sync():
    x = torch.arange(6.0)
    with SyncRecorder() as rec:
        float(x.sum())
        int(x.argmax())
        bool(x.any())
        torch.nonzero(x > 2)
        x[x > 2]  # boolean-mask gather
        x[x > 4] = 0.0  # boolean-mask scatter
        torch.unique(x)
        torch.tensor([1, 2])
    ops = Counter(op for (_, _, op, _), n in rec.found.items() for _ in range(n))
    assert ops == Counter({'read': 3, 'nonzero': 1, 'index[bool mask]': 1,
                           'index_put_[bool mask]': 1, '_unique2': 1, 'lift_fresh': 2})


@pytest.mark.parametrize('cfg, loop_syncs', [
    (SpecPruneConfig(), 1),  # exact counts: one read of |V_retain|
    (SpecPruneConfig(token_bucket=32), 1),
    (SpecPruneConfig(token_bucket=32, sync_free=True), 0),
], ids=['exact', 'bucketed', 'sync_free'])
def test_pruned_step_has_only_the_documented_syncs(tiny_policy, sequence, cfg, loop_syncs):
    found = _record_step(tiny_policy, cfg, sequence)
    unexpected = {k: n for k, n in found.items() if k[:3] not in ALLOWED}
    assert not unexpected, f'undocumented host syncs: {unexpected}'
    in_loop = {k: n for k, n in found.items() if k[3]}
    assert sum(in_loop.values()) == loop_syncs, in_loop
    if loop_syncs:
        assert set(in_loop) == {('specprune/pruner.py', 'sync', 'read', True)}
    # the rest of the step: the head's check and the input uploads, once per step
    assert found[('vla/layout.py', 'rows_of', 'read', False)] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU (none here)')
def test_layer_loop_never_syncs_on_cuda(sequence):
    policy = VLAPolicy.from_preset('tiny', device='cuda', dtype='float32')
    cfg = SpecPruneConfig(token_bucket=32, sync_free=True)
    engine = SpecPruneEngine(policy, cfg)
    model = policy.model
    run_llm = model.run_llm

    def strict(*args, **kwargs):
        torch.cuda.set_sync_debug_mode('error')
        try:
            return run_llm(*args, **kwargs)
        finally:
            torch.cuda.set_sync_debug_mode('default')

    model.run_llm = strict  # the real loop, with syncs turned into errors
    try:
        for item in sequence:
            engine.update_pose(item.pose)
            _, report = engine.predict_action_chunk(item.observation)
    finally:
        del model.run_llm
    assert report.tokens_per_layer[-1] < report.tokens_total
