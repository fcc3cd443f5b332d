"""ROS-free tools, one room per command, and what they share.

Rooms: ``eval/`` (``specprune-eval``: the closed-loop LIBERO evaluation and its offline replay),
``train/`` (``specprune-train``), ``bench/`` (``specprune-bench``: paired timing, roofline, the
eager baseline), ``probe/`` (``specprune-probe``: SpecPrune's premises on a checkpoint). Shared
at the top: the ROS-free demo (``demo``, ``specprune-demo``), the synthetic moving sequence
(``sequence``), the fixture loader (``fixtures``) and the check against OpenVLA-OFT's own
output (``oft_check``). A room imports the top and the rooms ``test/test_architecture.py``
allows (eval -> train; probe -> eval, train), never another command's internals otherwise.

May import: ``specprune_ros.errors``, ``specprune_ros.schema``, ``specprune_ros.vla``,
``specprune_ros.specprune``, ``specprune_ros.sim`` and ``specprune_ros.control``; never
``specprune_ros.ros`` or rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
