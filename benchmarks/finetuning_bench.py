r"""Fine-tuning throughput: our Trainer vs tf-models-official's BertClassifier or BertSpanLabeler.

Shape: albert_base_v2 (configs/albert_base_v2.json: V 30000, E 128, H 768, L 12, I 3072, encoder
dropout 0), 2 labels, batch 32, sequence 128, float32, AdamW as run_classifier builds it
(`optimization.create_optimizer(5e-5, 1000, 0, optimizer="adamw")`, a fresh one per model).
* ours: `albert_tf.training.trainer.Trainer` on one device, training `ClassificationTask`'s
  AlbertClassifier (head dropout 0.1) with the task's loss and metrics; `--jit_compile` adds a
  second row with XLA.
* peer: `official.nlp.modeling.models.BertClassifier` (head dropout 0.1) over
  `official.nlp.modeling.networks.AlbertEncoder` of the same shape and activation (the tanh GELU),
  trained by a plain tf.function step: GradientTape, `tf.clip_by_global_norm(..., 1.0)` as our
  trainer clips, `apply_gradients`.
Both train on the same synthetic batch. Each model first runs `--warmup_steps` untimed steps
(tracing, compilation); then `--rounds` rounds each time `--steps` steps of every model, in an order
that rotates each round so that the shared machine's noise hits all of them. Rates come from the
median window, per wall-clock second and per CPU-second of the process (all threads; steadier on a
shared machine); MFU is against the best tf.matmul rate over a 4096 square and the model's own GEMM
shapes, re-measured every round.

  python benchmarks/finetuning_bench.py                    # ~5 min on 2 cores
  python benchmarks/finetuning_bench.py --jit_compile      # also ours with XLA
  python benchmarks/finetuning_bench.py --profile          # forward / backward / step of both
  python benchmarks/finetuning_bench.py --quick            # tiny config, seconds: a smoke test

`--task=squad`: the SQuAD v1.1 head instead (albert_base_v2 shape, batch 8, sequence 384, float32,
the same AdamW). Ours: the Trainer over `SquadTask` with `SpanHeadV1` (AlbertSquadV1, the task's
loss: the mean of the start and end cross-entropies) for the training step, and `Trainer.predict`
(the task's eval outputs, fetched to NumPy) for prediction; peer: `BertSpanLabeler` over the same
`AlbertEncoder`, trained by the same plain tf.function step on the same loss, and its forward pass
in a tf.function (logits fetched to NumPy) for prediction. Four rows (train and predict of each) and
two ratios; MFU counts 3x the forward pass for a training sequence, 1x for a predicted one.

  python benchmarks/finetuning_bench.py --task=squad          # ~10 min on 2 cores
  python benchmarks/finetuning_bench.py --task=squad --quick  # tiny config, a smoke test
"""

import os
import statistics
import sys
import time
from typing import Callable

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
from official.nlp.modeling import models as official_models  # pylint: disable=g-import-not-at-top
from official.nlp.modeling import networks  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import tf_keras  # pylint: disable=g-import-not-at-top

from albert_tf import optimization  # pylint: disable=g-import-not-at-top
from albert_tf.config import AlbertConfig  # pylint: disable=g-import-not-at-top
from albert_tf.tasks import squad  # pylint: disable=g-import-not-at-top
from albert_tf.tasks.classification import ClassificationTask  # pylint: disable=g-import-not-at-top
from albert_tf.training import trainer as trainer_lib  # pylint: disable=g-import-not-at-top
from benchmarks import bench_utils  # pylint: disable=g-import-not-at-top

flags.DEFINE_enum("task", "classifier", ["classifier", "squad"],
                  "What to fine-tune: the classifier head or the SQuAD v1.1 span head.")
