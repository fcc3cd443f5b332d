"""The ROS 2 shell: nodes and ROS tools, thin layers that convert messages and call the core.

Holds the ``specprune_policy`` node (``node``, its I/O half ``node_io``, its parameters
``node_config`` and its inference ``trigger``), the ``specprune_executor`` node
(``executor_node`` around the ROS-free executor of :mod:`specprune_ros.control`), what both
share (``node_runner``, ``ros_common``, ``launch_args`` for the launch files), message
conversions (``conversions``), input sync and watchdog plumbing (``sync``), signal handling
(``signals``), the replay tool (``replay``, ``replay_sources``) and the ROS demo
(``ros_demo``). Pure helpers used by the nodes (``conversions``, ``node_config``, ``sync``,
``signals``, ``replay_sources``, ``trigger``, ``launch_args``) import no rclpy, as in nav2,
and are tested without it.

May import: everything of ours (``errors``, ``vla``, ``specprune``, ``sim``, ``control``,
``tools``). The only subpackage that may import rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
