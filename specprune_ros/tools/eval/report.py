"""``specprune-eval --report DIR``: tables and plots rebuilt from ``episodes.jsonl`` alone.

Writes ``report.md`` (overall and per-task tables), ``summary.json`` (the same numbers) and two
PNGs: ``success_vs_speedup.png`` (success with its Wilson interval against the LLM speedup
over ``unpruned`` with its bootstrap interval, one point per configuration) and
``per_task.png`` (success per task and configuration, with intervals). Latencies are medians
and 90th percentiles over every policy query of the configuration's episodes; kept tokens and
FLOPs ratios are means over queries; the fine-mode share is the fraction of queries the
controller ran in fine mode. See :mod:`specprune_ros.tools.eval.stats` for the statistics.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
import json
import math
from pathlib import Path
from typing import Any
import warnings

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.tools.eval.runner import ResultStore, RUN_FILE
from specprune_ros.tools.eval.stats import (
    fmt_pct,
    paired_difference,
    percentile,
    speedup,
    wilson_interval,
)

REFERENCE = 'unpruned'
Record = dict[str, Any]


def _flat(recs: Sequence[Record], field: str) -> list[Any]:
    return [v for r in recs for v in r.get(field, [])]


def config_stats(recs: Sequence[Record], ref: Sequence[Record] | None) -> dict[str, Any]:
    """All figures of one configuration's episodes; ``ref``: the reference's episodes."""
    n, k = len(recs), sum(bool(r['success']) for r in recs)
    lo, hi = wilson_interval(k, n)
    modes = _flat(recs, 'mode')
    out: dict[str, Any] = {
        'episodes': n, 'successes': k, 'success': k / n if n else math.nan,
        'success_low': lo, 'success_high': hi,
        'mean_length': float(np.mean([r['length'] for r in recs])) if n else math.nan,
        'queries': len(modes),
        'visual_kept': float(np.mean(_flat(recs, 'visual_kept'))) if modes else math.nan,
        'visual_total': max((int(r.get('visual_total', 0)) for r in recs), default=0),
        'flops_ratio': float(np.mean(_flat(recs, 'flops_ratio'))) if modes else math.nan,
        'llm_ms_median': percentile(_flat(recs, 'llm_ms'), 50),
        'llm_ms_p90': percentile(_flat(recs, 'llm_ms'), 90),
        'step_ms_median': percentile(_flat(recs, 'step_ms'), 50),
        'step_ms_p90': percentile(_flat(recs, 'step_ms'), 90),
        'fine_share': float(np.mean([m == 'fine' for m in modes])) if modes else math.nan,
    }
    if ref is not None:
        by_key = {(r['task'], r['trial']): r for r in ref}
        pairs = [(r, by_key[(r['task'], r['trial'])]) for r in recs
                 if (r['task'], r['trial']) in by_key]
        d = paired_difference([a['success'] for a, _ in pairs], [b['success'] for _, b in pairs])
        out.update({'pairs': d.n, 'diff': d.diff, 'diff_low': d.low, 'diff_high': d.high,
                    'discordant_better': d.b, 'discordant_worse': d.c, 'p_mcnemar': d.p_mcnemar})
        for part in ('llm', 'step'):  # per pair: the medians of each episode's queries
            key = f'{part}_ms'
            timed = [(a, b) for a, b in pairs if a.get(key) and b.get(key)]
            s, s_lo, s_hi = speedup([float(np.median(b[key])) for _, b in timed],
                                    [float(np.median(a[key])) for a, _ in timed])
            out.update({f'{part}_speedup': s, f'{part}_speedup_low': s_lo,
                        f'{part}_speedup_high': s_hi})
    return out


def config_order(records: Sequence[Record], out: Path | None = None) -> list[str]:
    """Configuration labels in the run's order (``run.json``), then any others."""
    seen = list(dict.fromkeys(r['config'] for r in records))
    if out is not None and (out / RUN_FILE).is_file():
        listed = json.loads((out / RUN_FILE).read_text()).get('configs', [])
        listed = [''.join(str(c).split()) for c in listed]
        return [c for c in listed if c in seen] + [c for c in seen if c not in listed]
    return seen


def summarize(records: Sequence[Record], order: Sequence[str] | None = None) -> dict[str, Any]:
    """Overall and per-task figures of every configuration."""
    order = list(order or dict.fromkeys(r['config'] for r in records))
    by_cfg = {c: [r for r in records if r['config'] == c] for c in order}
    ref_all = by_cfg.get(REFERENCE)
    tasks = sorted({int(r['task']) for r in records})
    summary: dict[str, Any] = {'reference': REFERENCE if ref_all else None, 'tasks': tasks,
                               'overall': {}, 'per_task': {}}
    for c in order:
        ref = ref_all if ref_all is not None and c != REFERENCE else None
        summary['overall'][c] = config_stats(by_cfg[c], ref)
    for t in tasks:
        ref_t = [r for r in ref_all or [] if r['task'] == t] if ref_all else None
        summary['per_task'][str(t)] = {
            c: config_stats([r for r in by_cfg[c] if r['task'] == t],
                            ref_t if c != REFERENCE else None) for c in order}
    return summary


