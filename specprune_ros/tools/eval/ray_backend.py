"""``specprune-eval --ray``: the same units of work on a Ray cluster (or a local Ray instance).

Each worker is a Ray actor that owns one env and one model
(:class:`~specprune_ros.tools.eval.runner.EpisodeWorker`, the local pool's) and runs whole
units (one task × init state × seed, every configuration back to back, so paired timings stay
comparable) with the same :meth:`EpisodeWorker.run_unit`: nothing about an episode differs by
backend. Results come back to the driver unit by unit, and only the driver appends them to
``episodes.jsonl``, so an interrupted run resumes like a local one. A unit whose worker fails
(an exception, or the actor process dying) is tried once more on a fresh actor, then the run
stops naming the unit. GPUs are Ray resources: ``--gpus-per-worker 0.25`` puts four workers on a
GPU. Ray is an optional dependency (``pip install 'specprune_ros[ray]'``).
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
import logging
from typing import Any

from specprune_ros.errors import InputError

log = logging.getLogger('specprune_eval')
INSTALL = "Ray is not installed: pip install 'specprune_ros[ray]' (or pip install ray)"


def ray_missing() -> str | None:
    """Why ``--ray`` cannot run here (one line), or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return INSTALL
    return None


class _Worker:
    """The body of a Ray actor: one :class:`EpisodeWorker` (built in the actor's process)."""

    def __init__(self, spec: Any) -> None:
        import torch

        from specprune_ros.tools.eval.runner import EpisodeWorker, worker_threads

        torch.set_num_threads(worker_threads(spec))
        self.worker = EpisodeWorker(spec)

    def run(self, unit: tuple) -> list[dict[str, Any]]:
        """Every episode record of one unit."""
        return list(self.worker.run_unit(*unit))


def _name(unit: tuple) -> str:
    key = unit[0]
    return f'task {key.task}, trial {key.trial}, seed {key.seed}'


def run_units_ray(spec: Any, units: list[tuple], on_record: Callable[[dict[str, Any]], None]
                  ) -> None:
    """Run ``units`` on ``spec.workers`` Ray actors; ``on_record`` here for each episode."""
    missing = ray_missing()
    if missing:
        raise InputError(missing)
    import ray

    started = not ray.is_initialized()
    if started:
        address = None if spec.ray in (None, '', 'local') else spec.ray
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    actor_cls = ray.remote(num_cpus=1, num_gpus=spec.gpus_per_worker, max_restarts=0)(_Worker)
    queue = list(units)
    tries = {id(u): 0 for u in units}
    pending: dict[Any, tuple[Any, tuple]] = {}  # ref -> (actor, unit)
    idle = [actor_cls.remote(spec) for _ in range(max(1, min(spec.workers, len(units))))]
    try:
        while queue or pending:
            while queue and idle:
                actor, unit = idle.pop(), queue.pop(0)
                pending[actor.run.remote(unit)] = (actor, unit)
            ready, _ = ray.wait(list(pending), num_returns=1)
            actor, unit = pending.pop(ready[0])
            try:
                records = ray.get(ready[0])
            except Exception as exc:  # the unit raised or its actor died: retry once
                tries[id(unit)] += 1
                if tries[id(unit)] > 1:
                    raise RuntimeError(f'unit {_name(unit)} failed twice on Ray workers: '
                                       f'{type(exc).__name__}: {exc}') from exc
                log.warning('unit %s failed (%s); trying it again on a fresh worker',
                            _name(unit), type(exc).__name__)
                ray.kill(actor)
                idle.append(actor_cls.remote(spec))
                queue.insert(0, unit)
                continue
            idle.append(actor)
            for record in records:
                on_record(record)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
