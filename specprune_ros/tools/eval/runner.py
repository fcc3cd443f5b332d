"""Running the paired episodes of ``specprune-eval``: the result store, workers and resume.

A *unit* is one (task, trial, seed): its configurations run back to back in one worker, on
the same env instance hard-reset to the same initial state, in the run order of
:func:`~specprune_ros.tools.eval.configs.parse_configs` (references before the baselines that
match them), so their timings are taken under the same conditions. Workers are separate
processes (one LIBERO env, one EGL context and one model each; ``--workers 1`` runs in this
process); every episode is sent back as soon as it ends and appended to ``episodes.jsonl`` by
this process only. On a rerun the (config, task, trial) keys already in the file are skipped;
a torn last line (a killed run) is dropped first. ``run.json`` records the settings, and a
rerun with different ones is refused.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
import json
import logging
import multiprocessing as mp
import os
from pathlib import Path
import queue
import traceback
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from specprune_ros.errors import InputError
from specprune_ros.specprune.baselines import BaselineEngine, BudgetSchedule, layer_budget
from specprune_ros.tools.eval.configs import EvalConfig, make_runner, parse_configs
from specprune_ros.tools.eval.executor import executor_config, ExecutorSource
from specprune_ros.tools.eval.protocol import (
    ActionSource,
    drive_episode,
    EpisodeKey,
    EpisodeResult,
    OpenLoop,
    sim_config,
)
from specprune_ros.tools.eval.video import EpisodeVideo
from specprune_ros.vla.policy import Observation, VLAPolicy

log = logging.getLogger(__name__)
EPISODES_FILE = 'episodes.jsonl'
RUN_FILE = 'run.json'
_FIXED = ('suite', 'seed', 'max_steps', 'open_loop_steps', 'model', 'render_size',
          'fast_render', 'via_executor', 'executor')  # settings a resumed run must share


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, picklable (sent to the worker processes)."""

    suite: str
    tasks: tuple[int, ...]
    trials: int
    configs: tuple[str, ...]
    model: dict[str, Any]  # {'preset': name} | {'model': dir} | {'checkpoint': dir, 'unnorm_key'}
    seed: int = 7
    max_steps: int | None = None  # None: the suite's OFT limit
    open_loop_steps: int = 8
    device: str = 'auto'
    render_size: int | None = 256
    fast_render: bool = False
    video: int = 0
    out: str = 'eval_out'
    workers: int = 1
    threads: int = 0  # torch threads per worker (0: cores // workers)
    via_executor: bool = False  # actions through the chunk executor (tools.eval_executor)
    executor: dict[str, Any] = field(default_factory=dict)  # its params over the main job's
    extra: dict[str, Any] = field(default_factory=dict)
    ray: str | None = None  # run on Ray: 'local' or a cluster address (not a fixed setting)
    gpus_per_worker: float = 0.0  # Ray: GPU share of each worker

    def action_source(self) -> ActionSource:
        """A fresh action source: OFT's open loop, or the chunk executor."""
        if self.via_executor:
            return ExecutorSource(executor_config(self.executor))
        return OpenLoop(self.open_loop_steps)


def load_policy_from(model: dict[str, Any], device: str) -> VLAPolicy:
    """The policy named by ``RunSpec.model``."""
    if 'checkpoint' in model:
        from specprune_ros.vla.checkpoint import load_policy
        policy, report = load_policy(model['checkpoint'], unnorm_key=model.get('unnorm_key'),
                                     device=device, progress=False)
        log.info('%s', report.summary())
        return policy
    if 'model' in model:
        from specprune_ros.vla.model_io import load_pretrained
        return load_pretrained(model['model'], device=device)
    return VLAPolicy.from_preset(model.get('preset', 'tiny'), device=device)