flags.DEFINE_integer("batch_size", None, "Sequences per step (default 32; --task=squad: 8).")
flags.DEFINE_integer("seq_length", None, "Sequence length (default 128; --task=squad: 384).")
flags.DEFINE_integer("num_labels", 2, "Classes of the classifier head.")
flags.DEFINE_integer("warmup_steps", 1, "Untimed steps per model before timing (tracing, XLA).")
flags.DEFINE_integer("steps", 1, "Timed steps per window (a base step: 13-40 s on 2 shared cores).")
flags.DEFINE_integer("rounds", 3, "Rounds of one window per model; the median window is reported.")
flags.DEFINE_bool("jit_compile", False, "Also time our trainer with XLA (a second row).")
flags.DEFINE_bool("profile", False, "Also time forward and forward+backward of both models.")
flags.DEFINE_bool(
    "quick", False, "Smoke test: configs/albert_tiny_test.json, batch 4, "
    "sequence 16, 5 steps per window, 2 rounds (overrides those flags).")
FLAGS = flags.FLAGS

_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
# run_classifier.py's defaults: --learning_rate, --train_step, --warmup_step.
_LEARNING_RATE, _TRAIN_STEPS, _WARMUP = 5e-5, 1000, 0
# (batch_size, seq_length) of each task: run_classifier's and run_squad_v1's.
_DEFAULT_SHAPES = {"classifier": (32, 128), "squad": (8, 384)}
_SQUAD_FIRST_UNIQUE_ID = 1000000000  # squad_lib's first unique_id

Batch = dict[str, tf.Tensor]
Runner = Callable[[int], float]  # runs n training steps, returns the loss (of one step, or mean)
Timings = dict[str, dict[str, list[float]]]  # {model: {"wall" or "cpu": seconds per step/window}}


def encoder_flops_per_sequence(config: AlbertConfig, seq: int) -> int:
  """Matmul FLOPs of the encoder's forward pass on one sequence (projection and layers)."""
  h, e, i, layers = (config.hidden_size, config.embedding_size, config.intermediate_size,
                     config.num_hidden_layers)
  per_layer = 4 * 2 * seq * h * h + 2 * 2 * seq * seq * h + 2 * 2 * seq * h * i
  return 2 * seq * e * h + layers * per_layer


def classifier_flops_per_sequence(config: AlbertConfig, seq: int, num_labels: int) -> float:
  """Matmul FLOPs of one training sequence: 3x the forward pass (forward, two backward matmuls)."""
  h = config.hidden_size
  forward = encoder_flops_per_sequence(config, seq) + 2 * h * h + 2 * h * num_labels
  return 3.0 * forward


def squad_flops_per_sequence(config: AlbertConfig, seq: int) -> tuple[float, float]:
  """(training, predict) matmul FLOPs of one sequence: 3x and 1x the forward pass.

  The forward pass is the encoder and the span head (H -> 2 at every position); the pooler, which
  both models compute but no loss reads, is left out.
  """
  forward = encoder_flops_per_sequence(config, seq) + 2 * seq * config.hidden_size * 2
  return 3.0 * forward, float(forward)


def synthetic_batch(config: AlbertConfig, batch_size: int, seq_length: int,
                    num_labels: int) -> Batch:
  """A fixed batch of sentence pairs in the classifier input layout, all real examples."""
  rng = np.random.default_rng(0)
  first = seq_length // 2
  return {
      "input_word_ids":
          tf.constant(rng.integers(5, config.vocab_size, (batch_size, seq_length)), tf.int32),
      "input_mask":
          tf.ones([batch_size, seq_length], tf.int32),
      "input_type_ids":
          tf.constant(np.repeat([[0] * first + [1] * (seq_length - first)], batch_size, 0),
                      tf.int32),
      "label_ids":
          tf.constant(rng.integers(0, num_labels, batch_size), tf.int32),
      "is_real_example":
          tf.ones([batch_size], tf.int32),
  }


def peer_inputs(batch: Batch) -> list[tf.Tensor]:
  """The batch in AlbertEncoder's input order."""
  return [batch["input_word_ids"], batch["input_mask"], batch["input_type_ids"]]


def build_optimizer() -> tf_keras.optimizers.legacy.Optimizer:
  """run_classifier's AdamW (a fresh one for each model)."""
  return optimization.create_optimizer(_LEARNING_RATE, _TRAIN_STEPS, _WARMUP, optimizer="adamw")


