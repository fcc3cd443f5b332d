"""The ``specprune_policy`` lifecycle node: VLA policy with SpecPrune-VLA token pruning.

Inputs (relative to the node, remap as needed): ``~/third_person/image_raw`` and
``~/wrist/image_raw`` (sensor_msgs/Image, sensor-data QoS; CompressedImage on
``.../image_raw/compressed`` with ``compressed_images``), ``~/ee_state``
(geometry_msgs/PoseStamped: controller speeds and the proprio position + axis-angle),
``~/ee_twist`` (TwistStamped, optional), ``~/gripper_state`` (sensor_msgs/JointState,
optional: the first two positions are the proprio gripper values, one value p means
[p, -p] like LIBERO's two fingers; zeros until it arrives), ``~/instruction`` (std_msgs/String,
transient local; the newest of it and the ``instruction`` parameter wins).

Outputs: ``~/action_chunk`` (ActionChunk, reliable; header.stamp = the third-person image's
stamp of the set used), ``~/stats`` (StepStats), ``~/debug/kept_tokens`` (rgb8 Image) and
``/diagnostics``.

Threads: subscription callbacks (executor) convert and synchronise messages and hand the
newest set to the inference thread through a latest-wins slot; the output thread clamps and
publishes; the render thread draws the debug image of the newest step only. Nothing queues
without bound and the inference thread does no ROS work.
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
import queue
import sys
import threading
import time
from typing import Any, NamedTuple

from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

from specprune_ros.errors import ConfigError, InputError
from specprune_ros.ros.common.node_runner import LifecycleShell, run_node
from specprune_ros.ros.common.sync import (
    ApproxTimeSync,
    LatestSlot,
    LogThrottle,
    MatchedSet,
    StalenessMonitor,
    WindowStats,
)
from specprune_ros.ros.policy import io as node_io
from specprune_ros.ros.policy.config import (
    all_specs,
    apply_changes,
    check_fit,
    load_policy_for,
    NodeConfig,
    to_ros_value,
    YAML_NULLS,
)
from specprune_ros.ros.policy.gripper_track import GripperTrack
from specprune_ros.ros.policy.io import INPUTS, PolicyPorts, Result
from specprune_ros.ros.policy.trigger import RequestGate
from specprune_ros.specprune.debug_image import render_kept_tokens
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.policy import Observation

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
NODE_NAME = 'specprune_policy'


class _Workers(NamedTuple):
    stop: threading.Event
    threads: list[threading.Thread]


class SpecPrunePolicyNode(LifecycleShell, PolicyPorts, LifecycleNode):
    """Lifecycle node: configure loads the model, activate starts inference and publishing."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare every parameter from the schemas; raises ConfigError for bad overrides."""
        super().__init__(NODE_NAME, **kwargs)
        self.node_cfg, self.prune_cfg = self._declare_parameters()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        cfg = self.node_cfg
        self.policy: Any = None
        self.engine: Any = None
        self.state_label = 'unconfigured'
        self.config_error = ''
        self.sync = ApproxTimeSync(INPUTS, cfg.sync_slop, cfg.sync_queue_size)
        self.monitor = StalenessMonitor(INPUTS, cfg.input_timeout)
        self.sets: LatestSlot[tuple[MatchedSet, float]] = LatestSlot()
        self.gate: RequestGate[tuple[MatchedSet, float]] = RequestGate()  # trigger_mode
        self.renders: LatestSlot[Result] = LatestSlot()
        self.outputs: queue.Queue[Result] = queue.Queue(maxsize=16)
        self.throttle = LogThrottle(2.0)
        self.step_times = WindowStats(10.0)
        self.node_ms = WindowStats(10.0)
        self.render_ms = WindowStats(10.0)
        self.counters = dict.fromkeys(('dropped_outputs', 'nonfinite_actions', 'stale_skips',
                                       'input_errors', 'step_errors'), 0)
        self.last_error, self.last_error_time = '', -1e9
        self.instruction, self.reset_pending = cfg.instruction.strip(), False
        self.gripper_track = GripperTrack()  # newest finger positions, and by stamp
        self.active = False
        self._workers: _Workers | None = None
        self.init_ports()
        self.sim_time = False  # use_sim_time, read at configure
        self.create_timer(cfg.diagnostics_period, self.publish_diagnostics)
        if cfg.summary_period > 0:
            self.create_timer(cfg.summary_period, self.log_summary)

    # --- parameters -------------------------------------------------------------------
    def _declare_parameters(self) -> tuple[NodeConfig, SpecPruneConfig]:
        values: dict[str, Any] = {}
        for spec in all_specs():
            try:
                param = self.declare_parameter(spec.name, to_ros_value(spec, spec.default),
                                               node_io.descriptor_for(spec))
                if spec.type is tuple and param.value in YAML_NULLS:  # from ros2 param dump
                    self.undeclare_parameter(spec.name)  # declare it "not set", as dumped
                    param = self.declare_parameter(spec.name, None, node_io.descriptor_for(spec),
                                                   ignore_override=True)
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                raise ConfigError(f'parameter {spec.name}: {exc}') from exc
            values[spec.name] = param.value
        return apply_changes(NodeConfig(), SpecPruneConfig(), values)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Validate via the configs' ``replace``; valid changes apply at the next step."""
        changes = {}
        specs = {s.name: s for s in all_specs()}
        for p in params:
            if p.name not in specs:
                continue  # e.g. use_sim_time
            if p.type_ == Parameter.Type.NOT_SET:
                return SetParametersResult(successful=False, reason=(
                    f'{p.name} cannot be unset' + ('; set [] for the automatic value'
                                                   if specs[p.name].type is tuple else '')))
            changes[p.name] = p.value
        if not changes:
            return SetParametersResult(successful=True)
        try:
            node_cfg, prune_cfg = apply_changes(self.node_cfg, self.prune_cfg, changes)
            if self.policy is not None:
                check_fit(node_cfg, prune_cfg, self.policy.cfg.llm.num_layers,
                          self.policy.cfg.action_dim)
        except ConfigError as exc:
            self.get_logger().warning(f'rejected parameters {sorted(changes)}: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        old_prune = self.prune_cfg
        self.node_cfg, self.prune_cfg = node_cfg, prune_cfg
        self.sync.slop = node_cfg.sync_slop
        self.monitor.timeout = node_cfg.input_timeout
        if 'instruction' in changes:  # the newest of parameter and topic wins
            self.set_instruction(node_cfg.instruction, 'parameter')
        if prune_cfg != old_prune and self.engine is not None:
            self.engine.set_config(prune_cfg)  # takes effect at the next step
        self.get_logger().info(f'parameters set: {changes}')
        return SetParametersResult(successful=True)

    def set_instruction(self, text: str, source: str) -> None:
        """Use ``text`` as the task; a changed task resets the engine before the next step."""
        text = text.strip()
        if text != self.instruction:
            self.instruction, self.reset_pending = text, True
            self.get_logger().info(f'instruction from {source}: {text!r}')

    # --- lifecycle ------------------------------------------------------------------------
    def wants_autostart(self) -> bool:
        """The ``autostart`` parameter (of the node config)."""
        return self.node_cfg.autostart

    def close(self) -> None:
        """:func:`run_node`'s close: stop the worker threads."""
        self.stop_workers()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the policy (built-in preset or checkpoint) and create publishers/subscriptions."""
        t0 = time.perf_counter()
        self.get_logger().info(
            f'configuring: loading {self.node_cfg.checkpoint or self.node_cfg.model_preset} '
            '(a second SIGINT/SIGTERM aborts the load)')
        try:
            policy, engine = load_policy_for(self.node_cfg, self.prune_cfg, self.get_logger())
        except Exception as exc:  # a failed load must never take the node down
            self.config_error = f'configure failed: {type(exc).__name__}: {exc}'
            self.error('configure', self.config_error)
            return FAILURE
        self.policy, self.engine, self.config_error = policy, engine, ''
        self.sim_time = bool(self.get_parameter('use_sim_time').value)
        self.create_ports()
        self.state_label = 'inactive'
        self.get_logger().info(
            f'configured in {time.perf_counter() - t0:.1f} s: model {policy.cfg.name} on '
            f'{policy.model.device} ({policy.model.dtype}), horizon {policy.cfg.horizon} x '
            f'action_dim {policy.cfg.action_dim}')
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start a new episode and the worker threads."""
        if self.engine is None:
            return FAILURE
        self.engine.reset()
        self.sync.clear()
        self.monitor.reset()
        self.sets.clear()
        self.gate.clear()
        self.renders.clear()
        self.twist_seen.reset()
        self.gripper_seen.reset()
        self.last_pose_stamp = -math.inf
        self.reset_pending = False
        self._start_workers()
        self.active, self.state_label = True, 'active'
        self.get_logger().info('active: waiting for synchronised camera + EE state sets; '
                               f'instruction {self.instruction!r}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop inference; no action is published while inactive."""
        self.active, self.state_label = False, 'inactive'
        self.stop_workers()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy publishers/subscriptions and free the model."""
        self.active = False
        self.stop_workers()
        self.destroy_ports()
        self.policy = self.engine = None
        self.free_memory()
        self.state_label = 'unconfigured'
        return SUCCESS

    # --- worker threads ---------------------------------------------------------------------
    def _start_workers(self) -> None:
        self.stop_workers()
        stop = threading.Event()
        while not self.outputs.empty():  # results of an earlier activation
            self.outputs.get_nowait()
        self.sets.reopen()
        self.renders.reopen()
        threads = [threading.Thread(target=fn, args=(stop,), name=f'specprune_{name}',
                                    daemon=True)
                   for name, fn in (('inference', self._inference_loop),
                                    ('output', self._output_loop),
                                    ('render', self._render_loop))]
        for th in threads:
            th.start()
        self._workers = _Workers(stop, threads)

    def stop_workers(self, timeout: float = 1.0) -> None:
        """Stop the worker threads (at most ``timeout`` s; a running step is not waited for)."""
        workers, self._workers = self._workers, None
        if workers is None:
            return
        workers.stop.set()
        self.sets.close()
        self.renders.close()
        deadline = time.monotonic() + timeout
        for th in workers.threads:
            th.join(max(0.0, deadline - time.monotonic()))
        alive = [th.name for th in workers.threads if th.is_alive()]
        if alive:
            self.get_logger().warning(f'threads still finishing a step: {alive}')
        while not self.outputs.empty():
            self.outputs.get_nowait()

    def _inference_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            got = self.sets.take(0.2)
            if got is None or stop.is_set():
                continue
            try:
                self._infer(*got, stop)
            except Exception as exc:  # keep inferring after an unexpected failure
                self.counters['step_errors'] += 1
                self.error('step', f'policy step failed: {type(exc).__name__}: {exc}')

    def _infer(self, matched: MatchedSet, sync_s: float, stop: threading.Event) -> None:
        engine = self.engine
        if engine is None:
            return
        if self.reset_pending:
            self.reset_pending = False
            engine.reset(keep_measured=True)
        if not self.instruction:
            self.error('instruction', 'no instruction: publish a std_msgs/String on '
                       '~/instruction or set the instruction parameter; no action published')
            self.gate.unserve(matched.stamp)  # a request sent again may use this set
            return
        if self._skip_if_stale('before the step'):
            self.gate.unserve(matched.stamp)
            return
        if self.sim_time:
            self.wait_for_instant(matched.stamp)
        items = matched.items
        obs = Observation(images=(items['third_person'].data, items['wrist'].data),
                          proprio=items['ee_state'].data, instruction=self.instruction,
                          stamp=matched.stamp)
        try:
            actions, report = engine.predict_action_chunk(obs)
        except (InputError, ValueError) as exc:
            self.counters['input_errors'] += 1
            self.error('observation', f'observation rejected, no action: {exc}')
            return
        self.step_times.add(report.total_ms)
        if stop.is_set() or self._skip_if_stale('after the step'):
            return
        result = Result(matched, sync_s, actions, report)
        try:
            self.outputs.put_nowait(result)
        except queue.Full:
            self.counters['dropped_outputs'] += 1

    def _skip_if_stale(self, when: str) -> bool:
        now = time.monotonic()  # the monitor's clock
        ages, stale = self.monitor.ages(now), self.monitor.stale(now)
        if not stale:
            return False
        self.counters['stale_skips'] += 1
        self.throttle('stale', f'watchdog {when}: {StalenessMonitor.describe(ages, stale)}; '
                      'no action published', self.log_warning)
        return True

    def _output_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = self.outputs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.publish_result(result)
            except Exception as exc:  # e.g. a publisher destroyed during shutdown
                if not stop.is_set():
                    self.error('publish', f'publishing failed: {type(exc).__name__}: {exc}')

    def _render_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            result = self.renders.take(0.2)
            if result is None or stop.is_set():
                continue
            try:
                t0 = time.perf_counter()
                # the model's input views: the patches line up with the tokens (crop included)
                image = render_kept_tokens(result.report.images, result.report,
                                           patch=self.policy.cfg.patch_size)
                self.publish_debug_image(image, result.matched.items['third_person'])
                self.render_ms.add((time.perf_counter() - t0) * 1e3)
            except Exception as exc:  # rendering problems never stop the node
                if not stop.is_set():
                    self.error('render', f'debug image failed: {type(exc).__name__}: {exc}')

    def error(self, key: str, text: str) -> None:
        """Log ``text`` at error level, throttled per ``key``; /diagnostics reports it."""
        self.last_error, self.last_error_time = text, time.monotonic()
        self.throttle(key, text, self.log_error)

    def free_memory(self) -> None:
        """Release cached allocator memory after the model is dropped."""
        import gc

        import torch
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def main(args: list[str] | None = None, fast_exit: bool = True) -> int:
    """Run the node until SIGINT/SIGTERM; returns the exit code (see :func:`run_node`).

    Shutdown is explicit: the worker threads are joined (a running step is not waited for),
    the node is destroyed and rclpy shut down.
    """
    return run_node(SpecPrunePolicyNode, NODE_NAME, args, fast_exit)


if __name__ == '__main__':
    sys.exit(main())
