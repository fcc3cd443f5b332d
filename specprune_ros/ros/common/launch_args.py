"""Launch arguments from the parameter schemas, parsed strictly (for ``launch/*.launch.py``).

Every schema parameter is a launch argument (``alpha:=1.0``; the executor's with a prefix in
``policy.launch.py``: ``executor_blend:=latest``). An empty value means "not given" (the
parameter file decides). A given value is parsed by the schema type and checked against its
range and choices, so a bad one stops the launch with one line instead of reaching the node,
and no argument is ignored silently. ROS-free (no rclpy, no launch): the launch files call it,
passing the launch classes they use (:func:`declare`, :func:`given_arguments`).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
import math
import os
from typing import Any

import yaml

from specprune_ros.errors import ConfigError
from specprune_ros.ros.common.param_values import describe, to_ros_value, YAML_NULLS
from specprune_ros.schema import coerce, ParamSpec

TRUE, FALSE = ('true', 'yes', 'on', '1'), ('false', 'no', 'off', '0')
LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')  # what rcl's --log-level accepts
Argument = tuple[str, str | None, str]  # (name, default, description); None: see declare()


def schema_arguments(specs: Iterable[ParamSpec], prefix: str = ''
                     ) -> list[tuple[str, str, str]]:
    """(name, default '', description) of a launch argument per parameter."""
    return [(prefix + s.name, '', f'{describe(s)} Empty = from the parameter file.')
            for s in specs]


def parse_bool(name: str, text: str) -> bool:
    """A launch argument as a bool, or ConfigError naming the accepted spellings."""
    low = text.strip().lower()
    if low in TRUE or low in FALSE:
        return low in TRUE
    raise ConfigError(f'{name}:={text!r} is not a bool; use true or false')


def parse_value(spec: ParamSpec, text: str) -> Any:
    """The config value of ``spec`` written as ``text`` in a launch argument, or ConfigError."""
    text = text.strip()
    name = spec.name
    try:
        if spec.type is bool:
            return parse_bool(name, text)
        if spec.type is int:
            value: Any = int(text)
        elif spec.type is float:
            value = float(text)
        elif spec.type is str:
            value = text
        else:
            value = [] if text in YAML_NULLS else yaml.safe_load(text)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = [value]
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f'{name}:={text!r} is not a {spec.type.__name__}: {exc}') from exc
    value = coerce(spec, value)
    for v in (value if spec.type is tuple else (value,)):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f'{name}:={text!r} must be finite')
            if (spec.min is not None and v < spec.min) or (spec.max is not None and v > spec.max):
                raise ConfigError(f'{name}:={text!r} is out of range; expected {spec.min} <= '
                                  f'{"each value" if spec.type is tuple else name} <= '
                                  f'{spec.max} {spec.unit}'.rstrip())
    return value


def overrides(specs: Iterable[ParamSpec], given: Mapping[str, str], prefix: str = ''
              ) -> dict[str, Any]:
    """ROS parameter values of the non-empty launch arguments ``prefix + name``.

    An empty list (automatic layer sets) is passed as ``'null'``, which the node reads as
    "not set" (launch_ros cannot pass an untyped empty list).
    """
    out: dict[str, Any] = {}
    for spec in specs:
        text = given.get(prefix + spec.name, '')
        if not text.strip():
            continue
        value = to_ros_value(spec, parse_value(spec, text))
        out[spec.name] = 'null' if value is None else value
    return out


def check_log_level(text: str) -> str:
    """The log level, lower case, or ConfigError listing the valid ones."""
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f'log_level:={text!r} is not a log level; use one of '
                          f'{", ".join(LOG_LEVELS)}')
    return level


def check_params_file(path: str) -> str:
    """``path`` if it is a file, else ConfigError (never run on defaults by mistake)."""
    if not os.path.isfile(path):
        raise ConfigError(f'params_file:={path!r} does not exist (or is not a file); give a '
                          'ROS 2 parameter YAML file, e.g. one written by ros2 param dump')
    return path


def undeclared(given: Iterable[str], declared: Sequence[str]) -> list[str]:
    """The launch configurations that no argument of this launch file declares."""
    return sorted(set(given) - set(declared))


def declare(declare_argument: Callable[..., Any], arguments: Iterable[Argument],
            defaults: Mapping[str, Any]) -> list[Any]:
    """A ``declare_argument`` (DeclareLaunchArgument) each; a None default: ``defaults[name]``."""
    return [declare_argument(name, default_value=defaults[name] if default is None else default,
                             description=text)
            for name, default, text in arguments]


def given_arguments(context: Any, arguments: Iterable[Argument],
                    configuration: Callable[[str], Any], logger: Any, launch_file: str
                    ) -> dict[str, str]:
    """The value of every declared argument, stripped; an undeclared one is named in a warning.

    ``configuration`` is launch's LaunchConfiguration (performed in ``context``), ``logger``
    the launch file's ``launch.logging`` logger.
    """
    declared = [name for name, _, _ in arguments]
    given = {name: configuration(name).perform(context).strip() for name in declared}
    extra = undeclared(context.launch_configurations, declared)
    if extra:
        logger.warning(f'ignoring launch argument(s) {extra}: not declared by {launch_file} (see '
                       f'`ros2 launch specprune_ros {launch_file} --show-args`)')
    return given


def one_line_errors(build: Callable[[Any], list[Any]]) -> Callable[..., list[Any]]:
    """An OpaqueFunction body running ``build(context)``: a ConfigError stops it with one line."""
    def function(context: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return build(context)
        except ConfigError as exc:  # one line from launch, no traceback
            raise RuntimeError(str(exc)) from None

    return function


def preset_file(preset: str, presets: Iterable[str], share: Callable[[], str]) -> str | None:
    """``config/presets/<preset>.yaml`` of the package share folder ``share()``; None for ''."""
    if not preset:
        return None
    if preset not in presets:
        raise ConfigError(f'unknown preset {preset!r}; expected one of {list(presets)}')
    path = os.path.join(share(), 'config', 'presets', f'{preset}.yaml')
    if not os.path.isfile(path):
        raise ConfigError(f'preset file {path} is missing')
    return path