def build_ours(config: AlbertConfig, batch: Batch, num_labels: int,
               jit_compile: bool) -> tuple[Runner, trainer_lib.Trainer]:
  """Our Trainer on one device over ClassificationTask; returns a runner and the trainer."""
  strategy = tf.distribute.OneDeviceStrategy("CPU:0")
  # Only batch_statistics, compute_losses and build_metrics are used: no record files.
  labels = [str(label) for label in range(num_labels)]
  task = ClassificationTask(config, task_name="bench", label_list=labels, is_regression=False,
                            record_files={}, num_examples={},
                            max_seq_length=int(batch["input_word_ids"].shape[1]))
  with strategy.scope():
    model = task.build_model()
    optimizer = build_optimizer()
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer,
                                global_batch_size=int(batch["label_ids"].shape[0]),
                                jit_compile=jit_compile)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  return (lambda steps: trainer.train(iterator, steps)["loss"]), trainer


def peer_encoder(
    config: AlbertConfig) -> tuple[tf_keras.layers.Layer, tf_keras.initializers.Initializer]:
  """tf-models-official's AlbertEncoder of the config's shape, and the heads' initializer."""
  initializer = tf_keras.initializers.TruncatedNormal(stddev=config.initializer_range)
  encoder = networks.AlbertEncoder(
      vocab_size=config.vocab_size, embedding_width=config.embedding_size,
      hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
      num_attention_heads=config.num_attention_heads,
      max_sequence_length=config.max_position_embeddings, type_vocab_size=config.type_vocab_size,
      intermediate_size=config.intermediate_size, dropout_rate=config.hidden_dropout_prob,
      attention_dropout_rate=config.attention_probs_dropout_prob, initializer=initializer)
  return encoder, initializer


def build_peer(config: AlbertConfig, batch: Batch,
               num_labels: int) -> tuple[Runner, tf_keras.Model]:
  """tf-models-official's BertClassifier over AlbertEncoder in a plain tf.function step."""
  encoder, initializer = peer_encoder(config)
  classifier = official_models.BertClassifier(encoder, num_classes=num_labels,
                                              initializer=initializer, dropout_rate=0.1)
  optimizer = build_optimizer()
  inputs = peer_inputs(batch)
  variables = classifier.trainable_variables

  @tf.function
  def step(inputs, labels):
    with tf.GradientTape() as tape:
      logits = classifier(inputs, training=True)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    gradients, _ = tf.clip_by_global_norm(tape.gradient(loss, variables), 1.0)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss

  def run(steps: int) -> float:
    for _ in range(steps):
      loss = step(inputs, batch["label_ids"])
    return float(loss)

  return run, classifier


def squad_batches(config: AlbertConfig, batch_size: int, seq_length: int) -> tuple[Batch, Batch]:
  """A fixed training batch (gold start/end in the second segment) and a predict batch."""
  features = synthetic_batch(config, batch_size, seq_length, num_labels=2)
  del features["label_ids"]
  rng = np.random.default_rng(1)
  starts = rng.integers(seq_length // 2, seq_length, batch_size)
  train = {
      **features, "start_positions": tf.constant(starts, tf.int32),
      "end_positions": tf.constant(np.minimum(starts + 3, seq_length - 1), tf.int32)
  }
  unique_ids = tf.range(_SQUAD_FIRST_UNIQUE_ID, _SQUAD_FIRST_UNIQUE_ID + batch_size)
  return train, {**features, "unique_ids": unique_ids}


def build_ours_squad(config: AlbertConfig, train: Batch, predict: Batch) -> dict[str, Runner]:
  """Our Trainer over SquadTask (SpanHeadV1): a training runner and a predict runner."""
  strategy = tf.distribute.OneDeviceStrategy("CPU:0")
  # Only the model, losses, metrics and eval outputs are used: no record files.
  task = squad.SquadTask(config, squad.SpanHeadV1(), record_files={},
                         max_seq_length=int(train["input_word_ids"].shape[1]))
  with strategy.scope():
    model = task.build_model()
    optimizer = build_optimizer()
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer,
                                global_batch_size=int(train["input_word_ids"].shape[0]))
  train_iterator = iter(tf.data.Dataset.from_tensors(train).repeat())
  predict_iterator = iter(tf.data.Dataset.from_tensors(predict).repeat())

  def run_predict(steps: int) -> float:
    return float(np.mean(trainer.predict(predict_iterator, steps)["start_logits"]))

  return {
      "ours_train": lambda steps: trainer.train(train_iterator, steps)["loss"],
      "ours_predict": run_predict
  }


