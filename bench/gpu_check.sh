#!/usr/bin/env bash
# GPU checks for the training engine, for one GPU machine, in under 8 minutes:
#   1. the `#| gpu` cells of every notebook that has them (nbdev-test --flags gpu),
#   2. the CUDA training benchmark: our SimCLR images/s with bf16 and channels-last on and off (+ lightly for reference).
# Usage (repo root): bash bench/gpu_check.sh [OUT_DIR]   -> OUT_DIR/gpu_tests.log, OUT_DIR/bench_train_gpu.json
set -uo pipefail
OUT=${1:-${OUT:-bench/results}}; mkdir -p "$OUT"
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
BIN=$(dirname "$PY")
NBTEST=$( [ -x "$BIN/nbdev-test" ] && echo "$BIN/nbdev-test" || echo nbdev-test )
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} SSL_WORKBENCH_DEVICE=cuda
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.__version__, torch.cuda.get_device_name())" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu_info.csv"

status=0
: > "$OUT/gpu_tests.log"
for nb in $(grep -l '#| gpu' nbs/*.ipynb); do           # ~10-60 s each
  echo "== $nb" | tee -a "$OUT/gpu_tests.log"
  timeout 240 "$NBTEST" --flags gpu "$nb" >> "$OUT/gpu_tests.log" 2>&1 && echo ok | tee -a "$OUT/gpu_tests.log" \
    || { echo FAILED | tee -a "$OUT/gpu_tests.log"; status=1; }
done

# ~2-3 min: 2 backbones x 4 settings x 25 steps at batch 256, plus lightly for reference
timeout 300 "$PY" -m bench.bench_train --gpu > "$OUT/bench_train_gpu.json" || status=1
cat "$OUT/bench_train_gpu.json"
exit $status
