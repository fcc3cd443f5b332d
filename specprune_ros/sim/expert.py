"""A scripted expert for the ten LIBERO-Spatial tasks, from privileged simulator state.

Every task is "pick up the black bowl <somewhere> and place it on the plate". The expert
P-servos the grip site (the point LIBERO's OSC controller drives; a small integral term removes
the controller's steady-state offset) with the hand straight down and grasps the bowl by its
rim: the hand ``grasp_radius`` off the bowl's axis along the fingers' closing axis and
``grasp_height`` above the bowl's origin, where the pads pinch the bowl's lower wall against
its flared upper wall. Of 12 directions around the bowl it takes one whose open fingers and
hand clear the scene (MuJoCo ray casts, :func:`mujoco.mj_ray`), preferring a short reach (a
straight elbow stalls the OSC), little wrist twist and the low grasp; where walls force the
hand higher (the drawer) it grips the upper wall alone (``rim_radius``, ``high_grasp_height``).
It lifts the bowl, carries it just clear of what lies on the way (coming down once past it),
lowers it over the plate and lets go ``release_height`` above it. A grasp that did not take the
bowl along, or a bowl lost on the way, restarts the plan from the bowl's new pose, avoiding the
direction that failed.

It emits the same 7-D normalised delta actions a policy does (dx, dy, dz in units of 5 cm,
world-frame axis-angle in units of 0.5 rad, gripper -1 open / +1 close).
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
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from specprune_ros.errors import InputError
from specprune_ros.sim.env import LiberoEnv

log = logging.getLogger(__name__)
DOWN = np.array([0.0, 0.0, -1.0])
SIDES = np.deg2rad(np.arange(0.0, 360.0, 30.0))  # grasp directions from the bowl axis
ROBOT_PREFIXES = ('robot0_', 'gripper0_', 'mount0_')
SHOULDER_HEIGHT = 0.333  # m, Panda joint 2 above the base
WRIST_ABOVE_GRIP = 0.2  # m, wrist centre above the grip site with the hand pointing down


@dataclass(frozen=True)
class ExpertConfig:
    """Geometry (m) and gains of the scripted expert."""

    grasp_radius: float = 0.04  # hand centre from the bowl axis, along the closing axis
    grasp_height: float = 0.02  # grip site above the bowl origin (its bottom)
    rim_radius: float = 0.047  # the upper wall: hand centre of a high grasp
    high_grasp_height: float = 0.028  # lowest high grasp (pads above the lower wall)
    high_grasp_cost: float = 0.05  # m of reach worth avoiding a high grasp
    pregrasp_height: float = 0.08  # approach from this far above the grasp point
    carry_clearance: float = 0.04  # bowl bottom above the highest thing on the way
    release_height: float = 0.01  # bowl bottom above the plate when the gripper opens
    max_grasp_height: float = 0.04  # highest grasp that still holds the rim (top at 5.2 cm)
    finger_depth: float = 0.012  # fingertips below the grip site
    palm_offset: float = 0.03  # hand body's underside above the grip site
    margin: float = 0.005  # clearance the fingers keep from the scene on the way down
    palm_margin: float = -0.006  # the hand may come to rest on an edge (a drawer wall)
    pos_gain: float = 1.0  # action = gain · error / 5 cm (vector norm clipped to 1)
    rot_gain: float = 1.0  # action = gain · rotation error / 0.5 rad
    close_steps: int = 10
    release_steps: int = 8
    max_attempts: int = 4
    twist_cost: float = 0.1  # m of extra reach worth one radian of wrist twist
    comfortable_reach: float = 0.70  # m, shoulder to wrist; beyond it the elbow straightens
    reach_cost: float = 10.0  # per m beyond the comfortable reach
    pos_integral: float = 0.3  # integral gain on the position error near the target
    retry_cost: float = 0.2  # m of reach worth avoiding a direction that already failed


class SpatialExpert:
    """The scripted LIBERO-Spatial expert of one :class:`LiberoEnv`; ``act()`` once per step."""

    def __init__(self, env: LiberoEnv, config: ExpertConfig | None = None) -> None:
        if env.config.suite != 'libero_spatial':
            raise InputError(f'the scripted expert knows libero_spatial only, not '
                             f'{env.config.suite}')
        self.env = env
        self.config = config or ExpertConfig()
        self.phase = 'idle'
        self.attempts = 0
        self._t = 0  # steps in the current phase

    # --- scene access -----------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode; call it after the env has been reset."""
        import mujoco

        self._mj = mujoco
        inner: Any = self.env.raw
        self._m, self._d = inner.sim.model._model, inner.sim.data._data
        self._site = inner.robots[0].eef_site_id
        bowl, plate = inner.obj_of_interest[:2]
        self._bowl = inner.obj_body_id[bowl]
        self._plate = inner.obj_body_id[plate]
        root = self._m.body_rootid
        names = [self._m.body(i).name for i in range(self._m.nbody)]
        self._robot_roots = {int(root[i]) for i, n in enumerate(names)
                             if n.startswith(ROBOT_PREFIXES)}
        self._bowl_root = int(root[self._bowl])
        self._base = names.index('robot0_base')
        self.attempts = 0
        self._failed: list[np.ndarray] = []  # grasp directions that did not hold
        self._plan_grasp()

    def _grip(self) -> tuple[np.ndarray, np.ndarray]:
        return self._d.site_xpos[self._site].copy(), self._d.site_xmat[self._site].reshape(3, 3)

    def _bowl_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self._d.xpos[self._bowl].copy(), self._d.xmat[self._bowl].reshape(3, 3).copy()

    def height_at(self, xy: np.ndarray, skip_bowl: bool = True, top: float = 1.6) -> float:
        """Highest surface below ``top`` at ``xy``, ignoring the robot (and the bowl)."""
        skip = self._robot_roots | ({self._bowl_root} if skip_bowl else set())
        geom = np.array([-1], dtype=np.int32)
        z = top
        for _ in range(20):
            dist = self._mj.mj_ray(self._m, self._d, np.array([xy[0], xy[1], z]), DOWN, None,
                                   1, -1, geom)
            if dist < 0:
                return -np.inf
            z -= dist
            if int(self._m.body_rootid[self._m.geom_bodyid[geom[0]]]) not in skip:
                return z
            z -= 1e-4
        return z

    # --- planning ---------------------------------------------------------------------------
    def _plan_grasp(self) -> None:
        """Choose the grasp side and the grasp pose from the bowl's current pose."""
        cfg = self.config
        pos, rot = self._bowl_pose()
        base = self._d.xpos[self._base]
        shoulder = base + [0.0, 0.0, SHOULDER_HEIGHT]
        best = None
        for angle in SIDES:
            d = np.array([np.cos(angle), np.sin(angle), 0.0])
            need = self._grasp_height(pos, d)
            # low grasp: the pads pinch the lower wall (r 3.3 cm) against the upper one (r 4.7
            # cm), centred between them; high grasp: both pads on the upper wall alone
            high = need > cfg.grasp_height
            height = max(need, cfg.high_grasp_height) if high else cfg.grasp_height
            radius = cfg.rim_radius if high else cfg.grasp_radius
            local = rot.T @ d
            local[2] = 0.0
            local /= max(np.linalg.norm(local), 1e-9)
            lift = min(height, cfg.max_grasp_height)
            target = pos + rot @ (radius * local + [0.0, 0.0, lift])
            radial = target[:2] - base[:2]
            # the wrist sits ~0.2 m above the grip site; a straight elbow stalls the OSC
            reach = float(np.linalg.norm(target + [0.0, 0.0, WRIST_ABOVE_GRIP] - shoulder))
            # the arm's natural closing axis is tangential (perpendicular to the radial line)
            twist = abs(float(d[:2] @ radial)) / max(float(np.linalg.norm(radial)), 1e-9)
            cost = (reach + cfg.reach_cost * max(0.0, reach - cfg.comfortable_reach)
                    + cfg.twist_cost * float(np.arcsin(min(1.0, twist)))
                    + (cfg.high_grasp_cost if high else 0.0)
                    + cfg.retry_cost * sum(float(d @ f) > 0.8 for f in self._failed))
            feasible = height <= cfg.max_grasp_height
            key = (not feasible, cost if feasible else height)
            if best is None or key < best[0]:
                best = (key, angle, d, target, height)
        _, angle, d, target, height = best
        self._side, self._grasp, self._dir = f'{np.rad2deg(angle):.0f}deg', target, d
        self._yaw = self._closing_rotation(d)
        self._set_phase('approach')
        log.debug('grasp side %s at %.3f above the bowl: %s', self._side, height,
                  np.round(target, 3))

    def _grasp_height(self, bowl: np.ndarray, d: np.ndarray) -> float:
        """Lowest grip-site height above the bowl origin at which the open hand clears the scene.

        Samples the outer finger's footprint and the hand's (the inner finger is inside the
        bowl) with vertical rays; ``max_grasp_height`` exceeded means no clean grasp here.
        """
        cfg = self.config
        perp = np.array([-d[1], d[0], 0.0])
        need = cfg.grasp_height
        for s in np.arange(0.06, 0.1001, 0.005):  # outer finger, fingers open
            for t in (-0.015, -0.0075, 0.0, 0.0075, 0.015):
                h = self.height_at((bowl + s * d + t * perp)[:2]) - bowl[2]
                need = max(need, h + cfg.finger_depth + cfg.margin)
        for s in np.arange(-0.07, 0.1501, 0.01):  # hand body, ±11 cm along the closing axis
            for t in (-0.035, 0.0, 0.035):
                h = self.height_at((bowl + s * d + t * perp)[:2]) - bowl[2]
                need = max(need, h - cfg.palm_offset + cfg.palm_margin)
        return float(need)

    def _closing_rotation(self, d: np.ndarray) -> np.ndarray:
        """Hand down, fingers closing along ±d (the sign nearer the current yaw)."""
        _, rot = self._grip()
        x = d if float(rot[:, 0] @ d) >= 0 else -d
        return np.column_stack([x, np.cross(DOWN, x), DOWN])

    def _carry_height(self, start: np.ndarray, goal: np.ndarray) -> float:
        """Bowl-bottom height that clears everything between start and goal (xy), 1 cm steps."""
        seg = goal[:2] - start[:2]
        length = max(float(np.linalg.norm(seg)), 1e-9)
        along, perp = seg / length, np.array([-seg[1], seg[0]]) / length
        top = -np.inf
        for f in np.arange(-0.06, length - 0.06, 0.01):  # the bowl's leading half stays clear
            for t in (-0.06, -0.03, 0.0, 0.03, 0.06):
                top = max(top, self.height_at(start[:2] + f * along + t * perp))
        return top + self.config.carry_clearance

    def _set_phase(self, phase: str) -> None:
        self.phase, self._t, self._integral, self._trail = phase, 0, np.zeros(3), []

    # --- control ----------------------------------------------------------------------------
    def _servo(self, target: np.ndarray, gripper: float, rot: np.ndarray | None = None
               ) -> np.ndarray:
        cfg = self.config
        pos, cur = self._grip()
        act = np.zeros(7)
        err = target - pos
        if np.linalg.norm(err) < 0.02:  # remove the OSC's steady-state offset near the target
            self._integral = self._integral + err
            self._integral *= min(1.0, 0.02 / max(np.linalg.norm(self._integral), 1e-12))
        else:
            self._integral = np.zeros(3)
        move = (cfg.pos_gain * err + cfg.pos_integral * self._integral) / 0.05
        act[:3] = move / max(1.0, np.linalg.norm(move))
        twist = Rotation.from_matrix((self._yaw if rot is None else rot) @ cur.T).as_rotvec()
        turn = cfg.rot_gain * twist / 0.5
        act[3:6] = turn / max(1.0, np.linalg.norm(turn))
        act[6] = gripper
        return act

    def act(self) -> np.ndarray:
        """The next action (7,) in [-1, 1]."""
        cfg = self.config
        self._t += 1
        pos, _ = self._grip()
        bowl, _ = self._bowl_pose()
        phase = self.phase
        if phase == 'approach':
            above = self._grasp + [0.0, 0.0, cfg.pregrasp_height]
            if np.linalg.norm(pos[:2] - above[:2]) > 0.03:
                above[2] = max(above[2], pos[2])
            if np.linalg.norm(pos - above) < 0.015 or self._t > 80:
                self._set_phase('descend')
            return self._servo(above, -1.0)
        if phase == 'descend':
            self._trail.append(pos)
            stalled = len(self._trail) > 8 and np.linalg.norm(pos - self._trail[-4]) < 0.001
            if np.linalg.norm(pos - self._grasp) < 0.004 or stalled or self._t > 40:
                self._set_phase('close')
            return self._servo(self._grasp, -1.0)
        if phase == 'close':
            if self._t >= cfg.close_steps:
                _, brot = self._bowl_pose()
                self._grip_start = pos.copy()
                self._held = brot.T @ (pos - bowl)  # the grasp point in the bowl's frame
                self._offset = pos - bowl
                plate = self._d.xpos[self._plate]
                self._carry = max(self._carry_height(bowl, plate), bowl[2] + 0.03)
                self._set_phase('lift')
            return self._servo(self._grasp, 1.0)
        if phase == 'lift':
            target = self._grip_start.copy()
            target[2] = self._carry + self._offset[2]
            if pos[2] - self._grip_start[2] > 0.02 and self._slip() > 0.02:
                return self._retry('the bowl did not come along')
            if abs(pos[2] - target[2]) < 0.01 or self._t > 40:
                self._set_phase('carry')
            return self._servo(target, 1.0)
        if phase in ('carry', 'lower'):
            if self._slip() > 0.025:
                return self._retry('the bowl slipped')
            plate = self._d.xpos[self._plate]
            offset = pos - bowl
            target = plate + offset
            target[2] = self._carry + offset[2]
            if phase == 'carry':
                if self._t % 4 == 0:  # what is left of the way: come down once past obstacles
                    self._carry = min(self._carry, self._carry_height(bowl, plate))
                if np.linalg.norm(pos[:2] - target[:2]) < 0.01 or self._t > 100:
                    self._set_phase('lower')
                return self._servo(target, 1.0)
            floor = self.height_at(plate[:2])
            target[2] = floor + cfg.release_height + offset[2]
            if ((abs(pos[2] - target[2]) < 0.005 and np.linalg.norm(pos[:2] - target[:2]) < 0.01)
                    or self._t > 40):
                self._set_phase('release')
            return self._servo(target, 1.0)
        if phase == 'release':
            if self._t >= cfg.release_steps:
                self._hold = pos + [0.0, 0.0, 0.06]
                self._set_phase('retreat')
            return self._servo(pos, -1.0)
        if phase == 'give_up':
            return self._servo(self._hold, -1.0)
        if phase == 'retreat':
            if self._t > 30 and np.linalg.norm(bowl - self._d.xpos[self._plate]) > 0.05:
                return self._retry('the bowl is not on the plate')
            return self._servo(self._hold, -1.0)
        raise InputError(f'expert in phase {phase!r}: call reset() first')

    def _slip(self) -> float:
        """How far (m) the grasp point on the bowl has moved away from the grip site."""
        pos, _ = self._grip()
        bowl, rot = self._bowl_pose()
        return float(np.linalg.norm(bowl + rot @ self._held - pos))

    def _retry(self, why: str) -> np.ndarray:
        self.attempts += 1
        self._failed.append(self._dir)
        log.debug('retry %d: %s', self.attempts, why)
        if self.attempts >= self.config.max_attempts:
            self._set_phase('give_up')
            self._hold = self._grip()[0] + [0.0, 0.0, 0.05]
            return self._servo(self._hold, -1.0)
        self._plan_grasp()
        pos, _ = self._grip()
        return self._servo(pos + [0.0, 0.0, 0.03], -1.0)
