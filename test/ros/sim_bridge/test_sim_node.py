"""The ``specprune_sim`` bridge over real DDS: the bridge in its own process, a peer here.

The peer plays the executor: at every /clock value it publishes one Action stamped with it. A
twin LiberoEnv in this process (states only, same task, initial state and seed) executes the
same actions, so the bridge's published state can be checked against the simulator's exactly,
step by step: each action is executed once, in order, and a rejected one never. The actions
lift the arm, then the scripted expert finishes the task, so the episode status must report
LIBERO's success. Run after ``source scripts/ros_env.sh VENV``; skipped without LIBERO.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import itertools
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

from specprune_ros.ros.sim_bridge.config import SimNodeConfig
from specprune_ros.sim import libero_missing

if libero_missing():
    pytest.skip(f'the bridge needs LIBERO: {libero_missing()}', allow_module_level=True)
try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    from ros_peer import claim_domain, NodeProcess, peer_context, REPO, ros_env
    from sim_peer import SimPeer
except ImportError as exc:
    pytest.skip(f'bridge DDS tests need rclpy and the generated messages: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)

DOMAIN = claim_domain()
PARAMS = {'max_steps': 220, 'image_every': 40, 'fast_render': True, 'render_size': 0,
          'action_timeout': 10.0}
LIFT = 4  # steps of +z before the expert takes over
UP = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0])


@pytest.fixture(scope='module')
def episode(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One whole episode through the bridge, driven in lockstep with the twin."""
    log = tmp_path_factory.mktemp('sim') / 'specprune_sim.log'
    with (NodeProcess(PARAMS, ros_env(DOMAIN), log,
                      module='specprune_ros.ros.sim_bridge.node') as bridge,
          peer_context(DOMAIN)):
        peer = SimPeer()
        try:
            yield _drive(peer, bridge)
        finally:
            peer.close()


def _drive(peer: SimPeer, bridge: NodeProcess) -> dict[str, Any]:
    """Lift, then the expert, each action on the twin too, until the episode is done."""
    from specprune_ros.sim import LiberoEnv
    from specprune_ros.sim.expert import SpatialExpert

    twin = LiberoEnv.from_config(SimNodeConfig(**PARAMS).sim_config(0).replace(
        cameras=False))
    twin_obs = [twin.reset(0)]
    expert = SpatialExpert(twin)
    expert.reset()
    assert peer.wait(lambda: peer.status('waiting'), 180.0), bridge.log()
    waiting_clock = peer.wait_clock(3, 30.0)  # the waiting instant is republished
    assert waiting_clock, bridge.log()
    done, step, sent = False, 0, []
    while not done:
        t = peer.next_clock(30.0)
        assert t is not None, bridge.log()[-3000:]
        action = UP if step < LIFT else expert.act()
        action = action.astype(np.float32).astype(np.float64)  # Action.values is float32
        if step == LIFT:  # a bad action first: rejected, never executed
            peer.send(t, [0.0, np.nan, 0.0, 0.0, 0.0, 0.0, -1.0])
            peer.send(t, [0.1] * 6)
        peer.send(t, action)
        sent.append(action)
        obs, done = twin.step(action)
        twin_obs.append(obs)
        step += 1
    assert peer.wait(lambda: peer.status('done'), 30.0), bridge.log()[-3000:]
    return {'peer': peer, 'twin': twin_obs, 'success': twin.success(), 'log': bridge.log,
            'sent': sent}


def test_images_and_state_arrive_stamped(episode: dict[str, Any]) -> None:
    peer = episode['peer']
    states = peer.by_stamp('ee_state')
    for name in ('third_person', 'wrist'):
        images = peer.messages(name)
        assert images, episode['log']()
        for msg in images:
            assert (msg.encoding, msg.height, msg.width) == ('rgb8', 224, 224)
            assert peer.stamp(msg) in states  # the state of the same step has the same stamp
    for name in ('ee_twist', 'gripper'):  # every state message of a step has its stamp
        assert set(peer.by_stamp(name)) == set(states), name
    steps = peer.steps_with_images()
    assert {0, 40, 80}.issubset(steps), steps  # image_every: 40
    assert not {1, 39, 41} & steps
    clocks = peer.clock_values()
    assert all(b >= a for a, b in itertools.pairwise(clocks))  # simulated time never goes back
    steps = sorted(set(clocks))  # lockstep: one period per step, never more
    assert all(abs(b - a - 0.05) < 1e-6 for a, b in itertools.pairwise(steps)), steps[:5]
    assert peer.messages('instruction')[0].data.startswith('pick up the black bowl')


