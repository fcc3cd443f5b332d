"""What the simulator tests share: the skip mark (LIBERO missing) and an env builder.

Not a conftest.py: test/conftest.py is imported as ``conftest`` by other test folders.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator

import pytest

from specprune_ros.sim import libero_missing, LiberoEnv

MISSING = libero_missing()
needs_libero = pytest.mark.skipif(MISSING is not None, reason=f'LIBERO not importable: {MISSING}')


def spatial_env() -> Iterator[LiberoEnv]:
    """LIBERO-Spatial task 0 with both cameras at 224, faithful rendering (≈ 10 s to build)."""
    env = LiberoEnv('libero_spatial', 0, 0, seed=0)
    yield env
    env.close()
