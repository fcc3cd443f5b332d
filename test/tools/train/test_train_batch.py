"""Tests of batches, augmentation and the training forward (tools.train_batch).

The training forward must be the policy's: a batch through ``forward_chunks`` gives what
``VLAPolicy.predict_action_chunk`` gives for each sample alone.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from train_fixtures import write_demo_file

from specprune_ros.tools.train.batch import (
    augment,
    AugmentConfig,
    batch_order,
    batch_pixels,
    crop_resize,
    forward_chunks,
    step_generator,
    visual_keep,
)
from specprune_ros.tools.train.config import TrainConfig
from specprune_ros.tools.train.data import chunk_indices, model_actions, normalize_actions
from specprune_ros.tools.train.loop import build_run
from specprune_ros.vla.cut import VisualCut
from specprune_ros.vla.policy import Observation
from specprune_ros.vla.preprocess import center_crop_image


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A freshly built training run on the synthetic demos: an untrained libero-demo model."""
    root = tmp_path_factory.mktemp('batch')
    data = write_demo_file(root / 'demos.hdf5', demos_per_task=2, steps=10)
    return build_run(TrainConfig(data=(str(data),), out=str(root / 'out'), val_fraction=0.0,
                                 threads=1))


def test_batch_order_walks_seeded_epoch_permutations() -> None:
    epoch0 = np.concatenate([batch_order(10, 3, 5, s) for s in range(3)])
    assert len(set(epoch0.tolist())) == 9  # 3 batches of 3, no repeats, the last 1 cut
    np.testing.assert_array_equal(batch_order(10, 3, 5, 4), batch_order(10, 3, 5, 4))
    assert not np.array_equal(batch_order(10, 3, 5, 0), batch_order(10, 3, 5, 3))  # new epoch
    assert not np.array_equal(batch_order(10, 3, 5, 0), batch_order(10, 3, 6, 0))
    a, b = step_generator(1, 2), step_generator(1, 2)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))


def test_centred_crop_is_the_inference_centre_crop(libero_images) -> None:
    image = libero_images[0]
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    side = math.sqrt(0.9)
    got = crop_resize(x, torch.full((1, 2), (1 - side) / 2), 0.9)[0].permute(1, 2, 0)
    want = center_crop_image(image).astype(np.float32) / 255.0
    # TF's crop ends in a truncating uint8 conversion: within one level of the float crop
    assert np.abs(got.numpy() - want).max() <= 1.0 / 255 + 1e-6


def test_augment_is_seeded_bounded_and_varies(libero_images) -> None:
    images = torch.from_numpy(np.stack(libero_images))
    aug = AugmentConfig()
    a = augment(images, step_generator(0, 1), aug)
    assert a.shape == (2, 3, 224, 224) and 0.0 <= a.min() and a.max() <= 1.0
    assert torch.equal(a, augment(images, step_generator(0, 1), aug))
    assert not torch.equal(a, augment(images, step_generator(0, 2), aug))
    plain = augment(images, step_generator(0, 1), AugmentConfig(0.9, 0.0, 0.0, 0.0))
    assert (a - plain).abs().mean() > 1e-3  # the colour jitter did something


def test_targets_are_normalised_chunks(run) -> None:
    demo = run.train.frames.demos[1]
    rows = np.flatnonzero(run.train.index[:, 0] == 1)
    want = normalize_actions(model_actions(demo.actions),
                             run.policy.norm_stats)[chunk_indices(len(demo), 8)]
    np.testing.assert_allclose(run.train.target[rows].numpy(), want, atol=1e-7)
    assert run.train.target.shape[1:] == (8, 7)