def build_peer_squad(config: AlbertConfig, train: Batch, predict: Batch) -> dict[str, Runner]:
  """BertSpanLabeler over AlbertEncoder: a plain tf.function training step and forward pass."""
  encoder, initializer = peer_encoder(config)
  labeler = official_models.BertSpanLabeler(encoder, initializer=initializer)
  optimizer = build_optimizer()
  variables = labeler.trainable_variables

  @tf.function
  def step(inputs, start_positions, end_positions):
    with tf.GradientTape() as tape:
      start_logits, end_logits = labeler(inputs, training=True)
      loss = (tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(start_positions, start_logits)) +
              tf.reduce_mean(
                  tf.nn.sparse_softmax_cross_entropy_with_logits(end_positions, end_logits))) / 2
    gradients, _ = tf.clip_by_global_norm(tape.gradient(loss, variables), 1.0)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss

  forward = tf.function(lambda inputs: labeler(inputs, training=False))

  def run_train(steps: int) -> float:
    for _ in range(steps):
      loss = step(peer_inputs(train), train["start_positions"], train["end_positions"])
    return float(loss)

  def run_predict(steps: int) -> float:
    for _ in range(steps):
      start_logits, _ = [logits.numpy() for logits in forward(peer_inputs(predict))]
    return float(np.mean(start_logits))

  return {"peer_train": run_train, "peer_predict": run_predict}


def timed_windows(runners: dict[str, Runner], rounds: int, steps: int,
                  shapes: list[tuple[int, int, int]]) -> tuple[Timings, list]:
  """Wall and process-CPU seconds per step of each runner in each round, and each round's peak.

  The runners' order rotates every round, so no model always runs right after the peak
  measurement or always last.
  """
  names = list(runners)
  timings = {name: {"wall": [], "cpu": []} for name in names}
  peaks = []
  for round_index in range(rounds):
    peaks.append(bench_utils.matmul_peak(shapes))
    shift = round_index % len(names)
    for name in names[shift:] + names[:shift]:
      wall, cpu = time.perf_counter(), time.process_time()
      runners[name](steps)
      timings[name]["wall"].append((time.perf_counter() - wall) / steps)
      timings[name]["cpu"].append((time.process_time() - cpu) / steps)
  return timings, peaks


def profile(forward: Callable[[Batch], tf.Tensor], variables: list[tf.Variable], batch: Batch,
            steps: int) -> dict[str, float]:
  """Seconds of a forward and of a forward+backward pass (mean over `steps`, after one call)."""

  def forward_backward(features):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(forward(features))
    return [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]

  results = {}
  for name, fn in (("forward", tf.function(forward)), ("forward+backward",
                                                       tf.function(forward_backward))):
    tf.nest.map_structure(lambda t: t.numpy(), fn(batch))
    start = time.perf_counter()
    for _ in range(steps):
      tf.nest.map_structure(lambda t: t.numpy(), fn(batch))
    results[name] = (time.perf_counter() - start) / steps
  return results


