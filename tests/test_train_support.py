"""Test helpers for the trainer tests: pretraining records with learnable structure (no tests here).

Each instance is "[CLS] A [SEP] B [SEP]" where A and B are consecutive runs of an arithmetic
sequence of token ids (so a masked token is predictable from its neighbours) and B comes first in
half the instances (label 1, "swapped"), so sentence order is learnable too. Records follow the
original schema exactly (reference §4.1).
"""

import json
import os

import numpy as np
import tensorflow as tf

CLS, SEP, MASK, FIRST_WORD = 2, 3, 4, 5

TINY_CONFIG = {
    "vocab_size": 40,
    "embedding_size": 8,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_hidden_groups": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "inner_group_num": 1,
    "down_scale_factor": 1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 32,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}


def write_config(directory: str, **overrides) -> str:
  path = os.path.join(directory, "albert_config.json")
  with open(path, "w") as f:
    json.dump({**TINY_CONFIG, **overrides}, f)
  return path


def make_instance(rng, seq_length, max_predictions, vocab_size, stride=None):
  """One instance as a dict of NumPy arrays in the record schema.

  The body is an arithmetic run of word ids with stride 1 or 2, or with `stride=0` a run of one
  word for A and the next word id for B (quick to learn: a masked word equals its segment's
  other words).
  """
  words = vocab_size - FIRST_WORD
  length = int(rng.integers(seq_length // 2, seq_length + 1))
  body = length - 3
  len_a = int(rng.integers(1, body))
  start = int(rng.integers(words))
  if stride is None:
    stride = int(rng.integers(1, 3))
  if stride:
    run = [FIRST_WORD + (start + stride * i) % words for i in range(body)]
  else:
    run = [FIRST_WORD + start] * len_a + [FIRST_WORD + (start + 1) % words] * (body - len_a)
  segment_a, segment_b = run[:len_a], run[len_a:]
  swapped = int(rng.integers(2))
  if swapped:
    segment_a, segment_b = segment_b, segment_a
  tokens = [CLS] + segment_a + [SEP] + segment_b + [SEP]
  segments = [0] * (len(segment_a) + 2) + [1] * (len(segment_b) + 1)
  candidates = [i for i, t in enumerate(tokens) if t not in (CLS, SEP)]
  num_predictions = min(max_predictions, max(1, round(0.15 * len(tokens))))
  positions = sorted(rng.choice(candidates, size=num_predictions, replace=False).tolist())
  labels = [tokens[p] for p in positions]
  for p in positions:
    tokens[p] = MASK
  pad = seq_length - len(tokens)
  pred_pad = max_predictions - num_predictions
  return {
      "input_ids": np.array(tokens + [0] * pad),
      "input_mask": np.array([1] * len(tokens) + [0] * pad),
      "segment_ids": np.array(segments + [0] * pad),
      "token_boundary": np.array([1] * len(tokens) + [0] * pad),
      "masked_lm_positions": np.array(positions + [0] * pred_pad),
      "masked_lm_ids": np.array(labels + [0] * pred_pad),
      "masked_lm_weights": np.array([1.0] * num_predictions + [0.0] * pred_pad, np.float32),
      "next_sentence_labels": np.array([swapped]),
  }


def to_example(instance) -> tf.train.Example:
  feature = {}
  for name, values in instance.items():
    if values.dtype == np.float32:
      feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
    else:
      feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def write_records(directory, num_files=2, per_file=64, seq_length=16, max_predictions=3,
                  vocab_size=TINY_CONFIG["vocab_size"], seed=0, stride=None):
  """Writes `num_files` files of `per_file` instances; returns (file paths, instances per file)."""
  rng = np.random.default_rng(seed)
  paths, contents = [], []
  for index in range(num_files):
    path = os.path.join(directory, f"train-{index:05d}.tfrecord")
    instances = [
        make_instance(rng, seq_length, max_predictions, vocab_size, stride) for _ in range(per_file)
    ]
    with tf.io.TFRecordWriter(path) as writer:
      for instance in instances:
        writer.write(to_example(instance).SerializeToString())
    paths.append(path)
    contents.append(instances)
  return paths, contents


def write_run_inputs(directory: str) -> tuple[str, str]:
  """Records (2 files x 48, seq 16, 3 predictions) and the tiny config; returns (dir, config)."""
  write_records(directory, num_files=2, per_file=48, seq_length=16, max_predictions=3)
  return directory, write_config(directory)


def run_settings(inputs: tuple[str, str], output_dir, **overrides) -> dict:
  """run_pretraining settings for the records of write_run_inputs (4 steps, checkpoint every 2)."""
  directory, config = inputs
  values = dict(albert_config_file=config, input_file=os.path.join(directory, "train-*"),
                output_dir=str(output_dir), max_seq_length=16, max_predictions_per_seq=3,
                train_batch_size=8, eval_batch_size=8, learning_rate=0.01, num_train_steps=4,
                num_warmup_steps=1, save_checkpoints_steps=2, log_steps=2, steps_per_loop=2, seed=3)
  values.update(overrides)
  return values


def run_cli_in_process(arguments: list[str]) -> None:
  """Runs albert-run-pretraining's main() on `arguments` in this process (INFO logging on)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top

  from albert_tf import run_pretraining  # pylint: disable=g-import-not-at-top
  flags.FLAGS.unparse_flags()
  logging.set_verbosity(logging.INFO)
  try:
    flags.FLAGS(["albert-run-pretraining"] + arguments)
    run_pretraining.main([])
  finally:
    flags.FLAGS.unparse_flags()
