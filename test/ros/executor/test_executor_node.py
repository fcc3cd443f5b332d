"""The ``specprune_executor`` node over real DDS: node, policy and test peer in separate processes.

Run after ``source scripts/ros_env.sh VENV``. One ROS_DOMAIN_ID claimed for the module
(``ros_peer.claim_domain``), localhost-only discovery. The executor runs at its default 20 Hz.
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
import time
from typing import Any

import numpy as np
import pytest

from specprune_ros.control.executor_config import ExecutorConfig

try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    from executor_peer import ExecutorPeer
    from ros_peer import (
        call_service,
        claim_domain,
        key,
        NodeProcess,
        Peer,
        peer_context,
        ros_env,
        sec,
        set_parameters_request,
        stamp_of,
    )
except ImportError as exc:
    pytest.skip(f'executor DDS tests need rclpy, std_srvs and the generated messages: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)

DOMAIN = claim_domain()
P = ExecutorConfig().period
EXECUTOR = 'specprune_ros.ros.executor.node'


@pytest.fixture(scope='module')
def ros_context() -> Any:
    """Initialise rclpy in this (peer) process on the module's domain, localhost only."""
    with peer_context(DOMAIN):
        yield


@pytest.fixture(scope='module')
def executor(ros_context: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The executor under test: defaults (disabled at start), ~/twist on."""
    log = tmp_path_factory.mktemp('executor') / 'specprune_executor.log'
    with NodeProcess({'publish_twist': True}, ros_env(DOMAIN), log, module=EXECUTOR) as proc:
        assert proc.wait_log('active:', 60.0), proc.log()
        yield proc


@pytest.fixture(scope='module')
def peer(executor: Any) -> Any:
    """The chunk-publishing peer, once the executor's services answer."""
    p = ExecutorPeer()
    try:
        assert p.enable(False).success, executor.log()
        yield p
    finally:
        p.close()


def ramp(offset: float = 0.0, horizon: int = 8, gripper: float = 0.9) -> np.ndarray:
    """A chunk whose dim 0 is offset + 0.01*k (the step is readable), gripper constant."""
    actions = np.zeros((horizon, 7), dtype=np.float32)
    actions[:, 0] = offset + 0.01 * np.arange(horizon)
    actions[:, 1] = 0.2
    actions[:, 6] = gripper
    return actions


def restart(peer: ExecutorPeer, **params: Any) -> None:
    """Set parameters and start afresh (a disable + enable drops every queued chunk)."""
    assert peer.enable(False).success
    if params:
        peer.set_params(params)
    assert peer.enable(True).success


def stream(peer: ExecutorPeer, seconds: float, period: float, make: Any) -> list[float]:
    """Publish ``make(i)`` stamped now every ``period`` s for ``seconds``; the stamps."""
    stamps = []
    t0 = time.time()
    i = 0
    while time.time() - t0 < seconds:
        stamp = time.time()
        peer.chunk(stamp, make(i), step=i)
        stamps.append(stamp)
        i += 1
        time.sleep(max(0.0, t0 + i * period - time.time()))
    return stamps


def test_actions_at_the_control_rate_aligned_in_time(executor: Any, peer: ExecutorPeer) -> None:
    restart(peer, blend='latest', max_delta=[2.0])
    t0 = time.time()
    stream(peer, 10.8, 0.2, lambda i: ramp(0.1 * (i % 5)))
    window = [m for t, m in list(peer.actions) if t0 + 0.4 <= t < t0 + 10.4]
    assert abs(len(window) - 200) <= 20, len(window)  # 20 Hz x 10 s, within 10 %
    for msg in window:
        k = (sec(msg.header.stamp) - sec(msg.chunk_stamp)) / P  # the step whose time it is
        assert abs(msg.index - k) <= 1.0, (msg.index, k)
        assert msg.values[0] == pytest.approx(0.1 * (msg.chunk_step % 5) + 0.01 * msg.index,
                                              abs=1e-6)
        assert msg.values[6] == -1.0 and not msg.blended and not msg.hold
    twists = [t for t in list(peer.twists) if sec(t.header.stamp) >= sec(window[0].header.stamp)]
    by_stamp = {key(m.header.stamp): m for m in window}
    matched = [t for t in twists if key(t.header.stamp) in by_stamp]
    assert len(matched) >= 150
    for tw in matched:
        values = by_stamp[key(tw.header.stamp)].values
        assert tw.twist.linear.x == pytest.approx(values[0] * 0.05 * 20.0, rel=1e-5)
        assert tw.twist.linear.y == pytest.approx(values[1] * 0.05 * 20.0, rel=1e-5)
        assert tw.twist.angular.z == 0.0


def test_late_chunk_skips_the_steps_whose_time_passed(executor: Any, peer: ExecutorPeer) -> None:
    restart(peer, blend='latest', max_delta=[2.0])
    late_before = int(peer.diag_values().get('late_chunks', 0))
    old = time.time() - 1.0  # every step in the past
    peer.chunk(old, ramp(0.3), step=1)
    time.sleep(0.1)
    stamp = time.time() - 0.2  # 4 periods old on arrival
    peer.chunk(stamp, ramp(0.5), step=2)
    time.sleep(1.5)
    ours = [m for _, m in list(peer.actions) if key(m.chunk_stamp) == key(stamp_of(stamp))]
    assert ours, 'the late chunk still had steps due'
    indices = [m.index for m in ours]
    assert indices[0] >= 4 and indices == list(range(indices[0], 8)), indices
    assert all(m.skipped == indices[0] for m in ours)
    np.testing.assert_allclose([m.values[0] for m in ours], [0.5 + 0.01 * k for k in indices],
                               atol=1e-6)
    assert not [m for _, m in list(peer.actions) if key(m.chunk_stamp) == key(stamp_of(old))]
    values = peer.diag_values()
    assert int(values['late_chunks']) == late_before + 1
    assert int(values['skipped_steps']) >= indices[0] + 8


def _max_jump(actions: list[Any]) -> float:
    """Largest change of values[0] between actions of consecutive ticks."""
    jumps = [abs(b.values[0] - a.values[0]) for a, b in itertools.pairwise(actions)
             if b.tick == a.tick + 1]
    assert len(jumps) >= 20, len(jumps)
    return max(jumps)


def test_crossfade_and_temporal_ensemble_are_continuous_where_latest_jumps(
        executor: Any, peer: ExecutorPeer) -> None:
    def alternating(i: int) -> np.ndarray:  # two chunk kinds far apart, gripper flipping too
        actions = np.full((16, 7), 0.6 if i % 2 else 0.0, dtype=np.float32)
        actions[:, 6] = 0.2 if i % 2 else 0.8
        return actions

    jumps = {}
    for blend in ('latest', 'crossfade', 'temporal_ensemble'):
        restart(peer, blend=blend, crossfade_ticks=3, ensemble_m=0.0, max_delta=[2.0])
        t0 = time.time()
        stamps = stream(peer, 2.0, 0.1, alternating)
        time.sleep(0.2)
        got = peer.actions_since(t0)
        jumps[blend] = _max_jump(got)
        kind = {key(stamp_of(s)): i % 2 for i, s in enumerate(stamps)}
        for msg in got:  # the gripper: the newest chunk's, binarised, never in between
            assert msg.values[6] == (1.0 if kind[key(msg.chunk_stamp)] else -1.0)
        assert any(m.blended for m in got) == (blend != 'latest')
    assert jumps['latest'] >= 0.55, jumps
    assert jumps['crossfade'] <= 0.6 / 4 + 0.05, jumps  # 1/(crossfade_ticks + 1) per tick
    assert jumps['temporal_ensemble'] <= 0.3 + 0.05, jumps  # at least two chunks overlap


def test_hold_timeout_stops_motion(executor: Any, peer: ExecutorPeer) -> None:
    for hold_action in (False, True):
        restart(peer, hold_timeout=0.3, hold_action=hold_action, blend='latest')
        t0 = time.time()
        peer.chunk(time.time(), ramp(0.2, horizon=60, gripper=0.1))  # 3 s of steps, then silence
        time.sleep(1.2)
        got = peer.actions_since(t0)
        moving = [m for m in got if not m.hold]
        assert moving and sec(moving[-1].header.stamp) - sec(moving[0].header.stamp) <= 0.3 + P
        assert all(m.values[0] != 0.0 for m in moving)
        held = [m for m in got if m.hold]
        if hold_action:
            assert len(held) >= 10  # one per tick after the timeout
            assert all(list(m.values) == [0.0] * 6 + [1.0] for m in held)  # gripper kept closed
        else:
            assert held == []
        # /diagnostics comes at its own period: wait for the first status after the hold began
        holding = peer.wait_for(lambda: (d := peer.last_diag()) is not None and d.level
                                == b'\x02' and 'hold: no new chunk' in d.message, 5.0)
        assert holding, peer.last_diag()
    peer.set_params({'hold_timeout': 0.5, 'hold_action': False})


def test_disable_publishes_nothing(executor: Any, peer: ExecutorPeer) -> None:
    restart(peer, blend='crossfade')
    peer.chunk(time.time(), ramp(0.1, horizon=80))
    assert peer.wait_for(lambda: len(peer.actions_since(time.time() - 0.2)) > 3, 5.0)
    assert peer.enable(False).success
    t_off = time.time()
    peer.chunk(time.time(), ramp(0.1, horizon=80))
    time.sleep(1.2)
    assert [m for m in peer.actions_since(t_off) if sec(m.header.stamp) > t_off] == []
    assert peer.actions_since(t_off + 0.2) == []
    status = peer.last_diag()
    assert status.level == b'\x01' and 'disabled' in status.message


def test_a_value_outside_the_schema_is_rejected_with_its_reason(
        executor: Any, peer: ExecutorPeer) -> None:
    """``ros2 param set blend fast``: refused by the node's check (the descriptor allows it)."""
    (bad,) = call_service(peer.set_cli, set_parameters_request({'blend': 'fast'}), 10.0).results
    assert not bad.successful and "blend='fast' is not allowed" in bad.reason, bad.reason
    assert executor.wait_log("blend='fast' is not allowed", 5.0), executor.log()
    assert 'rejected parameters' in executor.log()
    peer.set_params({'ensemble_m': 0.02})  # (asserts that it was accepted)
    assert executor.wait_log("parameters set: {'ensemble_m': 0.02}", 5.0), executor.log()
    peer.set_params({'ensemble_m': ExecutorConfig().ensemble_m})


def test_pipelined_with_the_policy_node_requests_ahead(
        ros_context: Any, libero_images: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """Policy (tiny, on_request) + executor (20 Hz, enabled) + camera/state peer: 3 processes.

    Functional: inference runs only when the executor asks, one chunk per request, and the
    executor asks before its queue is empty. The idle-tick count is a speed figure (it depends
    on how fast this machine runs ``tiny``): printed here, measured by
    ``scripts/soak.py --executor``, never asserted (tests check correctness only).
    """
    env = ros_env(DOMAIN)
    ns = '/pipe'
    policy = NodeProcess({'model_preset': 'tiny', 'trigger_mode': 'on_request',
                          'summary_period': 0.0, 'publish_debug_image': False}, env,
                         tmp_path / 'policy.log', ('-r', f'__ns:={ns}'))
    ex = NodeProcess({'start_enabled': True}, env, tmp_path / 'executor.log',
                     ('-r', f'__ns:={ns}', '-r', f'~/action_chunk:={ns}/specprune_policy/'
                      'action_chunk', '-r', f'~/request:={ns}/specprune_policy/request'),
                     module=EXECUTOR)
    cams = listener = None
    try:
        assert policy.wait_log('active:', 90.0), policy.log()
        assert ex.wait_log('active:', 30.0), ex.log()
        cams = Peer(libero_images, name='pipe_camera_peer', node=f'{ns}/specprune_policy')
        cams.instruct('put the black bowl on the plate')
        listener = ExecutorPeer(node=f'{ns}/specprune_executor', name='pipe_action_peer')
        cams.start_stream()
        assert listener.wait_for(lambda: len(listener.actions) >= 20, 60.0), (
            policy.log()[-2000:], ex.log()[-2000:])
        before = listener.diag_values()
        chunks_before, t0 = len(cams.chunks), time.time()
        time.sleep(8.0)
        after = listener.diag_values()
        got = listener.actions_since(t0)
        chunks = len(cams.chunks) - chunks_before
    finally:
        if cams is not None:
            cams.close()
        if listener is not None:
            listener.close()
        ex.stop()
        policy.stop()
    idle = int(after['idle_ticks']) - int(before['idle_ticks'])
    hold = int(after['hold_ticks']) - int(before['hold_ticks'])
    print(f'pipelined 8 s: {len(got)} actions, {chunks} chunks, idle ticks {idle}, hold {hold}, '
          f'{int(after["requests"]) - int(before["requests"])} requests, request_at_remaining '
          f'{after["request_at_remaining"]}, latency max {after["latency_ms_max"]} ms, chunk '
          f'age on arrival max {after["chunk_age_ms_max"]} ms')
    assert len(got) > 0, (before, after)
    assert float(after['request_at_remaining']) >= 1, after  # asks while steps remain
    assert 0 < chunks < int(after['requests']) - int(before['requests']) + 3  # one per request
    assert chunks < 8.0 * 12  # far fewer than continuous inference would make
