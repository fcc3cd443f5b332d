"""Side-by-side runs of the bench: dense, pruned and (optionally) the eager all-maps baseline.

On every observation the variants run one after the other (dense, pruned, eager; the next
observation in the reverse order), after a warm-up. Every ratio is taken within one such
group and the result holds the medians. The dense variant is the plain policy: our layer loop
with SDPA, bidirectional, no lm_head (nothing projects the hidden states onto the vocabulary),
and the same CUDA-graph treatment as the pruned step when graphs are on.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import statistics
from typing import Any

import torch
from tqdm import tqdm

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.bench.eager_baseline import eager_attention_step
from specprune_ros.tools.bench.roofline import Roofline
from specprune_ros.tools.sequence import SequenceStep
from specprune_ros.vla.policy import Observation, VLAPolicy
from specprune_ros.vla.report import StepReport

STAGES = ('preprocess_ms', 'vision_ms', 'llm_ms', 'head_ms', 'total_ms')
DENSE_BASELINE = ('plain policy: explicit layer loop, SDPA, bidirectional, no lm_head, same '
                  'CUDA-graph setting as the pruned step')


@dataclass
class BenchResult:
    """Medians of per-group ratios plus token statistics of one configuration."""

    label: str
    alpha: float
    llm_speedup: float  # vs the dense SDPA baseline (the published ratio)
    step_speedup: float
    flops_ratio: float
    pruning_overhead_fraction: float
    visual_tokens_kept_mean: float
    tokens_per_layer_mean: list[float]
    llm_ms_plain: float
    llm_ms_pruned: float
    step_ms_plain: float
    step_ms_pruned: float
    pairs: int
    rows_per_layer_mean: list[float] = field(default_factory=list)  # padding included
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # variant -> stage
    vs_eager: dict[str, float] | None = None  # ratios against the eager all-maps baseline
    roofline: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def flop_bound_speedup(self) -> float:
        """LLM speedup the FLOPs allow (compute-bound limit)."""
        return 1.0 / self.flops_ratio

    @property
    def llm_efficiency(self) -> float:
        """Share of the FLOP-bound LLM speedup that was reached."""
        return self.llm_speedup / self.flop_bound_speedup

    def to_json(self, device: str, preset: str) -> dict[str, Any]:
        """The JSON keys of the issue, plus the raw medians."""
        return {'llm_speedup': self.llm_speedup, 'step_speedup': self.step_speedup,
                'flop_bound_speedup': self.flop_bound_speedup,
                'llm_efficiency': self.llm_efficiency,
                'pruning_overhead_fraction': self.pruning_overhead_fraction,
                'visual_tokens_kept_mean': self.visual_tokens_kept_mean,
                'flops_ratio': self.flops_ratio, 'device': device, 'preset': preset,
                'alpha': self.alpha, 'tokens_per_layer_mean': self.tokens_per_layer_mean,
                'rows_per_layer_mean': self.rows_per_layer_mean,
                'llm_ms_plain': self.llm_ms_plain, 'llm_ms_pruned': self.llm_ms_pruned,
                'step_ms_plain': self.step_ms_plain, 'step_ms_pruned': self.step_ms_pruned,
                'pairs': self.pairs, 'config': self.label, 'dense_baseline': DENSE_BASELINE,
                'stages_ms': self.stages_ms, 'vs_eager_attentions': self.vs_eager,
                'roofline': self.roofline, **self.extra}


def _variants(policy: VLAPolicy, engine: SpecPruneEngine, eager: bool
              ) -> dict[str, Callable[[Observation], StepReport]]:
    out = {'dense': lambda o: policy.predict_action_chunk(o)[1],
           'pruned': lambda o: engine.predict_action_chunk(o)[1]}
    if eager:
        out['eager_attentions'] = lambda o: eager_attention_step(policy, o)[1]
    return out


def _mean_per_layer(values: list[list[int]]) -> list[float]:
    return [statistics.mean(v[j] for v in values) for j in range(len(values[0]))]


def _roofline(rl: Roofline, policy: VLAPolicy, runs: list[dict[str, StepReport]]
              ) -> dict[str, Any]:
    """Roofline time of each step's token counts and the fraction of it reached."""
    llm, med = policy.cfg.llm, statistics.median
    width = torch.finfo(policy.model.dtype).bits // 8
    out: dict[str, Any] = {'device': rl.name, 'peak_tflops': rl.peak_tflops,
                           'bandwidth_gbs': rl.bandwidth_gbs, 'bytes_per_param': width,
                           'ridge_tokens': rl.ridge_tokens(llm, width)}
    for name in ('dense', 'pruned'):
        ms = [rl.llm_ms(r[name].tokens_per_layer, llm, width) for r in runs]
        out[f'{name}_roofline_ms'] = med(ms)
        out[f'{name}_fraction'] = med(m / r[name].llm_ms for m, r in zip(ms, runs))
    padded = [rl.llm_ms(r['pruned'].rows_per_layer or r['pruned'].tokens_per_layer, llm, width)
              for r in runs]
    out['pruned_padded_roofline_ms'] = med(padded)
    return out


