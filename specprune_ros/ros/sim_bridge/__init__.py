"""The ``specprune_sim`` node: LIBERO as a ROS 2 robot, and the closed-loop main job.

``node`` (the lifecycle node), ``loop`` (episodes, lockstep time, publishing), ``actions``
(which action a step executes, ROS-free), ``config`` (its parameters, ROS-free), ``wiring``
(how bridge, policy and executor connect, ROS-free), ``demo`` (``specprune-sim-demo``, the
main job) and ``listener`` (its video, PNG and summary). May import ``ros.common``,
``ros.policy.config`` and the ROS-free core.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
