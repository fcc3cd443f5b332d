#!/usr/bin/env python3
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""
Check the ROS 2 set-up end to end, over real DDS between separate processes.

Run after ``source scripts/ros_env.sh``::

    python scripts/ros_selftest.py [--timeout SECONDS]

Checks, each bounded in time:

1. ``rclpy``, ``rclpy.lifecycle.LifecycleNode`` and ``specprune_ros.msg`` import, and a
   lifecycle node goes unconfigured -> inactive -> active.
2. One process publishes ``specprune_ros/msg/ActionChunk``, another receives it.
3. One process serves a node parameter, another changes it through the node's
   ``set_parameters`` service (an out-of-range value is rejected) and reads it back.

All processes use one random ROS_DOMAIN_ID, so parallel runs do not see each other.
Exit status 0 when every check passed.
"""

import argparse
import os
import random
import subprocess
import sys
import time

TOPIC = '/specprune_selftest/action_chunk'
PARAM_NODE = 'specprune_selftest_params'


def _chunk():
    from specprune_ros.msg import ActionChunk
    msg = ActionChunk()
    msg.header.frame_id = 'selftest'
    msg.horizon = 2
    msg.action_dim = 3
    msg.actions = [0.5, -1.0, 2.0, 0.0, 1.5, -0.25]
    msg.mode = 'fine'
    msg.visual_tokens_total = 512
    msg.visual_tokens_kept = 290
    msg.latency_ms = 12.5
    return msg


def role_pub(timeout):
    import rclpy
    rclpy.init()
    node = rclpy.create_node('specprune_selftest_pub')
    pub = node.create_publisher(type(_chunk()), TOPIC, 10)
    end = time.monotonic() + timeout
    try:
        while rclpy.ok() and time.monotonic() < end:
            msg = _chunk()
            msg.header.stamp = node.get_clock().now().to_msg()
            pub.publish(msg)
            time.sleep(0.1)
    except Exception:
        if rclpy.ok():  # an error of its own, not the parent's SIGTERM (rclpy shuts down on it)
            raise
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def role_sub(timeout):
    import rclpy
    from specprune_ros.msg import ActionChunk
    rclpy.init()
    node = rclpy.create_node('specprune_selftest_sub')
    got = []
    node.create_subscription(ActionChunk, TOPIC, got.append, 10)
    end = time.monotonic() + timeout
    while not got and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    if not got:
        print('sub: no ActionChunk within %.0f s' % timeout)
        return 1
    msg, want = got[0], _chunk()
    same = (list(msg.actions) == list(want.actions) and msg.mode == want.mode
            and (msg.horizon, msg.action_dim) == (want.horizon, want.action_dim)
            and (msg.visual_tokens_total, msg.visual_tokens_kept) == (512, 290)
            and msg.header.frame_id == 'selftest')
    print('sub: received ActionChunk horizon=%d action_dim=%d mode=%s actions=%s' % (
        msg.horizon, msg.action_dim, msg.mode, list(msg.actions)))
    return 0 if same else 1


def role_param_server(timeout):
    import rclpy
    from rcl_interfaces.msg import SetParametersResult
    rclpy.init()
    node = rclpy.create_node(PARAM_NODE)
    node.declare_parameter('alpha', 0.6)

    def check(params):
        for p in params:
            if p.name == 'alpha' and not 0.0 < p.value <= 1.0:
                return SetParametersResult(successful=False, reason='alpha must be in (0, 1]')
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(check)
    end = time.monotonic() + timeout
    try:
        while rclpy.ok() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
    except Exception:
        if rclpy.ok():  # an error of its own, not the parent's SIGTERM (rclpy shuts down on it)
            raise
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def role_param_client(timeout):
    import rclpy
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import GetParameters, SetParameters
    rclpy.init()
    node = rclpy.create_node('specprune_selftest_param_client')
    set_cli = node.create_client(SetParameters, '/%s/set_parameters' % PARAM_NODE)
    get_cli = node.create_client(GetParameters, '/%s/get_parameters' % PARAM_NODE)
    rc = 1
    try:
        if not (set_cli.wait_for_service(timeout_sec=timeout)
                and get_cli.wait_for_service(timeout_sec=timeout)):
            print('param client: set_parameters service not found within %.0f s' % timeout)
            return 1

        def call(cli, req):
            future = cli.call_async(req)
            rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
            if future.result() is None:
                raise RuntimeError('service call timed out')
            return future.result()

        def set_alpha(value):
            req = SetParameters.Request()
            req.parameters = [Parameter(name='alpha', value=ParameterValue(
                type=ParameterType.PARAMETER_DOUBLE, double_value=value))]
            return call(set_cli, req).results[0]

        ok, bad = set_alpha(0.8), set_alpha(1.5)
        value = call(get_cli, GetParameters.Request(names=['alpha'])).values[0].double_value
        print('param client: set 0.8 -> successful=%s; set 1.5 -> successful=%s (%s); now %s'
              % (ok.successful, bad.successful, bad.reason, value))
        rc = 0 if (ok.successful and not bad.successful and value == 0.8) else 1
    finally:
        node.destroy_node()
        rclpy.shutdown()
    return rc


def check_imports_and_lifecycle():
    import rclpy
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
    from specprune_ros.msg import ActionChunk, StepStats  # noqa: F401

    seen = []

    class Probe(LifecycleNode):
        def on_configure(self, state):
            seen.append('configure from ' + state.label)
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state):
            seen.append('activate from ' + state.label)
            return super().on_activate(state)

    rclpy.init()
    try:
        node = Probe('specprune_selftest_lifecycle')
        results = [node.trigger_configure(), node.trigger_activate()]
        node.destroy_node()
    finally:
        rclpy.shutdown()
    print('lifecycle: %s; results %s' % (', '.join(seen), [r.name for r in results]))
    return (seen == ['configure from unconfigured', 'activate from inactive']
            and results == [TransitionCallbackReturn.SUCCESS] * 2)


def run_pair(first, second, timeout, env):
    """Start role `first` (a server), then `second`; return (second's rc, seconds)."""
    cmd = [sys.executable, os.path.abspath(__file__), '--timeout', str(timeout), '--role']
    start = time.monotonic()
    server = subprocess.Popen(cmd + [first], env=env)
    try:
        client = subprocess.run(cmd + [second], env=env, timeout=timeout + 10)
        rc = client.returncode
    except subprocess.TimeoutExpired:
        rc = 124
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return rc, time.monotonic() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds each check may take (default 10)')
    parser.add_argument('--role', choices=['pub', 'sub', 'param_server', 'param_client'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        return globals()['role_' + args.role](args.timeout)

    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 101)))
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    print('ros selftest: RMW=%s ROS_DOMAIN_ID=%s discovery=%s' % (
        env.get('RMW_IMPLEMENTATION', '(default)'), env['ROS_DOMAIN_ID'],
        env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '(default)')))
    results = []
    t = time.monotonic()
    try:
        ok = check_imports_and_lifecycle()
    except Exception as exc:  # report and go on with the other checks
        print('imports/lifecycle: %s: %s' % (type(exc).__name__, exc))
        ok = False
    results.append(('imports+lifecycle', ok, time.monotonic() - t))
    rc, secs = run_pair('pub', 'sub', args.timeout, env)
    results.append(('ActionChunk pub->sub across processes', rc == 0, secs))
    rc, secs = run_pair('param_server', 'param_client', args.timeout, env)
    results.append(('set_parameters service across processes', rc == 0, secs))
    for name, ok, secs in results:
        print('  %-45s %s (%.1f s)' % (name, 'ok' if ok else 'FAILED', secs))
    failed = sum(1 for _, ok, _ in results if not ok)
    print('ros selftest: %d of %d checks ok' % (len(results) - failed, len(results)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
