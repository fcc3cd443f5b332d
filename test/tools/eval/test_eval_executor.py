"""``specprune-eval --via-executor`` on LIBERO with the tiny model: the executor's actions.

Real LIBERO-Spatial task 0 (init state 0, seed 7, 16 steps), the real tiny policy and the real
:class:`ChunkExecutor`. The env and the runner are only wrapped to record what the episode
executed and what the policy answered; the expected actions are worked out from the chunks.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from specprune_ros.control.wire import as_sent, clamp_actions
from specprune_ros.errors import InputError
from specprune_ros.sim.env import libero_missing, LiberoEnv
from specprune_ros.tools.eval.cli import main
from specprune_ros.tools.eval.configs import make_runner, parse_config
from specprune_ros.tools.eval.executor import (
    executor_config,
    ExecutorSource,
    parse_executor_params,
    POLICY_BOUNDS,
)
from specprune_ros.tools.eval.protocol import drive_episode, EpisodeKey, process_action, sim_config

pytestmark = pytest.mark.skipif(libero_missing() is not None, reason=str(libero_missing()))
STEPS = 16
WIDE = 'action_low=-1e6,action_high=1e6,max_delta=1e6'  # no clamp, no rate limit


class _Recorded:
    """The real env, recording every executed action."""

    def __init__(self, env: LiberoEnv) -> None:
        self.env, self.actions = env, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def step(self, action: np.ndarray, render: bool | None = None):
        self.actions.append(np.array(action, dtype=np.float64))
        return self.env.step(action, render=render)


class _Answers:
    """The real runner, recording every chunk it answered."""

    def __init__(self, runner: Any) -> None:
        self.runner, self.chunks = runner, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def predict_action_chunk(self, obs, now=None):
        actions, report = self.runner.predict_action_chunk(obs, now=now)
        self.chunks.append(np.array(actions, dtype=np.float64))
        return actions, report


@pytest.fixture(scope='module')
def env() -> Iterator[_Recorded]:
    sim = LiberoEnv.from_config(sim_config('libero_spatial', EpisodeKey(0, 0, 7), STEPS))
    yield _Recorded(sim)
    sim.close()


def _episode(env: _Recorded, tiny_policy, params: str):
    env.actions = []
    runner = _Answers(make_runner(parse_config('unpruned', 'libero_spatial'), tiny_policy))
    source = ExecutorSource(executor_config(parse_executor_params(params)))
    return drive_episode(env, runner, 0, source), runner.chunks


def test_latest_zero_latency_executes_the_rows_it_should(env, tiny_policy) -> None:
    result, chunks = _episode(env, tiny_policy, f'blend=latest,{WIDE}')
    horizon = chunks[0].shape[0]
    assert result.length == STEPS == len(env.actions)
    # automatic threshold: latency 0 + request_margin 1 -> the next chunk when one step is left
    starts = [q.step for q in result.queries]
    rows = [tuple(r[:6]) for c in chunks for r in c]
    assert len(set(rows)) == len(rows)  # every row differs: a wrong row cannot pass below
    assert starts == list(range(0, STEPS, horizon - 1)) and len(chunks) == len(starts)
    for k, action in enumerate(env.actions):
        q = max(i for i, s in enumerate(starts) if s <= k)
        row = chunks[q][k - starts[q]]
        sent = as_sent(clamp_actions(row, *POLICY_BOUNDS))  # the policy node's chunk message
        np.testing.assert_array_equal(action[:6], sent[:6])
        assert action[6] == process_action(row)[6]  # the executor's gripper rule is OFT's
    c = result.counters
    assert (c['held_steps'], c['late_steps'], c['chunks'], c['requests']) == (0, 0, 3, 3)
    assert c['actions'] == STEPS and c['blended'] == 0


def test_sim_latency_delivers_each_chunk_later_in_simulated_time(env, tiny_policy) -> None:
    result, chunks = _episode(env, tiny_policy, f'blend=latest,sim_latency=0.07,{WIDE}')
    assert result.length == STEPS and result.queries[0].step == 0
    hold = [0.0] * 6 + [-1.0]
    assert [a.tolist() for a in env.actions[:2]] == [hold, hold]  # in transit for 2 ticks
    first = as_sent(clamp_actions(chunks[0], *POLICY_BOUNDS))
    np.testing.assert_array_equal(env.actions[2][:6], first[2, :6])  # its step 2: t = 0.10 s
    c = result.counters
    assert c['held_steps'] == 2 and c['late_steps'] >= 2  # rows 0, 1 of the first chunk
    # measured latency 0.1 s = 2 ticks: later requests go out 2 + request_margin ticks ahead
    assert all(b - a == chunks[0].shape[0] - 3 for a, b in zip(
        [q.step for q in result.queries][1:], [q.step for q in result.queries][2:]))


def test_main_job_settings_crossfade_clamp_and_rate_limit(env, tiny_policy) -> None:
    cfg = executor_config()
    assert (cfg.blend, cfg.hold_action, cfg.period) == ('crossfade', True, 0.05)
    result, _ = _episode(env, tiny_policy, '')
    actions = np.stack(env.actions)
    assert np.all(np.abs(actions[:, :6]) <= 1.0) and set(actions[:, 6]) <= {-1.0, 1.0}
    assert np.all(np.abs(np.diff(actions[:, :6], axis=0)) <= 1.0 + 1e-12)
    # each new chunk fades in over crossfade_ticks (3) ticks: 3 blended ticks at step 7, 2 at 14
    assert result.counters['blended'] == 5 and result.counters['held_steps'] == 0


def test_no_chunk_holds_still(env, tiny_policy) -> None:
    result, chunks = _episode(env, tiny_policy, 'request_chunks=false')
    assert not chunks and not result.queries and result.counters['held_steps'] == STEPS
    assert all(a.tolist() == [0, 0, 0, 0, 0, 0, -1] for a in env.actions)


@pytest.mark.parametrize('params, message', [
    ('blend=sideways', "blend='sideways' is not allowed"), ('control_rate=10', 'control_rate'),
    ('publish_twist=true', 'node settings'), ('blend', 'key=value'),
    ('action_low=-1/-1', 'have 2, 7 and 1 values')])
def test_bad_executor_params(params, message) -> None:
    with pytest.raises(InputError, match=message):
        executor_config(parse_executor_params(params))


def test_cli_run_records_counters_and_refuses_another_setting(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'run'
    argv = ['--suite', 'libero_spatial', '--tasks', '0', '--trials', '1', '--max-steps',
            str(STEPS), '--configs', 'specprune', '--workers', '1', '--threads', '1', '--out',
            str(out)]
    assert main([*argv, '--executor-params', 'blend=latest']) == 2
    assert '--executor-params needs --via-executor' in capsys.readouterr().err
    assert main([*argv, '--via-executor', '--executor-params', 'blend=latest']) == 0
    recs = [json.loads(x) for x in (out / 'episodes.jsonl').read_text().splitlines()]
    assert len(recs) == 1 and recs[0]['queries'] == 3 and recs[0]['length'] == STEPS
    counters = recs[0]['executor']
    assert counters['held_steps'] == counters['late_steps'] == 0 and counters['chunks'] == 3
    run = json.loads((out / 'run.json').read_text())
    assert run['via_executor'] is True and run['executor'] == {'blend': 'latest'}
    capsys.readouterr()
    for other in ([], ['--via-executor'], ['--via-executor', '--executor-params',
                                           'blend=temporal_ensemble']):
        assert main([*argv, *other]) == 2
        assert 'holds a run with other settings' in capsys.readouterr().err
    assert main([*argv, '--via-executor', '--executor-params', 'blend=latest']) == 0  # resumed
    assert len((out / 'episodes.jsonl').read_text().splitlines()) == 1
