"""Service calls of the test peers: set, get, list and dump parameters as the ROS CLI does.

Needs rclpy (``source scripts/ros_env.sh``). The clients' node must be spun by another thread.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import time
from typing import Any

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, ListParameters, SetParameters
import yaml


def call_service(client: Any, request: Any, timeout: float) -> Any:
    """Call a service from a thread other than the one spinning the client's node."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError(f'service {client.srv_name} not available')
    future = client.call_async(request)
    end = time.monotonic() + timeout
    while not future.done() and time.monotonic() < end:
        time.sleep(0.01)
    if not future.done():
        raise TimeoutError(f'{client.srv_name} call timed out')
    return future.result()


def parameter_value(value: Any) -> ParameterValue:
    """A ParameterValue of a bool, int, float, list of ints/floats or (anything else) string."""
    pv = ParameterValue()
    if isinstance(value, bool):
        pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, value
    elif isinstance(value, int):
        pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, value
    elif isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        pv.type, pv.integer_array_value = ParameterType.PARAMETER_INTEGER_ARRAY, list(value)
    elif isinstance(value, (list, tuple)):
        pv.type = ParameterType.PARAMETER_DOUBLE_ARRAY
        pv.double_array_value = [float(v) for v in value]
    else:
        pv.type, pv.string_value = ParameterType.PARAMETER_STRING, str(value)
    return pv


def set_parameters_request(values: dict[str, Any]) -> SetParameters.Request:
    """A SetParameters request (what ``ros2 param set`` sends) for ``values``."""
    req = SetParameters.Request()
    req.parameters = [Parameter(name=n, value=parameter_value(v)) for n, v in values.items()]
    return req


_PLAIN = {ParameterType.PARAMETER_BOOL: 'bool_value',
          ParameterType.PARAMETER_INTEGER: 'integer_value',
          ParameterType.PARAMETER_DOUBLE: 'double_value',
          ParameterType.PARAMETER_STRING: 'string_value',
          ParameterType.PARAMETER_BOOL_ARRAY: 'bool_array_value',
          ParameterType.PARAMETER_INTEGER_ARRAY: 'integer_array_value',
          ParameterType.PARAMETER_DOUBLE_ARRAY: 'double_array_value',
          ParameterType.PARAMETER_STRING_ARRAY: 'string_array_value'}


def plain_value(pv: ParameterValue) -> Any:
    """A ParameterValue as ros2param's ``get_value`` gives it (None when not set)."""
    field = _PLAIN.get(pv.type)
    if field is None:
        return None
    value = getattr(pv, field)
    return list(value) if pv.type in (ParameterType.PARAMETER_BOOL_ARRAY,
                                      ParameterType.PARAMETER_INTEGER_ARRAY,
                                      ParameterType.PARAMETER_DOUBLE_ARRAY,
                                      ParameterType.PARAMETER_STRING_ARRAY) else value


def dump_parameters(node: Any, target: str, timeout: float = 10.0) -> str:
    """What ``ros2 param dump TARGET`` prints: list + get the parameters, ``yaml.dump`` them.

    ``node`` must be spun by another thread (a Peer's). Follows ros2param's dump verb: sorted
    names, values through ``get_value``, ``{full name: {ros__parameters: ...}}``,
    ``default_flow_style=False``.
    """
    listing = call_service(node.create_client(ListParameters, f'{target}/list_parameters'),
                           ListParameters.Request(), timeout)
    names = sorted(listing.result.names)
    got = call_service(node.create_client(GetParameters, f'{target}/get_parameters'),
                       GetParameters.Request(names=names), timeout)
    params = {name: plain_value(v) for name, v in zip(names, got.values)}
    return yaml.dump({target: {'ros__parameters': params}}, default_flow_style=False)
