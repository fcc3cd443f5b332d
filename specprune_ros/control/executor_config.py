"""Parameters of the ``specprune_executor`` node: the one schema of its ROS parameters.

``config/executor.yaml`` and the README's parameter table are generated from
:class:`ExecutorConfig` by ``scripts/gen_config.py``; the node declares its ROS parameters
from :func:`executor_specs` and validates every ``set`` with :meth:`ExecutorConfig.replace`.
ROS-free (no rclpy, no torch).

Units: actions are in the policy's delta-action units (LIBERO: ``dx, dy, dz`` and the
axis-angle delta in normalised controller units, -1..1 = -0.05..0.05 m and -0.5..0.5 rad per
step, then the gripper). The gripper value is binarised (never averaged) and is neither
clamped nor rate limited; every other value is.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specprune_ros.errors import ConfigError
from specprune_ros.schema import param as _p
from specprune_ros.schema import ParamSpec, schema, SchemaConfig
from specprune_ros.vla.action_space import (
    GRIPPER_MODES,
    LIBERO_ACTION_DIM,
    ROTATION_RAD,
    TRANSLATION_M,
)

BLEND_MODES = ('latest', 'crossfade', 'temporal_ensemble')
# The executor of a simulated closed loop (the main job, the sim demo launch file and
# ``specprune-eval --via-executor``): a simulation moves at once, and idle ticks send the
# zero-motion hold, so no step waits for one.
SIMULATION_SETTINGS: dict[str, Any] = {'start_enabled': True, 'hold_action': True}


@dataclass(frozen=True)
class ExecutorConfig(SchemaConfig):
    """What the chunk executor does between ``~/action_chunk`` and ``~/action``."""

    # --- timing ---
    control_rate: float = _p(20.0, 'Actions published per second; also the rate of the chunk '
                             'steps: step k of a chunk belongs to its stamp + k/control_rate. '
                             "Use the rate the policy was trained at (LIBERO: 20 Hz).",
                             unit='Hz', lo=1.0, hi=1000.0, read_only=True, group='timing')
    # --- blending ---
    blend: str = _p('crossfade', 'How overlapping chunks are combined: latest = switch to the '
                    'newest chunk at once; crossfade = linear fade to the newest chunk over '
                    'crossfade_ticks; temporal_ensemble = ACT weights w_i = exp(-m*i) over '
                    'every chunk with a step for the tick (i = 0 the oldest).', group='blending',
                    choices=BLEND_MODES)
    crossfade_ticks: int = _p(3, 'Ticks of the linear crossfade (0 = switch at once).',
                              unit='ticks', lo=0, hi=1000, group='blending')
    ensemble_m: float = _p(0.01, "Temporal ensemble coefficient m (ACT's default 0.01; larger "
                           'trusts older chunks more).', lo=0.0, hi=10.0, group='blending')
    gripper_index: int = _p(6, 'Index of the gripper value in an action; -1 = no gripper. It '
                            'follows the newest chunk, binarised, never averaged.', lo=-1,
                            hi=1023, group='blending')
    gripper_mode: str = _p('oft_libero', "Gripper binarisation: oft_libero = OpenVLA-OFT's LIBERO "
                           'rule -sign(2g-1) (model 1 = open -> -1 open, +1 close); sign = '
                           'sign(g). A value of exactly 0 keeps the previous command.',
                           group='blending', choices=GRIPPER_MODES)
    # --- pipelined inference ---
    request_chunks: bool = _p(True, 'Publish std_msgs/Header on ~/request when the current chunk '
                              'runs low (the policy node in trigger_mode on_request answers '
                              'with a chunk from the newest frames; in lockstep from the frames '
                              'stamped at the request).', group='pipelining')
    request_at_remaining: int = _p(0, 'Request the next chunk when this many steps of the '
                                   'current one are left; 0 = automatic: ceil(largest of the '
                                   'last 8 request-to-chunk latencies / period) + '
                                   'request_margin.', unit='steps', lo=0, hi=1000,
                                   group='pipelining')
    request_margin: int = _p(1, 'Extra ticks added to the measured latency (automatic '
                             'request_at_remaining).', unit='ticks', lo=0, hi=1000,
                             group='pipelining')
    request_timeout: float = _p(1.0, 'Ask again when no chunk arrived this long after a '
                                'request.', unit='s', lo=0.01, hi=3600.0, group='pipelining')
    # --- safety ---
    start_enabled: bool = _p(False, 'Move at start-up; false: nothing is published until '
                             '~/enable (std_srvs/SetBool) is called with true.', read_only=True,
                             group='safety')
    hold_timeout: float = _p(0.5, 'No new chunk for this long: hold (publish nothing, or the '
                             'hold action) and say why in /diagnostics.', unit='s', lo=0.01,
                             hi=3600.0, group='safety')
    hold_action: bool = _p(False, 'On hold and idle ticks publish a zero-motion action '
                           '(gripper unchanged, hold=true) instead of nothing.', group='safety')
    action_low: tuple[float, ...] = _p((-1.0,) * LIBERO_ACTION_DIM, 'Per-dimension lower clamp '
                                       'of published actions (one value = all dims; not the '
                                       'gripper).', unit='action units', lo=-1e6, hi=1e6,
                                       group='safety')
    action_high: tuple[float, ...] = _p((1.0,) * LIBERO_ACTION_DIM, 'Per-dimension upper clamp '
                                        'of published actions (one value = all dims; not the '
                                        'gripper).', unit='action units', lo=-1e6, hi=1e6,
                                        group='safety')
    max_delta: tuple[float, ...] = _p((1.0,), 'Rate limit: largest change of a value between '
                                      'consecutive ticks (one value = all dims; not the '
                                      'gripper). After a tick without an action the previous '
                                      'value is zero motion.', unit='action units/tick',
                                      lo=1e-6, hi=1e6, group='safety')
    # --- outputs ---
    frame_id: str = _p('', "header.frame_id of ~/action and ~/twist; empty = the chunk's "
                       'frame_id.', group='outputs')
    publish_twist: bool = _p(False, 'Also publish ~/twist (geometry_msgs/TwistStamped): linear = '
                             'action[0:3]*twist_linear_scale*control_rate, angular = '
                             'action[3:6]*twist_angular_scale*control_rate.', read_only=True,
                             group='outputs')
    twist_linear_scale: float = _p(TRANSLATION_M, 'Metres per action unit of dx, dy, dz (LIBERO '
                                   'OSC: 0.05).', unit='m', lo=0.0, hi=100.0, group='outputs')
    twist_angular_scale: float = _p(ROTATION_RAD, 'Radians per action unit of the rotation delta '
                                    '(LIBERO OSC: 0.5).', unit='rad', lo=0.0, hi=100.0,
                                    group='outputs')
    # --- simulation ---
    lockstep: bool = _p(False, 'Simulated time only (use_sim_time:=true, a clock master such as '
                        'specprune_sim): ask for the next chunk BEFORE the tick that needs it '
                        '(stamped with the tick time: computed from that instant\'s frames) and '
                        'hold the tick until the answer arrives, so the simulation cannot run '
                        'ahead of the policy; every tick publishes (a tick with nothing to send '
                        'publishes an empty hold). Off on a robot.', read_only=True,
                        group='simulation')
    sim_latency: float = _p(0.0, 'lockstep: simulated time a query takes; its chunk is used from '
                            'the first tick at or after request time + sim_latency (0 = at the '
                            'requesting tick; e.g. 0.07 models OpenVLA-OFT-7B on an H100).',
                            unit='s', lo=0.0, hi=10.0, read_only=True, group='simulation')
    # --- lifecycle and diagnostics ---
    autostart: bool = _p(True, 'Configure and activate on start-up (false: wait for lifecycle '
                         'transitions).', read_only=True, group='lifecycle')
    diagnostics_period: float = _p(1.0, 'Period of /diagnostics.', unit='s', lo=0.05, hi=60.0,
                                   read_only=True, group='lifecycle')

    def __post_init__(self) -> None:
        """Validate fields and that the per-dimension lists fit together."""
        super().__post_init__()
        lens = {len(self.action_low), len(self.action_high), len(self.max_delta)}
        if 0 in lens:
            raise ConfigError('action_low, action_high and max_delta need at least one value')
        if len(lens - {1}) > 1:
            raise ConfigError(f'action_low, action_high and max_delta have {len(self.action_low)}'
                              f', {len(self.action_high)} and {len(self.max_delta)} values; give '
                              'the same number (or one value for all dims)')
        dim = max(lens)
        if dim == 1:  # one value for every dimension: any action that holds the gripper
            dim = max(1, self.gripper_index + 1)
        low, high, _ = self.limits(dim)
        for i in np.flatnonzero(low > high):
            raise ConfigError(f'action_low[{i}]={low[i]} is above action_high[{i}]={high[i]}')

    @property
    def period(self) -> float:
        """Seconds per tick (and per chunk step)."""
        return 1.0 / self.control_rate

    def limits(self, action_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low, high, max_delta) with ``action_dim`` values each, or ConfigError."""
        out = []
        for name in ('action_low', 'action_high', 'max_delta'):
            values = getattr(self, name)
            values = values * action_dim if len(values) == 1 else values
            if len(values) != action_dim:
                raise ConfigError(f'{name} has {len(values)} values but the chunk has '
                                  f'action_dim={action_dim}; give {action_dim} values (or one)')
            out.append(np.asarray(values, dtype=np.float64))
        if self.gripper_index >= action_dim:
            raise ConfigError(f'gripper_index={self.gripper_index} is outside an action of '
                              f'{action_dim} values; use -1 for no gripper')
        return out[0], out[1], out[2]


def executor_specs() -> tuple[ParamSpec, ...]:
    """Every ROS parameter of the executor node."""
    return schema(ExecutorConfig)
