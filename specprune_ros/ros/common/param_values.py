"""Schema parameters as ROS sees them: descriptions, types, values, YAML. ROS-free.

Shared by every node's parameters (:mod:`~specprune_ros.ros.common.node_base`), the launch
files (:mod:`~specprune_ros.ros.common.launch_args`), ``--help`` and ``scripts/gen_config.py``.
Empty integer lists are declared without a value (ROS cannot type an empty list); ``ros2 param
dump`` writes them as ``null``, which rcl reads back as the string ``'null'``: that string (and
``~``) means "not set" too (:data:`YAML_NULLS`).
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
from typing import Any

from specprune_ros.errors import ConfigError
from specprune_ros.schema import coerce, ParamSpec

YAML_NULLS = ('null', 'Null', 'NULL', '~')  # how rcl hands a YAML null to a parameter


def _fmt(x: float) -> str:
    return str(x) if isinstance(x, int) else f'{x:g}'


def describe(spec: ParamSpec) -> str:
    """One-line description with unit, range, choices and read-only flag."""
    parts = [spec.description.rstrip('.') + '.']
    if spec.unit:
        parts.append(f'Unit: {spec.unit}.')
    if spec.min is not None or spec.max is not None:
        lo = _fmt(spec.min) if spec.min is not None else '-inf'
        hi = _fmt(spec.max) if spec.max is not None else 'inf'
        what = 'each value' if spec.type is tuple else 'range'
        parts.append(f'{what.capitalize()}: [{lo}, {hi}].')
    if spec.choices:
        parts.append(f'Choices: {", ".join(spec.choices)}.')
    if spec.read_only:
        parts.append('Read-only (set at start-up).')
    return ' '.join(parts)


def type_text(spec: ParamSpec) -> str:
    """Human name of the parameter type (for descriptors and comments)."""
    if spec.type is tuple:
        return 'list of ' + ('integers' if spec.item_type is int else 'numbers')
    return {bool: 'bool', int: 'integer', float: 'number', str: 'string'}[spec.type]


def to_ros_value(spec: ParamSpec, value: Any) -> Any:
    """A config value as a ROS parameter value (tuples as lists; empty list = None)."""
    if spec.type is tuple:
        return list(value) if value else None
    return value


def from_ros_value(spec: ParamSpec, value: Any) -> Any:
    """A ROS parameter value (None when not set) as a config value, or ConfigError.

    For a list whose default is empty, a YAML null (``'null'``, ``'~'``: what a file written
    by ``ros2 param dump`` holds) is "not set" as well.
    """
    if spec.type is tuple and not spec.default and value in YAML_NULLS:
        value = None
    if value is None:
        if spec.type is tuple:
            return ()
        raise ConfigError(f'{spec.name} must be set (it has no "not set" value)')
    if hasattr(value, 'tolist') and not isinstance(value, (str, bytes)):
        value = value.tolist()  # array.array / numpy from rclpy
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return coerce(spec, value)


def yaml_scalar(value: Any) -> str:
    """A value in YAML that both PyYAML and rcl's parser read back with the same type."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f'cannot write the non-finite value {value!r}')
        text = repr(value)
        if 'e' in text:
            mant, exp = text.split('e')
            mant = mant if '.' in mant else mant + '.0'
            text = f'{mant}e{"" if exp[0] in "+-" else "+"}{exp}'
        return text
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (tuple, list)):
        return '[' + ', '.join(yaml_scalar(v) for v in value) + ']'
    raise ConfigError(f'cannot write {value!r} as a YAML parameter value')
