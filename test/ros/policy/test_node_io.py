"""node_io's message builders and parameter descriptors (real rclpy messages, no DDS)."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import math

import numpy as np
import pytest

from specprune_ros.ros.policy.config import all_specs
from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.tools.sequence import synthetic_sequence

try:  # the ROS-free suite runs anywhere: skip this module without rclpy and the msgs
    from builtin_interfaces.msg import Time
    from rcl_interfaces.msg import ParameterType

    from specprune_ros.ros import node_io
except ImportError as exc:
    pytest.skip(f'node_io needs rclpy and the generated specprune_ros.msg: {exc} '
                '(scripts/setup_ros.sh VENV, then source scripts/ros_env.sh VENV)',
                allow_module_level=True)

STAMP = Time(sec=12, nanosec=345_000_000)


@pytest.fixture(scope='module')
def pruned_step(tiny_policy, fixture_obs):
    """(actions, report) of the third step of the moving sequence: all sources active."""
    engine = SpecPruneEngine(tiny_policy)
    for item in synthetic_sequence(fixture_obs, 3):
        engine.update_pose(item.pose)
        actions, report = engine.predict_action_chunk(item.observation)
    return actions, report


@pytest.mark.parametrize('spec', all_specs(), ids=lambda s: s.name)
def test_descriptor_follows_the_schema(spec) -> None:
    desc = node_io.descriptor_for(spec)
    assert desc.name == spec.name and desc.read_only == spec.read_only
    assert spec.description.split('.')[0] in desc.description
    if spec.type is tuple and not spec.default:
        assert desc.dynamic_typing and desc.type == ParameterType.PARAMETER_NOT_SET
    else:
        assert desc.type == node_io.ros_type(spec)
    bounded = spec.min is not None and spec.max is not None
    if bounded and spec.type is float:
        (rng,) = desc.floating_point_range
        assert (rng.from_value, rng.to_value) == (spec.min, spec.max)
    elif bounded and spec.type is int:
        (rng,) = desc.integer_range
        assert (rng.from_value, rng.to_value) == (spec.min, spec.max)
    else:
        assert not desc.floating_point_range and not desc.integer_range
    for choice in spec.choices:
        assert choice in desc.additional_constraints


def test_list_parameters_get_array_types() -> None:
    kinds = {s.item_type: node_io.ros_type(s) for s in all_specs() if s.type is tuple}
    assert kinds == {int: ParameterType.PARAMETER_INTEGER_ARRAY,
                     float: ParameterType.PARAMETER_DOUBLE_ARRAY}


def test_clamp_actions_clips_per_dimension_and_refuses_non_finite() -> None:
    actions = np.array([[-2.0, 0.5, 3.0], [0.0, -0.5, 0.9]])
    out = node_io.clamp_actions(actions, (-1.0, 0.0, -1.0), (1.0, 0.4, 1.0))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32([[-1.0, 0.4, 1.0], [0.0, 0.0, 0.9]]))
    for bad in (math.nan, math.inf, -math.inf):
        poisoned = actions.copy()
        poisoned[1, 2] = bad
        assert node_io.clamp_actions(poisoned, (-1.0,) * 3, (1.0,) * 3) is None


def test_action_chunk_is_row_major_with_the_image_stamp(pruned_step) -> None:
    actions, report = pruned_step
    msg = node_io.action_chunk_msg(actions, report, STAMP, 'base')
    assert (msg.header.stamp, msg.header.frame_id) == (STAMP, 'base')
    assert (msg.horizon, msg.action_dim) == actions.shape
    np.testing.assert_array_equal(
        np.asarray(msg.actions, dtype=np.float32).reshape(msg.horizon, msg.action_dim), actions)
    assert (msg.mode, msg.visual_tokens_kept, msg.visual_tokens_total) == (
        report.mode, report.visual_kept, report.visual_tokens)
    assert msg.visual_tokens_kept < msg.visual_tokens_total


def test_step_stats_counts_agree_with_the_report(pruned_step) -> None:
    _, report = pruned_step
    msg = node_io.step_stats_msg(report, STAMP, 'base', 256,
                                 {'node_overhead_ms': 1.5, 'dropped_sets': 7})
    assert (msg.kept_global, msg.kept_dynamic, msg.kept_local) == (
        report.v_global.size, report.v_dynamic.size, report.v_local.size)
    assert msg.kept_global > 0 and msg.kept_local > 0
    assert len(msg.kept_per_view) == 2 and sum(msg.kept_per_view) == msg.kept_total
    assert msg.kept_total == report.visual_kept
    assert list(msg.tokens_per_layer) == list(report.tokens_per_layer)
    assert list(msg.visual_per_layer) == list(report.visual_per_layer)
    assert msg.flops_ratio == pytest.approx(report.flops_ratio) and msg.flops_ratio < 1.0
    assert (msg.node_overhead_ms, msg.dropped_sets) == (1.5, 7)


def test_step_stats_writes_zero_for_unknown_speeds(pruned_step) -> None:
    _, report = pruned_step
    saved = report.v_t, report.v_r, report.dz
    try:
        report.v_t, report.v_r, report.dz = math.nan, math.inf, 0.25
        msg = node_io.step_stats_msg(report, STAMP, 'base', 256)
    finally:
        report.v_t, report.v_r, report.dz = saved
    assert (msg.v_t, msg.v_r, msg.dz) == (0.0, 0.0, 0.25)


def test_diagnostics_levels_and_value_text() -> None:
    msg = node_io.diagnostics_msg(STAMP, 'specprune_policy', 'WARN', 'stale: wrist',
                                  {'age_s': 1.23456, 'steps': 4, 'instruction': 'pick'})
    (status,) = msg.status
    assert status.level == node_io.LEVELS['WARN'] and status.message == 'stale: wrist'
    assert {kv.key: kv.value for kv in status.values} == {
        'age_s': '1.235', 'steps': '4', 'instruction': 'pick'}


def test_throttled_warnings_and_errors_share_the_throttle_without_rclpy_complaining() -> None:
    """One LogThrottle line logs both levels: only via NodeLogging's per-level call sites."""
    import rclpy.logging

    from specprune_ros.ros.common.node_base import NodeLogging
    from specprune_ros.ros.common.sync import LogThrottle

    class Logs(NodeLogging):
        def get_logger(self) -> object:
            return rclpy.logging.get_logger('test_node_logging')

    logs, throttle = Logs(), LogThrottle(0.0)
    throttle('stale', 'input stale', logs.log_warning)
    throttle('input', 'image rejected', logs.log_error)
    throttle('stale', 'input stale again', logs.log_warning)
    raw = rclpy.logging.get_logger('test_node_logging_raw')
    throttle('a', 'first', raw.warning)
    with pytest.raises(ValueError, match='severity cannot be changed'):  # why NodeLogging exists
        throttle('b', 'second', raw.error)


def test_receipt_time_counts_the_time_a_message_waited_in_the_queue() -> None:
    wall, mono = 1_800_000_000.0, 500.0
    info = {'received_timestamp': int((wall - 0.3) * 1e9), 'source_timestamp': 0}
    assert node_io.receipt_time(info, mono, wall) == pytest.approx(mono - 0.3, abs=1e-6)
    assert node_io.receipt_time({'received_timestamp': 0}, mono, wall) == mono  # unknown
    assert node_io.receipt_time(None, mono, wall) == mono
    future = {'received_timestamp': int((wall + 5.0) * 1e9)}  # clocks disagree: never fresher
    assert node_io.receipt_time(future, mono, wall) == mono
