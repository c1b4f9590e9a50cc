"""The serving benchmarks' helpers: CPU steal accounting and the XNNPACK-vs-TF GEMM comparison."""

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


def test_tflite_gemm_bench_times_every_encoder_gemm_shape():
  # albert_tiny_test: H 32, I 37; one row per GEMM shape of the encoder on --rows rows.
  result = subprocess.run([
      sys.executable, "benchmarks/tflite_gemm_bench.py", "--config_preset=albert_tiny_test",
      "--rows=8", "--calls=3"
  ], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = re.findall(r"^(\d+) x (\d+) x (\d+) .*?([0-9.]+)\s+(\d+)%$", result.stdout, re.MULTILINE)
  assert [row[:3] for row in rows] == [("8", "32", "32"), ("8", "32", "37"), ("8", "37", "32")]
  assert all(float(row[3]) > 0 and 0 <= int(row[4]) <= 100 for row in rows)
