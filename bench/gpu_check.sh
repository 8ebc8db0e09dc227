#!/usr/bin/env bash
# The GPU check of issue 27: on a GPU machine after the README install (`make install`), in under 10 minutes:
# confirms a CUDA torch, trains 300 steps of WRN-28-10 at A2 with DQ (batch 128), reports images/s and prints
# the projected wall time of configs/cifar10-paper.toml on 1 and N GPUs (formula: bench/gpu_check.py).
#   bench/gpu_check.sh [--gpus N] [--steps S] [--json FILE]
#   bench/gpu_check.sh --tiny      # CPU smoke mode (CI): WRN-28-1, 3 steps; refuses the projection without CUDA
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "gpu_check: .venv missing: run the README install (make install) first" >&2
    exit 2
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu_check: nvidia-smi: /'
fi
exec "$PY" bench/gpu_check.py "$@"
