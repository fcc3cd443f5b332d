"""ROS-free tools: the benchmark, the ROS-free demo, synthetic sequences and the fixture.

Holds ``specprune-bench`` (``bench``), ``specprune-demo`` (``demo``), the synthetic moving
sequence built from the real LIBERO frame (``sequence``), the fixture loader (``fixtures``),
the comparison with OpenVLA-OFT's own output (``oft_check``) and ``specprune-eval``, the
closed-loop LIBERO evaluation (``eval`` and its ``eval_*`` modules: protocol, configs, runner,
executor (``--via-executor``), stats, report, video, replay).

May import: ``specprune_ros.errors``, ``specprune_ros.vla``, ``specprune_ros.specprune``,
``specprune_ros.sim`` and ``specprune_ros.control``; never ``specprune_ros.ros`` or rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
