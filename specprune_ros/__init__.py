"""SpecPrune-VLA token pruning for OpenVLA-OFT policies, with a ROS 2 node.

Subpackages, by role (each ``__init__`` says what it may import)::

    vla/        the OpenVLA-OFT-family model, its loader and preprocessing   <- errors
    specprune/  the method: scorer, pruner, frames, controller, engine       <- vla
    sim/        the LIBERO benchmark behind a small stepping API             <- vla
    tools/      bench, demo, evaluation, training (console scripts)          <- vla, specprune, sim
    ros/        nodes and ROS tools; the only place that imports rclpy       <- all of the above

``errors`` (the exceptions) is shared by all of them.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

__version__ = '0.1.0'

# The generated messages (specprune_ros.msg) live only in the colcon install space. A process
# started in the repository root imports this source folder first, so extend the package path
# with any other `specprune_ros` folder on sys.path (the install space that scripts/ros_env.sh
# puts on PYTHONPATH). A no-op without one; imports nothing from ROS.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)
