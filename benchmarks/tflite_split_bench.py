r"""TFLite float32 encoder as the export writes it, against the plain unrolled conversion.

    python benchmarks/tflite_split_bench.py [--seq_length=128] [--calls=30]

The TFLite export traces the encoder in `tflite_exporter.TRACE_SCOPES`:
`transformer_block.split_feed_forward` (each feed-forward block in slices of at most H of its I
units: XNNPACK's GEMM reads the whole weight matrix for every 7 token rows, and [H, H] slices stay
in a core's L2 cache better than [H, I] and [I, H] matrices) and `shared_encoder.loop_layers` (the
L layers as one WHILE loop, so that XNNPACK packs the shared weights once instead of once per
layer application). This converts the same
random-weight encoder (ids in, sequence_output out) three ways: "whole" (neither, the peer),
"split" (the first only) and "export" (both), checks that they give the same output, and times
B=1 calls of `--seq_length` tokens with XNNPACK on all cores, the models alternated `--calls`
times in one process. It prints the median wall and CPU milliseconds per call of each, how much
the process's resident memory grew from loading each model to the end of its first call, the
ratios to "whole", and the share of CPU time stolen.
"""

import os
import sys
import time
from typing import Callable, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np
import psutil
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert_tf import AlbertConfig  # pylint: disable=g-import-not-at-top,wrong-import-position
from albert_tf.export import tflite_exporter  # pylint: disable=g-import-not-at-top,wrong-import-position
from albert_tf.layers import transformer_block  # pylint: disable=g-import-not-at-top,wrong-import-position
from albert_tf.models import albert_model  # pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import bench_utils  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_integer("seq_length", 128, "Tokens per call (batch 1).")
flags.DEFINE_integer("calls", 30, "Alternated calls per model.")
flags.DEFINE_string("config_preset", "albert_base_v2", "The model shape (an AlbertConfig preset).")

# name: the scopes it is traced in. "export" is the form `albert-export --tflite` writes.
_FORMS = {
    "whole": (),
    "split": (transformer_block.split_feed_forward,),
    "export": tflite_exporter.TRACE_SCOPES,
}


def _tflite_encoder(model: albert_model.AlbertModel, scopes: Sequence[tflite_exporter.Scope],
                    ids: np.ndarray) -> Tuple[Callable[[], np.ndarray], float]:
  """A call of the encoder's ids -> sequence_output as TFLite on all cores, on `ids` [1, T].

  Also returns the MiB by which the process's resident memory grew from loading the model to the
  end of its first call (the tensors and XNNPACK's packed weights).
  """

  def encode(word_ids):
    inputs = {
        "input_word_ids": word_ids,
        "input_mask": tf.ones_like(word_ids),
        "input_type_ids": tf.zeros_like(word_ids)
    }
    return model(inputs, training=False)["sequence_output"]

  function = tf.function(encode, input_signature=[tf.TensorSpec([None, None], tf.int32)])
  with tflite_exporter.traced_for_tflite(scopes):
    concrete = function.get_concrete_function()
  converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
  content = converter.convert()
  before = psutil.Process().memory_info().rss
  call = bench_utils.tflite_call(content, ids, os.cpu_count())
  call()
  return call, (psutil.Process().memory_info().rss - before) / 2**20


def main(argv):
  del argv  # Unused.
  config = AlbertConfig.from_preset(FLAGS.config_preset)
  model = albert_model.AlbertModel(config)
  ids = np.random.default_rng(0).integers(5, config.vocab_size, [1, FLAGS.seq_length], np.int32)
  calls, memory = {}, {}
  for name, scopes in _FORMS.items():
    calls[name], memory[name] = _tflite_encoder(model, scopes, ids)
  outputs = {name: call() for name, call in calls.items()}
  difference = max(float(np.abs(output - outputs["whole"]).max()) for output in outputs.values())
  assert difference < 1e-4, f"the models differ from the whole one by up to {difference}"
  slices = transformer_block.feed_forward_slices(config.intermediate_size, config.hidden_size)
  print(f"{FLAGS.config_preset} TFLite float32, B=1 T={FLAGS.seq_length}, {os.cpu_count()} "
        f"threads, feed-forward slices {slices}, max |output difference| {difference:.1e}")
  wall = {name: [] for name in calls}
  cpu = {name: [] for name in calls}
  before = bench_utils.cpu_ticks()
  for _ in range(FLAGS.calls):
    for name, call in calls.items():
      start, start_cpu = time.perf_counter(), time.process_time()
      call()
      wall[name].append(1000 * (time.perf_counter() - start))
      cpu[name].append(1000 * (time.process_time() - start_cpu))
  steal = bench_utils.steal_share(before, bench_utils.cpu_ticks())
  print(f"{'model':<8}{'wall ms':>10}{'CPU ms':>10}{'RSS growth MiB':>16}")
  for name in calls:
    print(f"{name:<8}{np.median(wall[name]):>10.3f}{np.median(cpu[name]):>10.3f}"
          f"{memory[name]:>16.0f}")
  for name in ("split", "export"):
    print(f"{name} / whole: wall {np.median(wall[name]) / np.median(wall['whole']):.3f}, CPU "
          f"{np.median(cpu[name]) / np.median(cpu['whole']):.3f}")
  print(f"CPU steal {100 * steal:.0f}%")


if __name__ == "__main__":
  app.run(main)
