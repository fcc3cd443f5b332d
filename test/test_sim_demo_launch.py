"""launch/sim_demo.launch.py: its logic run against test_launch's stand-ins of launch/launch_ros.

The wiring itself (``specprune_ros.ros.sim_bridge.wiring``) is exercised over real DDS by the main
job's test (test/ros/sim_bridge/test_sim_demo.py), which starts the same graph without launch.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import pytest
from test_launch import _declared, _run, REPO

from specprune_ros.control.executor_config import executor_specs
from specprune_ros.ros.policy.config import all_specs
from specprune_ros.ros.sim_bridge import wiring as sim_wiring
from specprune_ros.ros.sim_bridge.config import sim_specs

LAUNCH = REPO / 'launch' / 'sim_demo.launch.py'
CONFIG = REPO / 'config'


def test_every_parameter_of_the_three_nodes_is_an_argument(
        monkeypatch: pytest.MonkeyPatch) -> None:
    args, _ = _declared(monkeypatch, LAUNCH)
    names = ({f'sim_{s.name}' for s in sim_specs()} | {s.name for s in all_specs()}
             | {f'executor_{s.name}' for s in executor_specs()})
    assert names <= set(args), names - set(args)
    assert {'preset', 'executor', 'namespace', 'log_level'} <= set(args)


def test_defaults_wire_sim_policy_and_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, policy, executor = _run(monkeypatch, LAUNCH)
    assert [n.kwargs['executable'] for n in (sim, policy, executor)] == [
        'specprune_sim', 'specprune_policy', 'specprune_executor']
    assert sim.kwargs['parameters'] == [{'action_source': 'action'}]
    assert sim.kwargs['remappings'] == [('~/action', 'specprune_executor/action'),
                                        ('~/watch/request', 'specprune_policy/request'),
                                        ('~/watch/action_chunk', 'specprune_policy/action_chunk')]
    assert policy.kwargs['parameters'] == [
        str(CONFIG / 'policy.yaml'), str(CONFIG / 'presets' / 'libero_spatial.yaml'),
        {'trigger_mode': 'on_request', 'input_timeout': 30.0, 'use_sim_time': True}]
    remaps = dict(policy.kwargs['remappings'])
    assert remaps['~/ee_twist'] == 'specprune_sim/ee_twist'  # the measured velocity
    assert set(remaps) == {f'~/{t}' for t in sim_wiring.SENSORS}
    assert executor.kwargs['parameters'] == [
        str(CONFIG / 'executor.yaml'),
        {'start_enabled': True, 'hold_action': True, 'use_sim_time': True, 'lockstep': True}]
    assert executor.kwargs['remappings'] == [('~/action_chunk', 'specprune_policy/action_chunk'),
                                             ('~/request', 'specprune_policy/request')]


def test_overrides_real_time_and_no_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, policy = _run(monkeypatch, LAUNCH, executor='false', sim_task_id='3',
                       sim_real_time='true', alpha='1.0', namespace='sim1', preset='')
    assert sim.kwargs['parameters'] == [{'task_id': 3, 'real_time': True,
                                         'action_source': 'chunk'}]
    assert sim.kwargs['remappings'] == [('~/action_chunk', 'specprune_policy/action_chunk'),
                                        ('~/request', 'specprune_policy/request')]
    assert policy.kwargs['parameters'][-1] == {'trigger_mode': 'on_request',
                                               'input_timeout': 30.0, 'use_sim_time': False,
                                               'alpha': 1.0}
    assert len(policy.kwargs['parameters']) == 2  # no preset file
    assert sim.kwargs['namespace'] == policy.kwargs['namespace'] == 'sim1'


@pytest.mark.parametrize('given', [{'sim_task_id': '-1'}, {'sim_action_source': 'drive'},
                                   {'sim_action_source': 'action', 'executor': 'false'},
                                   {'preset': 'libero_99'}, {'executor_blend': 'mix'}])
def test_bad_arguments_stop_the_launch(monkeypatch: pytest.MonkeyPatch,
                                       given: dict[str, str]) -> None:
    with pytest.raises(RuntimeError):
        _run(monkeypatch, LAUNCH, **given)
