"""The parameter schema: defaults, ranges, presets and the layer-set scaling rule."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st
import pytest

from specprune_ros.errors import ConfigError
from specprune_ros.schema import coerce as coerce_spec
from specprune_ros.schema import schema as schema_of
from specprune_ros.specprune.params import preset, PRESETS, SpecPruneConfig


def schema() -> tuple:
    """The pruner's parameters (the generic machinery takes the config class)."""
    return schema_of(SpecPruneConfig)


def coerce(name: str, value: object) -> object:
    """Coerce ``value`` for the pruner's parameter ``name``."""
    return coerce_spec({s.name: s for s in schema()}[name], value)


def test_schema_covers_every_field_with_text():
    names = [f.name for f in dataclasses.fields(SpecPruneConfig)]
    specs = schema()
    assert [s.name for s in specs] == names
    for s in specs:
        assert s.description and s.group
        assert s.type in (bool, int, float, tuple, str)
        if s.type is str:  # every text parameter is one of named values
            assert s.default in s.choices
        if s.type in (int, float):
            assert s.min is not None and s.max is not None and s.min <= s.default <= s.max


def test_paper_defaults():
    c = SpecPruneConfig()
    assert (c.k_coarse, c.k_fine, c.beta) == (24, 40, 0.2)
    assert c.resolved_prune_layers(32) == (5, 10, 15, 20)
    assert c.k_base(fine=True) == 40 and c.k_base(fine=False) == 24


@pytest.mark.parametrize('name, alpha', [('libero_spatial', 0.6), ('libero_object', 0.6),
                                         ('libero_goal', 0.8), ('libero_10', 1.0)])
def test_presets(name, alpha):
    assert preset(name).alpha == alpha
    assert set(PRESETS) == {'libero_spatial', 'libero_object', 'libero_goal', 'libero_10'}


@given(st.integers(min_value=3, max_value=80))
def test_layer_sets_scale_and_stay_after_static(n):
    c = SpecPruneConfig()
    prune = c.resolved_prune_layers(n)
    assert list(prune) == sorted(set(prune))
    assert all(c.static_layer < p < n for p in prune)
    update = c.resolved_update_layers(n)
    assert {0, 1} <= set(update) and all(p - 1 in update for p in prune)


@pytest.mark.parametrize('change, message', [
    (dict(alpha=0.0), r'alpha=0.0 is out of range; expected 0.05 <= alpha <= 4.0'),
    (dict(tau=1.5), 'tau=1.5 is out of range'),
    (dict(k_global=-1), 'k_global=-1 is out of range'),
    (dict(beta=float('nan')), 'beta must be finite'),
    (dict(alpha='big'), 'alpha must be a number'),
    (dict(k_fine=2.5), 'k_fine must be an integer'),
    (dict(enabled=1), 'enabled must be a bool'),
    (dict(prune_layers=[3, -1]), r'expected 0 <= each of prune_layers <= 255'),
    (dict(t_max=40), 't_max=40 must be smaller than history_length'),
    (dict(bogus=1), 'unknown parameter'),
])
def test_invalid_values_are_rejected_with_reason(change, message):
    with pytest.raises(ConfigError, match=message):
        SpecPruneConfig().replace(**change)


def test_coerce_int_to_float():
    assert coerce('alpha', 1) == 1.0 and isinstance(coerce('alpha', 1), float)
    assert coerce('prune_layers', [4, 5]) == (4, 5)


def test_the_authors_variant_changes_exactly_its_rules():
    paper, authors = SpecPruneConfig(), SpecPruneConfig(variant='authors')
    assert paper.resolved_prune_layers(32) == (5, 10, 15, 20)
    assert authors.resolved_prune_layers(32) == (5, 10, 15, 20, 25)  # their dynamic_prune
    assert (paper.layer_keep_fraction(), paper.layer_floor()) == (0.9, 16)
    assert (authors.layer_keep_fraction(), authors.layer_floor()) == (0.8, 60)
    assert authors.replace(alpha=0.3).layer_keep_fraction() == 0.8  # not alpha*Q
    assert paper.importance_rows() == 'task' and authors.importance_rows() == 'non_visual'
    assert paper.replace(score_rows='action_queries').importance_rows() == 'action_queries'
    assert (authors.max_static(False), authors.max_static(True)) == (200, 220)
    assert authors.k_base(True) == paper.k_base(True)  # V_local as the paper


@pytest.mark.parametrize('name, value', [('variant', 'author'), ('score_rows', 'text'),
                                         ('method', 'fastv')])
def test_unknown_names_are_refused_with_the_allowed_ones(name, value):
    with pytest.raises(ConfigError, match=r'allowed|one of|expected') as err:
        SpecPruneConfig().replace(**{name: value})
    spec = {s.name: s for s in schema()}[name]
    assert all(choice in str(err.value) for choice in spec.choices)


def test_pruning_runs_only_for_the_specprune_method():
    assert SpecPruneConfig().pruning
    assert not SpecPruneConfig(enabled=False).pruning
    assert not SpecPruneConfig(method='none').pruning
    assert not SpecPruneConfig(method='grid').pruning
