"""The run of ``specprune-bench`` (its command line: :mod:`specprune_ros.tools.bench.cli`).

Loads the model, builds the synthetic sequence, runs the pairs
(:mod:`specprune_ros.tools.bench.pairs`) and prints and writes the ratios, the roofline and the
optional sweep and ablation.
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
import dataclasses
import json
import logging
from pathlib import Path
import platform
from typing import Any

import numpy as np
from PIL import Image
import torch

from specprune_ros.errors import CheckpointError
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.bench import cli as bench_args
from specprune_ros.tools.bench.pairs import BenchResult, run_pairs, STAGES
from specprune_ros.tools.bench.roofline import lookup, Roofline
from specprune_ros.tools.fixtures import load_observation
from specprune_ros.tools.sequence import synthetic_sequence
from specprune_ros.vla.checkpoint import load_policy
from specprune_ros.vla.cuda_graphs import cuda_graphs_unavailable
from specprune_ros.vla.policy import Observation, VLAPolicy

log = logging.getLogger('specprune_bench')

__all__ = ['BenchResult', 'main', 'run_pairs']


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


def format_details(r: BenchResult) -> list[str]:
    """Stage medians, the eager-baseline ratios and the roofline, as log lines."""
    lines = []
    for name, stages in r.stages_ms.items():
        lines.append(f'{name:>16} (median ms): ' + ', '.join(
            f'{s[:-3]} {stages[s]:.2f}' for s in STAGES))
    if r.vs_eager is not None:
        e = r.vs_eager
        lines.append(f'vs the eager output_attentions baseline (the paper measures its 1.46x '
                     f'against one): LLM {e["llm_speedup"]:.2f}x, step {e["step_speedup"]:.2f}x; '
                     f'the dense SDPA baseline alone is {e["dense_llm_speedup"]:.2f}x faster '
                     'in the LLM')
    if r.roofline is not None:
        f = r.roofline
        lines.append(f'roofline on {f["device"]} ({f["peak_tflops"]:.0f} TFLOP/s, '
                     f'{f["bandwidth_gbs"]:.0f} GB/s, ridge {f["ridge_tokens"]:.0f} tokens): '
                     f'pruned LLM {r.llm_ms_pruned:.2f} ms vs {f["pruned_roofline_ms"]:.2f} ms '
                     f'(fraction {f["pruned_fraction"]:.2f}; with padding rows '
                     f'{f["pruned_padded_roofline_ms"]:.2f} ms), dense {r.llm_ms_plain:.2f} ms '
                     f'vs {f["dense_roofline_ms"]:.2f} ms (fraction {f["dense_fraction"]:.2f})')
    if 'cuda_graphs' in r.extra:
        lines.append(f'CUDA graphs: {r.extra["cuda_graphs"]}')
    return lines


def _load(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[VLAPolicy, str]:
    """The policy to measure and its name in the report."""
    if args.checkpoint is not None:
        try:
            policy, _ = load_policy(args.checkpoint, unnorm_key=args.unnorm_key,
                                    device=args.device, progress=False)
        except CheckpointError as exc:
            parser.error(f'--checkpoint {args.checkpoint}: {exc}')
        return policy, f'checkpoint:{args.checkpoint.name}'
    name = args.preset or 'small'
    overrides: dict[str, Any] = {'device': args.device}
    if args.camera_size:
        overrides['jpeg_roundtrip'] = True  # OFT's path for frames that are not 224
    return VLAPolicy.from_preset(name, **overrides), name


def _observation(size: int | None) -> Observation:
    """The fixture, its views Lanczos-resized to ``size`` (the camera's resolution)."""
    obs = load_observation()
    if size is None:
        return obs
    views = tuple(np.asarray(Image.fromarray(v).resize((size, size), Image.Resampling.LANCZOS))
                  for v in obs.images)
    return dataclasses.replace(obs, images=views)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 for an unusable request (e.g. --cuda-graphs without CUDA)."""
    return run(bench_args.parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """The bench of parsed ``args`` (see :mod:`specprune_ros.tools.bench.cli`)."""
    parser = bench_args.parser()
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: torch sees no CUDA GPU on this machine')
    if args.cuda_graphs and (reason := cuda_graphs_unavailable(args.device)) is not None:
        parser.error(f'--cuda-graphs: {reason}; use --device cuda on a GPU machine, or drop '
                     'the flag')
    if args.threads:
        torch.set_num_threads(args.threads)
    policy, preset = _load(args, parser)
    changes = {k: v for k, v in dict(alpha=args.alpha, token_bucket=args.token_bucket).items()
               if v is not None}
    base_cfg = SpecPruneConfig().replace(cuda_graphs=args.cuda_graphs, sync_free=args.sync_free,
                                         **changes)
    seq = synthetic_sequence(_observation(args.camera_size), args.steps + args.warmup,
                             base_cfg.control_period)
    device = (torch.cuda.get_device_name() if args.device == 'cuda'
              else f'cpu ({platform.processor() or platform.machine()}, '
                   f'{torch.get_num_threads()} threads)')
    roofline: Roofline | None = lookup(device if args.device == 'cuda' else 'cpu',
                                       args.peak_tflops, args.peak_bandwidth)
    log.info('%s on %s (%s), cuda_graphs=%s, %d groups after %d warm-up', preset, device,
             policy.model.dtype, args.cuda_graphs, args.steps, args.warmup)
    main_result = run_pairs(policy, base_cfg, seq, args.warmup, 'default',
                            eager=not args.no_eager_baseline, roofline=roofline)
    log.info('%s', format_table([main_result], 'pruned vs dense SDPA (medians of ratios)'))
    log.info('tokens per layer (mean): %s',
             ', '.join(f'{t:.0f}' for t in main_result.tokens_per_layer_mean))
    if main_result.rows_per_layer_mean != main_result.tokens_per_layer_mean:
        log.info('rows per layer with padding (mean): %s',
                 ', '.join(f'{t:.0f}' for t in main_result.rows_per_layer_mean))
    log.info('pruning overhead per step (median ms, host time): %s', ', '.join(
        f'{k} {v:.2f}' for k, v in main_result.extra['overhead_breakdown_ms'].items()))
    for line in format_details(main_result):
        log.info('%s', line)
    out = main_result.to_json(device, preset)
    out['cuda_graphs_enabled'] = args.cuda_graphs
    sweep, ablation = [], []
    if args.sweep:
        sweep = [run_pairs(policy, base_cfg.replace(alpha=a), seq, args.warmup, f'alpha={a}')
                 for a in args.sweep]
        log.info('%s', format_table(sweep, 'alpha sweep (Table 3 style)'))
        out['sweep'] = [r.to_json(device, preset) for r in sweep]
    if args.ablation:
        ablation = [run_pairs(policy, base_cfg.replace(**ch), seq, args.warmup, name)
                    for name, ch in ABLATIONS.items()]
        log.info('%s', format_table(ablation, 'ablation (Table 2 style)'))
        out['ablation'] = [r.to_json(device, preset) for r in ablation]
    if args.plot and (sweep or ablation):
        plot(sweep, ablation, args.plot)
        log.info('plot written to %s', args.plot)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        log.info('JSON written to %s', args.json)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