def print_profile(trainer: trainer_lib.Trainer, peer: tf_keras.Model, batch: Batch,
                  timings: Timings) -> None:
  """Prints the forward, forward+backward and full-step seconds of both models."""
  pieces = {
      "ours":
          profile(lambda f: trainer.model(f, training=True)["logits"], trainer.trainable_variables,
                  batch, FLAGS.steps),
      "peer":
          profile(lambda f: peer(peer_inputs(f), training=True), peer.trainable_variables, batch,
                  FLAGS.steps),
  }
  for name, times in pieces.items():
    step = statistics.median(timings[name]["wall"])
    print(f"profile {name}: forward {times['forward']:.3f} s, forward+backward "
          f"{times['forward+backward']:.3f} s, full step {step:.3f} s (median window)")


def rates(timing: dict[str, list[float]]) -> dict[str, float]:
  """{"wall" or "cpu": sequences per second} of the median window."""
  return {clock: FLAGS.batch_size / statistics.median(seconds) for clock, seconds in timing.items()}


def row_line(label: str, timing: dict[str, list[float]], flops: float, peak: float,
             note: str = "") -> str:
  """One model's line: seq/s, MFU, seq per CPU-second, every window's rate and `note`."""
  rate = rates(timing)
  windows = ", ".join(f"{FLAGS.batch_size / s:.2f}" for s in timing["wall"])
  return (f"{label}: {rate['wall']:.2f} seq/s, MFU {rate['wall'] * flops / peak:.1%}, "
          f"{rate['cpu']:.3f} seq per CPU-second (windows seq/s: {windows}{note})")


def ratio_line(name: str, ours: dict[str, list[float]], peer: dict[str, list[float]]) -> str:
  ours_rate, peer_rate = rates(ours), rates(peer)
  return (f"ratio {name}: {ours_rate['wall'] / peer_rate['wall']:.2f}x wall-clock, "
          f"{ours_rate['cpu'] / peer_rate['cpu']:.2f}x per CPU-second")


def report(shape_name: str, config: AlbertConfig, timings: Timings, peaks: list,
           first_losses: dict[str, float]) -> None:
  """Prints the shape, the peak, each model's sequences/s and MFU, and the ratios to the peer.

  Sequences per CPU-second (the process's CPU time, all threads) are printed too: on a shared
  machine they vary less than wall-clock rates, which depend on the CPU share the process got.
  """
  flops = classifier_flops_per_sequence(config, FLAGS.seq_length, FLAGS.num_labels)
  peak, (m, k, n) = max(peaks)
  print(f"shape: {shape_name}, batch {FLAGS.batch_size}, sequence {FLAGS.seq_length}, "
        f"{FLAGS.num_labels} labels, AdamW, float32; {FLAGS.warmup_steps} warm-up step(s), "
        f"{FLAGS.rounds} rounds x {FLAGS.steps} step(s), median window")
  print(f"matmul float32 peak: {peak / 1e9:.1f} GFLOP/s ([{m}, {k}]x[{k}, {n}]); "
        f"{flops / 1e9:.4g} GFLOP per training sequence")
  labels = {
      "ours": "ours (Trainer + ClassificationTask, jit_compile=False)",
      "ours_xla": "ours (Trainer + ClassificationTask, jit_compile=True)",
      "peer": "peer (tf-models-official BertClassifier + AlbertEncoder)"
  }
  for name, timing in timings.items():
    print(row_line(labels[name], timing, flops, peak, f"; warm-up loss {first_losses[name]:.4f}"))
  for name in ("ours", "ours_xla"):
    if name not in timings:
      continue
    suffix = " (jit_compile)" if name == "ours_xla" else ""
    print(ratio_line(f"ours{suffix}/peer", timings[name], timings["peer"]))


