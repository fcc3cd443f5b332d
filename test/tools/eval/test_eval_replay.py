"""``specprune-eval --replay``: the bag/folder reader and the deviation report."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image
import pytest

from specprune_ros.errors import InputError
from specprune_ros.tools.eval.cli import main
from specprune_ros.tools.eval.replay import decode_image, normalize_actions, read_recording
from specprune_ros.vla.policy import builtin_norm_stats


def _replay_tests():
    """The replay tool's own tests (they write the bags this tool must read)."""
    path = Path(__file__).resolve().parents[2] / 'ros' / 'replay' / 'test_replay_sources.py'
    spec = importlib.util.spec_from_file_location('_replay_source_tests', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCES = _replay_tests()
TOPICS = ['--third-person-topic', SOURCES.THIRD, '--wrist-topic', SOURCES.WRIST,
          '--pose-topic', SOURCES.POSE, '--instruction-topic', SOURCES.TASK]


@pytest.mark.parametrize('storage, compressed', [('mcap', True), ('sqlite3', False)])
def test_bag_reader_returns_the_recorded_steps(tmp_path: Path, storage, compressed) -> None:
    bag = tmp_path / 'bag'
    truth = SOURCES.write_bag(bag, storage, frames=3, compressed_wrist=compressed)
    steps = read_recording(bag, {'third_person': SOURCES.THIRD, 'wrist': SOURCES.WRIST,
                                 'pose': SOURCES.POSE, 'instruction': SOURCES.TASK})
    assert len(steps) == 3
    for step, (t, third, wrist, pos) in zip(steps, truth):
        assert step.stamp == pytest.approx(t)
        assert np.array_equal(step.third_person, third) and np.array_equal(step.wrist, wrist)
        assert np.allclose(step.pose.position, pos) and step.instruction == 'open the drawer'
    with pytest.raises(InputError, match='not in'):
        read_recording(bag)  # the node's default topics are not in this bag


def test_decode_encodings_and_folder(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (3, 4, 3), dtype=np.uint8)

    def msg(enc: str, arr: np.ndarray) -> SimpleNamespace:
        h, w = arr.shape[:2]
        return SimpleNamespace(encoding=enc, height=h, width=w, step=arr[0].size,
                               data=arr.reshape(-1))

    alpha = np.concatenate([rgb, np.full((3, 4, 1), 7, np.uint8)], axis=2)
    assert np.array_equal(decode_image(msg('rgb8', rgb)), rgb)
    assert np.array_equal(decode_image(msg('bgr8', rgb[..., ::-1].copy())), rgb)
    assert np.array_equal(decode_image(msg('bgra8', alpha[..., [2, 1, 0, 3]].copy())), rgb)
    mono = decode_image(msg('mono8', rgb[..., 0].copy()))
    assert mono.shape == (3, 4, 3) and np.array_equal(mono[..., 2], rgb[..., 0])
    with pytest.raises(ValueError, match='unsupported encoding'):
        decode_image(msg('yuv422', rgb))
    for i in range(2):
        Image.fromarray(rgb).save(tmp_path / f'third_person_{i}.png')
        Image.fromarray(rgb[::-1].copy()).save(tmp_path / f'wrist_{i}.png')
    (tmp_path / 'instruction.txt').write_text('stack the cups\n')
    steps = read_recording(tmp_path)
    assert len(steps) == 2 and steps[1].stamp == pytest.approx(0.05)
    assert np.array_equal(steps[0].wrist, rgb[::-1]) and steps[0].instruction == 'stack the cups'


def test_normalize_inverts_unnormalize() -> None:
    norm = builtin_norm_stats()
    x = np.random.default_rng(1).uniform(-1, 1, (8, 7))
    assert np.allclose(normalize_actions(norm.unnormalize_actions(x), norm), x)


def test_replay_prints_the_deviation_report(tmp_path: Path, capsys) -> None:
    bag = tmp_path / 'bag'
    SOURCES.write_bag(bag, 'mcap', frames=3)
    out = tmp_path / 'out'
    rc = main(['--replay', str(bag), *TOPICS, '--device', 'cpu', '--out', str(out),
               '--configs', 'unpruned', 'specprune', 'random', 'specprune:enabled=false'])
    assert rc == 0
    text = capsys.readouterr().out
    assert 'offline fidelity on' in text and 'gripper decision differs' in text
    for label in ('specprune', 'random', 'specprune:enabled=false'):
        assert f'{label}: 3 steps' in text
    data = json.loads((out / 'replay.json').read_text())
    off = data['specprune:enabled=false']  # pruning off: exactly the plain chunks
    assert max(off['l1_norm_per_dim']) <= 1e-5 and off['gripper_disagreement'] == 0.0
    pruned = data['specprune']
    assert pruned['visual_kept'] < 512 and max(pruned['l1_norm_per_dim']) > 1e-4
    assert data['random']['visual_kept'] == pruned['visual_kept']  # matched, step by step
    assert np.array(pruned['per_step_l1_norm']).shape == (3, 7)
    assert pruned['mode'][0] == 'warmup' and pruned['mode'][1] in ('fine', 'coarse')
    assert (out / 'replay_deviation.png').stat().st_size > 1000
    assert main(['--replay', str(bag), *TOPICS, '--configs', 'unpruned']) == 2
    assert 'needs at least one pruned configuration' in capsys.readouterr().err
