"""The ``specprune_policy`` node over real DDS: node and test peer in separate processes.

Run after ``source scripts/ros_env.sh VENV``. Every run uses one random ROS_DOMAIN_ID
(100-200) and localhost-only discovery. The 60 s soak length can be changed with
SPECPRUNE_SOAK_SECONDS.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math
import os
from pathlib import Path
import signal
import statistics
import time
from typing import Any

import numpy as np
import pytest

from specprune_ros.ros.policy.config import NodeConfig, spec_map
from specprune_ros.specprune.debug_image import decode_kept_tokens

try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    from ros_peer import claim_domain, key, NodeProcess, Peer, peer_context, ros_env, sec
except ImportError as exc:
    pytest.skip(f'ROS 2 node tests need rclpy and the generated specprune_ros.msg: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)

DOMAIN = claim_domain()  # no other run on this machine uses it meanwhile
INSTRUCTION = 'put the black bowl on the plate'
SOAK_SECONDS = float(os.environ.get('SPECPRUNE_SOAK_SECONDS', '60'))
LIMITS = NodeConfig()


@pytest.fixture(scope='module')
def ros_context() -> Any:
    """Initialise rclpy in this (peer) process on the run's domain, localhost only."""
    with peer_context(DOMAIN):
        yield


@pytest.fixture(scope='module')
def node(ros_context: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The node under test: tiny preset, autostart."""
    log = tmp_path_factory.mktemp('node') / 'specprune_policy.log'
    with NodeProcess({'model_preset': 'tiny', 'input_timeout': 0.5, 'summary_period': 5.0},
                     ros_env(DOMAIN), log) as proc:
        assert proc.wait_log('active:', 90.0), proc.log()
        yield proc


@pytest.fixture(scope='module')
def peer(node: Any, libero_images: tuple[np.ndarray, np.ndarray]) -> Any:
    """The test peer, discovered by the node and with the instruction delivered."""
    p = Peer(libero_images)
    p.instruct(INSTRUCTION)

    def ready() -> bool:
        diag = p.last_diag()
        return diag is not None and Peer.diag_values(diag).get('instruction') == INSTRUCTION

    try:
        assert p.wait_for(ready, 30.0), node.log()
        yield p
    finally:
        p.close()


def stream_until(peer: Peer, predicate: Any, timeout: float, **kwargs: Any) -> bool:
    """Stream 30 Hz cameras + 100 Hz state until ``predicate()`` (then stop)."""
    peer.start_stream(**kwargs)
    try:
        return peer.wait_for(predicate, timeout)
    finally:
        peer.stop_stream()


def test_chunk_shape_and_image_stamp(node: Any, peer: Peer) -> None:
    peer.chunks.clear()
    assert stream_until(peer, lambda: len(peer.chunks) >= 5, 60.0), node.log()
    time.sleep(0.5)
    published = set(peer.published)
    stats = {key(s.header.stamp): s for s in list(peer.stats)}
    for _, msg in list(peer.chunks):
        assert (msg.horizon, msg.action_dim) == (8, 7)
        actions = np.asarray(msg.actions, dtype=np.float32)
        assert actions.shape == (56,)
        assert np.isfinite(actions).all()
        assert (actions >= -1.0).all() and (actions <= 1.0).all()  # the default clamp
        assert key(msg.header.stamp) in published  # the images' stamp, exactly
        assert msg.header.frame_id == 'base'  # the EE state's frame
        assert msg.visual_tokens_total == 512 and 0 < msg.visual_tokens_kept <= 512
        assert key(msg.header.stamp) in stats
        assert stats[key(msg.header.stamp)].kept_total == msg.visual_tokens_kept


def test_debug_image_matches_kept_tokens_of_the_same_step(node: Any, peer: Peer) -> None:
    peer.debug.clear()
    assert stream_until(peer, lambda: len(peer.debug) >= 3, 60.0), node.log()
    time.sleep(0.5)
    stats = {key(s.header.stamp): s for s in list(peer.stats)}
    checked = 0
    for img in list(peer.debug):
        st = stats.get(key(img.header.stamp))
        if st is None:
            continue
        assert img.encoding == 'rgb8'
        pixels = np.frombuffer(img.data, dtype=np.uint8).reshape(img.height, img.width, 3)
        decoded = decode_kept_tokens(pixels)
        assert decoded['mode'] == st.mode
        retain = decoded['retain']
        assert retain.size == st.kept_total
        assert np.bincount(retain // 256, minlength=2).tolist() == list(st.kept_per_view)
        checked += 1
    assert checked >= 1


def test_parameter_set_applies_at_next_step_and_invalid_is_rejected(node: Any,
                                                                    peer: Peer) -> None:
    assert stream_until(peer, lambda: any(s.kept_global > 0 for s in list(peer.stats)),
                        60.0), 'k_global=64 should keep global tokens after the first step'
    results = peer.set_params({'k_global': 0, 'alpha': 0.1})
    assert all(r.successful for r in results), [r.reason for r in results]
    after = max(peer.published)  # frames published from now on run with the new values
    peer.start_stream()
    try:
        assert peer.wait_for(lambda: sum(key(s.header.stamp) > after
                                         for s in list(peer.stats)) >= 3, 60.0)
    finally:
        peer.stop_stream()
    new = [s for s in list(peer.stats) if key(s.header.stamp) > after]
    assert all(s.kept_global == 0 for s in new)
    k_fine = round(0.1 * 40)  # alpha * K_p, the larger of the two modes
    assert all(s.kept_local <= 2 * k_fine for s in new), [s.kept_local for s in new]

    bad = peer.set_params({'t_max': 40})[0]  # in range, but >= history_length (32)
    assert not bad.successful and 't_max' in bad.reason and 'history_length' in bad.reason
    bad = peer.set_params({'alpha': 9.0})[0]  # outside the descriptor's range
    assert not bad.successful and 'alpha' in bad.reason
    bad = peer.set_params({'model_preset': 'small'})[0]
    assert not bad.successful and 'read-only' in bad.reason
    bad = peer.set_params({'action_low': 'x'})[0]
    assert not bad.successful
    for layers in ([99], [1]):  # beyond the tiny model's 6 layers / before the static layer
        bad = peer.set_params({'prune_layers': layers})[0]
        assert not bad.successful and 'valid range 3..5 for this model (6 layers' in bad.reason
    ok = peer.set_params({'prune_layers': 'null'})[0]  # what ros2 param dump writes: automatic
    assert ok.successful, ok.reason
    assert 'rejected parameters' in node.log()
    restore = peer.set_params({'k_global': 64, 'alpha': 1.0})
    assert all(r.successful for r in restore)


def test_method_and_variant_are_set_through_the_parameter_service(node: Any,
                                                                  peer: Peer) -> None:
    """A user A/Bs a baseline or the authors' variant with ``ros2 param set`` on the node."""
    def run_after(values: dict[str, Any]) -> list[Any]:
        results = peer.set_params(values)
        assert all(r.successful for r in results), [r.reason for r in results]
        after = max(peer.published)
        assert stream_until(peer, lambda: sum(key(s.header.stamp) > after
                                              for s in list(peer.stats)) >= 2, 60.0), node.log()
        return [s for s in list(peer.stats) if key(s.header.stamp) > after]

    try:
        new = run_after({'variant': 'authors', 'method': 'random', 'baseline_budget': 100})
        assert all(s.mode == 'random' and s.kept_total == 100 for s in new), \
            [(s.mode, s.kept_total) for s in new]
        new = run_after({'method': 'specprune'})  # the authors' variant of SpecPrune itself
        assert all(s.mode in ('coarse', 'fine', 'warmup') for s in new)
        for name, value in (('method', 'fastv'), ('variant', 'author'),
                            ('score_rows', 'text')):
            bad = peer.set_params({name: value})[0]
            assert not bad.successful and name in bad.reason, bad.reason
            allowed = spec_map()[name].choices
            assert all(choice in bad.reason for choice in allowed), bad.reason
    finally:
        restore = peer.set_params({'variant': 'paper', 'method': 'specprune',
                                   'baseline_budget': 160})
        assert all(r.successful for r in restore)


def test_stale_state_publishes_no_action_and_says_which(node: Any, peer: Peer) -> None:
    peer.chunks.clear()
    peer.start_stream()
    try:
        assert peer.wait_for(lambda: len(peer.chunks) >= 2, 60.0)
        peer.state_on.clear()
        t_off = time.time()
        stale = peer.wait_for(lambda: (d := peer.last_diag()) is not None
                              and d.level == b'\x02' and 'ee_state' in d.message, 10.0)
        time.sleep(1.0)
        late = [c for _, c in list(peer.chunks) if sec(c.header.stamp)
                > t_off + LIMITS.sync_slop + 0.01]
        assert stale, peer.last_diag()
        assert 'ee_state' in Peer.diag_values(peer.last_diag())['stale_inputs']
        assert late == []
        assert 'watchdog: no actions: ee_state stale' in node.log()  # logged, throttled
        peer.state_on.set()
        t_on = time.time()
        assert peer.wait_for(lambda: any(sec(c.header.stamp) > t_on
                                         for _, c in list(peer.chunks)), 60.0)
        assert peer.wait_for(lambda: (d := peer.last_diag()) is not None and d.level == b'\x00'
                             and Peer.diag_values(d)['stale_inputs'] == '', 10.0)
    finally:
        peer.state_on.set()
        peer.stop_stream()


def _no_chunk_while(peer: Peer, seconds: float, **stream: Any) -> list[Any]:
    """Stream ``seconds`` with ``stream`` options; the chunks of images sent meanwhile."""
    time.sleep(0.5)  # let chunks of earlier frames arrive
    t0 = time.time()
    peer.start_stream(**stream)
    time.sleep(seconds)
    peer.stop_stream()
    time.sleep(0.5)
    return [c for _, c in list(peer.chunks) if sec(c.header.stamp) >= t0]


def test_bad_inputs_log_errors_and_node_stays_alive(node: Any, peer: Peer) -> None:
    assert _no_chunk_while(peer, 1.5, encoding='16UC1') == []
    assert "unsupported image encoding '16UC1'" in node.log()
    assert _no_chunk_while(peer, 1.5, truncate=True) == []
    assert 'image data has' in node.log()
    # NaN EE state: published by hand together with good images
    t0 = time.time()
    for _ in range(20):
        t = time.time()
        peer.publish_state(t, position=(math.nan, 0.0, 1.0))
        peer.publish_images(t)
        time.sleep(0.05)
    time.sleep(1.0)
    assert [c for _, c in list(peer.chunks) if sec(c.header.stamp) >= t0] == []
    assert 'EE state rejected' in node.log()
    # missing instruction
    peer.instruct('')
    assert _no_chunk_while(peer, 1.5) == []
    assert 'no instruction' in node.log()
    peer.instruct(INSTRUCTION)
    assert Peer.diag_values(peer.last_diag())['last_error'] != ''
    # still alive and working; the error is over, so /diagnostics no longer reports it
    assert node.proc.poll() is None
    t1 = time.time()
    assert stream_until(peer, lambda: any(sec(c.header.stamp) > t1
                                          for _, c in list(peer.chunks))
                        and (d := peer.last_diag()) is not None
                        and Peer.diag_values(d)['last_error'] == '' and d.level == b'\x00',
                        60.0), peer.last_diag()


def test_soak_bounded_memory_and_drops_instead_of_queueing(node: Any, peer: Peer) -> None:
    rss: list[tuple[float, float]] = []
    peer.chunks.clear()
    t0 = time.monotonic()
    peer.start_stream(camera_hz=30.0, state_hz=100.0)
    try:
        while time.monotonic() - t0 < SOAK_SECONDS:
            rss.append((time.monotonic() - t0, node.rss_mb()))
            time.sleep(1.0)
    finally:
        peer.stop_stream()
    time.sleep(1.5)
    values = Peer.diag_values(peer.last_diag())
    chunks = list(peer.chunks)
    sent = SOAK_SECONDS * 30.0
    third = SOAK_SECONDS / 3
    early = max(m for t, m in rss if t <= third)
    late = max(m for t, m in rss if t >= 2 * third)
    ages = [recv - sec(c.header.stamp) for recv, c in chunks[-20:]]
    print(f'soak {SOAK_SECONDS:.0f} s: {len(chunks)} chunks for {sent:.0f} camera sets, RSS '
          f'{rss[0][1]:.0f} -> {early:.0f} -> {late:.0f} MiB, diagnostics {values}')
    assert len(chunks) > SOAK_SECONDS  # kept producing (> 1 Hz)
    assert int(values['dropped_sets']) > 0  # frames are dropped, not queued
    assert late - early < 64.0, rss  # no growth after warm-up
    assert statistics.median(ages) < 2.0, ages  # chunks stay fresh: nothing queues up
    assert float(values['node_overhead_ms_mean']) > 0.0  # measured (speed is reported, not tested)


@pytest.mark.parametrize('second', [None, signal.SIGTERM], ids=['once', 'twice'])
def test_signal_during_configure(ros_context: Any, tmp_path: Path, second: int | None) -> None:
    """One signal: the load finishes, nothing activates, exit 0; a second one aborts it (130).

    The ``small`` model takes about a second to build, far longer than the 50 ms between the
    'configuring' log line and the first signal.
    """
    proc = NodeProcess({'model_preset': 'small', 'summary_period': 0.0}, ros_env(DOMAIN),
                       tmp_path / 'configure.log', ('-r', '__ns:=/configure'))
    try:
        assert proc.wait_log('configuring:', 60.0), proc.log()
        proc.proc.send_signal(signal.SIGINT)
        if second is None:
            rc = proc.proc.wait(30.0)
            assert rc == 0 and 'configured in' in proc.log(), (rc, proc.log())
        else:
            time.sleep(0.05)
            rc, took = proc.signal_and_wait(second)
            assert rc == 130 and took < 2.0, (rc, took, proc.log())
            assert 'configured in' not in proc.log() and 'second signal' in proc.log()
        assert 'active:' not in proc.log()
    finally:
        proc.stop()


def test_bad_checkpoint_logs_error_stays_alive_then_sigterm(
        ros_context: Any, peer: Peer, tmp_path: Path) -> None:
    # in its own namespace, so that it does not disturb the module's node
    proc = NodeProcess({'checkpoint': str(tmp_path / 'missing'), 'summary_period': 0.0},
                       ros_env(DOMAIN), tmp_path / 'bad.log', ('-r', '__ns:=/bad'))
    try:
        assert proc.wait_log('configure failed', 90.0), proc.log()
        assert 'CheckpointError' in proc.log() and 'missing' in proc.log()
        assert peer.wait_for(lambda: (d := peer.last_diag('/bad/specprune_policy')) is not None
                             and d.level == b'\x02' and 'configure failed' in d.message, 10.0)
        assert proc.proc.poll() is None  # alive, unconfigured
        rc, took = proc.signal_and_wait(signal.SIGTERM)
        assert rc == 0 and took < 2.0, (rc, took, proc.log())
    finally:
        proc.stop()


def test_lifecycle_checkpoint_and_compressed_images(
        ros_context: Any, libero_images: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """autostart:=false, a checkpoint folder, JPEG inputs; driven by lifecycle services."""
    from specprune_ros.vla.model_io import save_pretrained
    from specprune_ros.vla.policy import VLAPolicy

    save_pretrained(VLAPolicy.from_preset('tiny', device='cpu', seed=3), tmp_path / 'model')
    proc = NodeProcess({'checkpoint': str(tmp_path / 'model'), 'autostart': False,
                        'compressed_images': True, 'instruction': INSTRUCTION,
                        'summary_period': 0.0}, ros_env(DOMAIN), tmp_path / 'alt.log',
                       ('-r', '__ns:=/alt'))
    peer = None
    try:
        peer = Peer(libero_images, name='specprune_peer_alt', node='/alt/specprune_policy',
                    compressed=True)
        assert peer.lifecycle_state(60.0) == 'unconfigured'
        assert peer.transition('configure') and peer.lifecycle_state() == 'inactive'
        assert 'loaded built-in model folder' in proc.log()
        assert peer.transition('activate') and peer.lifecycle_state() == 'active'
        assert stream_until(peer, lambda: len(peer.chunks) >= 2, 60.0), proc.log()
        assert (peer.chunks[-1][1].horizon, peer.chunks[-1][1].action_dim) == (8, 7)
        assert peer.transition('deactivate') and peer.lifecycle_state() == 'inactive'
        assert _no_chunk_while(peer, 1.0) == []
        assert peer.transition('cleanup') and peer.lifecycle_state() == 'unconfigured'
        assert proc.proc.poll() is None
    finally:
        if peer is not None:
            peer.close()
        proc.stop()


def test_sigint_while_streaming_exits_cleanly(node: Any, peer: Peer) -> None:
    peer.start_stream()
    try:
        assert peer.wait_for(lambda: len(peer.chunks) > 0, 30.0)
        time.sleep(1.0)  # mid-stream: inference and rendering are busy
        rc, took = node.signal_and_wait(signal.SIGINT)
    finally:
        peer.stop_stream()
    assert rc == 0 and took < 2.0, (rc, took, node.log()[-2000:])


def test_a_dumped_parameter_file_relaunches_the_node(
        ros_context: Any, peer: Peer, libero_images: tuple[np.ndarray, np.ndarray],
        tmp_path: Path) -> None:
    """``ros2 param dump`` of a running node, then a new node from that file (issue: null)."""
    from ros_peer import dump_parameters

    ns = ('-r', '__ns:=/dump')
    first = NodeProcess({'autostart': False, 'alpha': 0.7, 'summary_period': 0.0,
                         'instruction': INSTRUCTION}, ros_env(DOMAIN), tmp_path / 'a.log', ns)
    try:
        assert peer.wait_for(lambda: peer.last_diag('/dump/specprune_policy') is not None, 60.0)
        text = dump_parameters(peer.node, '/dump/specprune_policy')
    finally:
        first.stop()
    assert 'prune_layers: null' in text and 'alpha: 0.7' in text, text
    dumped = tmp_path / 'dump.yaml'
    dumped.write_text(text)
    seen = len([s for s in list(peer.diags) if s.name == '/dump/specprune_policy'])
    second = NodeProcess({}, ros_env(DOMAIN), tmp_path / 'b.log',
                         (*ns, '--params-file', str(dumped)))
    other = None
    try:  # (wait for the new process: discovery may still list the first one's services)
        assert peer.wait_for(lambda: len([s for s in list(peer.diags)
                                          if s.name == '/dump/specprune_policy']) > seen, 60.0)
        other = Peer(libero_images, name='dump_peer', node='/dump/specprune_policy')
        assert other.lifecycle_state(60.0) == 'unconfigured', second.log()  # autostart: false
        assert other.transition('configure') and other.transition('activate'), second.log()
        assert dump_parameters(peer.node, '/dump/specprune_policy') == text
    finally:
        if other is not None:
            other.close()
        second.stop()
