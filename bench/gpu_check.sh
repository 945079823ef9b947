#!/usr/bin/env bash
# GPU checks for the training engine, for one GPU machine, in about 8 minutes:
#   1. the `#| gpu` cells of every notebook that has them (nbdev-test --flags gpu),
#   2. the CUDA training benchmark: our SimCLR images/s with bf16 and channels-last on and off, and compiled
#      (+ lightly for reference),
#   3. a shortened CIFAR-10 ResNet-18 SimCLR run under a 2-minute time budget (the trainer plans its steps),
#      then kNN on the full test split (needs cifar10 under $SSL_WORKBENCH_DATA; skipped otherwise).
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

# ~3 min: the time budget on a GPU, ResNet-18, batch 512, bf16 + channels-last (the defaults on CUDA)
if "$PY" -c "from ssl_workbench.data import load_dataset; load_dataset('cifar10', 'test')" 2>/dev/null; then
  timeout 240 "$BIN/ssl-workbench" pretrain --method simclr --data cifar10 --backbone resnet18 --batch-size 512 \
    --out "$OUT/gpu_budget_run" --no-progress schedule.minutes=2 optim.lr=0.6 method.hparams.temperature=0.2 \
    > "$OUT/gpu_budget.log" 2>&1 || status=1
  grep -h '"event"' "$OUT/gpu_budget_run/metrics.jsonl" | tee -a "$OUT/gpu_budget.log"
  timeout 120 "$BIN/ssl-workbench" eval --run "$OUT/gpu_budget_run" --protocol knn | tee -a "$OUT/gpu_budget.log" \
    || status=1
else
  echo "cifar10 not found under \$SSL_WORKBENCH_DATA: budgeted CIFAR-10 run skipped" | tee "$OUT/gpu_budget.log"
fi
exit $status
