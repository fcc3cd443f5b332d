# Copyright 2026 The specprune_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""pip install of the ROS-free core (colcon builds the ROS package from CMakeLists.txt)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=['specprune_ros', 'specprune_ros.*']),
    package_data={'specprune_ros.tools': ['sample/*.json', 'sample/*.png']},
    python_requires='>=3.10',
    install_requires=[
        'torch>=2.4',  # install torch==2.13.0 first; see scripts/setup.sh
        'transformers==5.23.0',
        'accelerate>=1.0',
        'safetensors>=0.4',
        'tokenizers>=0.20',
        'numpy>=1.24',
        'scipy>=1.10',
        'pillow>=10',
        'tqdm>=4.66',
        'matplotlib>=3.8',
        'rosbags>=0.10',
        'h5py>=3.9',
        'imageio>=2.31',
        'imageio-ffmpeg>=0.5',  # specprune-eval --video writes MP4 (GIF without it)
    ],
    extras_require={'test': ['pytest>=8', 'hypothesis>=6.100', 'ruff>=0.6', 'flake8>=7',
                             'pydocstyle>=6.3', 'ray>=2.9'],
                    'ray': ['ray>=2.9']},
    entry_points={'console_scripts': [
        'specprune-demo = specprune_ros.tools.demo:main',
        'specprune-sim = specprune_ros.sim.cli:main',
        'specprune-bench = specprune_ros.tools.bench.cli:main',
        'specprune-eval = specprune_ros.tools.eval.cli:main',
        'specprune-probe = specprune_ros.tools.probe.cli:main',
        'specprune-train = specprune_ros.tools.train.cli:main',
        'specprune-replay = specprune_ros.ros.replay.cli:main',
        'specprune_policy = specprune_ros.ros.common.entry_points:policy',
        'specprune_executor = specprune_ros.ros.common.entry_points:executor',
        'specprune_sim = specprune_ros.ros.common.entry_points:sim',
        'specprune-ros-demo = specprune_ros.ros.replay.demo:main',
        'specprune-sim-demo = specprune_ros.ros.sim_bridge.demo:main',
    ]},
)
