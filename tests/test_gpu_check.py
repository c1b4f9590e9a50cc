"""benchmarks/gpu_check.sh runs to the end without a GPU (--quick) and prints its summary table."""

import json
import os
import re
import subprocess
import sys

import pytest

from benchmarks import summary_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDS_GPU = "skipped: needs a GPU (float16 on a CPU is emulated)"
QUICK_CPU = "skipped: --quick without a GPU runs float32 only"
# (part, variant, status) of every row, in the script's order.
EXPECTED_ROWS = [
    ("pretraining", "float32", "ok"),
    ("pretraining", "mixed_bfloat16", QUICK_CPU),
    ("pretraining", "mixed_float16 + loss scaling", NEEDS_GPU),
    ("pretraining", "float32 + XLA", QUICK_CPU),
    ("pretraining", "mixed_bfloat16 + XLA", QUICK_CPU),
    ("serving", "bfloat16", QUICK_CPU),
    ("serving", "float32", "ok"),
    ("mirrored training", "2 logical CPU devices", "ok"),
]


@pytest.mark.slow
def test_quick_cpu_check_runs_every_part_and_prints_the_table(tmp_path):
  """About 2 minutes on 2 cores: six TensorFlow processes (benchmarks, exports, two trainings)."""
  env = {
      **os.environ, "PYTHON": sys.executable,
      "GPU_CHECK_GPUS": "0",
      "CUDA_VISIBLE_DEVICES": "",
      "TF_CPP_MIN_LOG_LEVEL": "2"
  }
  result = subprocess.run(
      ["bash", os.path.join(ROOT, "benchmarks", "gpu_check.sh"), "--quick",
       str(tmp_path)], capture_output=True, text=True, env=env, check=False)
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]

  rows = summary_table.read_rows(str(tmp_path / "rows.jsonl"))
  assert [(row["part"], row["variant"], row["status"]) for row in rows] == EXPECTED_ROWS
  pretraining, serving, training = (rows[i] for i in (0, 6, 7))
  assert re.fullmatch(r"[\d.]+ seq/s, MFU [\d.]+%", pretraining["ours"])
  assert re.fullmatch(r"[\d.]+ seq/s \(float32\)", pretraining["peer"])
  assert re.fullmatch(r"[\d.]+x", pretraining["ratio"])
  assert re.fullmatch(r"[\d.]+ ms b=1, [\d.]+ seq/s b=4", serving["ours"])
  assert re.fullmatch(r"latency [\d.]+x, throughput [\d.]+x", serving["ratio"])
  assert training["ours"] == "steps 0-4, then resumed to 8"

  table = summary_table.format_table(rows)
  assert result.stdout.endswith(table + "\n")
  assert (tmp_path / "table.md").read_text(encoding="utf-8") == table + "\n"
  assert "Summary (GPUs: 0; quick: 1):" in result.stdout


def test_format_table_aligns_columns_and_marks_missing_cells():
  table = summary_table.format_table([{
      "part": "serving",
      "variant": "bfloat16",
      "status": "skipped: needs a GPU"
  }, {
      "part": "pretraining",
      "variant": "float32",
      "ours": "1.5 seq/s",
      "peer": "1.0 seq/s",
      "ratio": "1.50x",
      "status": "ok"
  }])
  assert table.splitlines() == [
      "| part        | variant  | ours      | peer      | ratio | status               |",
      "| ----------- | -------- | --------- | --------- | ----- | -------------------- |",
      "| serving     | bfloat16 | -         | -         | -     | skipped: needs a GPU |",
      "| pretraining | float32  | 1.5 seq/s | 1.0 seq/s | 1.50x | ok                   |",
  ]


def test_failed_training_check_is_a_failed_row(tmp_path):
  work = tmp_path / "training"
  work.mkdir()
  (work / "first.log").write_text(
      "Distribution strategy: mirrored (GPUs: 1, TPU: None)\n"
      "step 4/4: loss=1.0\n", encoding="utf-8")
  (work / "resumed.log").write_text("step 8/8: loss=1.0\n", encoding="utf-8")
  rows_file = tmp_path / "rows.jsonl"
  result = subprocess.run([
      sys.executable,
      os.path.join(ROOT, "benchmarks",
                   "gpu_check_training.py"), "check", f"--work_dir={work}", "--first_steps=4",
      "--total_steps=8", "--gpus=1", "--variant=1 GPU", f"--result_file={rows_file}"
  ], capture_output=True, text=True, check=False)
  assert result.returncode == 1
  problem = r"resumed.log lacks /Resumed from \S*model\.ckpt-4 \(step 4\)/"
  assert result.stderr.strip() == f"gpu_check_training: {problem}"
  assert json.loads(rows_file.read_text(encoding="utf-8")) == {
      "part": "mirrored training",
      "variant": "1 GPU",
      "ours": "steps 0-4, then resumed to 8",
      "status": f"FAILED: {problem}"
  }
