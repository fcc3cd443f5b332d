"""ROS-free tests of specprune_ros.ros.policy.instant."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math
import threading

from specprune_ros.ros.policy.instant import StampWatermark


def test_stamp_watermark_waits_for_an_instant() -> None:
    mark = StampWatermark()
    assert not mark.wait_for(1.0, 0.01)
    threading.Timer(0.05, mark.mark, args=(1.0,)).start()
    assert mark.wait_for(1.0, 5.0) and mark.newest == 1.0
    mark.mark(0.5)  # older: kept
    assert mark.newest == 1.0 and mark.wait_for(0.9, 0.0)
    mark.reset()
    assert mark.newest == -math.inf
