"""stop_on_signals: a signal sets the event instead of raising, and handlers come back."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

import os
import signal
import threading
import time

import pytest

from specprune_ros.ros.common.signals import stop_on_signals, STOP_SIGNALS


def _delivered(stop: threading.Event) -> bool:
    deadline = time.monotonic() + 2.0
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)  # the Python-level handler runs between bytecodes
    return stop.is_set()


@pytest.mark.parametrize('sig', STOP_SIGNALS)
def test_signal_sets_event_and_does_not_raise(sig: int) -> None:
    before = signal.getsignal(sig)
    with stop_on_signals(threading.Event()) as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), sig)
        assert _delivered(stop)
    assert signal.getsignal(sig) is before


def test_a_second_signal_raises_keyboard_interrupt() -> None:
    with stop_on_signals(threading.Event()) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert _delivered(stop)
        with pytest.raises(KeyboardInterrupt, match='SIGTERM while already stopping'):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(2.0)  # the handler raises here, between bytecodes


def test_outside_the_main_thread_it_installs_nothing() -> None:
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    seen = {}

    def body() -> None:
        with stop_on_signals(threading.Event()):
            seen.update({sig: signal.getsignal(sig) for sig in STOP_SIGNALS})

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == before
