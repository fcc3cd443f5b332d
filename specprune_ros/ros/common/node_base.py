"""ROS helpers shared by the nodes: parameters, diagnostics, the generated messages.

Imported by ``node_io`` (the policy node), ``executor_node`` and ``sim_node``; like them it
imports rclpy's message packages, never ``import specprune_ros``. :class:`SchemaParameters`
is the parameter half of the nodes with one schema and one config (executor and bridge).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
import importlib
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.parameter import Parameter

from specprune_ros.errors import ConfigError
from specprune_ros.ros.common.param_values import (
    describe,
    from_ros_value,
    to_ros_value,
    type_text,
)
from specprune_ros.schema import ParamSpec

LEVELS = {'OK': DiagnosticStatus.OK, 'WARN': DiagnosticStatus.WARN,
          'ERROR': DiagnosticStatus.ERROR, 'STALE': DiagnosticStatus.STALE}


def load_msg_module() -> Any:
    """``specprune_ros.msg`` (the generated messages), with a clear error when not built."""
    try:  # specprune_ros/__init__.py extends its __path__ to the install space
        return importlib.import_module('specprune_ros.msg')
    except ImportError as exc:
        raise ImportError('specprune_ros.msg (ActionChunk, StepStats) is not built: run '
                          'scripts/setup_ros.sh VENV and `source scripts/ros_env.sh VENV` '
                          f'(or colcon build + source install/setup.bash): {exc}') from exc


_ROS_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
              float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


def ros_type(spec: ParamSpec) -> int:
    """The ``rcl_interfaces/ParameterType`` of a schema entry."""
    if spec.type is tuple:
        return (ParameterType.PARAMETER_INTEGER_ARRAY if spec.item_type is int
                else ParameterType.PARAMETER_DOUBLE_ARRAY)
    return _ROS_TYPES[spec.type]


def descriptor_for(spec: ParamSpec) -> ParameterDescriptor:
    """A ParameterDescriptor with description (unit included), range and read-only flag.

    Scalars get a FloatingPointRange/IntegerRange; list bounds and string choices are given
    in ``additional_constraints`` (the node's parameter callback enforces them). A list with
    an empty default is dynamically typed so that ``[]`` (any array type) can be set.
    """
    desc = ParameterDescriptor(name=spec.name, description=describe(spec),
                               read_only=spec.read_only)
    constraints = [type_text(spec)]
    if spec.type is tuple and not spec.default:
        desc.dynamic_typing = True
        constraints.append('empty or unset = automatic')
    else:
        desc.type = ros_type(spec)
    if spec.min is not None and spec.max is not None:
        if spec.type is float:
            desc.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min), to_value=float(spec.max), step=0.0)]
        elif spec.type is int:
            desc.integer_range = [IntegerRange(from_value=int(spec.min),
                                               to_value=int(spec.max), step=0)]
        else:
            constraints.append(f'each value in [{spec.min}, {spec.max}]')
    if spec.choices:
        constraints.append('one of: ' + ', '.join(spec.choices))
    desc.additional_constraints = '; '.join(constraints)
    return desc


def diagnostics_msg(stamp: Any, name: str, level: str, message: str,
                    values: dict[str, Any]) -> DiagnosticArray:
    """A DiagnosticArray with one status; ``values`` become KeyValue pairs (as strings)."""
    status = DiagnosticStatus(level=LEVELS[level], name=name, message=message,
                              hardware_id=name)
    status.values = [KeyValue(key=k, value=_text(v)) for k, v in values.items()]
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [status]
    return out


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.3f}'
    return str(value)


class NodeLogging:
    """Throttled-log targets of a node, one rclpy call site per severity (a mixin).

    rclpy remembers the severity of every calling line and raises ValueError ("Logger severity
    cannot be changed between calls") when one line logs at another level. ``LogThrottle``
    emits every message from one line, so it must get these, never ``get_logger().warning``
    and ``get_logger().error`` mixed.
    """

    def log_warning(self, text: str) -> None:
        """Log ``text`` at warning level."""
        self.get_logger().warning(text)  # type: ignore[attr-defined]

    def log_error(self, text: str) -> None:
        """Log ``text`` at error level."""
        self.get_logger().error(text)  # type: ignore[attr-defined]


class SchemaParameters:
    """The ROS parameters of a node with one schema and one config dataclass (a mixin).

    :meth:`declare_schema` declares every schema entry and sets ``self.cfg``; a later change
    (``ros2 param set``) is validated by the config's ``replace`` and :meth:`apply_config`,
    then becomes ``self.cfg``, or is rejected with the reason. Parameters outside the schema
    (``use_sim_time`` and the like) are rclpy's.
    """

    cfg: Any

    def declare_schema(self, specs: Sequence[ParamSpec], cfg: Any) -> None:
        """Declare ``specs``; ``self.cfg`` = ``cfg`` with their values (ConfigError if bad)."""
        self._schema = {s.name: s for s in specs}
        values = {}
        for spec in specs:
            try:
                param = self.declare_parameter(  # type: ignore[attr-defined]
                    spec.name, to_ros_value(spec, spec.default), descriptor_for(spec))
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                raise ConfigError(f'parameter {spec.name}: {exc}') from exc
            values[spec.name] = from_ros_value(spec, param.value)
        self.cfg = cfg.replace(**values)
        self.add_on_set_parameters_callback(  # type: ignore[attr-defined]
            self._on_set_parameters)

    def apply_config(self, cfg: Any) -> None:
        """Take a changed, valid config before it becomes ``self.cfg``; ConfigError rejects it."""

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        changes = {}
        try:
            for p in params:
                if p.name in self._schema:
                    changes[p.name] = from_ros_value(self._schema[p.name], p.value)
            if not changes:
                return SetParametersResult(successful=True)
            cfg = self.cfg.replace(**changes)
            self.apply_config(cfg)
        except ConfigError as exc:
            names = sorted(p.name for p in params if p.name in self._schema)
            self.get_logger().warning(  # type: ignore[attr-defined]
                f'rejected parameters {names}: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        self.cfg = cfg
        self.get_logger().info(f'parameters set: {changes}')  # type: ignore[attr-defined]
        return SetParametersResult(successful=True)
