#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The main job: set everything up (scripts/setup.sh: venv, torch, core, ROS 2 from PyPI, msg
# build, the LIBERO benchmark), then run ONE LIBERO-Spatial episode in
# closed loop over real DDS: the specprune_sim bridge, the specprune_policy node (the trained
# model of models/libero_spatial_demo/ if it exists, else the untrained built-in `tiny`) and the
# specprune_executor, as three processes. Prints the mode and kept tokens per chunk and the
# episode's outcome; writes out/sim_demo.mp4 (or .gif) and out/kept_tokens.png.
# Arguments go to specprune_ros.ros.sim_bridge.demo (e.g. --max-steps 60 --task 3 --init-state 1).
# `--replay` runs the earlier replay demo instead (node + specprune-replay, no simulator);
# the arguments after it go to specprune_ros.ros.replay.demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$ROOT/out"
echo "[demo] setting up (the first run installs everything: several minutes; log: out/setup.log)"
if ! bash "$ROOT/scripts/setup.sh" > "$ROOT/out/setup.log" 2>&1; then
  tail -n 40 "$ROOT/out/setup.log" >&2
  echo "[demo] set-up failed; the whole log: out/setup.log" >&2
  exit 1
fi
VENV="${SPECPRUNE_VENV:-$ROOT/.venv}"
cd "$ROOT"
# shellcheck disable=SC1091
source "$ROOT/scripts/ros_env.sh" "$VENV" >> "$ROOT/out/setup.log" 2>&1 || { echo "[demo] scripts/ros_env.sh failed; see out/setup.log" >&2; exit 1; }
if [ "${1:-}" = "--replay" ]; then
  shift
  exec python -m specprune_ros.ros.replay.demo "$@"
fi
if ! python -c 'import sys; from specprune_ros.sim import libero_missing as m; sys.exit(bool(m()))'; then
  echo "[demo] LIBERO is not installed (SPECPRUNE_SKIP_LIBERO=1?): bash scripts/setup_libero.sh $VENV," \
    "or run the replay demo: bash scripts/demo.sh --replay" >&2
  exit 1
fi
exec python -m specprune_ros.ros.sim_bridge.demo "$@"
