"""What every benchmark in this folder measures the same way: the matmul peak its MFU is against.

A square GEMM alone is not a peak on every CPU: on a 2-core AVX2 EPYC the 4096 square ran at
90 GFLOP/s and the [2048, 3072]x[3072, 768] GEMM at 173, which put MFU above 100%. So the peak is
the best rate over a square and the encoder's own GEMM shapes.
"""

import time
from typing import Callable

from ai_edge_litert import interpreter
import numpy as np
import tensorflow as tf

from albert_tf.config import AlbertConfig

Shape = tuple[int, int, int]


def gemm_shapes(config: AlbertConfig, rows: int, square: int = 4096) -> list[Shape]:
  """(m, k, n) of a `square` square and of the encoder's GEMMs on `rows` = batch x sequence rows."""
  h, i = config.hidden_size, config.intermediate_size
  return [(square, square, square), (rows, h, h), (rows, h, i), (rows, i, h)]


def matmul_peak(shapes: list[Shape], dtype: tf.DType = tf.float32,
                repeats: int = 3) -> tuple[float, Shape]:
  """The best FLOP/s of tf.matmul in `dtype` over `shapes` (best of `repeats` each), and where."""
  best_rate, best_shape = 0.0, shapes[0]
  matmul = tf.function(tf.matmul)
  for m, k, n in shapes:
    a = tf.cast(tf.random.normal([m, k]), dtype)
    b = tf.cast(tf.random.normal([k, n]), dtype)
    matmul(a, b).numpy()
    seconds = float("inf")
    for _ in range(repeats):
      start = time.perf_counter()
      matmul(a, b).numpy()
      seconds = min(seconds, time.perf_counter() - start)
    if 2.0 * m * k * n / seconds > best_rate:
      best_rate, best_shape = 2.0 * m * k * n / seconds, (m, k, n)
  return best_rate, best_shape


def cpu_ticks() -> tuple[int, int]:
  """(steal, total) jiffies of all CPUs so far, from /proc/stat ((0, 0) where there is none).

  Steal is time the hypervisor gave this VM's vCPUs to another guest: on a shared host it slows a
  timed run without showing in the load average, so benchmarks print its share of their timing.
  """
  try:
    with open("/proc/stat", encoding="ascii") as f:
      fields = [int(value) for value in f.readline().split()[1:9]]
  except OSError:
    return 0, 0
  return fields[7], sum(fields)


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
  """The share of CPU time stolen between two `cpu_ticks()` readings (0 when none elapsed)."""
  total = after[1] - before[1]
  return (after[0] - before[0]) / total if total > 0 else 0.0


def tflite_call(content: bytes, inputs: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
  """A call of a one-input, one-output TFLite model on `inputs` with XNNPACK on `threads`."""
  model = interpreter.Interpreter(model_content=content, num_threads=threads)
  input_index = model.get_input_details()[0]["index"]
  model.resize_tensor_input(input_index, inputs.shape)
  model.allocate_tensors()
  output_index = model.get_output_details()[0]["index"]

  def call():
    model.set_tensor(input_index, inputs)
    model.invoke()
    return model.get_tensor(output_index)

  return call
