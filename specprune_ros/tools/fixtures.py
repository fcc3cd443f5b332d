"""A real LIBERO observation (images, state, task) for the tools that need one frame.

The tests read the reference fixture beside the checkout (``../shared/fixtures``, OpenVLA-OFT's
sample); a checkout that stands alone uses the sample in ``specprune_ros/tools/sample/``,
rendered by this project's simulator (``scripts/render_sample.py``).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # policy imports torch; loading images here must not
    from specprune_ros.vla.policy import Observation

FIXTURE_ENV = 'SPECPRUNE_FIXTURE'
_DEFAULT = Path('shared') / 'fixtures' / 'libero_spatial_sample'


def fixture_dir(path: str | os.PathLike | None = None) -> Path:
    """The fixture folder: ``path``, $SPECPRUNE_FIXTURE, ../shared, or the packaged sample."""
    if path:
        given = Path(path)
        if not (given / 'observation.json').is_file():
            raise FileNotFoundError(f'{given}: no observation.json (expected observation.json, '
                                    'third_person.png and wrist.png)')
        return given
    candidates = []
    if os.environ.get(FIXTURE_ENV):
        candidates.append(Path(os.environ[FIXTURE_ENV]))
    root = Path(__file__).resolve().parents[2]
    candidates += [root.parent / _DEFAULT, root / _DEFAULT, Path(__file__).parent / 'sample']
    for cand in candidates:
        if (cand / 'observation.json').is_file():
            return cand
    raise FileNotFoundError(f'LIBERO fixture not found in {[str(c) for c in candidates]}; '
                            f'expected observation.json, third_person.png and wrist.png '
                            f'(set {FIXTURE_ENV})')


def load_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3)."""
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'), dtype=np.uint8).copy()


def load_observation(path: str | os.PathLike | None = None) -> 'Observation':
    """The fixture as an :class:`Observation` (state: eef xyz, axis-angle, gripper ×2)."""
    from specprune_ros.vla.policy import Observation

    d = fixture_dir(path)
    meta = json.loads((d / 'observation.json').read_text())
    return Observation(images=(load_rgb(d / 'third_person.png'), load_rgb(d / 'wrist.png')),
                       proprio=np.asarray(meta['state'], dtype=np.float64),
                       instruction=meta['task_description'])
