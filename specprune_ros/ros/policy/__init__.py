"""The ``specprune_policy`` node: the VLA with SpecPrune behind ROS 2 topics.

``node`` (the lifecycle node), ``io`` (its subscriptions, publishers, diagnostics), ``config``
(its parameters, ROS-free), ``trigger`` (when to infer, ROS-free), ``gripper_track``
(gripper state by stamp, ROS-free) and ``instant`` (waiting for an instant's messages).
May import ``ros.common`` and the ROS-free core.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
