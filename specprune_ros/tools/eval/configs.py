"""The configurations ``specprune-eval`` compares: ``name[:key=value,...]`` → a runner.

Names (SpecPrune family: the suite's preset, ``specprune.params.PRESETS``, plus the keys):

* ``unpruned``: the plain model (``enabled=False``), the reference of every paired difference.
* ``specprune``: all three techniques (paper Table 1); keys: any ``SpecPruneConfig`` field,
  e.g. ``specprune:alpha=0.8`` or ``specprune:k_global=32,use_dynamic=false``.
* Paper Table 2 ablations: ``static_only`` (action-level static pruning, no layer-level
  pruning, no controller: always coarse), ``layer_level`` (static + layer-level, no
  controller); the full method is ``specprune``.
* Baselines (``specprune.registry.BASELINES``): ``random``, ``grid``, ``frame_diff``,
  ``attention_only``, ``action_attention``. Keys:
  ``budget=match`` (default: SpecPrune's kept tokens per layer of the paired query, see
  ``BudgetSchedule``) or ``budget=N`` (a fixed static cut of N visual tokens with SpecPrune's
  layer schedule); ``ref=LABEL`` the configuration to match, by label (``ref=layer_level``) or
  by its 0-based position in ``--configs`` (``ref=2``, for labels with keys); default: plain
  ``specprune`` if listed, else the first ``specprune:...``, else the first ablation.
  frame_diff: ``budget=vla_cache`` (prune exactly the static set), ``static_sim``,
  ``static_top``; attention_only and action_attention: ``score_layer`` (0-based).
* Method parameters are SpecPruneConfig keys too: ``specprune:variant=authors``,
  ``specprune:score_rows=action_queries``, ``specprune:k_coverage=64``,
  ``specprune:warmup_queries=0``.

Values: ``true``/``false``, integers, floats, lists separated by ``/`` (``prune_layers=3/5``).
A configuration's label is its text without spaces; labels must be unique.
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
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from specprune_ros.errors import ConfigError, InputError
from specprune_ros.specprune.params import preset, PRESETS, SpecPruneConfig
from specprune_ros.specprune.registry import ABLATIONS, BASELINES

if TYPE_CHECKING:  # torch-free at import: ``specprune-eval --help`` stays instant
    from specprune_ros.specprune.baselines import BaselineConfig, BaselineEngine
    from specprune_ros.specprune.engine import SpecPruneEngine
    from specprune_ros.vla.policy import VLAPolicy

FAMILY = ('specprune', *ABLATIONS)
NAMES = ('unpruned', *FAMILY, *BASELINES)
DEFAULT_CONFIGS = ('unpruned', 'specprune')


@dataclass(frozen=True)
class EvalConfig:
    """One parsed configuration (see the module docstring)."""

    label: str
    name: str
    pruner: SpecPruneConfig  # the engine config (baselines: static_layer and fixed schedules)
    baseline: BaselineConfig | None = None
    budget: str = ''  # baselines: 'match' | 'fixed' | 'vla_cache'
    fixed_budget: int | None = None
    reference: str | None = None  # label of the configuration a 'match' budget follows

    @property
    def is_unpruned(self) -> bool:
        """Whether this is the plain model."""
        return self.name == 'unpruned'


def parse_value(text: str) -> Any:
    """``true``/``false`` → bool, integers, floats, ``a/b/c`` → tuple; anything else stays text."""
    low = text.strip().lower()
    if low in ('true', 'false'):
        return low == 'true'
    if '/' in low:
        return tuple(parse_value(part) for part in low.split('/') if part)
    for kind in (int, float):
        try:
            return kind(low)
        except ValueError:
            pass
    return text.strip()


def _split(text: str) -> tuple[str, dict[str, Any]]:
    label = ''.join(text.split())
    name, _, rest = label.partition(':')
    if name not in NAMES:
        raise InputError(f'unknown configuration {name!r} in {text!r}; expected one of {NAMES}')
    keys: dict[str, Any] = {}
    for item in filter(None, rest.split(',')):
        key, eq, value = item.partition('=')
        if not eq or not key or not value:
            raise InputError(f'{text!r}: expected name[:key=value,...], got item {item!r}')
        if key in keys:
            raise InputError(f'{text!r}: key {key!r} given twice')
        keys[key] = parse_value(value)
    return name, keys


def parse_config(text: str, suite: str) -> EvalConfig:
    """Parse one configuration for ``suite`` (references are resolved by parse_configs)."""
    name, keys = _split(text)
    label = ''.join(text.split())
    base = preset(suite) if suite in PRESETS else SpecPruneConfig()
    try:
        if name == 'unpruned':
            if keys:
                raise InputError(f'{text!r}: unpruned takes no keys')
            return EvalConfig(label, name, base.replace(enabled=False))
        if name in FAMILY:
            return EvalConfig(label, name, base.replace(**{**ABLATIONS.get(name, {}), **keys}))
        unknown = sorted(set(keys) - BASELINES[name].options)
        if unknown:
            raise InputError(f'{text!r}: unknown key(s) {unknown}; {name} takes '
                             f'{sorted(BASELINES[name].options)}')
        budget = keys.pop('budget', 'match')
        ref = keys.pop('ref', None)
        fixed = None
        if isinstance(budget, int) and not isinstance(budget, bool):
            budget, fixed = 'fixed', budget
        elif budget not in ('match', 'vla_cache') or (budget == 'vla_cache'
                                                      and name != 'frame_diff'):
            raise InputError(f'{text!r}: budget must be match, an integer'
                             f'{" or vla_cache" if name == "frame_diff" else ""}, got {budget!r}')
        from specprune_ros.specprune.baselines import BaselineConfig
        cfg = BaselineConfig(name, vla_cache_budget=budget == 'vla_cache', **keys)
        return EvalConfig(label, name, base, cfg, str(budget), fixed,
                          str(ref) if ref is not None else None)
    except (ConfigError, TypeError) as exc:
        raise InputError(f'configuration {text!r}: {exc}') from exc


def parse_configs(texts: Sequence[str], suite: str) -> list[EvalConfig]:
    """Parse ``--configs``; resolve each ``match`` budget's reference; run order (see below).

    The run order is the given order with every reference moved before the configurations
    that match it (a unit of work runs its configurations back to back in this order).
    """
    configs = [parse_config(t, suite) for t in texts]
    labels = [c.label for c in configs]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise InputError(f'configurations given twice: {dupes}')
    family = [c for c in configs if c.name in FAMILY]
    default_ref = next((c.label for c in family if c.label == 'specprune'),
                       next((c.label for c in family if c.name == 'specprune'),
                            family[0].label if family else None))
    out = []
    for c in configs:
        if c.budget == 'match':
            ref = c.reference or default_ref
            if ref is not None and ref.isdigit() and int(ref) < len(configs):
                ref = configs[int(ref)].label
            target = next((f for f in family if f.label == ref), None)
            if target is None:
                raise InputError(f'{c.label}: budget=match needs a SpecPrune configuration to '
                                 f'match ({ref!r} is not one in --configs); add specprune or '
                                 'use budget=N')
            c = EvalConfig(c.label, c.name, target.pruner, c.baseline, c.budget, None, ref)
        out.append(c)
    refs = {c.reference for c in out if c.reference}
    return [c for c in out if c.label in refs] + [c for c in out if c.label not in refs]


def make_runner(cfg: EvalConfig, policy: VLAPolicy) -> SpecPruneEngine | BaselineEngine:
    """The engine of one configuration on ``policy`` (share one policy between runners)."""
    from specprune_ros.specprune.baselines import BaselineEngine, BudgetSchedule, layer_budget
    from specprune_ros.specprune.engine import SpecPruneEngine
    if cfg.baseline is None:
        return SpecPruneEngine(policy, cfg.pruner)
    engine = BaselineEngine(policy, cfg.baseline, cfg.pruner)
    if cfg.budget == 'fixed':
        n_vis = policy.cfg.num_views * policy.cfg.patches_per_view
        engine.set_budget(BudgetSchedule(fixed=layer_budget(
            cfg.pruner, policy.cfg.llm.num_layers, n_vis, int(cfg.fixed_budget or 0))))
    return engine
