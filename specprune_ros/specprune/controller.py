"""Action-aware controller of SpecPrune-VLA (paper section 6, Algorithm 1 lines 2-6).

Units: all speeds are PER CONTROL STEP, like the policy's delta actions. ``v_t`` [m/step] and
``dz`` [m/step] are translational, ``v_r`` [rad/step] is the angle of the relative rotation
(never a difference of Euler angles). Measured quantities (pose differences, twists) are turned
into per-step values with ``cfg.control_period``; commanded actions (fall-back) with
``cfg.action_translation_scale`` / ``cfg.action_rotation_scale``. ``v_for_T`` is ``v_t`` in
commanded-action units, the ``v`` of :func:`specprune_ros.specprune.frames.reference_offset`.

Quaternions are (x, y, z, w) as in geometry_msgs. ROS-free and numpy-only; thread-safe (the
update methods may be called from subscription threads while ``step`` runs elsewhere).
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
import logging
import math
import threading
from typing import Literal, NamedTuple

import numpy as np

from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.state import (
    EEState,
    finite_number,
    finite_vector,
    relative_rotation_angle,
)

_LOG = logging.getLogger(__name__)

Mode = Literal['fine', 'coarse']
Source = Literal['pose', 'twist', 'command', 'none']


@dataclass(frozen=True)
class ControllerState:
    """Output of :meth:`ActionAwareController.step` (speeds per control step, see module).

    With ``source == 'none'`` the speeds are NaN and ``v_for_T`` is 0.0 (unknown speed: the
    slow-motion reference offset of the paper, clamped by the history).
    """

    mode: Mode
    fine: bool
    v_t: float
    v_r: float
    dz: float
    source: Source
    k_base: int
    v_for_T: float


class _Speeds(NamedTuple):
    """Per-step speeds from one source; ``stamp`` [s] is NaN for commands (never stale)."""

    stamp: float
    v_t: float
    v_r: float
    dz: float


class ActionAwareController:
    """Chooses fine or coarse mode from the end-effector speed, with hysteresis.

    In coarse mode, enter fine when ``v_t < v_t_th and v_r < v_r_th and dz <= v_z_th``; in fine
    mode, leave when ``v_t > v_t_th or v_r > v_r_th``; otherwise keep the mode. Speeds come
    from the newest measured source (pose differences or twist; on equal stamps the twist) if
    it is not older than ``max_age``, else from the last commanded action, else there is no
    data and the mode is kept. Starts in coarse mode.
    """

    def __init__(self, cfg: SpecPruneConfig) -> None:
        """Create a controller in coarse mode with no data."""
        self._lock = threading.Lock()
        self._cfg = cfg
        self._pending: SpecPruneConfig | None = None
        self._fine = False
        self._last_pose: EEState | None = None
        self._pose_speed: _Speeds | None = None
        self._twist: _Speeds | None = None
        self._command: _Speeds | None = None

    @property
    def config(self) -> SpecPruneConfig:
        """The config in use (a pending one from set_config applies at the next step)."""
        return self._cfg

    def set_config(self, cfg: SpecPruneConfig) -> None:
        """Use ``cfg`` from the next :meth:`step` on."""
        if not isinstance(cfg, SpecPruneConfig):
            raise ValueError(f'cfg must be a SpecPruneConfig, got {type(cfg).__name__}')
        with self._lock:
            self._pending = cfg

    def reset(self, keep_measured: bool = False) -> None:
        """Forget all poses, twists and commands and return to coarse mode.

        ``keep_measured``: keep the measured pose and twist (the robot did not move because
        the task changed); only the mode and the commanded actions are forgotten.
        """
        with self._lock:
            self._fine = False
            self._command = None
            if not keep_measured:
                self._last_pose = None
                self._pose_speed = None
                self._twist = None

    def update_pose(self, state: EEState) -> None:
        """Add a measured pose; speeds come from it and the previous pose.

        Raises ValueError (leaving the state unchanged) when ``state.stamp`` is not later than
        the previous pose's or the resulting speeds are not finite.
        """
        if not isinstance(state, EEState):
            raise ValueError(f'update_pose expects an EEState, got {type(state).__name__}')
        with self._lock:
            prev = self._last_pose
            speed = None
            if prev is not None:
                dt = state.stamp - prev.stamp
                if not dt > 0.0:
                    raise ValueError(f'pose stamp {state.stamp!r} s is not later than the '
                                     f'previous pose stamp {prev.stamp!r} s')
                per_step = self._cfg.control_period / dt
                delta = state.position - prev.position
                speed = _Speeds(state.stamp,
                                float(np.linalg.norm(delta)) * per_step,
                                relative_rotation_angle(prev.orientation,
                                                        state.orientation) * per_step,
                                float(delta[2]) * per_step)
                if not all(math.isfinite(x) for x in speed[1:]):
                    raise ValueError(f'pose speeds are not finite (dt={dt!r} s)')
            self._last_pose = state
            if speed is not None:
                self._pose_speed = speed

    def update_twist(self, stamp: float, linear: object, angular: object) -> None:
        """Add a measured twist: ``linear`` (3,) [m/s], ``angular`` (3,) [rad/s].

        Raises ValueError (state unchanged) on non-finite values or a stamp not later than
        the previous twist's.
        """
        t = finite_number(stamp, 'twist stamp (seconds)')
        lin = finite_vector(linear, 3, 'twist linear velocity (m/s)')
        ang = finite_vector(angular, 3, 'twist angular velocity (rad/s)')
        with self._lock:
            if self._twist is not None and not t > self._twist.stamp:
                raise ValueError(f'twist stamp {t!r} s is not later than the previous twist '
                                 f'stamp {self._twist.stamp!r} s')
            period = self._cfg.control_period
            self._twist = _Speeds(t, float(np.linalg.norm(lin)) * period,
                                  float(np.linalg.norm(ang)) * period, float(lin[2]) * period)

    def update_command(self, action: object) -> None:
        """Remember the last commanded action (>= 6 values: dxyz, d-axis-angle, ...).

        Used as the fall-back when no fresh measured state exists.
        """
        arr = np.asarray(action, dtype=np.float64)
        if arr.ndim != 1 or arr.size < 6:
            raise ValueError('action must be one 1-D action of >= 6 values (dx, dy, dz, drx, '
                             f'dry, drz, ...), e.g. chunk[0]; got shape {arr.shape}')
        if not np.all(np.isfinite(arr[:6])):
            raise ValueError(f'action must be finite, got {arr[:6].tolist()}')
        with self._lock:
            ts = self._cfg.action_translation_scale
            self._command = _Speeds(math.nan, float(np.linalg.norm(arr[:3])) * ts,
                                    float(np.linalg.norm(arr[3:6]))
                                    * self._cfg.action_rotation_scale,
                                    float(arr[2]) * ts)

    def step(self, now: float | None = None, max_age: float = 0.5) -> ControllerState:
        """Decide the mode for this policy step.

        ``now`` [s] is compared with the stamp of the measured data: data older than
        ``max_age`` [s] is stale and the commanded action is used instead. With ``now=None``
        measured data is never considered stale.
        """
        if now is not None:
            now = finite_number(now, 'now (seconds)')
        if math.isnan(max_age) or max_age < 0.0:
            raise ValueError(f'max_age must be >= 0 seconds, got {max_age!r}')
        with self._lock:
            if self._pending is not None:
                self._cfg, self._pending = self._pending, None
            cfg = self._cfg
            speeds, source = self._select(now, max_age)
            if not cfg.use_controller:
                fine = False
            elif speeds is None:
                fine = self._fine
            elif self._fine:
                fine = not (speeds.v_t > cfg.v_t_th or speeds.v_r > cfg.v_r_th)
            else:
                fine = (speeds.v_t < cfg.v_t_th and speeds.v_r < cfg.v_r_th
                        and speeds.dz <= cfg.v_z_th)
            if fine != self._fine:
                _LOG.debug('controller: %s -> %s (source %s)',
                           'fine' if self._fine else 'coarse', 'fine' if fine else 'coarse',
                           source)
            self._fine = fine
        if speeds is None:
            v_t = v_r = dz = math.nan
            v_for_t = 0.0
        else:
            v_t, v_r, dz = speeds.v_t, speeds.v_r, speeds.dz
            v_for_t = v_t / cfg.action_translation_scale
        return ControllerState(mode='fine' if fine else 'coarse', fine=fine, v_t=v_t, v_r=v_r,
                               dz=dz, source=source, k_base=cfg.k_base(fine), v_for_T=v_for_t)

    def _select(self, now: float | None, max_age: float
                ) -> tuple[_Speeds | None, Source]:
        """Pick the speed source (caller holds the lock)."""
        measured: _Speeds | None = None
        source: Source = 'none'
        if self._pose_speed is not None:
            measured, source = self._pose_speed, 'pose'
        twist = self._twist
        if twist is not None and (measured is None or twist.stamp >= measured.stamp):
            measured, source = twist, 'twist'
        if measured is not None and (now is None or now - measured.stamp <= max_age):
            return measured, source
        if self._command is not None:
            return self._command, 'command'
        return None, 'none'
