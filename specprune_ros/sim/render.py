"""On-demand offscreen rendering of a LIBERO scene, pixel for pixel as robosuite renders it.

robosuite renders every camera observable on every step. The simulator here is built without
camera observables and renders only when an observation with images is asked for (a policy
with 8-step chunks needs one frame in eight). The pipeline is robosuite's
(``MjRenderContext.render`` + ``read_pixels``: visual geoms only, ``mjCAT_ALL``, the model's
offscreen buffer and MSAA), so a faithful frame equals robosuite's camera observation of the
same state exactly.

One GL context per process (EGL under ``MUJOCO_GL=egl``; a second robosuite EGL context in
one process fails), made on first use and shared; each MuJoCo model gets its own
``MjrContext`` (a hard reset builds a new model, so the env makes a new :class:`SceneRenderer`).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

import numpy as np

from specprune_ros.sim.config import SimError

log = logging.getLogger(__name__)
_GL: dict[str, Any] = {}  # the process's GL context: {'ctx': GLContext}


def gl_backend() -> str:
    """The MuJoCo GL backend in use (``MUJOCO_GL``; this package defaults it to ``egl``)."""
    return os.environ.get('MUJOCO_GL', 'egl').lower()


def _gl_context() -> Any:
    """The process-wide GL context, made current (created on first use)."""
    if 'ctx' not in _GL:
        backend = gl_backend()
        try:
            if backend == 'egl':
                from mujoco.egl import GLContext
            elif backend == 'osmesa':
                from mujoco.osmesa import GLContext
            else:
                from mujoco import GLContext
            ctx = GLContext(640, 480)
        except Exception as exc:  # missing libEGL / libOSMesa, no device
            raise SimError(f'cannot create a {backend} GL context for offscreen rendering '
                           f'({type(exc).__name__}: {exc}); install Mesa EGL '
                           '(scripts/setup_libero.sh) or run states-only (cameras=False)'
                           ) from exc
        _GL['ctx'] = ctx
        atexit.register(_free_gl)
        log.info('created the %s GL context', backend)
    _GL['ctx'].make_current()
    return _GL['ctx']


def _free_gl() -> None:
    ctx = _GL.pop('ctx', None)
    if ctx is not None:
        try:
            ctx.free()
        except Exception:  # EGL teardown at interpreter exit can fail harmlessly
            pass


class SceneRenderer:
    """Renders named cameras of one MuJoCo model (robosuite ``MjModel``/``MjData`` wrappers).

    ``fast=True`` turns MSAA off (``vis.quality.offsamples = 0``) and every material's
    reflectance to 0 before the render context exists: about half the render time, but the
    frame visibly differs from LIBERO's (stove top, edges). Physics is unaffected.
    """

    def __init__(self, model: Any, data: Any, fast: bool = False, max_size: int = 256) -> None:
        import mujoco

        self._mj = mujoco
        self._model = model._model if hasattr(model, '_model') else model
        self._data = data._data if hasattr(data, '_data') else data
        _gl_context()
        if fast:
            self._model.vis.quality.offsamples = 0
            self._model.mat_reflectance[:] = 0.0
        glob = self._model.vis.global_
        glob.offwidth, glob.offheight = max(glob.offwidth, max_size), max(glob.offheight,
                                                                          max_size)
        self._con = mujoco.MjrContext(self._model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._scene = mujoco.MjvScene(self._model, maxgeom=1000)
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._opt = mujoco.MjvOption()
        self._opt.geomgroup[0] = 0  # robosuite: collision meshes hidden
        self._opt.geomgroup[1] = 1  # visual meshes shown
        self._pert = mujoco.MjvPerturb()
        self._max = (self._con.offWidth, self._con.offHeight)

    def render(self, camera: str, size: int) -> np.ndarray:
        """One square RGB frame (uint8), LIBERO's native orientation (upside down)."""
        mj = self._mj
        if self._con is None:
            raise SimError('renderer already closed')
        if size > min(self._max):
            raise SimError(f'render size {size} exceeds the offscreen buffer {self._max}')
        _gl_context()
        self._cam.fixedcamid = self._model.camera(camera).id
        mj.mjv_updateScene(self._model, self._data, self._opt, self._pert, self._cam,
                           mj.mjtCatBit.mjCAT_ALL, self._scene)
        viewport = mj.MjrRect(0, 0, size, size)
        mj.mjr_render(viewport, self._scene, self._con)
        rgb = np.empty((size, size, 3), dtype=np.uint8)
        mj.mjr_readPixels(rgb, None, viewport, self._con)
        return rgb

    def close(self) -> None:
        """Free the model's GPU resources (call before the model is freed)."""
        if self._con is not None:
            try:
                _gl_context()
                self._con.free()
            except Exception:
                pass
            self._con = None
