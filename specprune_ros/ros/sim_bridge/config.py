"""Parameters of the ``specprune_sim`` node (the LIBERO bridge): the schema of its ROS parameters.

The node declares its ROS parameters from :func:`sim_specs` (descriptors with ranges, read-only
where a value cannot change while an episode runs) and validates every ``set`` with
:meth:`SimNodeConfig.replace`. :meth:`SimNodeConfig.sim_config` turns it into the simulator's
:class:`specprune_ros.sim.SimConfig` of one episode. ROS-free (no rclpy, no torch).

Defaults follow OpenVLA-OFT's LIBERO evaluation: seed 7, both views rendered at 256 and brought
to 224 (JPEG + Lanczos), 10 no-op wait steps, the suite's step limit, 20 Hz.
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

from specprune_ros.errors import ConfigError
from specprune_ros.schema import param as _p
from specprune_ros.schema import ParamSpec, schema, SchemaConfig
from specprune_ros.sim.config import CONTROL_PERIOD, SimConfig, SUITES
from specprune_ros.vla.action_space import GRIPPER_MODES

ACTION_SOURCES = ('action', 'chunk')


@dataclass(frozen=True)
class SimNodeConfig(SchemaConfig):
    """What the LIBERO bridge simulates, how fast, and where its actions come from."""

    # --- task ---
    suite: str = _p('libero_spatial', 'LIBERO suite.', choices=SUITES, read_only=True,
                    group='task')
    task_id: int = _p(0, 'Task of the suite (libero_spatial: 0..9).', lo=0, hi=89,
                      read_only=True, group='task')
    init_state: int = _p(0, "The benchmark's initial state of the first episode; episode i "
                         'starts from init_state + i (modulo the task\'s 50).', lo=0, hi=999,
                         read_only=True, group='task')
    episodes: int = _p(1, 'Episodes to run, then idle (0 = keep going).', lo=0, hi=1000000,
                       read_only=True, group='task')
    max_steps: int = _p(0, "Control steps per episode after the wait; 0 = the suite's OFT "
                        'limit (libero_spatial 220).', unit='steps', lo=0, hi=100000,
                        read_only=True, group='task')
    seed: int = _p(7, 'np.random seed before every hard reset (fixture placement; OFT: 7).',
                   lo=0, hi=2**31 - 1, read_only=True, group='task')
    # --- rendering ---
    camera_size: int = _p(224, 'Side of the square images published (the policy view).',
                          unit='px', lo=16, hi=1024, read_only=True, group='rendering')
    render_size: int = _p(256, "Render at this side, then OFT's JPEG + Lanczos resize to "
                          'camera_size (OFT: 256); 0 = render at camera_size.', unit='px',
                          lo=0, hi=1024, read_only=True, group='rendering')
    fast_render: bool = _p(False, 'No MSAA, no reflections: about 2x faster rendering, visibly '
                           'different images (use only for a policy trained that way).',
                           read_only=True, group='rendering')
    image_every: int = _p(1, 'Render and publish both cameras every N-th control step (1 = at '
                          'control_rate; the state is published every step). Rendering both '
                          'views costs 0.2-0.8 s on a CPU, so raise it when the images need not '
                          'come at 20 Hz.', unit='steps', lo=1, hi=1000, group='rendering')
    # --- timing ---
    real_time: bool = _p(False, 'true: step on the wall clock at control_rate (messages stamped '
                         'with the node clock; a step that takes longer falls behind and is '
                         'counted); false: lockstep simulated time on /clock: time advances one '
                         'period per step, and only once the step\'s action is in, so a query '
                         'in flight stops the clock (run the other nodes with '
                         'use_sim_time:=true, the executor with lockstep:=true).',
                         read_only=True, group='timing')
    control_rate: float = _p(20.0, "Control steps per second (LIBERO's OSC runs at 20 Hz: one "
                             'step is 0.05 s of simulated time).', unit='Hz', lo=1.0, hi=1000.0,
                             read_only=True, group='timing')
    action_timeout: float = _p(60.0, 'Simulated time (real_time false): how long (wall clock) a '
                               'step may wait for its action, the policy computing included; '
                               'then the episode stops with an error naming the silent node.',
                               unit='s', lo=0.01, hi=3600.0, group='timing')
    start_timeout: float = _p(300.0, 'Simulated time: how long (wall clock) the first step of '
                              'an episode may wait for its action (the policy may be loading).',
                              unit='s', lo=0.01, hi=36000.0, group='timing')
    start_on_action: bool = _p(True, "Real time: an episode's steps start with its first action "
                               '(not a hold); until then the arm holds still and the state is '
                               'republished with advancing stamps (the policy may be loading). '
                               'Simulated time always starts this way, the clock standing '
                               'still.', group='timing')
    # --- actions ---
    action_source: str = _p('action', "action = execute ~/action (specprune_ros/Action, the "
                            "executor's output); chunk = execute the first chunk_steps steps "
                            'of each ~/action_chunk in order (OFT open loop), asking for the '
                            'next on ~/request.', choices=ACTION_SOURCES, read_only=True,
                            group='actions')
    chunk_steps: int = _p(8, 'action_source chunk: steps of each chunk executed before the next '
                          'chunk is taken (OFT num_open_loop_steps: 8).', unit='steps', lo=1,
                          hi=1000, group='actions')
    gripper_mode: str = _p('oft_libero', 'action_source chunk: gripper binarisation (as the '
                           "executor's): oft_libero = -sign(2g-1), sign = sign(g).",
                           choices=GRIPPER_MODES, group='actions')
    # --- outputs and lifecycle ---
    frame_id: str = _p('world', 'header.frame_id of ~/ee_state, ~/ee_twist and ~/gripper_state '
                       '(the images use the camera names).', group='outputs')
    autostart: bool = _p(True, 'Configure and activate on start-up (false: wait for lifecycle '
                         'transitions).', read_only=True, group='lifecycle')

    def __post_init__(self) -> None:
        """Validate the fields and the combinations the simulator needs."""
        super().__post_init__()
        if 0 < self.render_size < 16:
            raise ConfigError(f'render_size must be 0 (render at camera_size) or 16..1024, got '
                              f'{self.render_size}')
        try:
            self.sim_config(0)
        except ValueError as exc:  # InputError of SimConfig
            raise ConfigError(str(exc)) from exc

    @property
    def period(self) -> float:
        """Wall seconds per step in real time (simulated time always advances 0.05 s)."""
        return 1.0 / self.control_rate

    def sim_config(self, init_state: int) -> SimConfig:
        """The simulator's config of an episode from ``init_state``."""
        return SimConfig(suite=self.suite, task_id=self.task_id, init_state_id=init_state,
                         seed=self.seed, camera_size=self.camera_size,
                         render_size=self.render_size or None, fast_render=self.fast_render,
                         max_steps=self.max_steps or None)


SIM_PERIOD = CONTROL_PERIOD  # simulated seconds per control step


def sim_specs() -> tuple[ParamSpec, ...]:
    """Every ROS parameter of the bridge node."""
    return schema(SimNodeConfig)
