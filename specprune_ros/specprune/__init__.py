"""SpecPrune-VLA, the method: training-free token pruning across policy steps (ROS-free).

Holds the one parameter schema (``params``), the task-attention scorer (``scorer``), the
in-step pruner with V_global ∪ V_dynamic ∪ V_local and the layer-level S_i pruning
(``pruner``), frame comparison for V_dynamic (``frames``), the action-aware controller
(``controller``), the engine that ties them to a policy (``engine``), FLOPs (``flops``) and
the kept-tokens debug image (``debug_image``), the uniform coverage order (``coverage``), the
same-budget baselines (``baselines``) and the one registry that names variants, baselines and
the node's methods (``registry``).

May import: ``specprune_ros.errors``, ``specprune_ros.schema`` and ``specprune_ros.vla``; never
rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
