#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Set up everything (scripts/setup.sh) and run the whole test suite with the linters.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
VENV="${SPECPRUNE_VENV:-$ROOT/.venv}"
cd "$ROOT"
if [ -f "$ROOT/scripts/ros_env.sh" ] && [ "${SPECPRUNE_SKIP_ROS:-0}" != "1" ]; then
  # shellcheck disable=SC1091
  source "$ROOT/scripts/ros_env.sh" "$VENV"
fi
"$VENV/bin/python" -m pytest test -q -p no:cacheprovider "$@"
