r"""Pretraining step throughput: albert-tf's train step vs tf-models-official's, same run, same CPU.

Shape: albert_base_v2 (V 30000, E 128, H 768, L 12, I 3072, dropout 0), sequence 128, batch 16,
20 masked positions, LAMB. Ours: AlbertPretrainer + albert_tf.optimization LAMB through the
trainer's step (one device, --jit_compile as given). Peer: official.nlp.modeling AlbertEncoder +
MaskedLM + a 2-way SOP Dense with official LAMB in a plain tf.function (float32 always). Prints
sequences/s for both, the ratio, and MFU against a tf.matmul peak measured in this run (the float32
peak, or the bfloat16 peak for --mixed_precision=bfloat16): the best rate over a 4096x4096 square
and the model's own GEMM shapes ([B*T, H]x[H, H], [B*T, H]x[H, I], [B*T, I]x[I, H]); see
bench_utils for why a square alone is not a peak.

  python benchmarks/pretraining_bench.py                               # float32
  python benchmarks/pretraining_bench.py --mixed_precision=bfloat16 --jit_compile
  python benchmarks/pretraining_bench.py --profile                      # where our step's time goes
  python benchmarks/pretraining_bench.py --mixed_precision=float16      # dynamic loss scaling (GPU)

On a machine with a GPU, ours runs on GPU:0 and the peer where TensorFlow places it (GPU:0).
--result_file appends the figures as one row of benchmarks/gpu_check.sh's summary table.

--mode=input_pipeline: can dynamic masking keep the trainer fed? Builds records of the fixture
English sentences (shuffled into --documents documents, a fixture SentencePiece model) with
create_pretraining_data twice, --dynamic_masking (one copy) and static (--dupe_factor), prints
their disk ratio, then the masked batches/s of the dynamic input pipeline (the same batch shape)
next to the batches/s our base-size train step consumes, measured in the same run:

  python benchmarks/pretraining_bench.py --mode=input_pipeline
"""

import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
from official.modeling.optimization import lamb  # pylint: disable=g-import-not-at-top
from official.nlp.modeling import layers as official_layers  # pylint: disable=g-import-not-at-top
from official.nlp.modeling import networks  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import tf_keras  # pylint: disable=g-import-not-at-top

from albert_tf import optimization  # pylint: disable=g-import-not-at-top
from albert_tf import precision  # pylint: disable=g-import-not-at-top
from albert_tf.config import AlbertConfig  # pylint: disable=g-import-not-at-top
from albert_tf.tasks.pretraining import PretrainingTask  # pylint: disable=g-import-not-at-top
from albert_tf.training import dynamic_masking  # pylint: disable=g-import-not-at-top
from albert_tf.training import input_pipeline  # pylint: disable=g-import-not-at-top
from albert_tf.training import trainer as trainer_lib  # pylint: disable=g-import-not-at-top
from benchmarks import bench_utils  # pylint: disable=g-import-not-at-top
from benchmarks import summary_table  # pylint: disable=g-import-not-at-top

flags.DEFINE_integer("batch_size", 16, "Sequences per step.")
flags.DEFINE_integer("seq_length", 128, "Sequence length.")
flags.DEFINE_integer("max_predictions", 20, "Masked positions per sequence.")
flags.DEFINE_integer("steps", 3, "Timed steps per round.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds (ours, peer); medians are reported.")
flags.DEFINE_enum(
    "mixed_precision", "none", ["none", "bfloat16", "float16"], "Our compute dtype "
    "(float16 with dynamic loss scaling; the peer stays float32).")
flags.DEFINE_string("config_preset", "albert_base_v2", "The model shape (an AlbertConfig preset).")
flags.DEFINE_integer("peak_square", 4096, "Side of the square GEMM among the matmul peak's shapes.")
flags.DEFINE_string(
    "result_file", None, "Append the figures as a JSON row (part, variant, ours, "
    "peer, ratio, status) to this file (benchmarks/gpu_check.sh's table).")
flags.DEFINE_string("result_label", None, "The row's variant (default: the precision and XLA).")
flags.DEFINE_bool("jit_compile", False, "Compile our train step with XLA.")
flags.DEFINE_bool("profile", False, "Also time our forward, forward+backward and full step.")
flags.DEFINE_enum(
    "mode", "train_step", ["train_step", "input_pipeline"], "What to measure: "
    "our train step vs the peer's, or the dynamic-masking input pipeline vs our "
    "train step.")
