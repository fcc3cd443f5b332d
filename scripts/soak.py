#!/usr/bin/env python3
"""Soak test of specprune_policy: camera + state load for a while; RSS, drops, timings.

Starts the node in its own process (random ROS_DOMAIN_ID, localhost only), feeds it the LIBERO
fixture with synthetic motion at the given rates and reports the node's resident memory,
dropped sets, step rate, node overhead and debug-image render time::

    source scripts/ros_env.sh VENV
    python scripts/soak.py --duration 600 --camera-hz 30 --state-hz 100 --model-preset tiny

Exit status 1 when the node died, produced nothing, or its memory grew by more than
--max-growth-mb after the first third of the run.

With ``--executor`` the policy runs ``trigger_mode:=on_request`` and ``specprune_executor``
(enabled, 20 Hz) executes its chunks, asking for the next one as the current one runs low. The
script then also prints the measured action rate and the idle ticks (ticks with no action to
send) over the run after the first action::

    python scripts/soak.py --executor --duration 30
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys
import tempfile
import time

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / 'test'))  # the test peer (test/ros_peer.py)
sys.path.insert(0, str(REPO))

log = logging.getLogger('specprune_soak')
EXECUTOR_REMAPS = ('-r', '~/action_chunk:=/specprune_policy/action_chunk',
                   '-r', '~/request:=/specprune_policy/request')


def main(argv: list[str] | None = None) -> int:
    """Run the soak and report; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=60.0, help='seconds of load')
    parser.add_argument('--camera-hz', type=float, default=30.0)
    parser.add_argument('--state-hz', type=float, default=100.0)
    parser.add_argument('--model-preset', default='tiny', choices=('tiny', 'small', 'oft-7b'))
    parser.add_argument('--report-every', type=float, default=10.0, help='seconds')
    parser.add_argument('--max-growth-mb', type=float, default=64.0)
    parser.add_argument('--domain', type=int, default=None, help='ROS_DOMAIN_ID (random)')
    parser.add_argument('--executor', action='store_true',
                        help='also run specprune_executor on the chunks (policy on_request)')
    parser.add_argument('--blend', default='crossfade',
                        choices=('latest', 'crossfade', 'temporal_ensemble'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    import rclpy
    from ros_peer import claim_domain, NodeProcess, Peer, ros_env

    from specprune_ros.tools.fixtures import load_observation

    domain = args.domain if args.domain is not None else claim_domain()
    logdir = Path(tempfile.mkdtemp(prefix='specprune_soak_'))
    params = {'model_preset': args.model_preset, 'summary_period': 10.0}
    if args.executor:
        params['trigger_mode'] = 'on_request'
    node = NodeProcess(params, ros_env(domain), logdir / 'node.log')
    executor = listener = None
    if args.executor:
        executor = NodeProcess({'start_enabled': True, 'blend': args.blend}, ros_env(domain),
                               logdir / 'executor.log', EXECUTOR_REMAPS,
                               module='specprune_ros.ros.executor.node')
    rclpy.init(domain_id=domain)
    peer = None
    try:
        if not node.wait_log('active:', 300.0):
            log.error('the node did not become active:\n%s', node.log())
            return 1
        peer = Peer(load_observation().images)
        peer.instruct('put the black bowl on the plate')
        peer.wait_for(lambda: peer.last_diag() is not None, 30.0)
        samples: list[tuple[float, float]] = []
        peer.start_stream(camera_hz=args.camera_hz, state_hz=args.state_hz)
        if executor is not None:
            from executor_peer import ExecutorPeer

            listener = ExecutorPeer()
            if not listener.wait_for(lambda: len(listener.actions) > 0
                                     and listener.last_diag() is not None, 120.0):
                log.error('no action from the executor:\n%s', executor.log()[-3000:])
                return 1
            start = (time.time(), listener.diag_values(), len(peer.chunks))
        t0 = time.monotonic()
        next_report = t0 + args.report_every
        while time.monotonic() - t0 < args.duration and node.proc.poll() is None:
            samples.append((time.monotonic() - t0, node.rss_mb()))
            if time.monotonic() >= next_report:
                next_report += args.report_every
                _report(peer, samples[-1], len(peer.published))
            time.sleep(1.0)
        if listener is not None:
            ok_executor = _report_executor(listener, start, len(peer.chunks), executor)
        peer.stop_stream()
        time.sleep(1.5)
        if node.proc.poll() is not None:
            log.error('the node exited with %s:\n%s', node.proc.returncode, node.log()[-3000:])
            return 1
        third = args.duration / 3
        early = max((m for t, m in samples if t <= third), default=float('nan'))
        late = max((m for t, m in samples if t >= 2 * third), default=float('nan'))
        values = _report(peer, samples[-1], len(peer.published))
        log.info('RSS: start %.0f MiB, max in the first third %.0f MiB, max in the last third '
                 '%.0f MiB (growth %.1f MiB); %d chunks for %d camera sets; node log: %s',
                 samples[0][1], early, late, late - early, len(peer.chunks),
                 len(peer.published), logdir / 'node.log')
        ok = late - early <= args.max_growth_mb and int(values.get('steps', 0)) > 0
        if listener is not None:
            ok = ok and ok_executor
        return 0 if ok else 1
    finally:
        for closing in (peer, listener):
            if closing is not None:
                closing.close()
        node.stop()
        if executor is not None:
            executor.stop()
        rclpy.try_shutdown()


def _report_executor(listener: object, start: tuple, chunks_now: int, proc: object) -> bool:
    """Print the executor's action rate and idle ticks since ``start``; False if it failed."""
    t_start, before, chunks_start = start
    seconds = time.time() - t_start
    after = listener.diag_values()  # type: ignore[attr-defined]
    actions = len(listener.actions_since(t_start))  # type: ignore[attr-defined]

    def diff(name: str) -> int:
        return int(after.get(name, 0)) - int(before.get(name, 0))

    log.info('executor over %.1f s: %d actions = %.2f actions/s (control_rate 20 Hz); idle '
             'ticks %d, hold ticks %d, skipped steps %d; %d requests, %d chunks (%.1f/s); '
             'request_at_remaining %s, request-to-chunk latency max %s ms; executor log: %s',
             seconds, actions, actions / seconds, diff('idle_ticks'), diff('hold_ticks'),
             diff('skipped_steps'), diff('requests'), chunks_now - chunks_start,
             (chunks_now - chunks_start) / seconds, after.get('request_at_remaining'),
             after.get('latency_ms_max'), proc.log_path)  # type: ignore[attr-defined]
    return proc.proc.poll() is None and actions > 0  # type: ignore[attr-defined]


def _report(peer: object, sample: tuple[float, float], sent: int) -> dict[str, str]:
    from ros_peer import Peer

    status = peer.last_diag()  # type: ignore[attr-defined]
    values = Peer.diag_values(status) if status is not None else {}
    log.info('t=%4.0f s RSS %.0f MiB | sent %d sets | steps %s (%s/s) | dropped sets %s | '
             'node overhead %s ms (max %s) | render %s ms | %s', sample[0], sample[1], sent,
             values.get('steps'), values.get('step_rate_hz'), values.get('dropped_sets'),
             values.get('node_overhead_ms_mean'), values.get('node_overhead_ms_max'),
             values.get('render_ms_mean'), status.message if status is not None else '-')
    return values


if __name__ == '__main__':
    sys.exit(main())
