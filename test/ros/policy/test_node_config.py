"""Node parameters: the schema, the generated config files and value conversion (ROS-free)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import array
from pathlib import Path
import shutil
import subprocess
import sys

import pytest
import yaml

from specprune_ros.errors import ConfigError
from specprune_ros.ros.policy.config import (
    all_specs,
    apply_changes,
    check_fit,
    describe,
    from_ros_value,
    MODEL_PRESETS,
    NodeConfig,
    spec_map,
    to_ros_value,
    yaml_scalar,
)
from specprune_ros.schema import schema
from specprune_ros.specprune.params import PRESETS, SpecPruneConfig

REPO = Path(__file__).resolve().parents[3]
GEN = REPO / 'scripts' / 'gen_config.py'
NODE_KEY = '/**/specprune_policy'


def _params(path: Path) -> dict[str, object]:
    data = yaml.safe_load(path.read_text())
    assert list(data) == [NODE_KEY]
    return data[NODE_KEY]['ros__parameters']


def test_generated_files_are_up_to_date() -> None:
    run = subprocess.run([sys.executable, str(GEN), '--check'], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr + '\n(run: python scripts/gen_config.py)'


def test_check_mode_detects_a_changed_file(tmp_path: Path) -> None:
    shutil.copytree(REPO / 'config', tmp_path / 'config')
    ok = subprocess.run([sys.executable, str(GEN), '--check', '--root', str(tmp_path)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    target = tmp_path / 'config' / 'presets' / 'libero_goal.yaml'
    target.write_text(target.read_text().replace('alpha: 0.8', 'alpha: 0.7'))
    bad = subprocess.run([sys.executable, str(GEN), '--check', '--root', str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and 'libero_goal.yaml: out of date' in bad.stderr
    fixed = subprocess.run([sys.executable, str(GEN), '--root', str(tmp_path)],
                           capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 0 and 'libero_goal.yaml' in fixed.stdout


def test_policy_yaml_names_every_parameter_and_nothing_else() -> None:
    params = _params(REPO / 'config' / 'policy.yaml')
    names = [s.name for s in all_specs()]
    assert sorted(params) == sorted(names)
    for spec in all_specs():
        value = params[spec.name]
        if spec.type is tuple:
            assert tuple(value) == spec.default  # [] is "not set" in ROS = the empty tuple
        else:
            assert value == spec.default and type(value) is spec.type, spec.name
    text = (REPO / 'config' / 'policy.yaml').read_text()
    for spec in all_specs():
        assert describe(spec).split('.')[0] in text.replace('\n    # ', ' ')


def test_presets_hold_exactly_the_suite_overrides() -> None:
    files = sorted(p.stem for p in (REPO / 'config' / 'presets').glob('*.yaml'))
    assert files == sorted(PRESETS)
    for name, overrides in PRESETS.items():
        params = _params(REPO / 'config' / 'presets' / f'{name}.yaml')
        assert params == overrides
    spatial = (REPO / 'config' / 'presets' / 'libero_spatial.yaml').read_text()
    assert 'inconsistent' in spatial and 'alpha = 1.0' in spatial


def test_schemas_are_disjoint_and_complete() -> None:
    node = {s.name for s in schema(NodeConfig)}
    prune = {s.name for s in schema(SpecPruneConfig)}
    assert not node & prune
    assert set(spec_map()) == node | prune
    required = {'model_preset', 'checkpoint', 'unnorm_key', 'device', 'instruction',
                'input_timeout', 'sync_slop', 'action_low', 'action_high',
                'publish_debug_image', 'compressed_images', 'autostart', 'diagnostics_period',
                'seed'}
    assert required <= node
    for spec in all_specs():
        assert spec.description and spec.group
        assert spec.type is not float or (spec.min is not None and spec.max is not None)
    read_only = {s.name for s in all_specs() if s.read_only}
    assert {'model_preset', 'checkpoint', 'unnorm_key', 'device', 'compressed_images',
            'autostart', 'static_layer', 'history_length'} <= read_only


def test_model_presets_match_the_policy_presets() -> None:
    from specprune_ros.vla.config import PRESETS as MODEL

    assert set(MODEL_PRESETS) == set(MODEL)


def test_node_config_validation() -> None:
    cfg = NodeConfig()
    assert cfg.action_bounds(7) == ((-1.0,) * 7, (1.0,) * 7)
    one = cfg.replace(action_low=[-0.5], action_high=[0.5])
    assert one.action_bounds(3) == ((-0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ConfigError, match='action_dim=14'):
        cfg.action_bounds(14)
    with pytest.raises(ConfigError, match='above'):
        cfg.replace(action_low=[2.0])
    with pytest.raises(ConfigError, match='same number'):
        cfg.replace(action_low=[-1.0, -1.0])
    with pytest.raises(ConfigError, match='at least one'):
        cfg.replace(action_high=[])
    with pytest.raises(ConfigError, match='not allowed'):
        cfg.replace(model_preset='huge')
    with pytest.raises(ConfigError, match='out of range'):
        cfg.replace(input_timeout=0.0)
    with pytest.raises(ConfigError, match='finite'):
        cfg.replace(action_high=[float('nan')] * 7)


def test_ros_value_conversion() -> None:
    specs = spec_map()
    assert to_ros_value(specs['prune_layers'], ()) is None  # declared "not set"
    assert to_ros_value(specs['action_low'], (-1.0, 1.0)) == [-1.0, 1.0]
    assert from_ros_value(specs['prune_layers'], None) == ()
    assert from_ros_value(specs['prune_layers'], array.array('q', [5, 10])) == (5, 10)
    assert from_ros_value(specs['prune_layers'], [False, True][:0]) == ()  # '[]' from the CLI
    assert from_ros_value(specs['alpha'], 1) == 1.0
    with pytest.raises(ConfigError, match='integers'):
        from_ros_value(specs['prune_layers'], [1.5])
    with pytest.raises(ConfigError, match='must be set'):
        from_ros_value(specs['alpha'], None)


def test_what_ros2_param_dump_writes_loads_back() -> None:
    """``ros2 param dump`` writes a "not set" list as ``null``; rcl hands it over as 'null'."""
    specs = spec_map()
    for text in ('null', '~', 'NULL'):
        assert from_ros_value(specs['prune_layers'], text) == ()
        assert from_ros_value(specs['update_layers'], text) == ()
    with pytest.raises(ConfigError, match='list of numbers'):
        from_ros_value(specs['action_low'], 'null')  # its default is not empty: no "not set"
    with pytest.raises(ConfigError, match='integers'):
        from_ros_value(specs['prune_layers'], 'none')


def test_layer_lists_are_checked_against_the_model() -> None:
    node = NodeConfig()
    check_fit(node, SpecPruneConfig(prune_layers=(3, 5)), num_layers=6, action_dim=7)
    check_fit(node, SpecPruneConfig(update_layers=(0, 5)), num_layers=6, action_dim=7)
    for layers in ((99,), (1,), (2,), (3, 6)):
        with pytest.raises(ConfigError, match=r'valid range 3\.\.5 for this model \(6 layers, '
                           r'static_layer=2\)'):
            check_fit(node, SpecPruneConfig(prune_layers=layers), num_layers=6, action_dim=7)
    with pytest.raises(ConfigError, match=r'update_layers=\[6\]: \[6\] outside the valid range '
                       r'0\.\.5'):
        check_fit(node, SpecPruneConfig(update_layers=(6,)), num_layers=6, action_dim=7)
    with pytest.raises(ConfigError, match='more than 8 layers'):
        check_fit(node, SpecPruneConfig(static_layer=8), num_layers=6, action_dim=7)
    with pytest.raises(ConfigError, match='action_dim=5'):
        check_fit(node, SpecPruneConfig(), num_layers=6, action_dim=5)


def test_apply_changes_splits_and_validates_across_fields() -> None:
    node, prune = apply_changes(NodeConfig(), SpecPruneConfig(),
                                {'alpha': 0.6, 'sync_slop': 0.05, 'prune_layers': [3]})
    assert (prune.alpha, prune.prune_layers, node.sync_slop) == (0.6, (3,), 0.05)
    with pytest.raises(ConfigError, match='history_length'):
        apply_changes(NodeConfig(), SpecPruneConfig(), {'t_max': 40})
    with pytest.raises(ConfigError, match='unknown'):
        apply_changes(NodeConfig(), SpecPruneConfig(), {'nope': 1})


def test_yaml_scalars_round_trip() -> None:
    for value in (True, 0, 12, 0.986, 1e-6, 1e-12, 2.5e20, -0.0, 'a b', "it's", '',
                  (1, 2), (-1.0, 0.5), ()):
        text = yaml_scalar(value)
        back = yaml.safe_load(f'x: {text}')['x']
        assert back == (list(value) if isinstance(value, tuple) else value), text
        assert type(back) is (list if isinstance(value, tuple) else type(value)), text
    with pytest.raises(ConfigError):
        yaml_scalar(float('inf'))


def test_descriptors_from_the_schema() -> None:
    node_io = pytest.importorskip('specprune_ros.ros.policy.io', reason='needs the ROS 2 messages '
                                  '(source scripts/ros_env.sh)', exc_type=ImportError)
    specs = spec_map()
    alpha = node_io.descriptor_for(specs['alpha'])
    assert alpha.floating_point_range[0].from_value == 0.05
    assert alpha.floating_point_range[0].to_value == 4.0
    k = node_io.descriptor_for(specs['k_global'])
    assert (k.integer_range[0].from_value, k.integer_range[0].to_value) == (0, 4096)
    assert 'tokens' in k.description
    assert node_io.descriptor_for(specs['model_preset']).read_only
    assert 'oft-7b' in node_io.descriptor_for(specs['model_preset']).additional_constraints
    layers = node_io.descriptor_for(specs['prune_layers'])
    assert layers.dynamic_typing and 'integers' in layers.additional_constraints
    assert 'Unit: s' in node_io.descriptor_for(specs['input_timeout']).description
