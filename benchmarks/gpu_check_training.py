r"""The training part of benchmarks/gpu_check.sh: tiny inputs, then the check that a run resumed.

    python benchmarks/gpu_check_training.py prepare --work_dir=D   # D/albert_config.json, records/
    python benchmarks/gpu_check_training.py check --work_dir=D --first_steps=4 --total_steps=8 \
        --gpus=1 --variant="1 GPU" --result_file=rows.jsonl

`prepare` writes the albert_tiny_test config (dropout off) and random records in the pretraining
schema (albert_tf.training.input_pipeline.feature_spec) at SEQ_LENGTH / MAX_PREDICTIONS. `check`
reads the two runs' logs (D/first.log, D/resumed.log) and checkpoints (D/model/): the first run
trained under MirroredStrategy over `--gpus` GPUs (0: logical CPU devices) to `--first_steps`, the
second resumed from that checkpoint and went on to `--total_steps`. It appends the summary-table
row either way, and exits 1 when the check fails.
"""

import argparse
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import summary_table  # pylint: disable=g-import-not-at-top

SEQ_LENGTH = 32
MAX_PREDICTIONS = 4
NUM_RECORDS = 256


def prepare(work_dir: str) -> None:
  """Writes the tiny config and random records under `work_dir`."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from albert_tf.config import AlbertConfig  # pylint: disable=g-import-not-at-top
  from albert_tf.training import input_pipeline  # pylint: disable=g-import-not-at-top

  config = AlbertConfig.from_preset("albert_tiny_test")
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
  os.makedirs(os.path.join(work_dir, "records"), exist_ok=True)
  config.to_json_file(os.path.join(work_dir, "albert_config.json"))
  rng = np.random.default_rng(0)
  spec = input_pipeline.feature_spec(SEQ_LENGTH, MAX_PREDICTIONS)
  with tf.io.TFRecordWriter(os.path.join(work_dir, "records", "train.tfrecord")) as writer:
    for _ in range(NUM_RECORDS):
      features = {}
      for name, feature in spec.items():
        length = feature.shape[0]
        if feature.dtype == tf.float32:  # masked_lm_weights
          values = tf.train.Feature(float_list=tf.train.FloatList(value=[1.0] * length))
        else:
          high = {
              "input_mask": 2,
              "segment_ids": 2,
              "next_sentence_labels": 2,
              "masked_lm_positions": SEQ_LENGTH
          }.get(name, config.vocab_size)
          values = tf.train.Feature(int64_list=tf.train.Int64List(
              value=rng.integers(1 if name == "input_mask" else 0, high, length).tolist()))
        features[name] = values
      writer.write(
          tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def check(work_dir: str, first_steps: int, total_steps: int, gpus: int) -> str:
  """The problems with the two runs, or "" when the second resumed the first and finished."""
  logs = {}
  for name in ("first", "resumed"):
    path = os.path.join(work_dir, f"{name}.log")
    if not os.path.exists(path):
      return f"no {path}: the {name} run did not start"
    with open(path, encoding="utf-8", errors="replace") as f:
      logs[name] = f.read()
  expected = {
      "first": (rf"Distribution strategy: mirrored \(GPUs: {gpus},",
                rf"step {first_steps}/{first_steps}:"),
      "resumed": (rf"Resumed from \S*model\.ckpt-{first_steps} \(step {first_steps}\)",
                  rf"step {total_steps}/{total_steps}:"),
  }
  for name, patterns in expected.items():
    for pattern in patterns:
      if not re.search(pattern, logs[name]):
        return f"{name}.log lacks /{pattern}/"
  checkpoints = sorted(
      os.path.basename(path)
      for path in glob.glob(os.path.join(work_dir, "model", "model.ckpt-*.index")))
  for step in (first_steps, total_steps):
    if f"model.ckpt-{step}.index" not in checkpoints:
      return f"no model.ckpt-{step} (checkpoints: {checkpoints})"
  return ""


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  prepare_parser = commands.add_parser("prepare", help="write the config and records")
  check_parser = commands.add_parser("check", help="check the runs, append the table row")
  for command in (prepare_parser, check_parser):
    command.add_argument("--work_dir", required=True)
  for name in ("first_steps", "total_steps", "gpus"):
    check_parser.add_argument(f"--{name}", type=int, required=True)
  check_parser.add_argument("--result_file", required=True)
  check_parser.add_argument("--variant", required=True, help="the row's variant (devices)")
  arguments = parser.parse_args()
  if arguments.command == "prepare":
    prepare(arguments.work_dir)
    return
  problem = check(arguments.work_dir, arguments.first_steps, arguments.total_steps, arguments.gpus)
  summary_table.append_row(
      arguments.result_file, {
          "part": "mirrored training",
          "variant": arguments.variant,
          "ours": f"steps 0-{arguments.first_steps}, then resumed to {arguments.total_steps}",
          "status": f"FAILED: {problem}" if problem else "ok"
      })
  if problem:
    sys.exit(f"gpu_check_training: {problem}")


if __name__ == "__main__":
  main()
