"""``specprune-bench``: pruned vs unpruned, side by side on the same inputs, as ratios.

The plain policy (A) and the SpecPrune engine (B) run alternately (A B, then B A, …) on each
observation of the synthetic moving sequence, after a warm-up, with device synchronisation.
Every figure is a ratio of the two runs of one pair, and the report gives the medians.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import platform
import statistics
from typing import Any

import torch
from tqdm import tqdm

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.fixtures import load_observation
from specprune_ros.tools.sequence import SequenceStep, synthetic_sequence
from specprune_ros.vla.config import PRESETS
from specprune_ros.vla.policy import VLAPolicy
from specprune_ros.vla.report import StepReport

log = logging.getLogger('specprune_bench')


@dataclass
class BenchResult:
    """Medians of per-pair ratios plus token statistics of one configuration."""

    label: str
    alpha: float
    llm_speedup: float
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
                'llm_ms_plain': self.llm_ms_plain, 'llm_ms_pruned': self.llm_ms_pruned,
                'step_ms_plain': self.step_ms_plain, 'step_ms_pruned': self.step_ms_pruned,
                'pairs': self.pairs, 'config': self.label, **self.extra}


def run_pairs(policy: VLAPolicy, cfg: SpecPruneConfig, seq: list[SequenceStep], warmup: int,
              label: str, progress: bool = True) -> BenchResult:
    """Alternate plain and pruned runs over ``seq`` (after ``warmup`` unmeasured steps)."""
    engine = SpecPruneEngine(policy, cfg)
    pairs: list[tuple[StepReport, StepReport]] = []
    for i, item in enumerate(tqdm(seq, desc=label, disable=not progress, leave=False)):
        engine.update_pose(item.pose)
        if i % 2 == 0:  # A B
            _, plain = policy.predict_action_chunk(item.observation)
            _, pruned = engine.predict_action_chunk(item.observation)
        else:  # B A
            _, pruned = engine.predict_action_chunk(item.observation)
            _, plain = policy.predict_action_chunk(item.observation)
        if i >= warmup:
            pairs.append((plain, pruned))
    med = statistics.median
    layers = len(pairs[0][1].tokens_per_layer)
    return BenchResult(
        label=label, alpha=cfg.alpha,
        llm_speedup=med(a.llm_ms / b.llm_ms for a, b in pairs),
        step_speedup=med(a.total_ms / b.total_ms for a, b in pairs),
        flops_ratio=statistics.mean(b.flops_ratio for _, b in pairs),
        pruning_overhead_fraction=med(b.overhead_ms / b.total_ms for _, b in pairs),
        visual_tokens_kept_mean=statistics.mean(b.visual_kept for _, b in pairs),
        tokens_per_layer_mean=[statistics.mean(b.tokens_per_layer[j] for _, b in pairs)
                               for j in range(layers)],
        llm_ms_plain=med(a.llm_ms for a, _ in pairs),
        llm_ms_pruned=med(b.llm_ms for _, b in pairs),
        step_ms_plain=med(a.total_ms for a, _ in pairs),
        step_ms_pruned=med(b.total_ms for _, b in pairs), pairs=len(pairs),
        extra={'overhead_breakdown_ms': {
            k: med(b.overhead_breakdown_ms[k] for _, b in pairs)
            for k in pairs[0][1].overhead_breakdown_ms}})


def format_table(rows: list[BenchResult], title: str) -> str:
    """A paper-style table of results."""
    head = (f'{title}\n{"config":<28} {"alpha":>5} {"vis kept":>8} {"FLOPs":>6} '
            f'{"bound":>6} {"LLM x":>6} {"eff":>5} {"step x":>6} {"ovh %":>6}')
    lines = [head, '-' * len(head.splitlines()[1])]
    for r in rows:
        lines.append(f'{r.label:<28} {r.alpha:5.2f} {r.visual_tokens_kept_mean:8.1f} '
                     f'{r.flops_ratio:6.3f} {r.flop_bound_speedup:6.2f} {r.llm_speedup:6.2f} '
                     f'{r.llm_efficiency:5.2f} {r.step_speedup:6.2f} '
                     f'{100 * r.pruning_overhead_fraction:6.2f}')
    return '\n'.join(lines)


def plot(sweep: list[BenchResult], ablation: list[BenchResult], path: Path) -> None:
    """Speedup and FLOP bound vs alpha, and tokens per layer of the ablation."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if sweep:
        alphas = [r.alpha for r in sweep]
        axes[0].plot(alphas, [r.llm_speedup for r in sweep], 'o-', label='LLM speedup')
        axes[0].plot(alphas, [r.step_speedup for r in sweep], 's-', label='step speedup')
        axes[0].plot(alphas, [r.flop_bound_speedup for r in sweep], 'k--', label='FLOP bound')
        axes[0].set_xlabel('alpha')
        axes[0].set_ylabel('speedup (x)')
        axes[0].set_title('alpha sweep')
        axes[0].legend()
    for r in ablation:
        axes[1].plot(range(len(r.tokens_per_layer_mean)), r.tokens_per_layer_mean, 'o-',
                     label=r.label)
    axes[1].set_xlabel('decoder layer')
    axes[1].set_ylabel('tokens entering the layer')
    axes[1].set_title('ablation: tokens per layer')
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


