r"""XNNPACK's float32 GEMM (a TFLite FULLY_CONNECTED) against TF's (`tf.matmul`), encoder shapes.

    python benchmarks/tflite_gemm_bench.py [--rows=128] [--calls=200]

`benchmarks/tflite_profile.py` finds about 90% of TFLite float32 `encode_text` time in XNNPACK's
GEMM microkernel, so how TFLite compares with the TF SavedModel comes down to the two GEMM
libraries on the host. For each GEMM of the albert_base_v2 encoder on `--rows` token rows, this
converts a one-op model, runs it with XNNPACK on all cores and on one thread, and times both
against the same `tf.function` matmul in the same process, the three calls alternated `--calls`
times; it prints the median and best GFLOP/s of each, XNNPACK's speed-up from one thread to all
cores, the ratio of XNNPACK's and TF's medians on all cores, and the share of CPU time stolen.
"""

import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf import AlbertConfig  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import bench_utils  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer("rows", 128, "Token rows of every GEMM (batch x sequence).")
flags.DEFINE_integer("calls", 200, "Alternated calls per shape.")
flags.DEFINE_string("config_preset", "albert_base_v2", "The model shape (an AlbertConfig preset).")


def _calls(m: int, k: int, n: int) -> dict:
  """{"tflite": all cores, "tflite_1": one thread, "tf": TF}, each computing one [m, k] x [k, n]."""
  rng = np.random.default_rng(0)
  weights = tf.constant(rng.standard_normal([k, n]).astype(np.float32))
  inputs = rng.standard_normal([m, k]).astype(np.float32)
  matmul = tf.function(lambda x: tf.matmul(x, weights),
                       input_signature=[tf.TensorSpec([None, k], tf.float32)])
  converter = tf.lite.TFLiteConverter.from_concrete_functions([matmul.get_concrete_function()],
                                                              matmul)
  content = converter.convert()
  tf_inputs = tf.constant(inputs)
  return {
      "tflite": bench_utils.tflite_call(content, inputs, os.cpu_count()),
      "tflite_1": bench_utils.tflite_call(content, inputs, 1),
      "tf": lambda: matmul(tf_inputs).numpy()
  }


def main(argv):
  del argv  # Unused.
  config = AlbertConfig.from_preset(FLAGS.config_preset)
  shapes = bench_utils.gemm_shapes(config, rows=FLAGS.rows)[1:]  # the encoder's, not the square
  print(f"float32 GEMMs on {FLAGS.rows} rows, {os.cpu_count()} threads (XNNPACK also on 1), "
        f"{FLAGS.calls} alternated calls each (TF {tf.__version__})")
  print(f"{'m x k x n':<18}{'XNNPACK GFLOP/s':>18}{'1 thread':>16}{'speed-up':>10}"
        f"{'TF GFLOP/s':>16}{'XNNPACK / TF':>14}{'CPU steal':>11}")
  for m, k, n in shapes:
    calls = _calls(m, k, n)
    expected = calls["tf"]()
    scale = max(1.0, float(np.abs(expected).max()))
    for name in ("tflite", "tflite_1"):
      assert np.abs(calls[name]() - expected).max() < 1e-4 * scale, (name, m, k, n)
    seconds = {name: [] for name in calls}
    before = bench_utils.cpu_ticks()
    for _ in range(FLAGS.calls):
      for name, call in calls.items():
        start = time.perf_counter()
        call()
        seconds[name].append(time.perf_counter() - start)
    steal = bench_utils.steal_share(before, bench_utils.cpu_ticks())
    flop = 2.0 * m * k * n
    rate = {name: flop / np.median(values) / 1e9 for name, values in seconds.items()}
    best = {name: flop / min(values) / 1e9 for name, values in seconds.items()}
    figures = {name: f"{rate[name]:>7.0f} (best {best[name]:>3.0f})" for name in calls}
    print(f"{f'{m} x {k} x {n}':<18}{figures['tflite']:>18}{figures['tflite_1']:>16}"
          f"{rate['tflite'] / rate['tflite_1']:>10.2f}{figures['tf']:>16}"
          f"{rate['tflite'] / rate['tf']:>14.2f}{100 * steal:>10.0f}%")


if __name__ == "__main__":
  app.run(main)
