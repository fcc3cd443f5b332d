"""The simulation thread of ``specprune_sim``: episodes, steps, pacing and publishing.

:class:`SimLoop` owns the :class:`specprune_ros.sim.LiberoEnv` while it runs. Per episode: a
hard reset to the next initial state (with OFT's 10 no-op wait steps), then one control step
per action until LIBERO's success check or the step limit; the status goes out on
``~/episode`` at every step. With ``start_on_action`` the episode waits, arm still, for its
first action; the state (and the step-0 images, not rendered again) is republished once per
period with advancing stamps meanwhile, so the policy can start and the executor's ticks run.

Simulated time (``real_time`` false) is *lockstep*: one clock for the whole run that starts
at :data:`CLOCK_START`, advances one period per step and jumps :data:`RESET_GAP` at every
reset (more than the executor's default ``hold_timeout``, so the chunks of the previous episode
are dropped rather than executed in the next one). A step's time passes only once its action
is in: while the policy computes, /clock stands still, so the outcome of an episode does not
depend on the speed or load of the machine. The instant a chunk is requested for (the
executor's ``~/request``, watched on ``~/watch/request``; or the bridge's own request in the
chunk source) is rendered if it was not; the observation of a waiting instant is republished
every :data:`REPUBLISH_S` (for nodes that were still starting); and a step that waits longer
than ``action_timeout`` (the first: ``start_timeout``) stops the episode with
:class:`LockstepTimeout`, naming the node that went silent.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import math
import threading
import time
from typing import Any, NamedTuple

from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String

from specprune_ros.control.wire import SAME_INSTANT
from specprune_ros.ros.common.conversions import rgb_to_image_msg
from specprune_ros.ros.common.sync import LogThrottle
from specprune_ros.ros.sim_bridge.actions import ActionInbox, StepAction
from specprune_ros.ros.sim_bridge.config import SIM_PERIOD, SimNodeConfig
from specprune_ros.sim.config import AGENTVIEW, WRIST

CLOCK_START = 1.0  # s: the first /clock value (0 reads as "no time yet" to rclpy nodes)
RESET_GAP = 1.0  # s of simulated time between episodes (> the executor's hold_timeout 0.5 s)
REQUEST_RETRY = 1.0  # s (wall): chunk source, ask again when no chunk came
REPUBLISH_S = 1.0  # s (wall): lockstep, republish the waiting instant's observation
WAIT_SLICE = 0.05  # s (wall): lockstep, how often the wait looks at requests and deadlines
FINGERS = ('gripper0_finger_joint1', 'gripper0_finger_joint2')  # robosuite's Panda gripper


class LockstepTimeout(RuntimeError):
    """A lockstep step waited longer than its timeout; the message names the silent node."""


def time_msg(t: float) -> Any:
    """builtin_interfaces/Time of ``t`` seconds."""
    return Time(nanoseconds=round(t * 1e9)).to_msg()


class SimPorts(NamedTuple):
    """The lifecycle publishers of the bridge (``clock`` is None in real time)."""

    third_person: Any
    wrist: Any
    ee_state: Any
    ee_twist: Any
    gripper: Any
    instruction: Any
    episode: Any
    request: Any
    clock: Any
    names: dict[str, str] | None = None  # resolved topics for messages: action, chunk, request

    def publishers(self) -> list[Any]:
        """Every publisher that exists."""
        return [p for p in self if p is not None]


@dataclass
class EpisodeStatus:
    """What ``~/episode`` says (as JSON); ``state``: waiting, running, done or finished."""

    episode: int
    task_id: int
    init_state: int
    max_steps: int
    state: str = 'waiting'
    step: int = 0
    success: bool = False
    done: bool = False
    held_steps: int = 0  # steps that executed a hold (the executor's, or nothing sent)
    late_steps: int = 0  # real time: steps that started more than a period late
    sim_time: float = 0.0
    step_ms: float = 0.0  # mean physics + controller time per step
    render_ms: float = 0.0  # mean time to render both views, per rendered step
    error: str = ''  # why the episode stopped early (lockstep: the silent node)

    def to_json(self) -> str:
        """The status as one JSON object."""
        return json.dumps(asdict(self), sort_keys=True)


class SimLoop:
    """Runs the episodes on a thread; see the module docstring."""

    def __init__(self, env: Any, inbox: ActionInbox, ports: SimPorts, cfg: SimNodeConfig,
                 clock: Any, logger: Any) -> None:
        """``clock``: the node's clock (real-time stamps); ``logger``: the node's logger."""
        self.env, self.inbox, self.ports, self.cfg = env, inbox, ports, cfg
        self.clock, self.log = clock, logger
        self.t = CLOCK_START - RESET_GAP
        self.throttle = LogThrottle(2.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._images: tuple[Any, Any] | None = None
        self._last_request = (math.nan, -math.inf)  # (chunk stamp asked after, wall time)
        self._images_at = -math.inf  # sim time of the newest published views (lockstep)
        self.finished: list[EpisodeStatus] = []

    # --- thread ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the episodes (from the first again after a stop)."""
        self.stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='specprune_sim', daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; False when it is still inside a step after ``timeout`` s."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

    def _run(self) -> None:
        cfg, episode = self.cfg, 0
        try:
            while not self._stop.is_set() and (cfg.episodes == 0 or episode < cfg.episodes):
                self.finished.append(self._episode(episode))
                episode += 1
                if self.finished[-1].error:
                    return
        except Exception as exc:  # report, never take the node down with a traceback
            self.log.error(f'simulation stopped: {type(exc).__name__}: {exc}')
            return
        if not self._stop.is_set():
            last = self.finished[-1] if self.finished else None
            wins = sum(s.success for s in self.finished)
            self.log.info(f'all {len(self.finished)} episode(s) done: {wins} succeeded; idle')
            if last is not None:
                last.state = 'finished'
                self.ports.episode.publish(String(data=last.to_json()))

    # --- one episode -----------------------------------------------------------------------------
    def _episode(self, index: int) -> EpisodeStatus:
        cfg, env = self.cfg, self.env
        init = (cfg.init_state + index) % env.n_init_states
        t0 = time.perf_counter()
        self.inbox.clear()
        obs = env.reset(init, render=False)
        self.t += RESET_GAP
        status = EpisodeStatus(index, cfg.task_id, init, env.max_steps)
        timing = {'step_s': 0.0, 'render_s': 0.0, 'renders': 0}
        obs = self._observe(obs, 0, timing, force=True)
        self.log.info(f'episode {index}: init state {init} ready in '
                      f'{time.perf_counter() - t0:.1f} s; waiting for actions')
        self._publish(obs, status)
        started, wall_next = not cfg.start_on_action, time.monotonic()
        while not self._stop.is_set():
            cfg = self.cfg  # parameters set at run time take effect at the next step
            if not cfg.real_time:
                try:
                    action = self._lockstep_action(obs, status, first=status.state == 'waiting')
                except LockstepTimeout as exc:
                    return self._abandon(status, str(exc))
                if action is None:
                    break  # stopped
                status.state = 'running'
                obs, done = self._step(action, status, timing)
                if done:
                    break
                continue
            self._maybe_request()
            if not started:
                action = self.inbox.take(None, cfg.period, allow_hold=False)
                if action is None:  # hold still: the same state and frames, a new stamp
                    self._advance()
                    self._publish(obs, status)
                    continue
                started, status.state, wall_next = True, 'running', time.monotonic()
            else:
                wall_next = self._pace(wall_next, status)
                action = self.inbox.take(None, 0.0)
            obs, done = self._step(action, status, timing)
            if done:
                break
        if self._stop.is_set():
            status.state = 'stopped'
            self.log.info(f'episode {index} stopped at step {status.step}')
            return status
        status.success, status.done = bool(env.success()), True
        status.state = 'done'
        self._publish(obs, status, images=obs.agentview is not None)
        self.log.info(
            f'episode {index} (task {cfg.task_id}, init state {init}): '
            f'{"SUCCESS" if status.success else "failure"} after {status.step} steps '
            f'(limit {status.max_steps}); {status.held_steps} held; physics '
            f'{status.step_ms:.0f} ms/step, both views {status.render_ms:.0f} ms/render')
        return status

    def _abandon(self, status: EpisodeStatus, why: str) -> EpisodeStatus:
        """Lockstep timeout: the episode ends without an outcome; the status says why."""
        status.state, status.error = 'failed', why
        self.log.error(f'episode {status.episode} stopped at step {status.step}: {why}')
        self.ports.episode.publish(String(data=status.to_json()))
        return status

    # --- lockstep --------------------------------------------------------------------------------
    def _lockstep_action(self, obs: Any, status: EpisodeStatus, first: bool
                         ) -> StepAction | None:
        """The action of the step at ``self.t``; the clock stands still until it is in.

        None when the loop is stopped; LockstepTimeout after the step's timeout.
        """
        cfg, inbox = self.cfg, self.inbox
        chunk_source = cfg.action_source == 'chunk'
        start = time.monotonic()
        limit = cfg.start_timeout if first else cfg.action_timeout
        republish = start + REPUBLISH_S
        while not self._stop.is_set():
            if chunk_source:
                self._maybe_request()
            action = inbox.take(None if chunk_source else self.t, WAIT_SLICE,
                                hold_on_timeout=False)
            if action is not None:
                return action
            if (not chunk_source and inbox.request_stamp >= self.t - SAME_INSTANT
                    and self._images_at < self.t - SAME_INSTANT):
                obs = self.env.observe(render=True)  # the requested instant's frames
                self._publish(obs, status)
            now = time.monotonic()
            if now >= republish:  # for a node that was still starting, or a lost message
                self._publish(obs, status, images=self._images_at >= self.t - SAME_INSTANT)
                republish = now + REPUBLISH_S
            if now - start > limit:
                raise LockstepTimeout(self._silent(limit, first))
        return None

    def _silent(self, waited: float, first: bool) -> str:
        """Which node kept this step waiting, in words."""
        inbox, names, t = self.inbox, self.ports.names or {}, self.t
        action, chunk = names.get('action', 'the action topic'), names.get('chunk', 'chunks')
        request = names.get('request', 'the request topic')
        head = (f'no action for the step at sim time {t:.3f} s within '
                f'{"start_timeout" if first else "action_timeout"} {waited:g} s (wall): ')
        if self.cfg.action_source == 'chunk':
            return head + (f'the policy sent no chunk on {chunk} for the request on {request}'
                           ' (is specprune_policy running, in trigger_mode on_request?)')
        if inbox.request_stamp < t - SAME_INSTANT:
            return head + (f'the executor asked for no chunk and sent no action on {action} '
                           '(is specprune_executor running with use_sim_time:=true and '
                           'lockstep:=true, and enabled?)')
        if inbox.chunk_stamp < t - SAME_INSTANT:
            return head + (f'the policy did not answer the executor\'s request on {request} '
                           f'with a chunk on {chunk} (is specprune_policy running, in '
                           'trigger_mode on_request, and receiving the cameras?)')
        return head + (f'the policy answered, but the executor sent no action on {action} '
                       '(is specprune_executor running with lockstep:=true?)')

    def _step(self, action: StepAction, status: EpisodeStatus, timing: dict[str, float]
              ) -> tuple[Any, bool]:
        if action.held:
            status.held_steps += 1
        t0 = time.perf_counter()
        obs, done = self.env.step(action.values, render=False)
        timing['step_s'] += time.perf_counter() - t0
        status.step = obs.step
        status.step_ms = 1e3 * timing['step_s'] / max(1, obs.step)
        self._advance()
        # lockstep, chunk source: the bridge asks at this step, so the policy needs its frames
        asks = (not self.cfg.real_time and self.cfg.action_source == 'chunk'
                and self.inbox.wants_chunk())
        obs = self._observe(obs, obs.step, timing, force=done or asks)
        status.render_ms = 1e3 * timing['render_s'] / max(1, timing['renders'])
        status.success = bool(done and self.env.success())
        if not done:
            self._publish(obs, status, images=obs.agentview is not None)
        return obs, done

    def _observe(self, obs: Any, step: int, timing: dict[str, float], force: bool) -> Any:
        """``obs`` with both views rendered when ``step`` publishes images (or ``force``)."""
        if not force and step % self.cfg.image_every:
            return obs
        t0 = time.perf_counter()
        obs = self.env.observe(render=True)
        timing['render_s'] += time.perf_counter() - t0
        timing['renders'] += 1
        return obs

    # --- timing ----------------------------------------------------------------------------------
    def _advance(self) -> None:
        if not self.cfg.real_time:
            self.t += SIM_PERIOD

    def _pace(self, wall_next: float, status: EpisodeStatus) -> float:
        """Real time: sleep until the next step is due; count and report a late step."""
        wall_next += self.cfg.period
        now = time.monotonic()
        if now < wall_next:
            self._stop.wait(wall_next - now)
            return wall_next
        if now - wall_next > self.cfg.period:
            status.late_steps += 1
            self.throttle('late', f'real time: steps take longer than the period '
                          f'({status.step_ms + status.render_ms:.0f} ms of physics + render); '
                          f'{status.late_steps} late so far (raise image_every, or run with '
                          'real_time:=false)', self.log.warning)
            return now
        return wall_next

    def _stamp(self) -> Any:
        return self.clock.now().to_msg() if self.cfg.real_time else time_msg(self.t)

    def _maybe_request(self) -> None:
        """Chunk source: ask for the next chunk once the current one is used up."""
        if not self.inbox.wants_chunk():
            return
        current, now = self.inbox.current_stamp(), time.monotonic()
        asked_for, asked_at = self._last_request
        if current != asked_for or now - asked_at >= REQUEST_RETRY:
            msg = Header()  # lockstep: the chunk must see this instant's frames; 0: the newest
            msg.stamp = time_msg(0.0 if self.cfg.real_time else self.t)
            msg.frame_id = 'specprune_sim'
            self.ports.request.publish(msg)
            self._last_request = (current, now)

    # --- publishing ------------------------------------------------------------------------------
    def _publish(self, obs: Any, status: EpisodeStatus, images: bool = True) -> None:
        """/clock (simulated time) first, then the state, the images and the status.

        ``images``: publish the newest rendered views (while the arm waits for its first
        action these are the step-0 views, still exact: nothing moved).
        """
        ports, frame = self.ports, self.cfg.frame_id
        if ports.clock is not None:
            ports.clock.publish(Clock(clock=time_msg(self.t)))
        stamp = self._stamp()
        status.sim_time = round(self.t, 6) if not self.cfg.real_time else 0.0
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, frame
        p, q = (float(v) for v in obs.ee_pos), (float(v) for v in obs.ee_quat)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = p
        (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z,
         pose.pose.orientation.w) = q
        twist = TwistStamped()
        twist.header = pose.header
        lin, ang = twist.twist.linear, twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in obs.ee_lin_vel)
        ang.x, ang.y, ang.z = (float(v) for v in obs.ee_ang_vel)
        joints = JointState(name=list(FINGERS), position=[float(v) for v in obs.gripper_qpos])
        joints.header = pose.header
        ports.gripper.publish(joints)  # first: the policy builds proprio when the pose comes
        ports.ee_state.publish(pose)
        ports.ee_twist.publish(twist)
        if obs.agentview is not None:
            self._images = (obs.agentview, obs.wrist)
            self._images_at = self.t
        if images and self._images is not None:
            for pub, image, camera in ((ports.third_person, self._images[0], AGENTVIEW),
                                       (ports.wrist, self._images[1], WRIST)):
                pub.publish(rgb_to_image_msg(image, stamp=stamp, frame_id=camera))
        ports.episode.publish(String(data=status.to_json()))
