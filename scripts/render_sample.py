"""Render the sample observation the ROS-free tools use without ../shared.

LIBERO-Spatial task 0, initial state 0, OpenVLA-OFT's settings (seed 7, 10 wait steps, both
views rendered at 256 and brought to 224): the step-0 observation, written to
``specprune_ros/tools/sample/`` as observation.json, third_person.png and wrist.png.

    python scripts/render_sample.py
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
from pathlib import Path

from PIL import Image

from specprune_ros.sim import LiberoEnv
from specprune_ros.sim.config import SimConfig
from specprune_ros.tools.eval.protocol import proprio

OUT = Path(__file__).resolve().parents[1] / 'specprune_ros' / 'tools' / 'sample'


def main() -> None:
    """Render and write the sample."""
    env = LiberoEnv.from_config(SimConfig(suite='libero_spatial', task_id=0, init_state_id=0,
                                          seed=7, camera_size=224, render_size=256))
    try:
        obs = env.reset(0, render=True)
        OUT.mkdir(parents=True, exist_ok=True)
        Image.fromarray(obs.agentview).save(OUT / 'third_person.png')
        Image.fromarray(obs.wrist).save(OUT / 'wrist.png')
        meta = {'task_description': env.instruction, 'state': proprio(obs).tolist(),
                'state_layout': 'eef_pos xyz (m), eef_axis_angle (3, rad), gripper qpos (2)',
                'image_size': [224, 224],
                'note': 'LIBERO-Spatial task 0, init state 0, step 0 (after the 10 wait steps), '
                        'rendered by specprune_ros.sim at 256 and resized to 224 as OFT does; '
                        'made by scripts/render_sample.py'}
        (OUT / 'observation.json').write_text(json.dumps(meta, indent=2) + '\n')
    finally:
        env.close()


if __name__ == '__main__':
    main()
