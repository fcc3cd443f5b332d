"""GripperTrack: a pose's proprio carries the fingers of its own stamp, in any arrival order."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

import numpy as np

from specprune_ros.ros.policy.gripper_track import GripperTrack


def _proprio() -> np.ndarray:
    return np.arange(8, dtype=np.float64)


def fingers(step: int) -> np.ndarray:
    return np.array([0.04 - 0.001 * step, -(0.04 - 0.001 * step)])


def test_gripper_first_then_pose() -> None:
    track = GripperTrack()
    for k in range(5):
        track.add(1.0 + 0.05 * k, fingers(k))
    p = track.proprio_gripper(1.0 + 0.05 * 2, _proprio())  # an older pose: its own fingers
    assert np.array_equal(p[-2:], fingers(2)) and np.array_equal(p[:6], np.arange(6))


def test_pose_first_is_filled_in_when_its_gripper_comes() -> None:
    track = GripperTrack()
    track.add(1.0, fingers(0))
    p = track.proprio_gripper(1.05, _proprio())  # step 1's pose before step 1's fingers
    assert np.array_equal(p[-2:], fingers(0))  # best known so far: the step before
    track.add(1.05, fingers(1))
    assert np.array_equal(p[-2:], fingers(1))  # the array the synchroniser holds is fixed
    track.add(1.10, fingers(2))
    assert np.array_equal(p[-2:], fingers(1))  # a later state never overwrites it


def test_unstamped_gripper_is_the_current_state() -> None:
    track = GripperTrack()
    track.add(0.0, fingers(3))
    p = track.proprio_gripper(2.0, _proprio())
    assert np.array_equal(p[-2:], fingers(3))
