"""``--configs`` parsing: names, keys, ablation switches, match references, run order."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import subprocess
import sys

import pytest

from specprune_ros.errors import InputError
from specprune_ros.specprune import baselines
from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.tools.eval.configs import (
    BASELINES,
    make_runner,
    parse_config,
    parse_configs,
    parse_value,
)


def test_values() -> None:
    assert parse_value('true') is True and parse_value('False') is False
    assert parse_value('3') == 3 and isinstance(parse_value('3'), int)
    assert parse_value('0.8') == 0.8
    assert parse_value('3/5/8') == (3, 5, 8)
    assert parse_value('match') == 'match'


def test_family_and_ablations() -> None:
    spec = parse_config('specprune', 'libero_spatial')
    assert spec.pruner.alpha == 0.6 and spec.pruner.enabled  # the suite preset
    assert parse_config('specprune', 'libero_10').pruner.alpha == 1.0
    a = parse_config('specprune: alpha=0.8, k_global=32', 'libero_spatial')
    assert a.label == 'specprune:alpha=0.8,k_global=32'
    assert (a.pruner.alpha, a.pruner.k_global) == (0.8, 32)
    assert parse_config('specprune:prune_layers=3/4', 'libero_spatial').pruner.prune_layers == (
        3, 4)
    static = parse_config('static_only', 'libero_spatial').pruner
    assert (static.use_layer_pruning, static.use_controller) == (False, False)
    assert static.use_global and static.use_dynamic and static.use_local
    layer = parse_config('layer_level', 'libero_spatial').pruner
    assert (layer.use_layer_pruning, layer.use_controller) == (True, False)
    assert not parse_config('unpruned', 'libero_spatial').pruner.enabled


@pytest.mark.parametrize('text, message', [
    ('fastv', 'unknown configuration'), ('specprune:alpha', 'expected name'),
    ('specprune:alpha=9', 'out of range'), ('specprune:bogus=1', 'unknown parameter'),
    ('unpruned:alpha=1', 'takes no keys'), ('random:score_layer=1', 'unknown key'),
    ('random:budget=vla_cache', 'budget must be'), ('specprune:alpha=1,alpha=2', 'twice')])
def test_bad_configs(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_config(text, 'libero_spatial')


def test_match_references_and_run_order() -> None:
    cfgs = parse_configs(['unpruned', 'random', 'specprune:alpha=0.8',
                          'frame_diff:budget=vla_cache', 'attention_only:budget=100',
                          'specprune', 'random:ref=2'], 'libero_spatial')
    by = {c.label: c for c in cfgs}
    assert by['random'].reference == 'specprune'  # the plain name wins as default reference
    assert by['random'].pruner == by['specprune'].pruner
    assert by['random:ref=2'].reference == 'specprune:alpha=0.8'  # by position in --configs
    assert by['attention_only:budget=100'].budget == 'fixed'
    assert by['attention_only:budget=100'].fixed_budget == 100
    assert by['frame_diff:budget=vla_cache'].baseline.vla_cache_budget
    labels = [c.label for c in cfgs]
    assert labels[:2] == ['specprune:alpha=0.8', 'specprune']  # references run first
    with pytest.raises(InputError, match='budget=match needs'):
        parse_configs(['unpruned', 'random'], 'libero_spatial')
    with pytest.raises(InputError, match='given twice'):
        parse_configs(['specprune', 'specprune '], 'libero_spatial')
    assert parse_configs(['static_only', 'random'], 'libero_spatial')[1].reference == \
        'static_only'


def test_runners(tiny_policy) -> None:
    cfgs = parse_configs(['unpruned', 'specprune', 'random:budget=64'], 'libero_spatial')
    runners = [make_runner(c, tiny_policy) for c in cfgs]
    assert isinstance(runners[0], SpecPruneEngine) and not runners[0].config.enabled
    assert isinstance(runners[2], baselines.BaselineEngine)
    assert runners[2].schedule.at(0)[2] == 64
    assert BASELINES == baselines.BASELINES


@pytest.mark.parametrize('argv, message', [
    (['--configs', 'fastv'], 'unknown configuration'),
    (['--configs', 'unpruned', 'random'], 'budget=match needs'),
    (['--replay', '/nonexistent/bag', '--configs', 'specprune'], 'does not exist')])
def test_cli_bad_input(argv, message, capsys) -> None:
    from specprune_ros.tools.eval.cli import main
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_help_starts_nothing() -> None:
    code = ('import sys\nfrom specprune_ros.tools.eval.cli import main\n'
            'try:\n    main(["--help"])\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in ("torch", "libero", "robosuite", "mujoco") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert 'specprune-eval' in out and '--configs' in out
    assert out.strip().splitlines()[-1] == '[]'


def test_the_method_parameters_are_configurations_too() -> None:
    cfgs = parse_configs(['specprune', 'specprune:variant=authors',
                          'specprune:score_rows=action_queries', 'specprune:k_coverage=64',
                          'specprune:warmup_queries=0', 'grid', 'action_attention:score_layer=0'],
                         'libero_spatial')
    by = {c.label: c for c in cfgs}
    assert by['specprune:variant=authors'].pruner.variant == 'authors'
    assert by['specprune:score_rows=action_queries'].pruner.score_rows == 'action_queries'
    assert by['specprune:k_coverage=64'].pruner.k_coverage == 64
    assert by['specprune:warmup_queries=0'].pruner.warmup_queries == 0
    assert by['grid'].baseline.kind == 'grid' and by['grid'].reference == 'specprune'
    assert by['action_attention:score_layer=0'].baseline.score_layer == 0
    with pytest.raises(InputError, match='paper'):
        parse_configs(['specprune:variant=theirs'], 'libero_spatial')
