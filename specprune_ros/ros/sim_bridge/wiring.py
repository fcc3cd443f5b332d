"""How the closed loop is wired: bridge, policy and executor topics and their demo settings.

One place for ``launch/sim_demo.launch.py`` and ``specprune_ros.ros.sim_bridge.demo`` (the main
job), so both start the same graph. Remap targets are relative names: they resolve in the nodes'
namespace. ROS-free.

::

    specprune_sim ~/third_person/image_raw, ~/wrist/image_raw, ~/ee_state, ~/ee_twist,
                  ~/gripper_state, ~/instruction  ──▶ specprune_policy (same names)
    specprune_policy ~/action_chunk ──▶ specprune_executor ~/action_chunk
    specprune_executor ~/request ──▶ specprune_policy ~/request
    specprune_executor ~/action ──▶ specprune_sim ~/action
    specprune_policy ~/request, ~/action_chunk ──▶ specprune_sim ~/watch/... (lockstep only)

In simulated time the executor runs in lockstep (``lockstep: true``: it asks before the tick
that needs a chunk and holds that tick until the answer) and the bridge watches the requests
and chunks, so /clock stands still while the policy computes. Without the executor
(``action_source: chunk``) the bridge takes the policy's chunks and asks for the next one on the
policy's ``~/request`` itself.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from typing import Any

from specprune_ros.control.executor_config import SIMULATION_SETTINGS

SIM, POLICY, EXECUTOR = 'specprune_sim', 'specprune_policy', 'specprune_executor'
SENSORS = ('third_person/image_raw', 'wrist/image_raw', 'ee_state', 'ee_twist', 'gripper_state',
           'instruction')
# The policy asks for chunks (the executor's requests); the watchdog runs on the wall clock,
# and a CPU simulation renders slower than real time, so it waits longer than on a robot.
POLICY_SETTINGS: dict[str, Any] = {'trigger_mode': 'on_request', 'input_timeout': 30.0}


def executor_settings(sim_time: bool) -> dict[str, Any]:
    """The executor's settings for a simulation.

    A simulation moves at once and idle ticks send the zero-motion hold (as
    ``specprune-eval --via-executor``); in simulated time the executor runs in lockstep.
    """
    return {**SIMULATION_SETTINGS, 'use_sim_time': sim_time, 'lockstep': sim_time}


def policy_remaps() -> list[tuple[str, str]]:
    """The policy's inputs from the bridge."""
    return [(f'~/{topic}', f'{SIM}/{topic}') for topic in SENSORS]


def executor_remaps() -> list[tuple[str, str]]:
    """The executor's chunks from, and requests to, the policy."""
    return [('~/action_chunk', f'{POLICY}/action_chunk'), ('~/request', f'{POLICY}/request')]


def sim_remaps(with_executor: bool, sim_time: bool = True) -> list[tuple[str, str]]:
    """The bridge's actions: the executor's, or (without the executor) the policy's chunks.

    With the executor in simulated time the bridge also watches the policy's requests and
    chunks (lockstep).
    """
    if with_executor:
        watch = [('~/watch/request', f'{POLICY}/request'),
                 ('~/watch/action_chunk', f'{POLICY}/action_chunk')] if sim_time else []
        return [('~/action', f'{EXECUTOR}/action'), *watch]
    return [('~/action_chunk', f'{POLICY}/action_chunk'), ('~/request', f'{POLICY}/request')]