def report_squad(shape_name: str, config: AlbertConfig, timings: Timings, peaks: list,
                 first_values: dict[str, float]) -> None:
  """Prints the shape, the peak, train and predict rows of both models, and the two ratios."""
  train_flops, predict_flops = squad_flops_per_sequence(config, FLAGS.seq_length)
  peak, (m, k, n) = max(peaks)
  print(f"shape: {shape_name}, batch {FLAGS.batch_size}, sequence {FLAGS.seq_length}, SQuAD v1.1 "
        f"span head, AdamW, float32; {FLAGS.warmup_steps} warm-up step(s), {FLAGS.rounds} rounds "
        f"x {FLAGS.steps} step(s), median window")
  print(f"matmul float32 peak: {peak / 1e9:.1f} GFLOP/s ([{m}, {k}]x[{k}, {n}]); "
        f"{train_flops / 1e9:.4g} GFLOP per training sequence, {predict_flops / 1e9:.4g} GFLOP "
        "per predicted sequence")
  rows = (
      ("ours_train", "ours train (Trainer + SquadTask v1)", train_flops),
      ("peer_train", "peer train (tf-models-official BertSpanLabeler + AlbertEncoder)",
       train_flops),
      ("ours_predict", "ours predict (Trainer.predict + SquadTask v1)", predict_flops),
      ("peer_predict", "peer predict (BertSpanLabeler + AlbertEncoder, tf.function)",
       predict_flops),
  )
  for name, label, flops in rows:
    note = f"; warm-up loss {first_values[name]:.4f}" if name.endswith("_train") else ""
    print(row_line(label, timings[name], flops, peak, note))
  for kind in ("train", "predict"):
    print(ratio_line(f"ours/peer {kind}", timings[f"ours_{kind}"], timings[f"peer_{kind}"]))


def bench_config() -> tuple[AlbertConfig, str]:
  """The config and its name; fills in the task's default batch and sequence (or --quick's)."""
  default_batch, default_seq = _DEFAULT_SHAPES[FLAGS.task]
  FLAGS.batch_size = FLAGS.batch_size or default_batch
  FLAGS.seq_length = FLAGS.seq_length or default_seq
  if FLAGS.quick:
    FLAGS.batch_size, FLAGS.seq_length, FLAGS.steps, FLAGS.rounds = 4, 16, 5, 2
    return AlbertConfig.from_json_file(os.path.join(_CONFIGS,
                                                    "albert_tiny_test.json")), "albert_tiny_test"
  return AlbertConfig.from_json_file(os.path.join(_CONFIGS,
                                                  "albert_base_v2.json")), "albert_base_v2"


def peak_shapes(config: AlbertConfig) -> list[tuple[int, int, int]]:
  # --quick: a 512 square, since a 4096 one alone takes seconds on 2 cores.
  return bench_utils.gemm_shapes(config, FLAGS.batch_size * FLAGS.seq_length,
                                 512 if FLAGS.quick else 4096)


def run_squad(config: AlbertConfig, shape_name: str) -> None:
  """--task=squad: train and predict windows of both models, then the report."""
  train, predict = squad_batches(config, FLAGS.batch_size, FLAGS.seq_length)
  runners = {**build_ours_squad(config, train, predict), **build_peer_squad(config, train, predict)}
  first_values = {name: run(FLAGS.warmup_steps) for name, run in runners.items()}
  timings, peaks = timed_windows(runners, FLAGS.rounds, FLAGS.steps, peak_shapes(config))
  report_squad(shape_name, config, timings, peaks, first_values)


def main(argv):
  del argv  # Unused.
  config, shape_name = bench_config()
  if FLAGS.task == "squad":
    run_squad(config, shape_name)
    return
  batch = synthetic_batch(config, FLAGS.batch_size, FLAGS.seq_length, FLAGS.num_labels)
  ours, trainer = build_ours(config, batch, FLAGS.num_labels, jit_compile=False)
  runners = {"ours": ours}
  if FLAGS.jit_compile:
    runners["ours_xla"], _ = build_ours(config, batch, FLAGS.num_labels, jit_compile=True)
  runners["peer"], peer_model = build_peer(config, batch, FLAGS.num_labels)
  first_losses = {name: run(FLAGS.warmup_steps) for name, run in runners.items()}
  timings, peaks = timed_windows(runners, FLAGS.rounds, FLAGS.steps, peak_shapes(config))
  report(shape_name, config, timings, peaks, first_losses)
  if FLAGS.profile:
    print_profile(trainer, peer_model, batch, timings)


if __name__ == "__main__":
  app.run(main)
