"""Console entry points of the nodes: ``--help`` answers at once, without rclpy or torch.

A node's module imports rclpy, the generated messages and the model stack (seconds); these
entry points print the help from the parameter schema first and import the node only to run
it. ROS arguments (``--ros-args ...``) are passed through untouched.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
import sys
import textwrap

from specprune_ros.schema import ParamSpec

POLICY_SUMMARY = """\
The specprune_policy lifecycle node: an OpenVLA-OFT-style VLA policy with SpecPrune-VLA token
pruning. Subscribes ~/third_person/image_raw, ~/wrist/image_raw (sensor_msgs/Image),
~/ee_state (PoseStamped), ~/ee_twist, ~/gripper_state, ~/instruction; publishes
~/action_chunk (specprune_ros/ActionChunk), ~/stats, ~/debug/kept_tokens and /diagnostics."""
POLICY_EXAMPLE = ('specprune_policy --ros-args -p model_preset:=tiny -p alpha:=0.8 '
                  '-p instruction:="put the bowl on the plate"')
EXECUTOR_SUMMARY = """\
The specprune_executor lifecycle node: turns action chunks into one action per control tick.
Subscribes ~/action_chunk (specprune_ros/ActionChunk; remap it to the policy's); publishes
~/action (specprune_ros/Action) at control_rate, optionally ~/twist (TwistStamped), ~/request
(std_msgs/Header: asks the policy for the next chunk) and /diagnostics; serves ~/enable
(std_srvs/SetBool). Late steps are skipped, overlapping chunks blended, motion rate limited and
clamped; nothing moves until enabled (start_enabled)."""
EXECUTOR_EXAMPLE = ('specprune_executor --ros-args -r ~/action_chunk:=/specprune_policy/'
                    'action_chunk -r ~/request:=/specprune_policy/request -p blend:=crossfade')
SIM_SUMMARY = """\
The specprune_sim lifecycle node: the LIBERO benchmark (MuJoCo, offscreen EGL rendering) as a
robot. Publishes ~/third_person/image_raw, ~/wrist/image_raw (sensor_msgs/Image rgb8, the
OpenVLA-OFT policy view), ~/ee_state (PoseStamped), ~/ee_twist (TwistStamped, measured),
~/gripper_state (JointState), ~/instruction (String, transient local), ~/episode (String, JSON
status) and, with real_time:=false, /clock; executes ~/action (specprune_ros/Action) or, with
action_source:=chunk, the first steps of each ~/action_chunk (asking on ~/request)."""
SIM_EXAMPLE = ('specprune_sim --ros-args -p task_id:=0 -p init_state:=0 -p episodes:=1 '
               '-r ~/action:=/specprune_executor/action')


def help_requested(argv: Sequence[str]) -> bool:
    """True when ``-h``/``--help`` comes before any ``--ros-args``."""
    for arg in argv:
        if arg == '--ros-args':
            return False
        if arg in ('-h', '--help'):
            return True
    return False


def node_help(prog: str, summary: str, specs: Sequence[ParamSpec], example: str) -> str:
    """The help text of a node: what it does, how to run it, and every parameter."""
    from specprune_ros.ros.common.param_values import describe, type_text

    lines = [f'usage: {prog} [-h] [--ros-args -p NAME:=VALUE ... --params-file FILE ...]', '',
             summary, '', 'parameters (ros2 param set / -p NAME:=VALUE):']
    for spec in specs:
        lines.append(f'  {spec.name} ({type_text(spec)}, default {spec.default!r})')
        lines += textwrap.wrap(describe(spec), 95, initial_indent='      ',
                               subsequent_indent='      ')
    lines += ['', f'example:\n  {example}']
    return '\n'.join(lines)


def policy(argv: Sequence[str] | None = None) -> int:
    """``specprune_policy``: the policy node (``--help`` lists its parameters)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if help_requested(args):
        from specprune_ros.ros.policy.config import all_specs

        print(node_help('specprune_policy', POLICY_SUMMARY, all_specs(), POLICY_EXAMPLE))
        return 0
    from specprune_ros.ros.policy.node import main

    return main(None if argv is None else [sys.argv[0], *args])


def executor(argv: Sequence[str] | None = None) -> int:
    """``specprune_executor``: the chunk executor node (``--help`` lists its parameters)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if help_requested(args):
        from specprune_ros.control.executor_config import executor_specs

        print(node_help('specprune_executor', EXECUTOR_SUMMARY, executor_specs(),
                        EXECUTOR_EXAMPLE))
        return 0
    from specprune_ros.ros.executor.node import main

    return main(None if argv is None else [sys.argv[0], *args])


def sim(argv: Sequence[str] | None = None) -> int:
    """``specprune_sim``: the LIBERO bridge node (``--help`` lists its parameters)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if help_requested(args):
        from specprune_ros.ros.sim_bridge.config import sim_specs

        print(node_help('specprune_sim', SIM_SUMMARY, sim_specs(), SIM_EXAMPLE))
        return 0
    from specprune_ros.ros.sim_bridge.node import main

    return main(None if argv is None else [sys.argv[0], *args])
