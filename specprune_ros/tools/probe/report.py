"""The probe's summary: per-signal errors, the premises' verdicts, report.md, JSON and plots.

Each premise of SpecPrune-VLA gets one verdict line, our figure beside the paper's:

* **redundancy** (Fig. 3e): random tokens at half the grid change the chunk little — holds
  when the normalised L1 at K = n/2 is at most :data:`REDUNDANT_REL` of the chunk's own scale
  and at most :data:`FLIP_MAX` of the gripper commands flip;
* **early layers predict the last** (Fig. 5, 85–95 % of the top-20): holds when the hit rate
  of layers 0–1 inside the last layer's top-20 is at least :data:`HIT_MIN`;
* **temporal consistency** (Fig. 4): holds when consecutive queries share at least
  :data:`OVERLAP_MIN` of their top-64 importance;
* **attention ranks tokens** (what V_local relies on): holds when V_local's error is below
  :data:`RANKING_MAX` times random's, averaged over K up to n/2. The attribution reference says
  whether any ranking could do better than random on this checkpoint.

The thresholds are stated judgements, printed with the figures. ROS-free.
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
from typing import Any

import numpy as np

from specprune_ros.tools.probe.run import SIGNALS

REDUNDANT_REL = 0.10
FLIP_MAX = 0.05
HIT_MIN = 0.5
OVERLAP_MIN = 0.5
RANKING_MAX = 0.9
PAPER = {'redundancy': 'Fig. 3e: random pruning of half the tokens costs little success',
         'early_layers': 'Fig. 5: 85-95 % of the top-20 reappear',
         'temporal': 'Fig. 4: consecutive steps attend to the same tokens',
         'attention_ranks': 'attention-ranked tokens beat random ones'}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize(records: list[dict[str, Any]], ks: tuple[int, ...], num_visual: int
              ) -> dict[str, Any]:
    """Means over queries, ratios to random, and the four verdicts."""
    errors = {s: {k: _mean([r['errors'][s][k] for r in records if k in r['errors'][s]])
                  for k in ks} for s in SIGNALS}
    flips = {s: {k: _mean([r['flips'][s][k] for r in records if k in r['flips'][s]])
                 for k in ks} for s in SIGNALS}
    ratio = {s: {k: (None if errors[s][k] is None or not errors['random'][k] else
                     errors[s][k] / errors['random'][k]) for k in ks} for s in SIGNALS}
    hit_ks = sorted({k for r in records for k in r['hit']})
    hit = {k: _mean([r['hit'][k] for r in records]) for k in hit_ks}
    per_layer = {k: np.mean([r['hit_per_layer'][k] for r in records], axis=0).tolist()
                 for k in hit_ks}
    temporal = _mean([r['temporal_overlap'] for r in records
                      if r['temporal_overlap'] is not None])
    scale = _mean([r['scale'] for r in records]) or 1.0
    labels = sorted({label for r in records for label in r['specprune']})
    specprune = {label: {key: _mean([r['specprune'][label][key] for r in records])
                         for key in ('error', 'flip', 'kept', 'flops_ratio')}
                 for label in labels}
    half = min(ks, key=lambda k: abs(k - num_visual / 2))
    small = [k for k in ks if k <= num_visual / 2]
    local_ratio = _mean([ratio['v_local'][k] for k in small if ratio['v_local'][k] is not None])
    attribution_ratio = _mean([ratio['attribution'][k] for k in small
                               if ratio['attribution'][k] is not None])
    rel = (errors['random'][half] or 0.0) / scale
    verdicts = {
        'redundancy': _verdict(rel <= REDUNDANT_REL and (flips['random'][half] or 0.0)
                               <= FLIP_MAX,
                               f'random {half}/{num_visual} tokens: normalised L1 '
                               f'{errors["random"][half]:.4f} = {100 * rel:.1f} % of the '
                               f'chunk scale (limit {100 * REDUNDANT_REL:.0f} %), gripper flips '
                               f'{100 * (flips["random"][half] or 0):.1f} % (limit '
                               f'{100 * FLIP_MAX:.0f} %)'),
        'early_layers': _verdict(hit.get(20, 0.0) >= HIT_MIN,
                                 f'hit rate of layers 0-1 in the last layer\'s top-20: '
                                 f'{hit.get(20, float("nan")):.2f} (limit {HIT_MIN})'),
        'temporal': _verdict(temporal is not None and temporal >= OVERLAP_MIN,
                             'top-64 overlap of consecutive queries: '
                             + ('n/a' if temporal is None else f'{temporal:.2f}')
                             + f' (limit {OVERLAP_MIN})'),
        'attention_ranks': _verdict(local_ratio is not None and local_ratio < RANKING_MAX,
                                    'V_local error / random error, K <= n/2: '
                                    + ('n/a' if local_ratio is None else f'{local_ratio:.2f}')
                                    + f' (limit {RANKING_MAX}); attribution reference '
                                    + ('n/a' if attribution_ratio is None else
                                       f'{attribution_ratio:.2f}'))}
    return {'queries': len(records), 'episodes': len({r['episode'] for r in records}),
            'num_visual': num_visual, 'chunk_scale': scale, 'errors': errors, 'flips': flips,
            'ratio_to_random': ratio, 'hit_rate': hit, 'hit_rate_per_layer': per_layer,
            'temporal_overlap': temporal, 'specprune': specprune, 'verdicts': verdicts,
            'premises_hold': all(v['holds'] for v in verdicts.values())}


def _verdict(holds: bool, figure: str) -> dict[str, Any]:
    return {'holds': bool(holds), 'figure': figure}


def markdown(summary: dict[str, Any], title: str) -> str:
    """report.md: verdicts first, then the error table and SpecPrune's own rows."""
    lines = [f'# SpecPrune premises: {title}', '',
             f'{summary["queries"]} queries of {summary["episodes"]} episode(s), open loop '
             f'against the unpruned chunk; {summary["num_visual"]} visual tokens.', '',
             '| premise | verdict | our figure | the paper |', '|---|---|---|---|']
    for name, v in summary['verdicts'].items():
        lines.append(f'| {name} | {"holds" if v["holds"] else "FAILS"} | {v["figure"]} | '
                     f'{PAPER[name]} |')
    ks = list(next(iter(summary['errors'].values())).keys())
    lines += ['', '## Normalised L1 to the unpruned chunk (ratio to random)', '',
              '| signal | ' + ' | '.join(f'K={k}' for k in ks) + ' |',
              '|---' * (len(ks) + 1) + '|']
    for s, row in summary['errors'].items():
        cells = []
        for k in ks:
            e, r = row[k], summary['ratio_to_random'][s][k]
            ratio = '' if s == 'random' or r is None else f' ({r:.2f})'
            cells.append('–' if e is None else f'{e:.4f}{ratio}')
        lines.append(f'| {s} | ' + ' | '.join(cells) + ' |')
    if summary['specprune']:
        lines += ['', '## SpecPrune as the engine runs it along each episode', '',
                  '| configuration | normalised L1 | gripper flips | kept | FLOPs ratio |',
                  '|---|---|---|---|---|']
        for label, m in summary['specprune'].items():
            lines.append(f'| {label} | {m["error"]:.4f} | {100 * m["flip"]:.1f} % | '
                         f'{m["kept"]:.0f} | {m["flops_ratio"]:.2f} |')
    return '\n'.join(lines) + '\n'