def test_training_forward_is_the_policys_forward(run) -> None:
    policy, data = run.policy, run.train
    first = [int(np.flatnonzero(data.prompt == p)[0]) for p in range(len(data.prompts))]
    samples = np.array(first + [3, 12])
    assert len({data.prompts[data.prompt[s]][1].total for s in samples}) == 2  # two lengths
    batch = data.batch(samples)
    dino, siglip = batch_pixels(batch.images, True, None, AugmentConfig(), torch.device('cpu'),
                                torch.float32)
    with torch.no_grad():
        pred = forward_chunks(policy.model, data.prompts, batch.prompts, dino, siglip,
                              batch.proprio, policy.tokenizer.bos_id, policy.tokenizer.eos_id)
    assert pred.shape == (len(samples), 8, 7)
    for b, s in enumerate(samples):
        d, t = data.index[s]
        demo = data.frames.demos[d]
        obs = Observation(images=(batch.images[b, 0], batch.images[b, 1]),
                          proprio=demo.proprio[t], instruction=demo.instruction)
        actions, _ = policy.predict_action_chunk(obs)
        want = policy.norm_stats.unnormalize_actions(pred[b].double().numpy())
        np.testing.assert_allclose(actions, want, atol=1e-5)


def test_visual_keep_draws_a_seeded_fraction() -> None:
    sizes = []
    for step in range(40):
        keep = visual_keep(512, 0.3, step_generator(0, step, stream=1))
        assert torch.equal(keep, visual_keep(512, 0.3, step_generator(0, step, stream=1)))
        assert torch.equal(keep, keep.unique())  # sorted, no repeats
        assert 0 <= int(keep[0]) and int(keep[-1]) < 512
        sizes.append(keep.numel())
    assert min(sizes) >= round(0.3 * 512) and max(sizes) <= 512
    assert max(sizes) - min(sizes) > 100  # the fraction varies from step to step
    assert visual_keep(512, 1.0, step_generator(0, 0, stream=1)).numel() == 512
    # the dropout stream leaves the augmentation stream as it was
    assert torch.equal(torch.rand(3, generator=step_generator(4, 2)),
                       torch.rand(3, generator=step_generator(4, 2, stream=0)))
    assert not torch.equal(torch.rand(3, generator=step_generator(4, 2)),
                           torch.rand(3, generator=step_generator(4, 2, stream=1)))


def test_dropped_tokens_leave_as_pruning_removes_them(run) -> None:
    """With ``keep`` the training forward is the policy's forward cut to those tokens."""
    policy, data = run.policy, run.train
    samples = np.array([int(np.flatnonzero(data.prompt == p)[0]) for p in range(2)])
    batch = data.batch(samples)
    dino, siglip = batch_pixels(batch.images, True, None, AugmentConfig(), torch.device('cpu'),
                                torch.float32)
    keep = visual_keep(512, 0.3, step_generator(0, 3, stream=1))
    model, tok = policy.model, policy.tokenizer
    with torch.no_grad():
        every = forward_chunks(model, data.prompts, batch.prompts, dino, siglip, batch.proprio,
                               tok.bos_id, tok.eos_id)
        full = forward_chunks(model, data.prompts, batch.prompts, dino, siglip, batch.proprio,
                              tok.bos_id, tok.eos_id, torch.arange(512))
        cut = forward_chunks(model, data.prompts, batch.prompts, dino, siglip, batch.proprio,
                             tok.bos_id, tok.eos_id, keep)
    torch.testing.assert_close(full, every, rtol=0, atol=1e-6)
    assert (cut - every).abs().max() > 1e-4  # dropping tokens changes the chunk
    for b, s in enumerate(samples):
        d, t = data.index[s]
        demo = data.frames.demos[d]
        obs = Observation(images=(batch.images[b, 0], batch.images[b, 1]),
                          proprio=demo.proprio[t], instruction=demo.instruction)
        with torch.no_grad():
            prep = policy.prepare(obs)
            patches = model.encode_images(prep.pixels_dino, prep.pixels_siglip)
            embeds = model.build_embeddings(prep.layout, patches, prep.proprio,
                                            prep.prompt_ids, tok.bos_id, tok.eos_id)
            state = model.run_llm(embeds, VisualCut(prep.layout, 0, keep))
            want = model.decode_actions(state, prep.layout)
        assert state.kept.numel() == prep.layout.total - 512 + keep.numel()
        torch.testing.assert_close(cut[b], want, rtol=0, atol=1e-5)
