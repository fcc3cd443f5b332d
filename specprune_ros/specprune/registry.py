"""The named variants of the method and its baselines: one registry, torch-free.

The engine, the policy node's ``method`` parameter, the evaluation's configurations, the probe
and the docs name variants from here. ``ABLATIONS`` are the paper's Table 2 rows as config
changes; ``BASELINES`` the same-budget baselines, each with what ranks its tokens and the
options its evaluation configuration takes.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VARIANTS = ('paper', 'authors')  # the paper's text; the authors' released code
SCORE_ROWS = ('task', 'action_queries', 'non_visual')  # whose attention eq. 1 averages

ABLATIONS: dict[str, dict[str, Any]] = {
    'static_only': {'use_layer_pruning': False, 'use_controller': False},
    'layer_level': {'use_controller': False},
}


@dataclass(frozen=True)
class Baseline:
    """A same-budget baseline: how it ranks the visual tokens, and where the idea comes from."""

    name: str
    ranks_by: str  # 'random' | 'grid' | 'frame_diff' | 'attention'
    like: str  # the published method it stands for
    score_rows: str = ''  # ranks_by 'attention': whose attention (a SCORE_ROWS entry)
    options: frozenset[str] = frozenset({'budget', 'ref'})  # keys of its eval configuration


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline('random', 'random', 'chance'),
    Baseline('grid', 'grid', 'coverage (EfficientVLA/VisionZip keep diverse tokens)'),
    Baseline('frame_diff', 'frame_diff', 'VLA-Cache',
             options=frozenset({'budget', 'ref', 'static_sim', 'static_top'})),
    Baseline('attention_only', 'attention', 'FastV / EfficientVLA', 'task',
             frozenset({'budget', 'ref', 'score_layer'})),
    Baseline('action_attention', 'attention', 'VLA-Pruner', 'action_queries',
             frozenset({'budget', 'ref', 'score_layer'})),
)}
METHODS = ('specprune', 'none', *BASELINES)  # the policy node's ``method`` parameter
