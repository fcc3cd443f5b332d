r"""Launch specprune_executor alone, on the chunks of a running specprune_policy.

Examples::

    ros2 launch specprune_ros executor.launch.py action_topic:=/arm/delta_command
    ros2 launch specprune_ros executor.launch.py blend:=temporal_ensemble ensemble_m:=0.1 \\
        start_enabled:=true use_sim_time:=true          # a simulation: moves at once

Parameters come from ``params_file`` (default: the package's config/executor.yaml), then the
non-empty arguments: every executor parameter is an argument of its own name, checked against
the schema here (a bad value, a missing ``params_file`` or an unknown ``log_level`` stops the
launch with one line; an undeclared argument is named in a warning). ``start_enabled`` is
false unless given: nothing moves until ``~/enable`` (std_srvs/SetBool) is called with true.
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
from specprune_ros.ros.common import launch_args

PACKAGE = 'specprune_ros'
FILE = 'executor.launch.py'

# (name, default, description); a default of None is filled in by generate_launch_description.
ARGUMENTS = (
    ('chunk_topic', '/specprune_policy/action_chunk', 'ActionChunk topic of the policy (remaps '
     '~/action_chunk)'),
    ('request_topic', '/specprune_policy/request', "The policy's ~/request topic (remaps "
     '~/request)'),
    ('action_topic', '', 'Topic of the actions (remaps ~/action); empty = no remap'),
    ('twist_topic', '', 'Topic of the TwistStamped (remaps ~/twist, with publish_twist:=true)'),
    ('namespace', '', 'Namespace of the node'),
    ('use_sim_time', 'false', 'Use /clock (simulation time)'),
    ('params_file', None, 'Parameter file (default: config/executor.yaml of the package)'),
    ('log_level', 'info', 'Log level of the node: debug, info, warn, error or fatal'),
)
PARAMETER_ARGUMENTS = launch_args.schema_arguments(executor_specs())


def _node(context):
    """Build the Node action from the evaluated launch arguments."""
    given = launch_args.given_arguments(context, (*ARGUMENTS, *PARAMETER_ARGUMENTS),
                                        LaunchConfiguration, launch.logging.get_logger(FILE), FILE)
    log_level = launch_args.check_log_level(given['log_level'])
    parameters = [launch_args.check_params_file(given['params_file']),
                  {'use_sim_time': launch_args.parse_bool('use_sim_time', given['use_sim_time']),
                   **launch_args.overrides(executor_specs(), given)}]
    remappings = [(topic, given[name]) for name, topic in (
        ('chunk_topic', '~/action_chunk'), ('request_topic', '~/request'),
        ('action_topic', '~/action'), ('twist_topic', '~/twist')) if given[name]]
    return [Node(package=PACKAGE, executable='specprune_executor', name='specprune_executor',
                 namespace=given['namespace'], parameters=parameters, remappings=remappings,
                 arguments=['--ros-args', '--log-level', log_level], output='screen',
                 emulate_tty=True)]


def generate_launch_description():
    """Declare the arguments and the node."""
    defaults = {'params_file': PathJoinSubstitution([FindPackageShare(PACKAGE), 'config',
                                                     'executor.yaml'])}
    actions = launch_args.declare(DeclareLaunchArgument, (*ARGUMENTS, *PARAMETER_ARGUMENTS),
                                  defaults)
    return LaunchDescription(
        actions + [OpaqueFunction(function=launch_args.one_line_errors(_node))])
