r"""Launch the specprune_policy node.

Examples::

    ros2 launch specprune_ros policy.launch.py instruction:='put the bowl on the plate'
    ros2 launch specprune_ros policy.launch.py preset:=libero_goal \\
        checkpoint:=/models/openvla-7b-oft-finetuned-libero-goal \\
        third_person_topic:=/camera/agentview/image_raw wrist_topic:=/camera/wrist/image_raw \\
        ee_state_topic:=/robot/ee_pose

Parameters come from ``params_file`` (default: the package's config/policy.yaml), then the
LIBERO suite ``preset`` (config/presets/<preset>.yaml), then the non-empty arguments below.
Topic arguments remap the node's inputs (the raw image topic and its ``/compressed``
sibling); empty ones keep the node's own names (``/specprune_policy/...``).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from specprune_ros.specprune.params import PRESETS as SUITE_PRESETS

PACKAGE = 'specprune_ros'
PRESETS = tuple(SUITE_PRESETS)  # the schema's LIBERO suite presets

# (name, default, description); a default of None is filled in by generate_launch_description.
ARGUMENTS = (
    ('checkpoint', '', 'OpenVLA-OFT checkpoint directory; empty = the built-in model_preset'),
    ('unnorm_key', '', 'Dataset statistics key of the checkpoint (e.g. libero_spatial_no_noops)'),
    ('instruction', '', 'Task instruction (or publish it on ~/instruction)'),
    ('preset', '', 'LIBERO suite preset: libero_spatial, libero_object, libero_goal or '
     'libero_10 (config/presets/<preset>.yaml); empty = none'),
    ('model_preset', '', 'Built-in model (tiny, small, oft-7b); empty = from params_file'),
    ('third_person_topic', '', 'Third-person camera image topic (remaps '
     '~/third_person/image_raw); empty = no remap'),
    ('wrist_topic', '', 'Wrist camera image topic (remaps ~/wrist/image_raw)'),
    ('ee_state_topic', '', 'End-effector PoseStamped topic (remaps ~/ee_state)'),
    ('namespace', '', 'Namespace of the node'),
    ('use_sim_time', 'false', 'Use /clock (simulation time)'),
    ('params_file', None, 'Parameter file (default: config/policy.yaml of the package)'),
    ('log_level', 'info', 'Log level of the node'),
)
REMAPS = (('third_person_topic', 'third_person/image_raw'), ('wrist_topic', 'wrist/image_raw'),
          ('ee_state_topic', 'ee_state'))


def _node(context, *args, **kwargs):
    """Build the Node action from the evaluated launch arguments."""
    def arg(name):
        return LaunchConfiguration(name).perform(context).strip()

    parameters = [arg('params_file')]
    preset = arg('preset')
    if preset:
        if preset not in PRESETS:
            raise RuntimeError(f'unknown preset {preset!r}; expected one of {list(PRESETS)}')
        share = FindPackageShare(PACKAGE).perform(context)
        path = os.path.join(share, 'config', 'presets', f'{preset}.yaml')
        if not os.path.isfile(path):
            raise RuntimeError(f'preset file {path} is missing')
        parameters.append(path)
    overrides = {'use_sim_time': arg('use_sim_time').lower() in ('true', '1', 'yes')}
    for name in ('checkpoint', 'unnorm_key', 'instruction', 'model_preset'):
        if arg(name):
            overrides[name] = arg(name)
    parameters.append(overrides)
    remappings = []
    for name, topic in REMAPS:
        target = arg(name)
        if target:
            remappings.append((f'~/{topic}', target))
            if topic.endswith('image_raw'):
                remappings.append((f'~/{topic}/compressed', f'{target}/compressed'))
    return [Node(package=PACKAGE, executable='specprune_policy', name='specprune_policy',
                 namespace=arg('namespace'), parameters=parameters, remappings=remappings,
                 arguments=['--ros-args', '--log-level', arg('log_level')],
                 output='screen', emulate_tty=True)]


def generate_launch_description():
    """Declare the arguments and the node."""
    default_params = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'policy.yaml'])
    actions = [DeclareLaunchArgument(name, default_value=default_params if default is None
                                     else default, description=text)
               for name, default, text in ARGUMENTS]
    return LaunchDescription(actions + [OpaqueFunction(function=_node)])