class ResultStore:
    """``episodes.jsonl`` of one output folder: load (repairing a torn tail) and append."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.root = Path(out)
        self.path = self.root / EPISODES_FILE

    def load(self) -> dict[tuple[str, int, int], dict[str, Any]]:
        """Records by (config, task, trial); unreadable lines are dropped from the file."""
        records: dict[tuple[str, int, int], dict[str, Any]] = {}
        if not self.path.is_file():
            return records
        good, bad = [], 0
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
                key = (str(rec['config']), int(rec['task']), int(rec['trial']))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                bad += 1
                continue
            if key not in records:
                good.append(line)
            records[key] = rec
        if bad:
            log.warning('%s: dropped %d unreadable line(s) (an interrupted run)', self.path, bad)
            tmp = self.path.with_suffix('.tmp')
            tmp.write_text(''.join(g + '\n' for g in good))
            tmp.replace(self.path)
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Append one episode (flushed, so a kill loses at most the line being written)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path.open('a') as f:
            f.write(json.dumps(record) + '\n')
            f.flush()
            os.fsync(f.fileno())


def check_run_file(spec: RunSpec) -> None:
    """Write ``run.json``, or check that an existing one has the same fixed settings."""
    root = Path(spec.out)
    root.mkdir(parents=True, exist_ok=True)
    path = root / RUN_FILE
    mine = asdict(spec)
    if path.is_file():
        old = json.loads(path.read_text())
        blank = asdict(RunSpec('', (), 0, (), {}))  # a key an older run.json lacks: its default
        diff = {k: (old.get(k, blank[k]), mine[k]) for k in _FIXED
                if old.get(k, blank[k]) != mine[k]}
        if diff:
            raise InputError(f'{root} holds a run with other settings {diff} (old, new); use '
                             'another --out folder')
        mine['configs'] = list(dict.fromkeys([*old.get('configs', []), *mine['configs']]))
    path.write_text(json.dumps(mine, indent=2))


def episode_record(cfg: EvalConfig, key: EpisodeKey, result: EpisodeResult, suite: str,
                   limit: int) -> dict[str, Any]:
    """The JSONL record of one episode (per-query lists for the report)."""
    reps = [q.report for q in result.queries]
    record = {'config': cfg.label, 'name': cfg.name, 'suite': suite, 'task': key.task,
              'trial': key.trial, 'init_state': key.init_state, 'seed': key.seed,
              'success': bool(result.success), 'length': int(result.length), 'max_steps': limit,
              'wall_s': round(result.wall_s, 3), 'queries': len(reps),
              'start_proprio': result.start_proprio,
              'visual_total': int(reps[0].visual_tokens) if reps else 0,
              'visual_kept': [int(r.visual_kept) for r in reps],
              'flops_ratio': [round(float(r.flops_ratio), 6) for r in reps],
              'llm_ms': [round(float(r.llm_ms), 4) for r in reps],
              'step_ms': [round(float(q.step_ms), 4) for q in result.queries],
              'mode': [r.mode for r in reps],
              'visual_per_layer': [[int(v) for v in r.visual_per_layer] for r in reps]}
    if result.counters:  # --via-executor: held/late steps and the executor's counters
        record['executor'] = dict(result.counters)
    return record


def episode_seed(key: EpisodeKey) -> int:
    """A per-episode seed for torch and the random baselines (same for every config)."""
    return (key.seed * 1_000_003 + key.task * 1009 + key.trial) % (2 ** 31)


class EpisodeWorker:
    """One model, one env per task, every configuration's runner; runs units."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.configs = parse_configs(spec.configs, spec.suite)
        self.policy = load_policy_from(spec.model, spec.device)
        self.runners = {c.label: make_runner(c, self.policy) for c in self.configs}
        self._env: Any = None
        self._task = -1
        self._warm_up()

    def _warm_up(self) -> None:
        size = self.policy.cfg.image_size
        obs = Observation((np.zeros((size, size, 3), np.uint8),) * 2,  # type: ignore[arg-type]
                          np.zeros(self.policy.cfg.proprio_dim), 'warm up')
        n_vis, n_layers = (self.policy.cfg.num_views * self.policy.cfg.patches_per_view,
                           self.policy.cfg.llm.num_layers)
        for cfg in self.configs:
            runner = self.runners[cfg.label]
            if isinstance(runner, BaselineEngine) and cfg.budget == 'match':
                runner.set_budget(BudgetSchedule(fixed=layer_budget(cfg.pruner, n_layers, n_vis,
                                                                    n_vis // 4)))
            runner.reset()
            runner.predict_action_chunk(obs)
            runner.reset()

    def env(self, key: EpisodeKey) -> Any:
        """The env of ``key``'s task (built when the task changes)."""
        if self._env is None or self._task != key.task:
            from specprune_ros.sim.env import LiberoEnv
            if self._env is not None:
                self._env.close()
            self._env = LiberoEnv.from_config(sim_config(
                self.spec.suite, key, self.spec.max_steps, self.spec.render_size,
                self.spec.fast_render))
            self._task = key.task
        return self._env

    def run_unit(self, key: EpisodeKey, todo: set[str], references: dict[str, list[Any]],
                 video: bool = False) -> Iterator[dict[str, Any]]:
        """Run the configurations ``todo`` of one unit; yields each record when it ends.

        ``references``: per reference label, its per-query ``visual_per_layer`` from an
        earlier run (a resumed unit); updated as references run here.
        """
        env = self.env(key)
        for cfg in self.configs:
            if cfg.label not in todo:
                continue
            runner = self.runners[cfg.label]
            torch.manual_seed(episode_seed(key))
            if isinstance(runner, BaselineEngine):
                runner.set_seed(episode_seed(key))
                if cfg.budget == 'match':
                    ref = references.get(str(cfg.reference))
                    if ref is None:
                        raise InputError(f'{cfg.label}: no {cfg.reference} episode to match')
                    runner.set_budget(BudgetSchedule([tuple(v) for v in ref]))
            recorder = EpisodeVideo(self.policy.cfg.patch_size) if video else None
            result = drive_episode(env, runner, key.init_state, self.spec.action_source(),
                                   recorder.add if recorder else None)
            record = episode_record(cfg, key, result, self.spec.suite, env.max_steps)
            references[cfg.label] = record['visual_per_layer']
            if recorder is not None:
                record['video'] = recorder.write(Path(self.spec.out) / 'videos', cfg.label, key)
            yield record

    def close(self) -> None:
        """Free the env."""
        if self._env is not None:
            self._env.close()
            self._env = None


Unit = tuple[EpisodeKey, set[str], dict[str, list[Any]], bool]


def worker_threads(spec: RunSpec) -> int:
    """Torch threads of one worker: ``--threads``, else the cores shared by the workers."""
    return spec.threads or max(1, (os.cpu_count() or 1) // max(1, spec.workers))


def _process_main(spec: RunSpec, units: Any, results: Any) -> None:
    """Worker process: build the worker, run units from the queue until ``None``."""
    torch.set_num_threads(worker_threads(spec))
    worker = None
    try:
        worker = EpisodeWorker(spec)
        for unit in iter(units.get, None):
            for record in worker.run_unit(*unit):
                results.put(('episode', record))
        results.put(('done', None))
    except Exception:  # report any failure to the parent, which stops the run
        results.put(('error', traceback.format_exc()))
    finally:
        if worker is not None:
            worker.close()


def run_units(spec: RunSpec, units: list[Unit], on_record: Callable[[dict[str, Any]], None]
              ) -> None:
    """Run ``units`` on ``spec.workers`` workers, calling ``on_record`` here for each episode.

    The workers are processes of this machine, or Ray actors with ``spec.ray``
    (:mod:`specprune_ros.tools.eval.ray_backend`); either runs :meth:`EpisodeWorker.run_unit`.
    """
    if spec.ray is not None:
        from specprune_ros.tools.eval.ray_backend import run_units_ray

        run_units_ray(spec, units, on_record)
        return
    if spec.workers <= 1:
        torch.set_num_threads(worker_threads(spec))
        worker = EpisodeWorker(spec)
        try:
            for unit in units:
                for record in worker.run_unit(*unit):
                    on_record(record)
        finally:
            worker.close()
        return
    ctx = mp.get_context('spawn')
    todo, results = ctx.Queue(), ctx.Queue()
    for unit in units:
        todo.put(unit)
    n = min(spec.workers, len(units))
    for _ in range(n):
        todo.put(None)
    procs = [ctx.Process(target=_process_main, args=(spec, todo, results), daemon=True)
             for _ in range(n)]
    for p in procs:
        p.start()
    try:
        running = n
        while running:
            try:
                kind, payload = results.get(timeout=5.0)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f'a worker process died (exit codes {dead})') from None
                continue
            if kind == 'episode':
                on_record(payload)
            elif kind == 'done':
                running -= 1
            else:
                raise RuntimeError(f'a worker failed:\n{payload}')
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=10)


def plan_units(spec: RunSpec, keys: list[EpisodeKey],
               done: dict[tuple[str, int, int], dict[str, Any]]) -> list[Unit]:
    """The units still to run: per key the labels not yet in ``done``, with reference counts."""
    configs = parse_configs(spec.configs, spec.suite)
    units = []
    for i, key in enumerate(keys):
        todo = {c.label for c in configs if (c.label, key.task, key.trial) not in done}
        if not todo:
            continue
        refs = {c.label: done[(c.label, key.task, key.trial)]['visual_per_layer']
                for c in configs if (c.label, key.task, key.trial) in done}
        units.append((key, todo, refs, i < spec.video))
    return units


def run_eval(spec: RunSpec, keys: list[EpisodeKey]) -> ResultStore:
    """Run (or resume) every pending episode of ``keys``; returns the store."""
    check_run_file(spec)
    store = ResultStore(spec.out)
    done = store.load()
    units = plan_units(spec, keys, done)
    total = sum(len(u[1]) for u in units)
    skipped = len(keys) * len(spec.configs) - total
    if skipped:
        log.info('resuming: %d episode(s) already in %s', skipped, store.path)
    with tqdm(total=total, desc='episodes', unit='ep', dynamic_ncols=True) as bar:
        def on_record(record: dict[str, Any]) -> None:
            store.append(record)
            bar.set_postfix_str(f"{record['config']} t{record['task']} e{record['trial']} "
                                f"{'ok' if record['success'] else 'fail'}", refresh=False)
            bar.update(1)
        if units:
            run_units(spec, units, on_record)
    return store