flags.DEFINE_integer("documents", 2000, "input_pipeline: documents of the generated corpus.")
flags.DEFINE_integer("dupe_factor", 40, "input_pipeline: passes of the static records.")
flags.DEFINE_integer("pipeline_batches", 200, "input_pipeline: batches timed.")
FLAGS = flags.FLAGS

_EXCLUDE = list(optimization.EXCLUDE_FROM_WEIGHT_DECAY)


def training_flops_per_sequence(config: AlbertConfig, seq: int, predictions: int) -> float:
  """Matmul FLOPs of one training sequence: 3x the forward pass (forward, two backward matmuls)."""
  h, e, i, v, layers = (config.hidden_size, config.embedding_size, config.intermediate_size,
                        config.vocab_size, config.num_hidden_layers)
  per_layer = 4 * 2 * seq * h * h + 2 * 2 * seq * seq * h + 2 * 2 * seq * h * i
  forward = (2 * seq * e * h + layers * per_layer + 2 * h * h + predictions *
             (2 * h * e + 2 * e * v) + 2 * h * 2)
  return 3.0 * forward


def random_batch(config: AlbertConfig) -> dict[str, tf.Tensor]:
  rng = np.random.default_rng(0)
  b, t, p = FLAGS.batch_size, FLAGS.seq_length, FLAGS.max_predictions
  positions = np.sort(np.stack([rng.choice(np.arange(1, t), p, replace=False) for _ in range(b)]))
  return {
      "input_word_ids":
          tf.constant(rng.integers(5, config.vocab_size, (b, t)), tf.int32),
      "input_mask":
          tf.ones([b, t], tf.int32),
      "input_type_ids":
          tf.constant(np.repeat([[0] * (t // 2) + [1] * (t - t // 2)], b, 0), tf.int32),
      "masked_lm_positions":
          tf.constant(positions, tf.int32),
      "masked_lm_ids":
          tf.constant(rng.integers(5, config.vocab_size, (b, p)), tf.int32),
      "masked_lm_weights":
          tf.ones([b, p], tf.float32),
      "next_sentence_labels":
          tf.constant(rng.integers(0, 2, (b, 1)), tf.int32),
  }


def build_ours(config: AlbertConfig, batch: dict):
  """Our Trainer over PretrainingTask on one device; returns a function running `steps` steps."""
  strategy = tf.distribute.OneDeviceStrategy(
      "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0")
  # Only build_model, batch_statistics, compute_losses and build_metrics are used: no record files.
  task = PretrainingTask(config, [], max_seq_length=FLAGS.seq_length,
                         max_predictions_per_seq=FLAGS.max_predictions)
  with precision.policy_scope(FLAGS.mixed_precision), strategy.scope():
    model = task.build_model()
    optimizer = optimization.create_optimizer(1e-4, 10000, 100)
    if FLAGS.mixed_precision == "float16":  # As training does (run_loop); the Trainer unscales.
      optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer,
                                global_batch_size=FLAGS.batch_size, jit_compile=FLAGS.jit_compile)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  return (lambda steps: trainer.train(iterator, steps)), trainer


def build_peer(config: AlbertConfig, batch: dict):
  """tf-models-official's ALBERT pieces with official LAMB in a plain tf.function."""
  encoder = networks.AlbertEncoder(
      vocab_size=config.vocab_size, embedding_width=config.embedding_size,
      hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
      num_attention_heads=config.num_attention_heads,
      max_sequence_length=config.max_position_embeddings, type_vocab_size=config.type_vocab_size,
      intermediate_size=config.intermediate_size, dropout_rate=0.0, attention_dropout_rate=0.0,
      dict_outputs=True)
  masked_lm = official_layers.MaskedLM(
      embedding_table=encoder.get_embedding_table(),
      activation=lambda x: tf_keras.activations.gelu(x, approximate=True))
  sop = tf_keras.layers.Dense(2)
  optimizer = lamb.LAMB(1e-4, weight_decay_rate=0.01, epsilon=1e-6,
                        exclude_from_weight_decay=_EXCLUDE)

  def forward(features):
    outputs = encoder(
        [features["input_word_ids"], features["input_mask"], features["input_type_ids"]])
    mlm_logits = masked_lm(outputs["sequence_output"], features["masked_lm_positions"])
    sop_logits = sop(outputs["pooled_output"])
    weights = features["masked_lm_weights"]
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(features["masked_lm_ids"], mlm_logits)
    mlm_loss = tf.reduce_sum(weights * nll) / (tf.reduce_sum(weights) + 1e-5)
    sop_loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.reshape(features["next_sentence_labels"], [-1]), sop_logits))
    return mlm_loss + sop_loss

  forward(batch)
  variables = trainer_lib.unique_variables(encoder.trainable_variables +
                                           masked_lm.trainable_variables + sop.trainable_variables)

  @tf.function
  def step(features):
    with tf.GradientTape() as tape:
      loss = forward(features)
    gradients, _ = tf.clip_by_global_norm(tape.gradient(loss, variables), 1.0)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss

  def run(steps):
    for _ in range(steps):
      loss = step(batch)
    return float(loss)

  return run


def seconds_per_step(run, steps: int) -> float:
  start = time.perf_counter()
  run(steps)
  return (time.perf_counter() - start) / steps


def profile_ours(trainer: trainer_lib.Trainer, batch: dict) -> None:
  """Times our forward, forward+backward and the full step (the optimizer is the difference)."""
  pretrainer = trainer.model
  variables = trainer.trainable_variables
  forward = tf.function(lambda f: pretrainer(f, training=True)["mlm_logits"],
                        jit_compile=FLAGS.jit_compile)

  def forward_backward_fn(features):
    with tf.GradientTape() as tape:
      outputs = pretrainer(features, training=True)
      loss = (tf.reduce_sum(tf.cast(outputs["mlm_logits"], tf.float32)) +
              tf.reduce_sum(tf.cast(outputs["sop_logits"], tf.float32)))
    return [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]

  forward_backward = tf.function(forward_backward_fn, jit_compile=FLAGS.jit_compile)
  for name, fn in (("forward", forward), ("forward+backward", forward_backward)):
    tf.nest.map_structure(lambda t: t.numpy(), fn(batch))
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
      tf.nest.map_structure(lambda t: t.numpy(), fn(batch))
    print(f"profile: ours {name}: {(time.perf_counter() - start) / FLAGS.steps:.3f} s/step")


def _records(work_dir: str) -> list[tuple[str, int]]:
  """Dynamic and static (--dupe_factor) records of the fixture sentences: (file, instances) each."""
  from data_prep import pipeline  # pylint: disable=g-import-not-at-top
  from tests import text_fixtures  # pylint: disable=g-import-not-at-top
  with open(text_fixtures.ENGLISH_CORPUS, encoding="utf-8") as reader:
    sentences = [line.strip() for line in reader if line.strip()]
  rng = random.Random(0)
  corpus = os.path.join(work_dir, "corpus.txt")
  with open(corpus, "w", encoding="utf-8") as writer:
    writer.write("\n\n".join("\n".join(rng.choices(sentences, k=rng.randint(3, 12)))
                             for _ in range(FLAGS.documents)) + "\n")
  model = text_fixtures.build_sentencepiece_model(work_dir)
  files = []
  for name, options in (("dynamic", dict(dynamic_masking=True)),
                        ("static", dict(dupe_factor=FLAGS.dupe_factor))):
    files.append(os.path.join(work_dir, f"{name}.tfrecord"))
    pipeline.create_pretraining_data(
        pipeline.PretrainingDataConfig(input_file=corpus, output_file=files[-1],
                                       spm_model_file=model, max_seq_length=FLAGS.seq_length,
                                       max_predictions_per_seq=FLAGS.max_predictions, num_workers=0,
                                       **options))
  return files[0], files[1]


def batches_per_second(dataset: tf.data.Dataset, batches: int) -> float:
  iterator = iter(dataset)
  for _ in range(10):  # warm up: tracing, autotuning, the shuffle buffer
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches / (time.perf_counter() - start)


def input_pipeline_main(config: AlbertConfig) -> None:
  """Disk ratio and masked batches/s of the dynamic pipeline vs our train step's consumption."""
  with tempfile.TemporaryDirectory() as work_dir:
    (dynamic_file, dynamic_count), (static_file, static_count) = _records(work_dir)
    dynamic_bytes, static_bytes = os.path.getsize(dynamic_file), os.path.getsize(static_file)
    print(f"disk: dynamic records {dynamic_bytes} bytes ({dynamic_count} instances), static "
          f"(dupe_factor {FLAGS.dupe_factor}) {static_bytes} bytes ({static_count} instances): "
          f"{dynamic_bytes / static_bytes:.4f} = 1/{static_bytes / dynamic_bytes:.1f} (static "
          "records also carry the masked_lm_* features)")
    masking, _ = dynamic_masking.records_masking([dynamic_file])
    # The base model's vocabulary for the random replacements (the fixture model has 300 pieces).
    masking = dataclasses.replace(masking, vocab_size=config.vocab_size)
    rates = {}
    for name, files, settings in (("dynamic", [dynamic_file], masking), ("static", [static_file],
                                                                         None)):
      dataset = input_pipeline.pretraining_dataset(files, FLAGS.batch_size, FLAGS.seq_length,
                                                   FLAGS.max_predictions, masking=settings)
      rates[name] = batches_per_second(dataset, FLAGS.pipeline_batches)
  ours, _ = build_ours(config, random_batch(config))
  ours(1)  # compile
  step_rate = 1.0 / statistics.median(
      seconds_per_step(ours, FLAGS.steps) for _ in range(FLAGS.rounds))
  print(f"input pipeline, batch {FLAGS.batch_size} x {FLAGS.seq_length}, "
        f"{FLAGS.max_predictions} predictions: dynamic masking {rates['dynamic']:.1f} batches/s, "
        f"static records {rates['static']:.1f} batches/s")
  print(f"train step ({FLAGS.config_preset}, {FLAGS.mixed_precision}): {step_rate:.3f} batches/s")
  print(f"ratio dynamic pipeline / train step: {rates['dynamic'] / step_rate:.0f}x (target >= 10x)")


def main(argv):
  del argv  # Unused.
  config = AlbertConfig.from_preset(FLAGS.config_preset)
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
  if FLAGS.mode == "input_pipeline":
    input_pipeline_main(config)
    return
  batch = random_batch(config)
  flops = training_flops_per_sequence(config, FLAGS.seq_length, FLAGS.max_predictions)
  peak_dtype = {
      "bfloat16": tf.bfloat16,
      "float16": tf.float16
  }.get(FLAGS.mixed_precision, tf.float32)
  ours, trainer = build_ours(config, batch)
  peer = build_peer(config, batch)
  ours(1)  # compile
  peer(1)
  if FLAGS.profile:
    profile_ours(trainer, batch)
  # The peak is re-measured every round and the best kept, so a busy moment does not lower it.
  shapes = bench_utils.gemm_shapes(config, FLAGS.batch_size * FLAGS.seq_length,
                                   square=FLAGS.peak_square)
  ours_times, peer_times, peaks = [], [], []
  for _ in range(FLAGS.rounds):
    peaks.append(bench_utils.matmul_peak(shapes, peak_dtype))
    ours_times.append(seconds_per_step(ours, FLAGS.steps))
    peer_times.append(seconds_per_step(peer, FLAGS.steps))
  peak, (m, k, n) = max(peaks)
  print(f"matmul {peak_dtype.name} peak: {peak / 1e9:.1f} GFLOP/s ([{m}, {k}]x[{k}, {n}]); "
        f"{flops / 1e9:.1f} GFLOP per training sequence")
  ours_rate = FLAGS.batch_size / statistics.median(ours_times)
  peer_rate = FLAGS.batch_size / statistics.median(peer_times)
  print(f"ours ({FLAGS.mixed_precision}, jit_compile={FLAGS.jit_compile}): {ours_rate:.2f} seq/s, "
        f"MFU {ours_rate * flops / peak:.1%}")
  print(f"peer (tf-models-official, float32): {peer_rate:.2f} seq/s, "
        f"MFU {peer_rate * flops / peak:.1%}")
  print(f"ratio ours/peer: {ours_rate / peer_rate:.2f}x")
  if FLAGS.result_file:
    label = FLAGS.result_label or f"{FLAGS.mixed_precision}, jit_compile={FLAGS.jit_compile}"
    summary_table.append_row(
        FLAGS.result_file, {
            "part": "pretraining",
            "variant": label,
            "ours": f"{ours_rate:.2f} seq/s, MFU {ours_rate * flops / peak:.1%}",
            "peer": f"{peer_rate:.2f} seq/s (float32)",
            "ratio": f"{ours_rate / peer_rate:.2f}x",
            "status": "ok"
        })


if __name__ == "__main__":
  app.run(main)
