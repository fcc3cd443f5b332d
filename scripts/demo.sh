#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The main job: set everything up (scripts/setup.sh: venv, torch, core, ROS 2 from PyPI, msg
# build), then run the specprune_policy node with specprune-replay over real DDS for a few
# seconds, print the action chunks and stats, and save one debug image (out/kept_tokens.png).
# Arguments go to specprune_ros.ros.ros_demo (e.g. --chunks 10 --preset small).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
VENV="${SPECPRUNE_VENV:-$ROOT/.venv}"
cd "$ROOT"
# shellcheck disable=SC1091
source "$ROOT/scripts/ros_env.sh" "$VENV"
python -m specprune_ros.ros.ros_demo "$@"
