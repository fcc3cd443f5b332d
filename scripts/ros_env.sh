# shellcheck shell=bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Source this (bash) after scripts/setup_ros.sh has built the package:
#
#   source scripts/ros_env.sh [VENV_DIR]
#
# Afterwards `python` is the venv's interpreter and, from any directory,
#   python -c "import rclpy; from specprune_ros.msg import ActionChunk"
# works over the venv's ROS 2 (PyPI wheels) plus this package's colcon install space.
#
# VENV_DIR defaults to $SPECPRUNE_ROS_VENV, else the venv the last build used, else
# $VIRTUAL_ENV, else <repo>/.venv. The colcon folder is $SPECPRUNE_ROS_WS (default
# <repo>/.ros_build), as for setup_ros.sh.
#
# This file is sourced into the caller's shell, so it deliberately does not `set -euo pipefail`
# (that would change the caller's shell); it works under `set -u` and returns non-zero on error.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "[ros_env] ERROR: source this file (source ${BASH_SOURCE[0]} [VENV_DIR]); running it changes nothing" >&2
  exit 1
fi

_specprune_ros_env() {
  local here repo ws venv py_site pylib p libs
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1
  repo="$(dirname "$here")"
  ws="${SPECPRUNE_ROS_WS:-$repo/.ros_build}"

  if [[ -n "${1:-}" ]]; then
    venv="$1"
  elif [[ -n "${SPECPRUNE_ROS_VENV:-}" ]]; then
    venv="$SPECPRUNE_ROS_VENV"
  elif [[ -f "$ws/venv_path" ]]; then
    venv="$(cat "$ws/venv_path")"
  elif [[ -n "${VIRTUAL_ENV:-}" ]]; then
    venv="$VIRTUAL_ENV"
  else
    venv="$repo/.venv"
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "[ros_env] ERROR: no virtual environment at '$venv' (run scripts/setup_ros.sh VENV_DIR first)" >&2
    return 1
  fi
  venv="$(cd "$venv" && pwd)"
  if [[ ! -f "$ws/install/share/specprune_ros/package.xml" ]]; then
    echo "[ros_env] ERROR: no colcon install space at '$ws/install' (run scripts/setup_ros.sh '$venv')" >&2
    return 1
  fi
  ws="$(cd "$ws" && pwd)"
  pylib=""
  for p in "$venv"/lib/python3.*; do
    [[ -d "$p" ]] && { pylib="${p##*/}"; break; }
  done
  [[ -n "$pylib" ]] || { echo "[ros_env] ERROR: no lib/python3.* in '$venv'" >&2; return 1; }
  py_site="$ws/install/lib/$pylib/site-packages"

  # "Activate" the venv.
  export VIRTUAL_ENV="$venv"
  case ":${PATH:-}:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$venv/bin${PATH:+:$PATH}" ;;
  esac

  # ament index: this package first, then the wheels' prefix (the venv itself).
  export AMENT_PREFIX_PATH="$ws/install:$venv"
  export CMAKE_PREFIX_PATH="$ws/install:$venv"
  export SPECPRUNE_ROS_INSTALL="$ws/install"

  # Generated Python messages (specprune_ros.msg); site-packages of the venv come for free.
  case ":${PYTHONPATH:-}:" in
    *":$py_site:"*) ;;
    *) export PYTHONPATH="$py_site${PYTHONPATH:+:$PYTHONPATH}" ;;
  esac

  # Shared libraries: the generated message libraries (their RPATH is empty), the wheels'
  # libraries in <venv>/lib and the auditwheel-vendored ones in site-packages/ros_*.libs.
  libs="$ws/install/lib:$venv/lib"
  for p in "$venv/lib/$pylib/site-packages"/ros_*.libs; do
    [[ -d "$p" ]] && libs="$libs:$p"
  done
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$ws/install/lib:"*) ;;
    *) export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
  esac
  # The ros_wheels_bootstrapper .pth in the venv re-executes every Python process once to set
  # LD_LIBRARY_PATH; it is set above already, so skip that second start.
  export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1

  # Middleware and discovery: Fast DDS, this machine only (Kilted reads
  # ROS_AUTOMATIC_DISCOVERY_RANGE; ROS_LOCALHOST_ONLY is for older distributions' tools).
  export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
  export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
  export ROS_LOCALHOST_ONLY="${ROS_LOCALHOST_ONLY:-1}"
  export ROS_VERSION=2
  export ROS_PYTHON_VERSION=3
  export ROS_DISTRO="${ROS_DISTRO:-kilted}"
  # Node log files go next to the build instead of ~/.ros/log.
  export ROS_LOG_DIR="${ROS_LOG_DIR:-$ws/log/ros}"

  echo "[ros_env] venv=$venv install=$ws/install RMW=$RMW_IMPLEMENTATION discovery=$ROS_AUTOMATIC_DISCOVERY_RANGE"
}

if _specprune_ros_env "$@"; then
  unset -f _specprune_ros_env
else
  unset -f _specprune_ros_env
  return 1
fi