def run_pairs(policy: VLAPolicy, cfg: SpecPruneConfig, seq: list[SequenceStep], warmup: int,
              label: str, progress: bool = True, eager: bool = False,
              roofline: Roofline | None = None) -> BenchResult:
    """Alternate the variants over ``seq`` (after ``warmup`` unmeasured steps)."""
    engine = SpecPruneEngine(policy, cfg)
    variants = _variants(policy, engine, eager)
    runs: list[dict[str, StepReport]] = []
    for i, item in enumerate(tqdm(seq, desc=label, disable=not progress, leave=False)):
        engine.update_pose(item.pose)
        order = list(variants) if i % 2 == 0 else list(variants)[::-1]
        got = {name: variants[name](item.observation) for name in order}
        if i >= warmup:
            runs.append(got)
    med = statistics.median
    dense, pruned = [r['dense'] for r in runs], [r['pruned'] for r in runs]
    result = BenchResult(
        label=label, alpha=cfg.alpha,
        llm_speedup=med(a.llm_ms / b.llm_ms for a, b in zip(dense, pruned)),
        step_speedup=med(a.total_ms / b.total_ms for a, b in zip(dense, pruned)),
        flops_ratio=statistics.mean(b.flops_ratio for b in pruned),
        pruning_overhead_fraction=med(b.overhead_ms / b.total_ms for b in pruned),
        visual_tokens_kept_mean=statistics.mean(b.visual_kept for b in pruned),
        tokens_per_layer_mean=_mean_per_layer([b.tokens_per_layer for b in pruned]),
        rows_per_layer_mean=_mean_per_layer([b.rows_per_layer or b.tokens_per_layer
                                             for b in pruned]),
        llm_ms_plain=med(a.llm_ms for a in dense), llm_ms_pruned=med(b.llm_ms for b in pruned),
        step_ms_plain=med(a.total_ms for a in dense),
        step_ms_pruned=med(b.total_ms for b in pruned), pairs=len(runs),
        stages_ms={name: {s: med(getattr(r[name], s) for r in runs) for s in STAGES}
                   for name in variants},
        extra={'overhead_breakdown_ms': {k: med(b.overhead_breakdown_ms[k] for b in pruned)
                                         for k in pruned[0].overhead_breakdown_ms}})
    if eager:
        slow = [r['eager_attentions'] for r in runs]
        result.vs_eager = {
            'llm_speedup': med(c.llm_ms / b.llm_ms for c, b in zip(slow, pruned)),
            'step_speedup': med(c.total_ms / b.total_ms for c, b in zip(slow, pruned)),
            'dense_llm_speedup': med(c.llm_ms / a.llm_ms for c, a in zip(slow, dense))}
    if roofline is not None:
        result.roofline = _roofline(roofline, policy, runs)
    graphs = policy.model.graphs
    if graphs is not None:
        result.extra['cuda_graphs'] = {'captures': graphs.captures, 'replays': graphs.replays,
                                       'fallbacks': graphs.fallbacks}
    return result
