"""The ROS 2 shell: nodes and ROS tools, thin layers that convert messages and call the core.

One room per node: ``policy/`` (``specprune_policy``: the VLA with SpecPrune), ``executor/``
(``specprune_executor`` around :mod:`specprune_ros.control`), ``sim_bridge/`` (``specprune_sim``,
LIBERO as a robot, and the closed-loop main job ``specprune-sim-demo``), ``replay/``
(``specprune-replay`` and the replay demo); ``common/`` holds what they share (lifecycle shell,
schema parameters, launch arguments, entry points, conversions, signals, sync, processes).
A node's room imports ``common`` and the ROS-free core, not another node's room
(``test/test_architecture.py``). Pure helpers (``common.conversions``, ``common.sync``,
``common.param_values``, ``common.launch_args``, ``common.signals``, ``policy.config``,
``policy.trigger``, ``replay.sources``, ``sim_bridge.actions``/``config``/``wiring``) import
no rclpy, as in nav2, and are tested without it.

May import: everything of ours (``errors``, ``schema``, ``vla``, ``specprune``, ``sim``,
``control``, ``tools``). The only subpackage that may import rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