ABLATIONS = {
    'static only': dict(use_layer_pruning=False, use_controller=False),
    'static + dynamic': dict(use_controller=False),
    'static + dynamic + controller': {},
}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--preset', default='small', choices=sorted(PRESETS))
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument('--steps', type=int, default=12, help='measured pairs per config')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--alpha', type=float, default=None, help='default: the schema')
    parser.add_argument('--sweep', type=float, nargs='*', default=None,
                        help='alpha values for the Table-3 style sweep')
    parser.add_argument('--ablation', action='store_true', help='Table-2 style ablation')
    parser.add_argument('--json', type=Path, default=None)
    parser.add_argument('--plot', type=Path, default=None, help='PNG of sweep/ablation')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.threads:
        torch.set_num_threads(args.threads)

    policy = VLAPolicy.from_preset(args.preset, device=args.device)
    base_cfg = SpecPruneConfig() if args.alpha is None else SpecPruneConfig(alpha=args.alpha)
    seq = synthetic_sequence(load_observation(), args.steps + args.warmup,
                             base_cfg.control_period)
    device = (torch.cuda.get_device_name() if args.device == 'cuda'
              else f'cpu ({platform.processor() or platform.machine()}, '
                   f'{torch.get_num_threads()} threads)')
    log.info('preset %s on %s, %d pairs after %d warm-up', args.preset, device, args.steps,
             args.warmup)
    main_result = run_pairs(policy, base_cfg, seq, args.warmup, 'default')
    log.info('%s', format_table([main_result], 'pruned vs unpruned (medians of pair ratios)'))
    log.info('tokens per layer (mean): %s',
             ', '.join(f'{t:.0f}' for t in main_result.tokens_per_layer_mean))
    log.info('pruning overhead per step (median ms): %s', ', '.join(
        f'{k} {v:.2f}' for k, v in main_result.extra['overhead_breakdown_ms'].items()))
    out = main_result.to_json(device, args.preset)
    sweep, ablation = [], []
    if args.sweep:
        sweep = [run_pairs(policy, base_cfg.replace(alpha=a), seq, args.warmup, f'alpha={a}')
                 for a in args.sweep]
        log.info('%s', format_table(sweep, 'alpha sweep (Table 3 style)'))
        out['sweep'] = [r.to_json(device, args.preset) for r in sweep]
    if args.ablation:
        ablation = [run_pairs(policy, base_cfg.replace(**ch), seq, args.warmup, name)
                    for name, ch in ABLATIONS.items()]
        log.info('%s', format_table(ablation, 'ablation (Table 2 style)'))
        out['ablation'] = [r.to_json(device, args.preset) for r in ablation]
    if args.plot and (sweep or ablation):
        plot(sweep, ablation, args.plot)
        log.info('plot written to %s', args.plot)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        log.info('JSON written to %s', args.json)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
