"""The serving benchmarks' helpers: CPU steal accounting, XNNPACK-vs-TF GEMMs, the split FFN."""

import os
import re
import subprocess
import sys

from benchmarks import bench_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_steal_share_is_the_stolen_part_of_the_elapsed_ticks():
  assert bench_utils.steal_share((10, 1000), (35, 1500)) == 0.05
  assert bench_utils.steal_share((10, 1000), (10, 1000)) == 0.0  # nothing elapsed
  steal, total = bench_utils.cpu_ticks()
  assert 0 <= steal <= total


def _run_on_tiny_shape(script, *flags):
  """stdout of a benchmark run on the albert_tiny_test shape (H 32, I 37); it must succeed."""
  result = subprocess.run(
      [sys.executable, f"benchmarks/{script}", "--config_preset=albert_tiny_test", *flags],
      cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def test_tflite_gemm_bench_times_every_encoder_gemm_shape():
  # One row per GEMM shape of the encoder on --rows rows: XNNPACK on all cores and on one thread,
  # its speed-up, TF, XNNPACK / TF and the CPU steal.
  result = _run_on_tiny_shape("tflite_gemm_bench.py", "--rows=8", "--calls=3")
  rate = r"\s+(\d+) \(best\s+\d+\)"
  rows = re.findall(rf"^(\d+) x (\d+) x (\d+){rate}{rate}\s+([0-9.]+){rate}\s+([0-9.]+)\s+(\d+)%$",
                    result.stdout, re.MULTILINE)
  assert [row[:3] for row in rows] == [("8", "32", "32"), ("8", "32", "37"), ("8", "37", "32")]
  for row in rows:
    speed_up, ratio, steal = float(row[5]), float(row[7]), int(row[8])
    assert speed_up > 0 and ratio > 0 and 0 <= steal <= 100


def test_tflite_split_bench_times_the_export_form_against_the_unrolled_encoder():
  # I 37 over H 32 gives two slices; the three models must agree before timing.
  result = _run_on_tiny_shape("tflite_split_bench.py", "--seq_length=8", "--calls=3")
  assert "feed-forward slices [19, 18]" in result.stdout
  rows = dict(
      re.findall(r"^(whole|split|export)\s+([0-9.]+)\s+[0-9.]+\s+-?\d+$", result.stdout,
                 re.MULTILINE))
  assert set(rows) == {"whole", "split", "export"} and all(float(ms) > 0 for ms in rows.values())
  for name in ("split", "export"):
    assert re.search(f"^{name} / whole: wall [0-9.]+, CPU [0-9.]+$", result.stdout, re.MULTILINE)
  assert re.search(r"^CPU steal \d+%$", result.stdout, re.MULTILINE)
