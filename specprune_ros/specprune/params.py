"""The one parameter schema for the SpecPrune pruner and the action-aware controller.

``SpecPruneConfig`` is the single source of truth: every field carries its range, unit and
description in its metadata. The ROS parameter declarations, ``config/policy.yaml`` and the
presets are all generated from (or checked against) :func:`schema`.
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
import math
from typing import Any

from specprune_ros.errors import ConfigError
from specprune_ros.schema import param as _p
from specprune_ros.schema import SchemaConfig
from specprune_ros.specprune.registry import METHODS, SCORE_ROWS, VARIANTS
from specprune_ros.vla.action_space import ROTATION_RAD, TRANSLATION_M

PAPER_PRUNE_LAYERS = (5, 10, 15, 20)  # L_prune of SpecPrune-VLA for a 32-layer Llama-2
AUTHORS_PRUNE_LAYERS = (5, 10, 15, 20, 25)  # their code's dynamic_prune layers (32 layers)
PAPER_NUM_LAYERS = 32


@dataclass(frozen=True)
class SpecPruneConfig(SchemaConfig):
    """All SpecPrune-VLA constants (paper names in brackets)."""

    # --- what runs, and which reading of the method ---
    method: str = _p('specprune', 'What runs: specprune; none (the plain model); or a baseline '
                     'keeping baseline_budget visual tokens at the static cut, then the '
                     'layer-level schedule of this config: random, grid (uniform coverage), '
                     'frame_diff (VLA-Cache-like), attention_only (FastV-like, task rows), '
                     'action_attention (VLA-Pruner-like, action-query rows).', group='method',
                     choices=METHODS)
    baseline_budget: int = _p(160, 'Visual tokens a baseline method keeps at the static cut.',
                              unit='tokens', lo=1, hi=4096, group='method')
    variant: str = _p('paper', "Reading of SpecPrune-VLA: 'paper' (its text) or 'authors' (their "
                      'released code: only pixel-static patches may be pruned, at most '
                      'max_static_coarse/max_static_fine per view; a prune layer keeps '
                      'authors_layer_keep of the visual tokens, never fewer than '
                      'authors_min_visual, at their layers {5,10,15,20,25}/32; S_i from every '
                      'non-visual row).', group='method', choices=VARIANTS)
    score_rows: str = _p('task', 'Query rows whose attention eq. 1 averages for V_local and S_i: '
                         'task (the instruction, the paper), action_queries (the rows that '
                         'decode the actions, VLA-Pruner) or non_visual (every non-visual row). '
                         "variant 'authors' scores S_i from non_visual whatever this says.",
                         group='method', choices=SCORE_ROWS)
    warmup_queries: int = _p(1, 'Queries at the start of an episode (and after pruning was off) '
                             'that run dense (nothing pruned) while they score S_i (seeding '
                             'V_global) and fill the frame history; 0 = prune from the first '
                             'query with V_local alone.',
                             unit='queries', lo=0, hi=100000, group='method')
    # --- switches (ablations) ---
    enabled: bool = _p(True, 'Master switch; false runs the plain, unpruned model.',
                       group='switches')
    use_global: bool = _p(True, 'Static pruning keeps V_global (top-K_G of the previous step).',
                          group='switches')
    use_dynamic: bool = _p(True, 'Static pruning keeps V_dynamic (patches that changed).',
                           group='switches')
    use_local: bool = _p(True, 'Static pruning keeps V_local (top-K_base task attention in '
                         'layers 1 and 2).', group='switches')
    use_layer_pruning: bool = _p(True, 'Layer-level dynamic pruning with the importance S_i.',
                                 group='switches')
    use_controller: bool = _p(True, 'Action-aware controller; false stays in coarse mode.',
                              group='switches')
    # --- action-level static pruning ---
    alpha: float = _p(1.0, 'Pruning scale [alpha]: K_base = alpha*K and layer keep = alpha*Q. '
                      'Smaller prunes more.', lo=0.05, hi=4.0, group='static')
    k_coarse: int = _p(24, 'Local tokens per layer in coarse mode [K_c].', unit='tokens',
                       lo=0, hi=4096, group='static')
    k_fine: int = _p(40, 'Local tokens per layer in fine mode [K_p].', unit='tokens', lo=0,
                     hi=4096, group='static')
    k_global: int = _p(64, 'Tokens kept from the previous step importance [K_G].',
                       unit='tokens', lo=0, hi=4096, group='static')
    k_dynamic: int = _p(128, 'Most-changed patches kept over both views [K_D].', unit='tokens',
                        lo=0, hi=4096, group='static')
    tau: float = _p(0.986, 'Patch cosine similarity below which a patch counts as changed '
                    '[tau].', lo=-1.0, hi=1.0, group='static')
    k_coverage: int = _p(0, 'Beyond the paper: this many tokens on a uniform grid (a 2-D van '
                         'der Corput order over both views) join V_retain; 0 = the paper.',
                         unit='tokens', lo=0, hi=4096, group='static')
    static_layer: int = _p(2, 'Layers that run on all tokens before static pruning (paper: 2).',
                           unit='layers', lo=1, hi=255, read_only=True, group='static')
    # --- frame history / reference frame ---
    history_length: int = _p(32, 'Frames kept in the ring buffer for the reference frame.',
                             unit='frames', lo=2, hi=256, read_only=True, group='frames')
    t_max: int = _p(12, 'Largest reference offset T.', unit='steps', lo=1, hi=255,
                    group='frames')
    # --- layer-level dynamic pruning ---
    prune_layers: tuple[int, ...] = _p((), 'L_prune (0-based layer indices); empty = the '
                                       "paper's {5,10,15,20}/32 scaled to the model depth.",
                                       lo=0, hi=255, group='layer')
    update_layers: tuple[int, ...] = _p((), 'L_update (0-based); empty = the static layers and '
                                        'the layer before each prune layer.', lo=0, hi=255,
                                        group='layer')
    keep_ratio: float = _p(0.9, 'Q: a prune layer keeps the top alpha*Q of visual tokens by '
                           'S_i.', lo=0.01, hi=1.0, group='layer')
    beta: float = _p(0.2, 'EMA rate of the importance S_i [beta].', lo=0.0, hi=1.0,
                     group='layer')
    rank_k: float = _p(0.05, 'Steepness of the rank weight sigma(-k*rank) [k].', lo=0.0,
                       hi=10.0, group='layer')
    eps: float = _p(1e-6, 'Stabiliser in the layer confidence mu/(sigma+eps) [epsilon].',
                    lo=1e-12, hi=1.0, group='layer')
    min_visual_tokens: int = _p(16, 'Never prune below this many visual tokens.',
                                unit='tokens', lo=0, hi=4096, group='layer')
    # --- variant 'authors' (their released code) ---
    max_static_coarse: int = _p(200, "variant 'authors': at most this many pixel-static "
                                '(prunable) patches per view in coarse mode.', unit='patches',
                                lo=0, hi=4096, group='authors')
    max_static_fine: int = _p(220, "variant 'authors': the same in fine mode.", unit='patches',
                              lo=0, hi=4096, group='authors')
    authors_layer_keep: float = _p(0.8, "variant 'authors': fraction of the visual tokens each "
                                   'prune layer keeps.', lo=0.01, hi=1.0, group='authors')
    authors_min_visual: int = _p(60, "variant 'authors': a prune layer never leaves fewer "
                                 'visual tokens.', unit='tokens', lo=0, hi=4096, group='authors')
    # --- action-aware controller ---
    v_t_th: float = _p(0.02, 'Translational speed threshold [v_t^th].', unit='m/step', lo=0.0,
                       hi=10.0, group='controller')
    v_r_th: float = _p(0.1, 'Rotational speed threshold [v_r^th].', unit='rad/step', lo=0.0,
                       hi=10.0, group='controller')
    v_z_th: float = _p(0.0, 'Enter fine mode only when dz <= v_z^th (descending).',
                       unit='m/step', lo=-10.0, hi=10.0, group='controller')
    control_period: float = _p(0.05, 'Control period that turns measured velocities into '
                               'per-step speeds.', unit='s', lo=1e-4, hi=10.0,
                               group='controller')
    action_translation_scale: float = _p(TRANSLATION_M, 'Metres per unit of a commanded delta '
                                         'action (fall-back speeds and the T formula).',
                                         unit='m', lo=1e-6, hi=10.0, group='controller')
    action_rotation_scale: float = _p(ROTATION_RAD, 'Radians per unit of a commanded rotation '
                                      'delta.', unit='rad', lo=1e-6, hi=10.0, group='controller')
    # --- GPU execution (specprune/static_shapes.py, vla/cuda_graphs.py) ---
    cuda_graphs: bool = _p(False, 'Capture and replay one CUDA graph per (token bucket, layer '
                           'range), for the pruned and the dense forward. CUDA only: on a CPU '
                           'the step runs eagerly and a warning is logged once.',
                           group='runtime')
    token_bucket: int = _p(0, 'Round the visual rows kept by static pruning up to a multiple '
                           'of this; the padding rows are masked out of attention as keys. '
                           '0 = exact counts (32 with cuda_graphs).', unit='tokens', lo=0,
                           hi=512, group='runtime')
    sync_free: bool = _p(False, 'Size the static cut by its upper bound K_G + K_D + '
                         'static_layer*K_base instead of reading |V_retain| once, so the step '
                         'never waits for the device (more padding rows).', group='runtime')

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.t_max >= self.history_length:
            raise ConfigError(f't_max={self.t_max} must be smaller than history_length='
                              f'{self.history_length} (the reference frame must be in the '
                              'history)')

    def k_base(self, fine: bool) -> int:
        """K_base = alpha * (K_p if fine else K_c), rounded."""
        return round(self.alpha * (self.k_fine if fine else self.k_coarse))

    def layer_keep_fraction(self) -> float:
        """Fraction of the visual tokens a prune layer keeps (alpha*Q, at most 1; authors: 0.8)."""
        if self.variant == 'authors':
            return self.authors_layer_keep
        return min(1.0, self.alpha * self.keep_ratio)

    def layer_floor(self) -> int:
        """Fewest visual tokens a prune layer leaves."""
        return self.authors_min_visual if self.variant == 'authors' else self.min_visual_tokens

    def importance_rows(self) -> str:
        """Whose attention S_i is scored from (authors: every non-visual row)."""
        return 'non_visual' if self.variant == 'authors' else self.score_rows

    def max_static(self, fine: bool) -> int:
        """variant 'authors': prunable (pixel-static) patches per view at most."""
        return self.max_static_fine if fine else self.max_static_coarse

    @property
    def pruning(self) -> bool:
        """Whether SpecPrune itself runs (not the plain model, not a baseline)."""
        return self.enabled and self.method == 'specprune'

    def resolved_prune_layers(self, num_layers: int) -> tuple[int, ...]:
        """L_prune for a model of ``num_layers`` (scaling rule: round(l*n/32), after static)."""
        if self.prune_layers:
            layers = self.prune_layers
        else:
            paper = AUTHORS_PRUNE_LAYERS if self.variant == 'authors' else PAPER_PRUNE_LAYERS
            layers = tuple(math.floor(lay * num_layers / PAPER_NUM_LAYERS + 0.5)
                           for lay in paper)
            layers = tuple(max(self.static_layer + 1, lay) for lay in layers)
        return tuple(sorted({lay for lay in layers if self.static_layer < lay < num_layers}))

    def resolved_update_layers(self, num_layers: int) -> tuple[int, ...]:
        """L_update: where S_i is refreshed from the layer's task attention."""
        if self.update_layers:
            return tuple(sorted({lay for lay in self.update_layers if 0 <= lay < num_layers}))
        prune = self.resolved_prune_layers(num_layers)
        return tuple(sorted(set(range(self.static_layer)) | {lay - 1 for lay in prune}))


# LIBERO suite presets (paper appendix). The paper's main text gives alpha = 1.0 for
# LIBERO-Spatial while its appendix table gives 0.6; the presets follow the appendix.
PRESETS: dict[str, dict[str, Any]] = {
    'libero_spatial': {'alpha': 0.6},
    'libero_object': {'alpha': 0.6},
    'libero_goal': {'alpha': 0.8},
    'libero_10': {'alpha': 1.0},
}


def preset(name: str) -> SpecPruneConfig:
    """Return the SpecPruneConfig of a LIBERO suite preset; see :data:`PRESETS`."""
    if name not in PRESETS:
        raise ConfigError(f'unknown preset {name!r}; available: {sorted(PRESETS)}')
    return SpecPruneConfig().replace(**PRESETS[name])
