"""launch/policy.launch.py: parsed and exercised without ROS, launched where launch_ros exists.

``launch`` and ``launch_ros`` are not on PyPI. The ROS-free tests read the file's AST and run
its logic against small stand-ins of the launch classes; the launch test itself is skipped
unless launch_ros is importable (a ROS 2 install from packages).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path
import random
import re
import sys
import types
from typing import Any

import pytest

from specprune_ros.control.executor_config import executor_specs
from specprune_ros.ros.policy.config import all_specs
from specprune_ros.specprune.params import PRESETS

REPO = Path(__file__).resolve().parent.parent
LAUNCH = REPO / 'launch' / 'policy.launch.py'
EXECUTOR_LAUNCH = REPO / 'launch' / 'executor.launch.py'
REQUIRED = {'preset', 'third_person_topic', 'wrist_topic', 'ee_state_topic', 'namespace',
            'use_sim_time', 'params_file', 'log_level', 'executor', 'action_topic'}
CHUNKS = ('~/action_chunk', 'specprune_policy/action_chunk')
REQUESTS = ('~/request', 'specprune_policy/request')


def _tree(path: Path = LAUNCH) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _arguments(path: Path = LAUNCH) -> tuple[tuple[str, Any, str], ...]:
    for node in _tree(path).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'ARGUMENTS' for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError('ARGUMENTS not found in the launch file')


def test_launch_file_parses_and_declares_every_argument() -> None:
    names = {name for name, _, _ in _arguments()}
    assert REQUIRED <= names, REQUIRED - names
    tree = _tree()
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in funcs
    consts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {'specprune_ros', 'specprune_policy', 'specprune_executor'} <= consts
    for path in (LAUNCH, EXECUTOR_LAUNCH):
        for _, default, text in _arguments(path):
            assert text, 'every argument has a description'
            assert default is None or isinstance(default, str)


def test_launch_presets_come_from_the_schema() -> None:
    imports = [n for n in _tree().body if isinstance(n, ast.ImportFrom)]
    assert any(n.module == 'specprune_ros.specprune.params' and n.names[-1].name == 'PRESETS'
               for n in imports)
    for name in PRESETS:
        assert (REPO / 'config' / 'presets' / f'{name}.yaml').is_file()


# --- stand-ins for launch / launch_ros ------------------------------------------------------
class _Context:
    def __init__(self, args: dict[str, str]) -> None:
        self.args = args
        self.launch_configurations = dict(args)


class _Sub:
    def __init__(self, *args: Any) -> None:
        self.args = args


class _LaunchConfiguration(_Sub):
    def perform(self, context: _Context) -> str:
        return context.args[self.args[0]]


class _FindPackageShare(_Sub):
    def perform(self, context: _Context) -> str:
        return str(REPO)  # the source tree has the same config/ layout as the share folder


class _PathJoin(_Sub):
    def perform(self, context: _Context) -> str:
        return os.path.join(*(p.perform(context) if isinstance(p, _Sub) else p
                              for p in self.args[0]))


class _Record:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class _Logger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str) -> None:
        self.warnings.append(text)


LOGGER = _Logger()


def _stub_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    mods = {name: types.ModuleType(name) for name in (
        'launch', 'launch.actions', 'launch.logging', 'launch.substitutions', 'launch_ros',
        'launch_ros.actions', 'launch_ros.substitutions')}
    mods['launch'].LaunchDescription = _Record
    mods['launch'].logging = mods['launch.logging']
    mods['launch.logging'].get_logger = lambda name=None: LOGGER
    mods['launch.actions'].DeclareLaunchArgument = _Record
    mods['launch.actions'].OpaqueFunction = _Record
    mods['launch.substitutions'].LaunchConfiguration = _LaunchConfiguration
    mods['launch.substitutions'].PathJoinSubstitution = _PathJoin
    mods['launch_ros.actions'].Node = _Record
    mods['launch_ros.substitutions'].FindPackageShare = _FindPackageShare
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)


def _load(monkeypatch: pytest.MonkeyPatch, path: Path = LAUNCH) -> types.ModuleType:
    _stub_modules(monkeypatch)
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _declared(monkeypatch: pytest.MonkeyPatch, path: Path = LAUNCH) -> tuple[dict, Any]:
    module = _load(monkeypatch, path)
    actions = module.generate_launch_description().args[0]
    declared = {a.args[0]: a.kwargs['default_value'] for a in actions[:-1]}
    context = _Context({})
    args = {k: (v.perform(context) if isinstance(v, _Sub) else v) for k, v in declared.items()}
    return args, actions[-1].kwargs['function']


def _run(monkeypatch: pytest.MonkeyPatch, path: Path = LAUNCH, extra: dict[str, str] | None = None,
         **given: str) -> list[_Record]:
    args, function = _declared(monkeypatch, path)
    assert set(given) <= set(args), set(given) - set(args)
    args.update(given)
    args.update(extra or {})
    return function(_Context(args))


def test_every_parameter_is_a_launch_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    args, _ = _declared(monkeypatch)
    assert {s.name for s in all_specs()} <= set(args)
    assert {f'executor_{s.name}' for s in executor_specs()} <= set(args)
    assert REQUIRED <= set(args)
    alone, _ = _declared(monkeypatch, EXECUTOR_LAUNCH)
    assert {s.name for s in executor_specs()} <= set(alone)


def test_launch_logic_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, executor = _run(monkeypatch)
    kw = policy.kwargs
    assert (kw['package'], kw['executable'], kw['name']) == (
        'specprune_ros', 'specprune_policy', 'specprune_policy')
    assert kw['parameters'] == [str(REPO / 'config' / 'policy.yaml'),
                                {'use_sim_time': False, 'trigger_mode': 'on_request'}]
    assert kw['remappings'] == [] and kw['namespace'] == ''
    ex = executor.kwargs
    assert (ex['executable'], ex['name']) == ('specprune_executor', 'specprune_executor')
    assert ex['parameters'] == [str(REPO / 'config' / 'executor.yaml'), {'use_sim_time': False}]
    assert ex['remappings'] == [CHUNKS, REQUESTS]  # relative: the same namespace as the policy


def test_launch_logic_preset_remaps_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    params = str(REPO / 'config' / 'presets' / 'libero_spatial.yaml')
    policy, executor = _run(
        monkeypatch, preset='libero_goal', checkpoint='/models/oft',
        instruction='open the drawer', third_person_topic='/cam/agent/image_raw',
        wrist_topic='/cam/wrist/image_raw', ee_state_topic='/robot/ee_pose', namespace='robot1',
        use_sim_time='true', params_file=params, alpha='1.0', compressed_images='true',
        prune_layers='[3, 5]', update_layers='null', trigger_mode='continuous',
        executor_blend='latest', executor_max_delta='0.2', executor_start_enabled='true',
        action_topic='/arm/cmd')
    kw = policy.kwargs
    assert kw['parameters'] == [
        params, str(REPO / 'config' / 'presets' / 'libero_goal.yaml'),
        {'use_sim_time': True, 'checkpoint': '/models/oft', 'instruction': 'open the drawer',
         'trigger_mode': 'continuous', 'compressed_images': True, 'alpha': 1.0,
         'prune_layers': [3, 5], 'update_layers': 'null'}]
    remaps = dict(kw['remappings'])
    assert remaps['~/third_person/image_raw'] == '/cam/agent/image_raw'
    assert remaps['~/third_person/image_raw/compressed'] == '/cam/agent/image_raw/compressed'
    assert remaps['~/wrist/image_raw'] == '/cam/wrist/image_raw'
    assert remaps['~/ee_state'] == '/robot/ee_pose'
    assert kw['namespace'] == 'robot1' and executor.kwargs['namespace'] == 'robot1'
    assert executor.kwargs['parameters'][1] == {'use_sim_time': True, 'blend': 'latest',
                                                'start_enabled': True, 'max_delta': [0.2]}
    assert executor.kwargs['remappings'] == [CHUNKS, REQUESTS, ('~/action', '/arm/cmd')]


def test_launch_without_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    (policy,) = _run(monkeypatch, executor='false')
    assert policy.kwargs['parameters'][-1] == {'use_sim_time': False}  # continuous stays


@pytest.mark.parametrize('given, message', [
    ({'preset': 'libero_90'}, 'unknown preset'),
    ({'alpha': 'abc'}, "alpha:='abc' is not a float"),
    ({'alpha': '9.0'}, 'out of range'),
    ({'prune_layers': '[1.5]'}, 'list of integers'),
    ({'compressed_images': 'maybe'}, 'not a bool'),
    ({'model_preset': 'huge'}, 'not allowed'),
    ({'executor_blend': 'fast'}, 'not allowed'),
    ({'executor': 'sometimes'}, 'not a bool'),
    ({'log_level': 'verbose'}, "log_level:='verbose' is not a log level; use one of debug, "
     'info, warn, error, fatal'),
    ({'params_file': '/nonexistent.yaml'}, "params_file:='/nonexistent.yaml' does not exist"),
])
def test_launch_logic_rejects_bad_arguments(monkeypatch: pytest.MonkeyPatch,
                                            given: dict[str, str], message: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)) as info:
        _run(monkeypatch, **given)
    assert info.value.__cause__ is None and '\n' not in str(info.value)  # one line


def test_undeclared_argument_is_named_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    LOGGER.warnings.clear()
    _run(monkeypatch, extra={'alhpa': '1.0'})
    assert len(LOGGER.warnings) == 1 and "['alhpa']" in LOGGER.warnings[0]


def test_executor_launch_file(monkeypatch: pytest.MonkeyPatch) -> None:
    (node,) = _run(monkeypatch, EXECUTOR_LAUNCH)
    kw = node.kwargs
    assert kw['parameters'] == [str(REPO / 'config' / 'executor.yaml'), {'use_sim_time': False}]
    assert kw['remappings'] == [('~/action_chunk', '/specprune_policy/action_chunk'),
                                ('~/request', '/specprune_policy/request')]
    (node,) = _run(monkeypatch, EXECUTOR_LAUNCH, start_enabled='true', use_sim_time='true',
                   crossfade_ticks='5', twist_topic='/servo/twist')
    assert node.kwargs['parameters'][1] == {'use_sim_time': True, 'crossfade_ticks': 5,
                                            'start_enabled': True}
    assert ('~/twist', '/servo/twist') in node.kwargs['remappings']
    with pytest.raises(RuntimeError, match='out of range'):
        _run(monkeypatch, EXECUTOR_LAUNCH, hold_timeout='0')


def test_launch_starts_the_node() -> None:
    """The real thing, with launch and launch_ros (skipped where they are not installed)."""
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (not on PyPI); this '
                        'test runs on a ROS 2 install from packages')
    # (the repository's launch/ folder is importable as a namespace package: check the API)
    if not hasattr(pytest.importorskip('launch'), 'LaunchService'):
        pytest.skip('the ROS 2 launch package is not installed (not on PyPI)')
    from launch.actions import (
        EmitEvent,
        IncludeLaunchDescription,
        RegisterEventHandler,
        TimerAction,
    )
    from launch.event_handlers import OnProcessIO
    from launch.events import Shutdown
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService

    os.environ['ROS_DOMAIN_ID'] = str(random.randint(100, 200))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    seen: list[str] = []

    def on_io(event: Any) -> Any:
        seen.append(event.text.decode(errors='replace'))
        text = ''.join(seen)
        if 'active: waiting for' in text and 'active: disabled until' in text:
            return [EmitEvent(event=Shutdown(reason='both nodes are active'))]
        return None

    ld = LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH)),
                                 launch_arguments={'preset': 'libero_goal',
                                                   'model_preset': 'tiny',
                                                   'instruction': 'pick up the bowl'}.items()),
        RegisterEventHandler(OnProcessIO(on_stdout=on_io, on_stderr=on_io)),
        TimerAction(period=120.0, actions=[EmitEvent(event=Shutdown(reason='timeout'))]),
    ])
    service = LaunchService(argv=[])
    service.include_launch_description(ld)
    assert service.run() == 0
    text = ''.join(seen)
    assert 'active: waiting for' in text and 'active: disabled until' in text, text
