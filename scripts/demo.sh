#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# Set up everything (scripts/setup.sh) and run the main demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
VENV="${SPECPRUNE_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/specprune-demo" "$@"
