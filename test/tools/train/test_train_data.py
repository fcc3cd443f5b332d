"""Tests of the demonstration reader, statistics, chunks and gripper mapping (tools.train_data)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import io
import json

import h5py
import numpy as np
from PIL import Image
import pytest
from train_fixtures import INSTRUCTIONS, NOOPS, write_demo_file

from specprune_ros.tools.train.data import (
    chunk_indices,
    compute_statistics,
    FrameStore,
    model_actions,
    noop_mask,
    normalize_actions,
    read_demos,
    split_demos,
    TrainDataError,
)
from specprune_ros.vla.action_space import gripper_sign as libero_gripper
from specprune_ros.vla.action_space import model_gripper
from specprune_ros.vla.policy import NormStats
from specprune_ros.vla.preprocess import resize_image


@pytest.fixture(scope='module')
def demo_file(tmp_path_factory):
    """Two tasks × three demos, 64×64 frames, this project's layout."""
    return write_demo_file(tmp_path_factory.mktemp('demos') / 'demos.hdf5')


def test_gripper_mapping_round_trips_libero_commands() -> None:
    libero = np.array([-1.0, 1.0, -1.0, 1.0])
    model = model_gripper(libero)
    assert model.tolist() == [1.0, 0.0, 1.0, 0.0]  # OFT: model 1 = open, 0 = close
    assert libero_gripper(model).tolist() == libero.tolist()
    # the evaluation's rule -sign(2g - 1) on imperfect outputs
    assert libero_gripper(np.array([0.9, 0.6, 0.4, 0.05])).tolist() == [-1, -1, 1, 1]


def test_chunks_are_consecutive_and_padded_with_the_last_step() -> None:
    idx = chunk_indices(5, 3)
    assert idx.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 4], [4, 4, 4]]
    assert chunk_indices(1, 4).tolist() == [[0, 0, 0, 0]]


def test_noop_mask_follows_ofts_rule() -> None:
    a = np.zeros((6, 7))
    a[:, 6] = [-1, -1, -1, 1, 1, -1]
    a[2, 0] = 0.3  # a real motion
    a[4, 1] = 5e-5  # below the 1e-4 threshold, gripper unchanged: a no-op
    assert noop_mask(a).tolist() == [False, False, True, True, False, True]


def test_reader_builds_oft_proprio_and_drops_noops(demo_file) -> None:
    demos = read_demos([demo_file])
    assert [d.group for d in demos] == [f'data/demo_{i}' for i in range(6)]
    assert [d.task_id for d in demos] == [0, 0, 0, 1, 1, 1]
    assert {d.instruction for d in demos} == set(INSTRUCTIONS)
    with h5py.File(demo_file) as f:
        obs = f['data/demo_4/obs']
        raw_actions = f['data/demo_4/actions'][:]
        proprio = np.concatenate([obs['ee_pos'][:], obs['ee_ori'][:], obs['gripper_states'][:]],
                                 axis=1)
    d = demos[4]
    assert d.steps.tolist() == list(range(NOOPS, len(raw_actions)))
    np.testing.assert_array_equal(d.actions, raw_actions[NOOPS:])
    np.testing.assert_array_equal(d.proprio, proprio[NOOPS:])
    assert len(read_demos([demo_file], drop_noops=False)[4]) == len(raw_actions)


def test_reader_takes_the_instruction_from_liberos_problem_info(tmp_path) -> None:
    path = write_demo_file(tmp_path / 'libero.hdf5', demos_per_task=2, libero_layout=True)
    demos = read_demos([path])
    assert [d.instruction for d in demos] == [INSTRUCTIONS[0]] * 2
    assert [d.task_id for d in demos] == [0, 0] and demos[0].init_state_id is None


def test_reader_errors_name_the_problem(tmp_path, demo_file) -> None:
    with pytest.raises(TrainDataError, match='does not exist'):
        read_demos([tmp_path / 'nope.hdf5'])
    (tmp_path / 'junk.hdf5').write_bytes(b'not hdf5')
    with pytest.raises(TrainDataError, match='not a readable HDF5'):
        read_demos([tmp_path / 'junk.hdf5'])
    broken = tmp_path / 'broken.hdf5'
    broken.write_bytes(demo_file.read_bytes())
    with h5py.File(broken, 'a') as f:
        del f['data/demo_1/obs/gripper_states']
        del f['data/demo_0'].attrs['language_instruction']
    with pytest.raises(TrainDataError, match=r'demo_0: no language instruction'):
        read_demos([broken])
    with h5py.File(broken, 'a') as f:
        f['data/demo_0'].attrs['language_instruction'] = 'x'
    with pytest.raises(TrainDataError, match=r'demo_1: missing .*gripper_states'):
        read_demos([broken])


