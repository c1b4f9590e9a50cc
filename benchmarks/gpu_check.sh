#!/usr/bin/env bash
# The check to run the day a GPU is lent (benchmarks/README.md, "GPU check"): in under 8 minutes on
# one GPU,
#   1. pretraining_bench.py in float32, mixed_bfloat16, mixed_float16 (loss scaling) and with XLA,
#      each against tf-models-official in the same run;
#   2. serving_bench.py (float32 and bfloat16 exports) against tf-models-official's AlbertEncoder;
#   3. a short MirroredStrategy pretraining over all GPUs that checkpoints, then the same command
#      extended, which must resume from that checkpoint;
# then one summary table (Markdown, for benchmarks/README.md). Every part has a time limit; a part
# that fails or times out is a FAILED row and the script goes on. Without a GPU it runs to the end
# too: float16 is skipped (a row says so) and the mirrored run uses two logical CPU devices.
#
#   benchmarks/gpu_check.sh [--quick] [WORK_DIR]
#
# --quick (or GPU_CHECK_QUICK=1): the albert_tiny_test shape, one timed step, fewer calls; without a
# GPU also only the float32 variants (tests/test_gpu_check.py runs this). WORK_DIR (default: a new
# temporary directory) receives the logs, rows.jsonl and table.md. Exits 1 when a part failed.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=${GPU_CHECK_QUICK:-0}
if [[ "${1:-}" == "--quick" ]]; then QUICK=1; shift; fi
WORK=${1:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$WORK"
ROWS=$WORK/rows.jsonl
: > "$ROWS"
PYTHON=${PYTHON:-python}
# GPU_CHECK_GPUS=0 (with CUDA_VISIBLE_DEVICES=) runs the CPU check on a GPU machine.
GPUS=${GPU_CHECK_GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}

if (( QUICK )); then
  PRETRAIN_FLAGS=(--config_preset=albert_tiny_test --batch_size=4 --seq_length=16
                  --max_predictions=2 --steps=1 --rounds=1 --peak_square=256)
  # --notext: the text timing trains a 2000-piece vocabulary, more than the tiny model's table.
  SERVING_FLAGS=(--config_preset=albert_tiny_test --seq_length=16 --latency_calls=3 --notext
                 --throughput_batch=4 --throughput_calls=1 --rounds=1)
  PART_LIMIT=120
else
  PRETRAIN_FLAGS=(--batch_size=32 --steps=10 --rounds=3)
  # One process per export: the part's time limit has no room for three rounds of TF start-ups.
  SERVING_FLAGS=(--rounds=1)
  PART_LIMIT=150
fi

row() {  # row PART VARIANT STATUS: a row for a part that did not write its own
  "$PYTHON" benchmarks/summary_table.py row --file="$ROWS" --part="$1" --variant="$2" \
      --status="$3"
}

run_part() {  # run_part PART VARIANT LOG COMMAND...: runs COMMAND under the time limit
  local part=$1 variant=$2 log=$3 status
  shift 3
  echo "==> $part, $variant (at most ${PART_LIMIT} s; log: $log)"
  SECONDS=0
  timeout "$PART_LIMIT" "$@" > "$log" 2>&1
  status=$?
  echo "    exit $status after $SECONDS s"
  if (( status == 124 )); then
    row "$part" "$variant" "FAILED: timed out after ${PART_LIMIT} s (log: $log)"
  elif (( status != 0 )); then
    row "$part" "$variant" "FAILED: exit $status (log: $log)"
  fi
  return "$status"
}

skip_reason() {  # skip_reason NEEDS_GPU: why a non-float32 variant does not run here, or nothing
  if (( GPUS == 0 && $1 )); then echo "skipped: needs a GPU (float16 on a CPU is emulated)"
  elif (( GPUS == 0 && QUICK )); then echo "skipped: --quick without a GPU runs float32 only"
  fi
}

echo "GPUs: $GPUS; quick: $QUICK; work dir: $WORK"

# 1. Pretraining step: label, flags, needs a GPU.
PRETRAIN_VARIANTS=(
  "float32||0"
  "mixed_bfloat16|--mixed_precision=bfloat16|0"
  "mixed_float16 + loss scaling|--mixed_precision=float16|1"
  "float32 + XLA|--jit_compile|0"
  "mixed_bfloat16 + XLA|--mixed_precision=bfloat16 --jit_compile|0"
)
for variant in "${PRETRAIN_VARIANTS[@]}"; do
  IFS='|' read -r label flags needs_gpu <<< "$variant"
  reason=$(skip_reason "$needs_gpu")
  if [[ "$label" != float32 && -n "$reason" ]]; then row pretraining "$label" "$reason"; continue; fi
  # shellcheck disable=SC2086  # $flags is a list of flags
  run_part pretraining "$label" "$WORK/pretraining_${label//[^a-z0-9]/_}.log" \
      "$PYTHON" benchmarks/pretraining_bench.py "${PRETRAIN_FLAGS[@]}" $flags \
      --result_file="$ROWS" --result_label="$label"
done

# 2. Serving: our exports in these dtypes against the peer's.
DTYPES=float32,bfloat16
if [[ -n "$(skip_reason 0)" ]]; then
  DTYPES=float32
  row serving bfloat16 "$(skip_reason 0)"
fi
run_part serving "$DTYPES" "$WORK/serving.log" "$PYTHON" benchmarks/serving_bench.py \
    "${SERVING_FLAGS[@]}" --dtypes="$DTYPES" --work_dir="$WORK/serving" --result_file="$ROWS"

# 3. MirroredStrategy over all GPUs (two logical CPU devices without one): 4 steps, checkpoint,
# then the same command to 8 steps, which must resume at step 4.
TRAIN=$WORK/training
if (( GPUS )); then DEVICES="$GPUS GPU(s)"; DEVICE_FLAGS=(); else
  DEVICES="2 logical CPU devices"; DEVICE_FLAGS=(--num_cpu_devices=2); fi
train() {  # train STEPS LOG
  run_part "mirrored training" "$DEVICES" "$2" "$PYTHON" -m albert_tf.run_pretraining \
      --albert_config_file="$TRAIN/albert_config.json" --input_file="$TRAIN/records/*.tfrecord" \
      --output_dir="$TRAIN/model" --max_seq_length=32 --max_predictions_per_seq=4 \
      --train_batch_size=8 --num_train_steps="$1" --num_warmup_steps=1 \
      --save_checkpoints_steps=4 --steps_per_loop=4 --log_steps=4 --learning_rate=0.001 \
      --distribution_strategy=mirrored "${DEVICE_FLAGS[@]}"
}
run_part "mirrored training" "$DEVICES" "$WORK/training_prepare.log" \
    "$PYTHON" benchmarks/gpu_check_training.py prepare --work_dir="$TRAIN" &&
  train 4 "$TRAIN/first.log" && train 8 "$TRAIN/resumed.log" &&
  "$PYTHON" benchmarks/gpu_check_training.py check --work_dir="$TRAIN" --first_steps=4 \
      --total_steps=8 --gpus="$GPUS" --variant="$DEVICES" --result_file="$ROWS"

echo
echo "Summary (GPUs: $GPUS; quick: $QUICK):"
"$PYTHON" benchmarks/summary_table.py table --file="$ROWS" | tee "$WORK/table.md"
! grep -q '"status": "FAILED' "$ROWS"
