"""The schema machinery of every configuration: fields that carry their range, unit and text.

A config is a frozen dataclass mixing in :class:`SchemaConfig` whose fields are declared with
:func:`param`; :func:`schema` lists them as :class:`ParamSpec` (what a ROS parameter
descriptor, a generated YAML file and ``--help`` need), :func:`coerce` and :func:`validate`
check values and raise :class:`~specprune_ros.errors.ConfigError` naming what is allowed. Used by
the pruner's (:mod:`specprune_ros.specprune.params`), the executor's, the nodes' configs alike.
Imports only :mod:`specprune_ros.errors`.
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
import dataclasses
from dataclasses import dataclass, field
import math
from typing import Any

from specprune_ros.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    """Schema entry of one parameter (what a ROS ParameterDescriptor needs, and more)."""

    name: str
    type: type
    default: Any
    description: str
    unit: str = ''
    min: float | None = None
    max: float | None = None
    read_only: bool = False
    group: str = ''
    item_type: type | None = None  # element type of list parameters
    choices: tuple[str, ...] = ()  # allowed values of string parameters (empty: any)


_TYPES = {'bool': (bool, None), 'int': (int, None), 'float': (float, None), 'str': (str, None),
          'tuple[int, ...]': (tuple, int), 'tuple[float, ...]': (tuple, float)}


def param(default: Any, description: str, *, unit: str = '', lo: float | None = None,
          hi: float | None = None, read_only: bool = False, group: str = '',
          choices: tuple[str, ...] = ()) -> Any:
    """Declare a config field together with its schema metadata."""
    meta = dict(description=description, unit=unit, min=lo, max=hi, read_only=read_only,
                group=group, choices=choices)
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


class SchemaConfig:
    """Mixin of frozen config dataclasses whose fields carry schema metadata (:func:`param`)."""

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> Any:
        """Return a validated copy with ``changes`` applied."""
        specs = {s.name: s for s in schema(type(self))}
        unknown = sorted(set(changes) - set(specs))
        if unknown:
            raise ConfigError(f'unknown parameter(s) {unknown}; known: {sorted(specs)}')
        return dataclasses.replace(self, **{k: coerce(specs[k], v) for k, v in changes.items()})


def schema(cls: type) -> tuple[ParamSpec, ...]:
    """Every field of a schema config class, as :class:`ParamSpec` entries."""
    specs = []
    for f in dataclasses.fields(cls):
        default = (f.default_factory() if f.default is dataclasses.MISSING  # type: ignore[misc]
                   else f.default)
        typ, item = _TYPES[str(f.type)]
        specs.append(ParamSpec(name=f.name, type=typ, default=default, item_type=item,
                               **f.metadata))
    return tuple(specs)


def coerce(spec: ParamSpec, value: Any) -> Any:
    """Convert ``value`` to the declared type of ``spec`` or raise :class:`ConfigError`."""
    name = spec.name
    if spec.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f'{name} must be a bool (true/false), got {value!r}')
        return value
    if spec.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'{name} must be an integer, got {value!r}')
        return value
    if spec.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{name} must be a number, got {value!r}')
        return float(value)
    if spec.type is str:
        if not isinstance(value, str):
            raise ConfigError(f'{name} must be a string, got {value!r}')
        if spec.choices and value not in spec.choices:
            raise ConfigError(f'{name}={value!r} is not allowed; expected one of '
                              f'{list(spec.choices)}')
        return value
    numbers = (int,) if spec.item_type is int else (int, float)
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, numbers) and not isinstance(v, bool) for v in value):
        kind = 'integers' if spec.item_type is int else 'numbers'
        raise ConfigError(f'{name} must be a list of {kind}, got {value!r}')
    return tuple(spec.item_type(v) for v in value)


def validate(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming the first invalid value and what is allowed."""
    for spec in schema(type(cfg)):
        value = coerce(spec, getattr(cfg, spec.name))
        items = value if spec.type is tuple else (value,)
        if spec.type in (int, float, tuple) and spec.type is not bool:
            for v in items:
                if isinstance(v, float) and not math.isfinite(v):
                    raise ConfigError(f'{spec.name} must be finite, got {value!r}')
                if (spec.min is not None and v < spec.min) or (
                        spec.max is not None and v > spec.max):
                    what = spec.name if spec.type is not tuple else f'each of {spec.name}'
                    raise ConfigError(f'{spec.name}={value!r} is out of range; expected '
                                      f'{spec.min} <= {what} <= {spec.max} '
                                      f'{spec.unit}'.rstrip())


def iter_specs(cls: type, group: str | None = None) -> Iterator[ParamSpec]:
    """Iterate a schema, optionally one group only."""
    return (s for s in schema(cls) if group is None or s.group == group)
