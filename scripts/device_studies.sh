#!/usr/bin/env bash
# The three training studies (evals/train_studies.py) on one GPU: every study point x seed as its own training
# process, JOBS at a time (the tiny model is bound by Python overhead, so one process per CPU core keeps the
# GPU busy). Defaults: 24 processes (8 points x 3 seeds in one wave), each training TRAIN_BUDGET=150 s at the
# speed a short calibration measures; sized (not yet measured) to end in about 6 minutes on an H200, and the
# runner is stopped at MAX_WALL whatever happens. Writes $OUT/results.json (refreshed every 30 s, so a cut-short
# run still returns what finished), $OUT/logs.tgz and $OUT/gpu_util.log; then, here:
#     python -m evals.train_studies report --results results.json
#
# The datasets are rendered beforehand where MuJoCo runs (python -m evals.train_studies render) and travel
# under .devdata/studies. Wheels for what the machine lacks (pydantic and its parts; mujoco, imported for the
# sim's object catalogue, never to render) travel under .devdata/whl and are installed only where missing.
#
#   DEVICE=cpu STEPS=5 SEEDS="0 1" JOBS=2 DATA=.devdata/studies-tiny bash scripts/device_studies.sh  # CPU smoke test
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-auto}  # auto: a short calibration (JOBS processes at once) picks the steps of TRAIN_BUDGET seconds
TRAIN_BUDGET=${TRAIN_BUDGET:-150}
BATCH=${BATCH:-32}
JOBS=${JOBS:-24}  # all 8 points x 3 seeds in one wave: nothing waits on a late finisher
SEEDS=${SEEDS:-0 1 2}
DEADLINE=${DEADLINE:-}  # optional: seconds after which no further run starts
DATA=${DATA:-.devdata/studies}
OUT=${OUT:-out/device_studies}
WORK=${WORK:-/tmp/device_studies}  # per-run JSONs and logs (many files): only the tarball goes to $OUT
# Seconds: no run starts that the slowest finished one says would end later (seeds run in order, so the first
# two seeds of every point come first), and the runner is stopped then (its started runs too).
MAX_WALL=${MAX_WALL:-420}
PY=${PY:-python3}
export MUJOCO_GL=disable PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
rm -rf "$WORK/runs" "$WORK/logs" "$WORK/results.json"  # never mix in an earlier attempt's runs
mkdir -p "$OUT" "$WORK"

# Install the carried wheels of what this interpreter lacks: pydantic with the versions of its parts it was
# released with (typing_extensions included: an older one there can break it), mujoco with its core.
missing=()
if ! "$PY" -c "import pydantic" 2>/dev/null; then
    missing+=(.devdata/whl/pydantic-*.whl .devdata/whl/pydantic_core-*.whl .devdata/whl/annotated_types-*.whl
              .devdata/whl/typing_inspection-*.whl .devdata/whl/typing_extensions-*.whl)
fi
if ! "$PY" -c "import mujoco" 2>/dev/null; then
    missing+=(.devdata/whl/mujoco-*.whl .devdata/whl/mujoco_core-*.whl)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing carried wheels: ${missing[*]}"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/studies-site "${missing[@]}"
    export PYTHONPATH=/tmp/studies-site${PYTHONPATH:+:$PYTHONPATH}
fi

# Preflight: build the study model with the shipped tower and take one step on the device (seconds, not a
# failure after the runs).
"$PY" -c "from evals.studies.runner import preflight; print(preflight('$DEVICE'))"
echo "cores: $(nproc)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv || true

# shellcheck disable=SC2086  # SEEDS is a list
timeout -k 10 "$MAX_WALL" "$PY" -m evals.train_studies run --data "$DATA" --out "$WORK" --steps "$STEPS" \
    --batch-size "$BATCH" --device "$DEVICE" --jobs "$JOBS" --seeds $SEEDS --train-budget "$TRAIN_BUDGET" \
    --max-wall "$((MAX_WALL - 10))" ${DEADLINE:+--deadline "$DEADLINE"} ${CAL_STEPS:+--calibrate-steps "$CAL_STEPS"} \
    ${MIN_STEPS:+--min-steps "$MIN_STEPS"} &
runner=$!
# Every 5 s: is the runner done; every 30 s: GPU load (for sizing the next attempt) and a copy of the results.
t=0
while kill -0 "$runner" 2>/dev/null; do
    sleep 5; t=$((t + 5))
    if [ $((t % 30)) -eq 0 ]; then
        { printf '%s s: ' "$t"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null \
            || echo "no nvidia-smi"; } >>"$OUT/gpu_util.log"
        cp "$WORK/results.json" "$OUT/results.json" 2>/dev/null || true
    fi
done
rc=0; wait "$runner" || rc=$?
cp "$WORK/results.json" "$OUT/results.json" 2>/dev/null || true
tar -czf "$OUT/logs.tgz" -C "$WORK" logs runs $([ -d "$WORK/calibrate" ] && echo calibrate) 2>/dev/null || true
"$PY" - "$OUT/results.json" <<'EOF' || true
import json, sys
r = json.load(open(sys.argv[1]))
m = r["meta"]
print(f"{len(r['runs'])} runs of {m['steps']} steps in {m['wall_s']:.0f} s (calibration {m['calibration']}); "
      f"failed {m['failed']}; not started {m['not_started']}")
for row in r["runs"]:
    print(f"{row['point']:>11} s{row['seed']} train {row['train_s']:5.0f} s ({row['samples_per_s']:.0f} samples/s) "
          f"eval {row['eval_s']:4.0f} s "
          f"loss {row['final_loss']:.3f} qual {row['qualitative_accuracy']:.3f} w2 {row['within_50_200']:.3f} "
          f"w11 {row['within_90_110']:.3f} colour {row['colour_accuracy']:.3f}")
EOF
exit $rc