def test_statistics_are_numpys_quantiles_in_the_model_convention(demo_file) -> None:
    demos = read_demos([demo_file])
    entry = compute_statistics(demos)
    actions = np.concatenate([d.actions for d in demos])
    actions[:, 6] = 1.0 - np.clip(actions[:, 6], 0, 1)
    proprio = np.concatenate([d.proprio for d in demos])
    for key, x in (('action', actions), ('proprio', proprio)):
        np.testing.assert_array_equal(entry[key]['q01'], np.quantile(x, 0.01, axis=0))
        np.testing.assert_array_equal(entry[key]['q99'], np.quantile(x, 0.99, axis=0))
        np.testing.assert_array_equal(entry[key]['mean'], x.mean(0))
    assert entry['action']['mask'] == [True] * 6 + [False]
    assert (entry['num_transitions'], entry['num_trajectories']) == (len(actions), 6)
    json.dumps(entry)  # JSON-ready


def test_normalised_targets_unnormalise_to_libero_actions(demo_file) -> None:
    """Targets → the policy's un-normalisation + the evaluation's gripper rule = LIBERO's."""
    demos = read_demos([demo_file])
    stats = NormStats.from_dataset_statistics({'k': compute_statistics(demos)}, 'k')
    for d in demos:
        x = normalize_actions(model_actions(d.actions), stats)
        assert np.all(np.abs(x) <= 1.0)
        back = stats.unnormalize_actions(x)
        lo, hi = stats.action_q01[:6], stats.action_q99[:6]
        np.testing.assert_allclose(back[:, :6], np.clip(d.actions[:, :6], lo, hi), atol=1e-12)
        assert libero_gripper(back[:, 6]).tolist() == d.actions[:, 6].tolist()


def test_split_is_by_demo_per_task_and_seeded(demo_file) -> None:
    demos = read_demos([demo_file])
    train, val = split_demos(demos, 0.3, seed=1)
    assert sorted(d.group for d in train + val) == sorted(d.group for d in demos)
    assert sorted(d.task_id for d in val) == [0, 1]  # one held-out demo of each task
    again = split_demos(demos, 0.3, seed=1)
    assert [d.group for d in again[1]] == [d.group for d in val]
    assert split_demos(demos, 0.0, seed=1)[1] == []


def test_frames_are_the_policy_view_resized_like_the_policy(demo_file) -> None:
    demos = read_demos([demo_file])[:2]
    cached = FrameStore(demos, 224, jpeg_roundtrip=True)
    lazy = FrameStore(demos, 224, jpeg_roundtrip=True, cache_bytes=0)
    assert cached.cached and not lazy.cached
    with h5py.File(demo_file) as f:
        native = f['data/demo_1/obs/eye_in_hand_rgb'][NOOPS + 3]
    want = resize_image(np.ascontiguousarray(native[::-1, ::-1]), 224, True)
    for store in (cached, lazy):
        got = store.get(1, 3)
        assert got.shape == (2, 224, 224, 3) and got.dtype == np.uint8
        np.testing.assert_array_equal(got[1], want)
    policy_view = FrameStore(demos, 224, True, orientation='policy')
    np.testing.assert_array_equal(policy_view.get(1, 3)[1],
                                  resize_image(np.ascontiguousarray(native), 224, True))
    lazy.close()


def test_frames_stored_as_jpeg_bytes_are_decoded(tmp_path, demo_file) -> None:
    path = tmp_path / 'jpeg.hdf5'
    path.write_bytes(demo_file.read_bytes())
    with h5py.File(path, 'a') as f:
        obs = f['data/demo_0/obs']
        frames = obs['agentview_rgb'][:]
        del obs['agentview_rgb']
        blobs = obs.create_dataset('agentview_rgb', (len(frames),),
                                   dtype=h5py.vlen_dtype(np.uint8))
        for t, frame in enumerate(frames):
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format='PNG')
            blobs[t] = np.frombuffer(buf.getvalue(), dtype=np.uint8)
    demo = read_demos([path])[:1]
    got = FrameStore(demo, 64, False).get(0, 0)[0]
    np.testing.assert_array_equal(got, frames[NOOPS][::-1, ::-1])


def test_training_render_reads_the_models_data_json(tmp_path) -> None:
    from specprune_ros.tools.train.data import render_for, training_render

    sim = {'render_size': None, 'fast_render': True, 'camera_size': 224}
    (tmp_path / 'data.json').write_text(json.dumps({'files': [{'sim_config': json.dumps(sim)}]}))
    assert training_render(tmp_path) == (0, True)
    sim.update(render_size=256, fast_render=False)
    (tmp_path / 'data.json').write_text(json.dumps({'files': [{'sim_config': sim}]}))
    assert training_render(tmp_path) == (256, False)
    assert training_render(tmp_path / 'missing') is None and training_render(None) is None
    assert render_for(tmp_path, None, None) == (256, False)  # the model's
    assert render_for(tmp_path, 224, True) == (224, True)  # given values win
    assert render_for(None, None, None, (256, False)) == (256, False)  # the default
    (tmp_path / 'data.json').write_text('{not json')
    assert training_render(tmp_path) is None
