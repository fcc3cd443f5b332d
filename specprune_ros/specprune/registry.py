"""The named variants of the method and its baselines: one registry, torch-free.

The engine (:mod:`~specprune_ros.specprune.baselines`), the evaluation's configurations, the
probe and the docs name variants from here. ``ABLATIONS`` are the paper's Table 2 rows as
config changes; ``BASELINES`` the same-budget baselines, each with the options it takes.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from typing import Any

ABLATIONS: dict[str, dict[str, Any]] = {
    'static_only': {'use_layer_pruning': False, 'use_controller': False},
    'layer_level': {'use_controller': False},
}
BASELINE_OPTIONS: dict[str, frozenset[str]] = {  # baseline -> the keys its configuration takes
    'random': frozenset({'budget', 'ref'}),
    'frame_diff': frozenset({'budget', 'ref', 'static_sim', 'static_top'}),
    'attention_only': frozenset({'budget', 'ref', 'score_layer'}),
}
BASELINES = tuple(BASELINE_OPTIONS)
