"""The closed-loop main job (``specprune_ros.ros.sim_bridge.demo``).

Bridge, policy, executor and listener.

Four processes over real DDS for one short LIBERO episode (``--max-steps 16``, the untrained
``tiny`` model); checks the exit code, the per-chunk lines, the outcome line and the files.
Skipped without rclpy, the generated messages or LIBERO.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
from pathlib import Path
import re
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
from PIL import Image as PILImage
import pytest

from specprune_ros.sim import libero_missing
from specprune_ros.specprune.debug_image import decode_kept_tokens

if libero_missing():
    pytest.skip(f'the closed-loop demo needs LIBERO: {libero_missing()}',
                allow_module_level=True)
try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    import rclpy  # noqa: F401
    from ros_peer import REPO, ros_env

    import specprune_ros.msg  # noqa: F401
except ImportError as exc:
    pytest.skip(f'the demo needs rclpy and the generated specprune_ros.msg: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)

STEPS = 16


def test_demo_runs_one_episode_and_writes_the_video(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, '-m', 'specprune_ros.ros.sim_bridge.demo',
                           '--untrained', '--max-steps', str(STEPS), '--out-dir', str(tmp_path),
                           '--timeout', '240'], cwd=REPO, env=ros_env(), capture_output=True,
                          text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'success is meaningless' in log
    assert re.search(rf'outcome: +FAILURE after {STEPS} steps \(limit {STEPS}\) on task 0, '
                     'init state 40', log), log[-3000:]  # the default: held out
    assert re.search(r'held steps: +0 ', log), log[-3000:]  # lockstep: nothing waits
    assert 'robosuite' not in log  # library noise goes to nodes.log
    assert 'robosuite' in (tmp_path / 'nodes.log').read_text()
    chunks = re.findall(r'chunk \d+ at step \d+ .*: mode (\w+), kept (\d+)/512 visual tokens',
                        log)
    assert chunks and all(0 < int(k) <= 512 for _, k in chunks), log[-3000:]
    frames = [f for f in imageio.get_reader(tmp_path / 'sim_demo.mp4')]  # (len() is inf)
    # one frame while waiting, then one per rendered step (image_every 2, the last included,
    # and the odd steps a chunk was requested at)
    assert 1 + STEPS // 2 <= len(frames) <= 1 + STEPS, len(frames)
    assert frames[-1].shape[1] == 2 * 224 and frames[-1].std() > 10  # both views, not blank
    image = np.asarray(PILImage.open(tmp_path / 'kept_tokens.png').convert('RGB'))
    kept = decode_kept_tokens(image)['retain']
    assert 0 < len(kept) < 512  # a pruned step


def test_render_settings_follow_the_models_training_data(tmp_path: Path) -> None:
    from specprune_ros.ros.sim_bridge.demo import parse_args, render_settings

    sim_config = json.dumps({'camera_size': 224, 'render_size': None, 'fast_render': True})
    (tmp_path / 'data.json').write_text(json.dumps({'files': [{'sim_config': sim_config}]}))
    assert render_settings(parse_args([]), tmp_path) == (0, True)
    assert render_settings(parse_args(['--render-size', '256', '--no-fast-render']),
                           tmp_path) == (256, False)  # the command line wins
    assert render_settings(parse_args([]), None) == (256, False)  # OFT's default
    assert render_settings(parse_args([]), tmp_path / 'missing') == (256, False)


MODEL = REPO / 'models' / 'libero_spatial_demo'
SAME_STEPS = 220  # the suite limit: the trained model succeeds well before it


def _eval_record(tmp_path: Path, config: str, via_executor: bool) -> dict:
    out = tmp_path / 'eval'
    cmd = [sys.executable, '-m', 'specprune_ros.tools.eval.cli', '--suite', 'libero_spatial',
           '--tasks', '0', '--first-trial', '40', '--trials', '1', '--max-steps',
           str(SAME_STEPS), '--model', str(MODEL), '--configs', config, '--workers', '1',
           '--out', str(out)] + (['--via-executor'] if via_executor else [])
    proc = subprocess.run(cmd, cwd=REPO, env=ros_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads((out / 'episodes.jsonl').read_text().splitlines()[0])


@pytest.mark.skipif(not (MODEL / 'config.json').is_file(), reason='no trained model shipped')
@pytest.mark.parametrize('executor', [True, False], ids=['via_executor', 'oft_open_loop'])
def test_main_job_over_dds_is_the_evaluated_episode(tmp_path: Path, executor: bool) -> None:
    """Lockstep: the main job gives the episode specprune-eval gives.

    Same queries, kept tokens, length and outcome: through the executor with pruning, and
    without it (unpruned) under OFT's open-loop protocol.
    """
    config = 'specprune' if executor else 'unpruned'
    extra = [] if executor else ['--no-executor', '--unpruned']
    proc = subprocess.run([sys.executable, '-m', 'specprune_ros.ros.sim_bridge.demo', '--model',
                           str(MODEL), '--max-steps', str(SAME_STEPS), '--out-dir',
                           str(tmp_path / 'demo'), '--timeout', '300', *extra],
                          cwd=REPO, env=ros_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    demo = json.loads((tmp_path / 'demo' / 'episode.json').read_text())
    evaluated = _eval_record(tmp_path, config, executor)
    assert demo['held_steps'] == 0
    assert (demo['success'], demo['step']) == (evaluated['success'], evaluated['length'])
    assert [q['visual_kept'] for q in demo['queries']] == evaluated['visual_kept']
    starts = [round(q['stamp'] - demo['queries'][0]['stamp'], 6) for q in demo['queries']]
    assert len(starts) == evaluated['queries'] and starts[-1] > 0.0