def test_waiting_holds_the_arm_and_the_clock_still(episode: dict[str, Any]) -> None:
    waiting = [s for s in episode['peer'].statuses() if s['state'] == 'waiting']
    assert len(waiting) >= 3 and all(s['step'] == 0 for s in waiting)  # republished
    assert len({round(s['sim_time'], 6) for s in waiting}) == 1  # lockstep: time stands still
    np.testing.assert_array_equal(episode['peer'].pose_at(waiting[0]['sim_time']),
                                  episode['twin'][0].ee_pos)


def test_an_action_moves_the_arm_the_commanded_way(episode: dict[str, Any]) -> None:
    pos = episode['peer'].positions_by_step()
    assert pos[LIFT][2] - pos[0][2] > 0.01, (pos[0], pos[LIFT])  # +z: up by centimetres
    assert abs(pos[LIFT][0] - pos[0][0]) < 0.005
    twists = episode['peer'].twists_by_step()  # the MEASURED velocity: upwards while lifting
    assert all(twists[k][2] > 0.01 for k in range(1, LIFT + 1)), twists
    assert all(abs(v) < 1e-3 for v in twists[0])  # still after the wait


def test_every_action_is_executed_once_and_exactly(episode: dict[str, Any]) -> None:
    pos = episode['peer'].positions_by_step()
    twin = episode['twin']
    assert sorted(pos) == list(range(len(twin))), (sorted(pos)[-3:], len(twin))
    for step, obs in enumerate(twin):
        np.testing.assert_array_equal(pos[step], obs.ee_pos, err_msg=str(step))
    assert 'rejected' in episode['log']()  # the NaN and the 6-value actions


def test_episode_status_reports_success(episode: dict[str, Any]) -> None:
    final = [s for s in episode['peer'].statuses() if s['done']]
    assert final, episode['log']()
    last = final[-1]
    assert last['success'] is True and episode['success'] is True
    assert last['step'] == len(episode['sent']) and last['held_steps'] == 0
    assert (last['task_id'], last['init_state'], last['episode']) == (0, 0, 0)
    assert 'SUCCESS after' in episode['log']()


def test_a_silent_executor_stops_the_episode_naming_it(tmp_path: Path) -> None:
    """Lockstep: nothing answers the first step; the bridge says whom it waited for."""
    domain = claim_domain()  # its own bridge, watched through its log (one rclpy context here)
    params = {**PARAMS, 'start_timeout': 4.0}
    with NodeProcess(params, ros_env(domain), tmp_path / 'sim.log',
                     module='specprune_ros.ros.sim_bridge.node') as bridge:
        deadline = time.monotonic() + 180.0
        while 'stopped at step 0' not in bridge.log() and time.monotonic() < deadline:
            time.sleep(0.5)
        log = bridge.log()
    assert 'episode 0 stopped at step 0: no action for the step at sim time' in log, log[-3000:]
    assert 'start_timeout 4 s' in log and 'specprune_executor' in log
    assert 'SUCCESS' not in log and 'failure after' not in log  # no outcome: no episode ran


def test_help_starts_nothing() -> None:
    proc = subprocess.run([sys.executable, '-c', 'import sys; from '
                           'specprune_ros.ros.common.entry_points import sim; '
                           'rc = sim(["--help"]); '
                           'assert "rclpy" not in sys.modules and "mujoco" not in sys.modules; '
                           'sys.exit(rc)'], cwd=Path(REPO), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'action_source' in proc.stdout and 'image_every' in proc.stdout
