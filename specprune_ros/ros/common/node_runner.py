"""The process life of this package's lifecycle nodes: rclpy set-up, start, spin, exit code.

Shared by ``specprune_policy``, ``specprune_executor`` and ``specprune_sim``. Bad ROS arguments
(a log level rcl does not know, a ``--params-file`` that does not exist or does not parse) end
in one clear error line and exit code 2, never a traceback; invalid parameter values
(ConfigError from the node's constructor) likewise. A signal only sets an event
(:mod:`specprune_ros.ros.common.signals`) that the spin loop checks. :class:`LifecycleShell` is the
start (``autostart``), shutdown and error handling the nodes have in common.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Callable
import os
import re
import sys
import threading
from typing import Any, Protocol

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

from specprune_ros.errors import ConfigError
from specprune_ros.ros.common.launch_args import LOG_LEVELS
from specprune_ros.ros.common.signals import stop_on_signals

SUCCESS = TransitionCallbackReturn.SUCCESS
SPIN_PERIOD = 0.1  # s: how soon the spin loop notices a stop request
_HINTS = (('log level', f'valid log levels: {", ".join(LOG_LEVELS)}'),
          ('params file', 'check that the file exists and is a ROS 2 parameter YAML file'))


class RunnableNode(Protocol):
    """What :func:`run_node` needs of a node besides rclpy's Node API."""

    def start(self, stop: threading.Event) -> None:
        """Bring the node up (autostart) unless ``stop`` is set."""

    def close(self) -> None:
        """Stop the node's own threads before it is destroyed."""


class LifecycleShell:
    """The lifecycle handling all of this package's nodes share (a mixin before LifecycleNode).

    The node defines ``on_cleanup`` (always SUCCESS), ``close`` and ``state_label``; shutdown
    and error both clean up. :meth:`start` reads ``self.cfg.autostart`` through
    :meth:`wants_autostart` (override it where the node's config lives elsewhere).
    """

    state_label: str

    def wants_autostart(self) -> bool:
        """The ``autostart`` parameter."""
        return bool(self.cfg.autostart)  # type: ignore[attr-defined]

    def autostart(self, stop: threading.Event | None = None) -> bool:
        """Configure and activate (``autostart``); False when a transition failed.

        Activation is skipped when ``stop`` was set while configuring (a signal during a load).
        """
        if self.trigger_configure() != SUCCESS or not rclpy.ok():  # type: ignore[attr-defined]
            return False
        if stop is not None and stop.is_set():
            return False
        return self.trigger_activate() == SUCCESS  # type: ignore[attr-defined]

    def start(self, stop: threading.Event) -> None:
        """:func:`run_node`'s start: autostart when the parameter says so."""
        if self.wants_autostart():
            self.autostart(stop)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Same as cleanup, from any state."""
        self.on_cleanup(state)  # type: ignore[attr-defined]
        self.state_label = 'finalized'
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover to unconfigured."""
        self.on_cleanup(state)  # type: ignore[attr-defined]
        return SUCCESS


def ros_args_error(exc: BaseException) -> str:
    """rcl's error text without its source locations, plus a hint on what to fix."""
    text = re.sub(r',? at [^\s,]+:\d+', '', str(exc)).strip()
    text = text.removeprefix('failed to initialize rcl: ')
    hints = [hint for key, hint in _HINTS if key in text.lower()]
    return text + (f' ({hints[0]})' if hints else '')


def fatal(name: str, text: str) -> None:
    """One error line on stderr (used where rclpy's logging is not up yet)."""
    sys.stderr.write(f'[FATAL] [{name}]: {text}\n')
    sys.stderr.flush()


def run_node(make_node: Callable[[], Any], name: str, args: list[str] | None = None,
             fast_exit: bool = True) -> int:
    """Create the node, start it and spin until SIGINT/SIGTERM; returns the exit code.

    0 after a clean stop, 2 for bad ROS arguments or parameters, 130 when a second signal cut
    a long start short. With ``fast_exit`` the process then ends at once with that code:
    Python's own finalisation of torch and transformers takes seconds and has nothing left to
    clean up (the node is destroyed and rclpy shut down first, so the logs are flushed).
    """
    code = 0
    with stop_on_signals(threading.Event()) as stop:
        try:
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        except RuntimeError as exc:  # rclpy's RCLError: rcl rejected the ROS arguments
            fatal(name, f'invalid ROS arguments: {ros_args_error(exc)}')
            code = 2
        else:
            try:
                node = make_node()
            except ConfigError as exc:
                rclpy.logging.get_logger(name).fatal(f'invalid parameters: {exc}')
                code = 2
            except KeyboardInterrupt:
                code = 130
            else:
                code = _spin(node, stop)
            finally:
                rclpy.try_shutdown()
    if fast_exit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _spin(node: Any, stop: threading.Event) -> int:
    """Spin until ``stop``; 0, or 130 when a second signal cut a long start short."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if not stop.is_set():
            node.start(stop)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD)
    except ExternalShutdownException:
        pass
    except KeyboardInterrupt:
        node.get_logger().warning('interrupted by a second signal')
        return 130
    finally:
        node.close()
        executor.remove_node(node)
        node.destroy_node()
    return 0
