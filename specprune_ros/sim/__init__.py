"""LIBERO in the loop, without ROS: the simulator, a scripted expert and demo recording.

Holds the suite constants and the episode configuration (``config``), the observation in the
policy's conventions with the orientation helpers (``observation``), on-demand offscreen
rendering (``render``), importing the benchmark with its tasks and init states (``tasks``), the
deterministic benchmark env ``LiberoEnv`` (``env``), the scripted
LIBERO-Spatial expert (``expert``), episode runners and worker pools (``runner``), the
LIBERO/robomimic HDF5 demo writer and reader (``record``) and the ``specprune-sim`` command
line (``cli``). LIBERO, robosuite and MuJoCo are imported only when an env is built, so this
package imports without them; ``libero_missing()`` says what is not installed.

May import: ``specprune_ros.errors`` (and later ``specprune_ros.vla``); nothing else of ours,
and never rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from specprune_ros.sim.config import (
           CONTROL_PERIOD,
           MAX_STEPS,
           NOOP_ACTION,
           SimConfig,
           SimError,
           SimUnavailableError,
           SUITES,
           WAIT_STEPS,
)
from specprune_ros.sim.env import libero_missing, LiberoEnv, task_info, TaskInfo
from specprune_ros.sim.observation import (
           native_view,
           ObjectPose,
           oft_resize,
           policy_view,
           quat2axisangle,
           SimObservation,
)

__all__ = ['CONTROL_PERIOD', 'MAX_STEPS', 'NOOP_ACTION', 'SUITES', 'WAIT_STEPS', 'LiberoEnv',
           'ObjectPose', 'SimConfig', 'SimError', 'SimObservation', 'SimUnavailableError',
           'TaskInfo', 'libero_missing', 'native_view', 'oft_resize', 'policy_view',
           'quat2axisangle', 'task_info']
