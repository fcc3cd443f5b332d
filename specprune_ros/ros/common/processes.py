"""The demos' node processes: start one, its output where wanted; stop it politely. ROS-free."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import logging
import signal
import subprocess
from typing import Any

log = logging.getLogger('specprune_ros.processes')


def start_process(cmd: list[str], env: dict[str, str], output: Any = None) -> subprocess.Popen:
    """Start a node process; ``output``: a file for its stdout and stderr (None: ours)."""
    (log.debug if output is not None else log.info)('starting: %s', ' '.join(cmd))
    if output is not None:
        output.write(f'$ {" ".join(cmd)}\n')
        output.flush()
    return subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT if output
                            else None)


def stop_process(proc: subprocess.Popen) -> int:
    """SIGINT, then SIGKILL after 5 s; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
