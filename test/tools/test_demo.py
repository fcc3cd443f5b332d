"""specprune-demo: the per-step report names each technique; checkpoints load through it."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import re

from checkpoint_builder import build_written, UNNORM_KEYS

from specprune_ros.tools.demo import main


def test_demo_reports_every_technique(caplog):
    caplog.set_level('INFO')
    assert main(['--preset', 'tiny', '--steps', '12']) == 0
    text = caplog.text
    for word in ('global', 'dynamic', 'local', 'FLOPs', 'coarse', 'fine', 'LLM speedup',
                 'action chunk (8 x 7'):
        assert word in text, word
    found = re.search(r'coarse: \d+ steps \(first step excluded\), ([\d.]+)% of visual', text)
    assert found and float(found.group(1)) >= 45.0


def test_demo_runs_an_oft_checkpoint(tmp_path, caplog):
    written = build_written(tmp_path / 'ckpt')
    caplog.set_level('INFO')
    assert main(['--checkpoint', str(written.path), '--unnorm-key', UNNORM_KEYS[1],
                 '--steps', '3']) == 0
    assert 'loaded' in caplog.text and UNNORM_KEYS[1] in caplog.text
