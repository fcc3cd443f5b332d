#!/usr/bin/env bash
# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (see LICENSE).
#
# The GPU measurements of issue 15 in one go (about 4-8 minutes on an H100/H200 class GPU):
#   1. the CUDA-only tests (host syncs in the layer loop, graph replays == eager, CUDA events);
#   2. specprune-bench --preset oft-7b --device cuda: dense vs pruned, eagerly (with the eager
#      output_attentions baseline of the paper's 1.46x), with CUDA graphs, and with CUDA graphs
#      and the sync-free static cut (no host read at all in the step).
# Everything is written to $OUT/gpu (or out/gpu): one JSON and one log per run, nvidia-smi, the
# test log. Needs a Python with CUDA torch and the package's dependencies (PYTHON=...); the
# checkout is used in place (PYTHONPATH), nothing is installed. Exits non-zero on the first
# failing step; a capture that fell back to eager shows as "fallbacks" in the graph runs' JSON.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
DEST="${OUT:-$ROOT/out}/gpu"
STEPS="${STEPS:-10}"
mkdir -p "$DEST"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'EOF'
import importlib.util
import sys

need = ('torch', 'transformers', 'accelerate', 'safetensors', 'tqdm', 'PIL', 'numpy')
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f'gpu_bench: missing Python packages {missing} (set PYTHON to a suitable one)')
import torch
if not torch.cuda.is_available():
    sys.exit('gpu_bench: torch sees no CUDA GPU')
print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}')
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv \
    > "$DEST/nvidia-smi.csv" 2>&1 || true

if "$PY" -c 'import pytest, hypothesis' 2>/dev/null; then
    timeout 240 "$PY" -m pytest -q -p no:cacheprovider test/specprune/test_host_sync.py \
        test/vla/test_cuda_graphs.py test/vla/test_timing.py 2>&1 | tee "$DEST/cuda_tests.log"
else
    echo 'gpu_bench: pytest/hypothesis missing, CUDA tests skipped' | tee "$DEST/cuda_tests.log"
fi

bench() {  # name, extra arguments
    local name="$1"
    shift
    echo "== $name: $*"
    timeout 300 "$PY" -m specprune_ros.tools.bench.run --preset oft-7b --device cuda \
        --camera-size 256 --steps "$STEPS" --warmup 3 "$@" --json "$DEST/$name.json" \
        2>&1 | tee "$DEST/$name.log"
}
bench eager
bench graphs --cuda-graphs --no-eager-baseline
bench graphs_sync_free --cuda-graphs --sync-free --no-eager-baseline
echo "gpu_bench: results in $DEST"