def _num(x: Any, spec: str = '.1f') -> str:
    return '–' if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def overall_table(summary: dict[str, Any]) -> str:
    """The overall table (markdown) of :func:`summarize`'s output."""
    head = ('| configuration | episodes | success % [95% CI] | Δ vs unpruned pp [95% CI] | '
            'McNemar p | mean length | visual kept | FLOPs ratio | LLM speedup [95% CI] | '
            'step speedup [95% CI] | LLM ms median / p90 | step ms median / p90 | fine share |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for c, s in summary['overall'].items():
        diff = (f"{fmt_pct(s['diff'])} [{fmt_pct(s['diff_low'])}, {fmt_pct(s['diff_high'])}]"
                if 'diff' in s else '–')
        spd, step_spd = (
            f"{_num(s[f'{p}_speedup'], '.2f')}× [{_num(s[f'{p}_speedup_low'], '.2f')}, "
            f"{_num(s[f'{p}_speedup_high'], '.2f')}]" if f'{p}_speedup' in s else '1×'
            for p in ('llm', 'step'))
        lines.append(
            f"| {c} | {s['episodes']} | {fmt_pct(s['success'])} [{fmt_pct(s['success_low'])}, "
            f"{fmt_pct(s['success_high'])}] | {diff} | {_num(s.get('p_mcnemar'), '.3g')} | "
            f"{_num(s['mean_length'])} | {_num(s['visual_kept'])} / {s['visual_total']} | "
            f"{_num(s['flops_ratio'], '.3f')} | {spd} | {step_spd} | "
            f"{_num(s['llm_ms_median'], '.2f')} / "
            f"{_num(s['llm_ms_p90'], '.2f')} | {_num(s['step_ms_median'], '.2f')} / "
            f"{_num(s['step_ms_p90'], '.2f')} | {fmt_pct(s['fine_share'])} % |")
    return '\n'.join(lines)


def per_task_table(summary: dict[str, Any]) -> str:
    """Success % [95% CI] (and Δ vs unpruned) per task and configuration (markdown)."""
    configs = list(summary['overall'])
    lines = ['| task | ' + ' | '.join(configs) + ' |', '|---|' + '---|' * len(configs)]
    for t, row in summary['per_task'].items():
        cells = []
        for c in configs:
            s = row[c]
            cell = (f"{fmt_pct(s['success'], 0)} [{fmt_pct(s['success_low'], 0)}, "
                    f"{fmt_pct(s['success_high'], 0)}] (n={s['episodes']})")
            if 'diff' in s:
                cell += f" Δ {fmt_pct(s['diff'], 0)}"
            cells.append(cell)
        lines.append(f'| {t} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_summary(summary: dict[str, Any], out: Path) -> list[Path]:
    """Write the two PNGs; returns their paths."""
    with warnings.catch_warnings():  # matplotlib 3.11 + numpy 1.26: error bars of one point
        warnings.filterwarnings('ignore', 'Conversion of an array with ndim',
                                DeprecationWarning)
        return _plot_summary(summary, out)


def _plot_summary(summary: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = [out / 'success_vs_speedup.png', out / 'per_task.png']
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for c, s in summary['overall'].items():
        x = s.get('llm_speedup', 1.0)
        xerr = (np.array([[max(0.0, x - s['llm_speedup_low'])],
                          [max(0.0, s['llm_speedup_high'] - x)]])
                if 'llm_speedup' in s and not math.isnan(s['llm_speedup_low']) else None)
        y = 100 * s['success']
        yerr = np.array([[y - 100 * s['success_low']], [100 * s['success_high'] - y]])
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt='o', capsize=3, label=c)
    ax.set_xlabel('LLM speedup over unpruned (×, 95% bootstrap CI)')
    ax.set_ylabel('success rate (%, 95% Wilson CI)')
    ax.set_title('Success vs LLM speedup (paired episodes)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)

    configs, tasks = list(summary['overall']), summary['tasks']
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(tasks) * max(1, len(configs)) / 2), 4.2))
    width = 0.8 / max(1, len(configs))
    for j, c in enumerate(configs):
        rows = [summary['per_task'][str(t)][c] for t in tasks]
        ys = np.array([100 * r['success'] if r['episodes'] else 0.0 for r in rows])
        lo = np.array([100 * r['success_low'] if r['episodes'] else 0.0 for r in rows])
        hi = np.array([100 * r['success_high'] if r['episodes'] else 0.0 for r in rows])
        xs = np.arange(len(tasks)) + (j - (len(configs) - 1) / 2) * width
        ax.bar(xs, ys, width, yerr=np.vstack([ys - lo, hi - ys]), capsize=2, label=c)
    ax.set_xticks(np.arange(len(tasks)), [str(t) for t in tasks])
    ax.set_xlabel('task')
    ax.set_ylabel('success rate (%, 95% Wilson CI)')
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    return x


def write_report(out: str | Path) -> tuple[dict[str, Any], str]:
    """Rebuild ``report.md``, ``summary.json`` and the PNGs in ``out``; (summary, markdown)."""
    root = Path(out)
    records = list(ResultStore(root).load().values())
    if not records:
        raise InputError(f'no episodes in {root / "episodes.jsonl"}: nothing to report')
    summary = summarize(records, config_order(records, root))
    run = json.loads((root / RUN_FILE).read_text()) if (root / RUN_FILE).is_file() else {}
    pngs = plot_summary(summary, root)
    text = '\n\n'.join([
        f"# specprune-eval: {run.get('suite', records[0].get('suite', '?'))}, "
        f"model {run.get('model', '?')}",
        f'{len(records)} episodes; tasks {summary["tasks"]}. Success with 95 % Wilson '
        'intervals; Δ = paired difference to unpruned in percentage points (bootstrap 95 % '
        'CI over the paired episodes) with the exact McNemar p-value; latencies over every '
        'policy query.',
        '## Overall', overall_table(summary), '## Per task', per_task_table(summary),
        '\n'.join(f'![{p.stem}]({p.name})' for p in pngs)])
    (root / 'report.md').write_text(text + '\n')
    (root / 'summary.json').write_text(json.dumps(_json_safe(summary), indent=2))
    return summary, text
