"""SIGINT/SIGTERM as a request to stop, for processes that shut down on their own terms.

rclpy's default handlers raise KeyboardInterrupt in the main thread wherever it happens to be,
including inside rclpy's C++ message conversion, where it surfaces as a pybind11 RuntimeError
instead. The ROS tools here turn rclpy's handlers off (``SignalHandlerOptions.NO``) and use
:func:`stop_on_signals`: the handler only sets an event, and the spinning loop checks it.
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
import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGINT/SIGTERM while inside; the previous handlers come back after.

    A second signal while ``stop`` is already set raises KeyboardInterrupt: the way out of
    work that does not look at the event (a long checkpoint load). Outside the main thread
    (where Python cannot install handlers) this does nothing.
    """

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt(f'{signal.Signals(signum).name} while already stopping')
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
