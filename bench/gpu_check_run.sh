#!/usr/bin/env bash
# Run bench/gpu_check.py on a GPU machine that has torch but not our pins (docs/measurements.md, "GPU check").
#
#   bash bench/gpu_check_run.sh fetch   # here, once: download the wheels of bench/gpu_check_wheels.txt into .whl/
#   bash bench/gpu_check_run.sh         # there: install .whl/ into /tmp/site, build the tiny model and the sample
#                                       # clips from code, run the check; results and the full log go to $OUT
#                                       # (the device tool's folder; results/ where it is unset)
#
# The wheels are for Python 3.12 on x86-64 (the GPU image's python3). They install with --no-deps into a --target
# folder put first on PYTHONPATH, so the image's torch, pyarrow, accelerate ... stay in use and our pinned
# transformers, tokenizers, peft and LLaMA-Factory shadow the image's own. Exit status: the check's.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
PYTHON=${PYTHON:-python3}

if [[ "${1:-}" == "fetch" ]]; then
    mkdir -p "$WHEELS"
    grep -v '^#' bench/gpu_check_wheels.txt | xargs "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEELS"
    echo "wheels in $WHEELS/: $(du -sh "$WHEELS" | cut -f1) (the device tool carries at most 64 MiB with the tree)"
    exit 0
fi

OUT_DIR=${OUT:-results}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "no wheels in $WHEELS/: run 'bash bench/gpu_check_run.sh fetch' where pip reaches the registry, then carry $WHEELS" >&2
    exit 2
fi
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# DISABLE_VERSION_CHECK is not set: LLaMA-Factory's own version check must pass with the carried wheels.
[[ -f models/tiny-qwen2vl/config.json ]] || "$PYTHON" -m models.tiny_qwen2vl >>"$LOG" 2>&1
[[ -f data/sample/webvid.csv ]] || "$PYTHON" -m data.sample_webvid --count 48 --workers 16 >>"$LOG" 2>&1  # 12 batches of 4
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
# Verdict lines on screen; LLaMA-Factory's chatter only in the log. 8 minutes at most, so the log comes back.
status=0
timeout 480 "$PYTHON" -m bench.gpu_check --out "$OUT_DIR/gpu_check.json" "$@" >>"$LOG" 2>&1 || status=$?
grep -E '^(memory at|one LoRA step|data wait|stock decode|frame store +step|results:)' "$LOG" || true
[[ $status -eq 0 ]] || { echo "gpu_check failed (exit $status); the end of $LOG:" >&2; tail -n 25 "$LOG" >&2; }
exit $status
