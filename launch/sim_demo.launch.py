r"""Launch the closed loop on LIBERO: specprune_sim + specprune_policy + specprune_executor.

Examples::

    ros2 launch specprune_ros sim_demo.launch.py
    ros2 launch specprune_ros sim_demo.launch.py checkpoint:=models/libero_spatial_demo \\
        sim_task_id:=3 sim_init_state:=5 sim_episodes:=10 alpha:=0.8
    ros2 launch specprune_ros sim_demo.launch.py executor:=false   # OFT open loop, no executor

The bridge runs in simulated time (``/clock``; ``sim_real_time:=true`` for the wall clock) and
the policy and executor follow it (``use_sim_time``). Every bridge parameter is an argument with
the prefix ``sim_`` (``sim_task_id:=3``), every policy parameter one of its own name
(``alpha:=1.0``, ``checkpoint:=DIR``) and every executor parameter one with the prefix
``executor_``; values are checked against the schemas here. The policy starts with the LIBERO
suite ``preset`` (default libero_spatial), ``trigger_mode:=on_request`` and a 30 s watchdog; the
executor enabled (``executor_start_enabled`` true: a simulation moves at once) with zero-motion
holds. With ``executor:=false`` the bridge executes the first steps of each chunk itself
(``sim_action_source`` chunk). The wiring is ``specprune_ros.ros.sim_bridge.wiring``,
shared with the main job (``scripts/demo.sh``).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from launch.actions import DeclareLaunchArgument, OpaqueFunction
import launch.logging
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from specprune_ros.control.executor_config import executor_specs
from specprune_ros.errors import ConfigError
from specprune_ros.ros.common import launch_args
from specprune_ros.ros.policy.config import all_specs
from specprune_ros.ros.sim_bridge import wiring as sim_wiring
from specprune_ros.ros.sim_bridge.config import sim_specs
from specprune_ros.specprune.params import PRESETS as SUITE_PRESETS

PACKAGE = 'specprune_ros'
FILE = 'sim_demo.launch.py'
SIM_PREFIX, EXECUTOR_PREFIX = 'sim_', 'executor_'

# (name, default, description); a default of None is filled in by generate_launch_description.
ARGUMENTS = (
    ('preset', 'libero_spatial', 'LIBERO suite preset of the policy (config/presets/<preset>'
     '.yaml): libero_spatial, libero_object, libero_goal or libero_10; empty = none'),
    ('executor', 'true', 'Start specprune_executor (false: the bridge executes the chunks)'),
    ('namespace', '', 'Namespace of the nodes'),
    ('params_file', None, 'Policy parameter file (default: config/policy.yaml of the package)'),
    ('executor_params_file', None, 'Executor parameter file (default: config/executor.yaml)'),
    ('log_level', 'info', 'Log level of the nodes: debug, info, warn, error or fatal'),
)
PARAMETER_ARGUMENTS = (launch_args.schema_arguments(sim_specs(), SIM_PREFIX)
                       + launch_args.schema_arguments(all_specs())
                       + launch_args.schema_arguments(executor_specs(), EXECUTOR_PREFIX))


def _nodes(context):
    """Build the Node actions from the evaluated launch arguments."""
    given = launch_args.given_arguments(context, (*ARGUMENTS, *PARAMETER_ARGUMENTS),
                                        LaunchConfiguration, launch.logging.get_logger(FILE), FILE)
    ros_args = ['--ros-args', '--log-level', launch_args.check_log_level(given['log_level'])]
    with_executor = launch_args.parse_bool('executor', given['executor'])
    sim = launch_args.overrides(sim_specs(), given, SIM_PREFIX)
    sim.setdefault('action_source', 'action' if with_executor else 'chunk')
    if (sim['action_source'] == 'action') != with_executor:
        raise ConfigError(f"sim_action_source:={sim['action_source']} does not fit executor:="
                          f"{given['executor']} (action needs the executor, chunk runs without)")
    sim_time = not sim.get('real_time', False)
    checkpoint = launch_args.overrides(all_specs(), given).get('checkpoint')
    if checkpoint and ('render_size' not in sim or 'fast_render' not in sim):
        from specprune_ros.tools.train.data import render_for  # render as its demos were

        size, fast = render_for(checkpoint, sim.get('render_size'), sim.get('fast_render'),
                                (256, False))
        sim.setdefault('render_size', size)
        sim.setdefault('fast_render', fast)
    policy_params = [launch_args.check_params_file(given['params_file'])]
    preset_path = launch_args.preset_file(given['preset'], SUITE_PRESETS,
                                          lambda: FindPackageShare(PACKAGE).perform(context))
    if preset_path:
        policy_params.append(preset_path)
    policy_params.append({**sim_wiring.POLICY_SETTINGS, 'use_sim_time': sim_time,
                          **launch_args.overrides(all_specs(), given)})
    common = {'namespace': given['namespace'], 'arguments': ros_args, 'output': 'screen',
              'emulate_tty': True}
    nodes = [Node(package=PACKAGE, executable='specprune_sim', name=sim_wiring.SIM,
                  parameters=[sim], remappings=sim_wiring.sim_remaps(with_executor, sim_time),
                  **common),
             Node(package=PACKAGE, executable='specprune_policy', name=sim_wiring.POLICY,
                  parameters=policy_params, remappings=sim_wiring.policy_remaps(), **common)]
    if with_executor:
        ex_params = [launch_args.check_params_file(given['executor_params_file']),
                     {**sim_wiring.executor_settings(sim_time),
                      **launch_args.overrides(executor_specs(), given, EXECUTOR_PREFIX)}]
        nodes.append(Node(package=PACKAGE, executable='specprune_executor',
                          name=sim_wiring.EXECUTOR, parameters=ex_params,
                          remappings=sim_wiring.executor_remaps(), **common))
    return nodes


def generate_launch_description():
    """Declare the arguments and the nodes."""
    share = FindPackageShare(PACKAGE)
    defaults = {'params_file': PathJoinSubstitution([share, 'config', 'policy.yaml']),
                'executor_params_file': PathJoinSubstitution([share, 'config',
                                                              'executor.yaml'])}
    actions = launch_args.declare(DeclareLaunchArgument, (*ARGUMENTS, *PARAMETER_ARGUMENTS),
                                  defaults)
    return LaunchDescription(
        actions + [OpaqueFunction(function=launch_args.one_line_errors(_nodes))])