def plot(summary: dict[str, Any], out: Path) -> list[Path]:
    """errors.png (error vs kept tokens per signal) and hit_rate.png (per layer)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s, row in summary['errors'].items():
        ks = [k for k, e in row.items() if e is not None]
        if ks:
            ax.plot(ks, [row[k] for k in ks], marker='o', label=s,
                    linewidth=2.5 if s == 'random' else 1.2)
    ax.set_xlabel('visual tokens kept at the static cut')
    ax.set_ylabel('normalised L1 to the unpruned chunk')
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / 'errors.png')
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, values in summary['hit_rate_per_layer'].items():
        ax.plot(range(len(values)), values, marker='o', label=f'top-{k}')
    ax.set_xlabel('layer')
    ax.set_ylabel("share inside the last layer's top-k")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    paths.append(out / 'hit_rate.png')
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def write(summary: dict[str, Any], records: list[dict[str, Any]], out: Path, title: str,
          json_path: Path | None = None) -> list[Path]:
    """summary.json (and ``json_path``), queries.jsonl, report.md and the plots in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=1, default=str)
    (out / 'summary.json').write_text(text + '\n')
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + '\n')
    with open(out / 'queries.jsonl', 'w', encoding='utf-8') as f:
        for r in records:
            f.write(json.dumps(r, default=str) + '\n')
    (out / 'report.md').write_text(markdown(summary, title))
    return [out / 'summary.json', out / 'report.md', *plot(summary, out)]
