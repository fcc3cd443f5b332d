"""What every ROS 2 node here shares.

``node_runner`` (the lifecycle shell and ``run_node``), ``node_base`` (schema parameters,
logging, diagnostics, the message module), ``launch_args`` (launch-file arguments, ROS-free),
``entry_points`` (console scripts with ``--help`` that starts nothing), ``conversions``
(message <-> array, ROS-free), ``signals`` and ``sync`` (input sync, watchdog, rates, ROS-free).
May import the ROS-free core; never another ``ros`` room.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
