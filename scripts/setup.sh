#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# One-shot, idempotent set-up on a fresh Debian 12 + Python 3.11 machine:
#   .venv with torch==2.13.0 (CPU, installed first and pinned for every later pip call),
#   the ROS-free core (pip install -e .[test]), then ROS 2 from PyPI + msg build.
#   then the LIBERO benchmark (scripts/setup_libero.sh: simulator, assets, EGL rendering).
# Env: SPECPRUNE_VENV (default .venv), SPECPRUNE_SKIP_ROS=1 to skip the ROS part,
#      SPECPRUNE_SKIP_LIBERO=1 to skip LIBERO (its tests then skip, saying so).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPECPRUNE_VENV:-$ROOT/.venv}"
CONSTRAINTS="$ROOT/scripts/constraints.txt"
PYTHON="${PYTHON:-python3}"
log() { echo "[setup] $*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV" || {
    log "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$PYTHON" -m venv "$VENV"
  }
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

stamp="$VENV/.specprune_core_stamp"
want="$(cat "$ROOT/setup.py" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  start=$SECONDS
  if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
    log "installing torch==2.13.0 (first, so nothing pulls another build)"
    "${PIP[@]}" install torch==2.13.0
  fi
  log "installing the specprune_ros core and test tools"
  "${PIP[@]}" install -c "$CONSTRAINTS" -e "$ROOT[test]"
  echo "$want" > "$stamp"
  log "core ready in $((SECONDS - start)) s"
else
  log "core already installed ($VENV)"
fi

if [ "${SPECPRUNE_SKIP_ROS:-0}" != "1" ] && [ -f "$ROOT/scripts/setup_ros.sh" ]; then
  bash "$ROOT/scripts/setup_ros.sh" "$VENV"
fi

if [ "${SPECPRUNE_SKIP_LIBERO:-0}" != "1" ]; then
  bash "$ROOT/scripts/setup_libero.sh" "$VENV"
fi
