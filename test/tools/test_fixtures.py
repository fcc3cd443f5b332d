"""The sample observation a checkout ships (specprune_ros.tools.fixtures)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from specprune_ros.tools import fixtures

SAMPLE = Path(fixtures.__file__).parent / 'sample'
SHARED = Path(fixtures.__file__).resolve().parents[3] / 'shared' / 'fixtures' / \
    'libero_spatial_sample'


def test_the_packaged_sample_loads() -> None:
    obs = fixtures.load_observation(SAMPLE)
    assert obs.instruction.startswith('pick up the black bowl')
    assert [im.shape for im in obs.images] == [(224, 224, 3)] * 2 and obs.proprio.shape == (8,)
    assert all(im.std() > 10 for im in obs.images)  # real renders, not blank


@pytest.mark.skipif(not SHARED.is_dir(), reason='no ../shared/fixtures beside the checkout')
def test_the_sample_is_the_scene_of_the_reference_fixture() -> None:
    ours, ref = fixtures.load_observation(SAMPLE), fixtures.load_observation(SHARED)
    assert ours.instruction == ref.instruction
    np.testing.assert_allclose(ours.proprio, ref.proprio, atol=1e-12)  # the same state
    for a, b in zip(ours.images, ref.images):  # the same view; renderers differ in pixels
        assert np.abs(a.astype(float) - b.astype(float)).mean() < 20


def test_a_given_folder_without_the_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'observation\.json'):
        fixtures.fixture_dir(tmp_path / 'none')  # never silently another observation
