r"""Launch the specprune_policy node and (``executor:=true``, the default) specprune_executor.

Examples::

    ros2 launch specprune_ros policy.launch.py instruction:='put the bowl on the plate'
    ros2 launch specprune_ros policy.launch.py preset:=libero_goal \\
        checkpoint:=/models/openvla-7b-oft-finetuned-libero-goal \\
        third_person_topic:=/camera/agentview/image_raw wrist_topic:=/camera/wrist/image_raw \\
        ee_state_topic:=/robot/ee_pose alpha:=1.0 action_topic:=/arm/delta_command

Policy parameters come from ``params_file`` (default: the package's config/policy.yaml), then
the LIBERO suite ``preset`` (config/presets/<preset>.yaml), then the non-empty arguments:
every policy parameter is an argument of its own name (``alpha:=1.0``), every executor
parameter one with the prefix ``executor_`` (``executor_blend:=latest``). A value is checked
against the schema here; a bad one, a missing ``params_file`` or an unknown ``log_level``
stops the launch with one line saying why, and an argument this file does not declare is
named in a warning. With the executor, the policy runs ``trigger_mode:=on_request`` unless the
argument says otherwise, and the executor starts disabled (this is the robot launch:
``executor_start_enabled:=true`` or the ``~/enable`` service moves the arm). Topic arguments
remap the nodes' topics; empty ones keep the nodes' own names.
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
from specprune_ros.ros.policy.config import all_specs
from specprune_ros.specprune.params import PRESETS as SUITE_PRESETS

PACKAGE = 'specprune_ros'
FILE = 'policy.launch.py'
PRESETS = tuple(SUITE_PRESETS)  # the schema's LIBERO suite presets
EXECUTOR_PREFIX = 'executor_'

# (name, default, description) of the arguments that are not parameters; a default of None is
# filled in by generate_launch_description.
ARGUMENTS = (
    ('preset', '', 'LIBERO suite preset: libero_spatial, libero_object, libero_goal or '
     'libero_10 (config/presets/<preset>.yaml); empty = none'),
    ('third_person_topic', '', 'Third-person camera image topic (remaps '
     '~/third_person/image_raw); empty = no remap'),
    ('wrist_topic', '', 'Wrist camera image topic (remaps ~/wrist/image_raw)'),
    ('ee_state_topic', '', 'End-effector PoseStamped topic (remaps ~/ee_state)'),
    ('namespace', '', 'Namespace of the nodes'),
    ('use_sim_time', 'false', 'Use /clock (simulation time)'),
    ('params_file', None, 'Policy parameter file (default: config/policy.yaml of the package)'),
    ('log_level', 'info', 'Log level of the nodes: debug, info, warn, error or fatal'),
    ('executor', 'true', 'Also start specprune_executor on the policy chunks (true or false)'),
    ('executor_params_file', None, 'Executor parameter file (default: config/executor.yaml)'),
    ('action_topic', '', "Topic of the executor's actions (remaps ~/action); empty = "
     '/specprune_executor/action'),
    ('twist_topic', '', "Topic of the executor's TwistStamped (remaps ~/twist, with "
     'executor_publish_twist:=true)'),
)
REMAPS = (('third_person_topic', 'third_person/image_raw'), ('wrist_topic', 'wrist/image_raw'),
          ('ee_state_topic', 'ee_state'))
PARAMETER_ARGUMENTS = (launch_args.schema_arguments(all_specs())
                       + launch_args.schema_arguments(executor_specs(), EXECUTOR_PREFIX))


def _nodes(context):
    """Build the Node actions from the evaluated launch arguments."""
    given = launch_args.given_arguments(context, (*ARGUMENTS, *PARAMETER_ARGUMENTS),
                                        LaunchConfiguration, launch.logging.get_logger(FILE), FILE)
    log_level = launch_args.check_log_level(given['log_level'])
    sim_time = launch_args.parse_bool('use_sim_time', given['use_sim_time'])
    with_executor = launch_args.parse_bool('executor', given['executor'])
    parameters = [launch_args.check_params_file(given['params_file'])]
    preset_path = launch_args.preset_file(given['preset'], PRESETS,
                                          lambda: FindPackageShare(PACKAGE).perform(context))
    if preset_path:
        parameters.append(preset_path)
    overrides = {'use_sim_time': sim_time, **launch_args.overrides(all_specs(), given)}
    if with_executor:
        overrides.setdefault('trigger_mode', 'on_request')
    parameters.append(overrides)
    remappings = []
    for name, topic in REMAPS:
        target = given[name]
        if target:
            remappings.append((f'~/{topic}', target))
            if topic.endswith('image_raw'):
                remappings.append((f'~/{topic}/compressed', f'{target}/compressed'))
    namespace = given['namespace']
    ros_args = ['--ros-args', '--log-level', log_level]
    nodes = [Node(package=PACKAGE, executable='specprune_policy', name='specprune_policy',
                  namespace=namespace, parameters=parameters, remappings=remappings,
                  arguments=ros_args, output='screen', emulate_tty=True)]
    if with_executor:
        ex_params = [launch_args.check_params_file(given['executor_params_file']),
                     {'use_sim_time': sim_time,
                      **launch_args.overrides(executor_specs(), given, EXECUTOR_PREFIX)}]
        ex_remaps = [('~/action_chunk', 'specprune_policy/action_chunk'),
                     ('~/request', 'specprune_policy/request')]
        for name, topic in (('action_topic', '~/action'), ('twist_topic', '~/twist')):
            if given[name]:
                ex_remaps.append((topic, given[name]))
        nodes.append(Node(package=PACKAGE, executable='specprune_executor',
                          name='specprune_executor', namespace=namespace, parameters=ex_params,
                          remappings=ex_remaps, arguments=ros_args, output='screen',
                          emulate_tty=True))
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
