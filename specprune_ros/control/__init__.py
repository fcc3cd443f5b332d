"""ROS-free control: action chunks to one action per control tick, shared by ROS and the eval.

Holds the chunk executor's logic (``executor``: ``ChunkExecutor``, ``Chunk``, ``Tick``; time
alignment of chunk steps, blending, gripper, hold and safety, the request threshold) and its
parameter schema (``executor_config``: ``ExecutorConfig``). The ``specprune_executor`` node
(``specprune_ros.ros.executor.node``) and ``specprune-eval --via-executor``
(``specprune_ros.tools``) run the same code, with the lockstep rule of simulated time
(``lockstep``) and the wire format of chunks and actions (``wire``).

May import: ``specprune_ros.errors``, ``specprune_ros.schema`` and the action space
(``specprune_ros.vla.action_space``, numpy only); never ``specprune_ros.ros``,
``specprune_ros.tools`` or rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
