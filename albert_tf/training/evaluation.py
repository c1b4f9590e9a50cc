"""Pretraining evaluation results in the original format (reference §10).

After each evaluation the original appends `key = value` lines, keys sorted (global_step, loss,
masked_lm_accuracy, masked_lm_loss, sentence_order_accuracy, sentence_order_loss), to
`output_dir/eval_results.txt`, and copies the checkpoint to model.ckpt-best.* whenever
masked_lm_accuracy improves.
"""

import os
from typing import Mapping

import numpy as np
import tensorflow as tf

EVAL_RESULTS_FILE = "eval_results.txt"
EVAL_METRICS = ("loss", "masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
                "sentence_order_loss")
BEST_METRIC = "masked_lm_accuracy"


def format_eval_results(results: Mapping[str, float]) -> str:
  """The original's lines: `key = value`, sorted by key, floats printed as float32 like the Estimator."""
  lines = []
  for key in sorted(results):
    value = results[key]
    text = str(int(value)) if key == "global_step" else str(np.float32(value))
    lines.append(f"{key} = {text}\n")
  return "".join(lines)


def read_eval_results(output_dir: str) -> list[dict[str, float]]:
  """Parses eval_results.txt back into one dict per evaluation (a new one starts at each repeat key)."""
  path = os.path.join(output_dir, EVAL_RESULTS_FILE)
  if not tf.io.gfile.exists(path):
    return []
  evaluations: list[dict[str, float]] = []
  with tf.io.gfile.GFile(path) as f:
    for line in f:
      key, _, value = line.strip().partition(" = ")
      if not key:
        continue
      if not evaluations or key in evaluations[-1]:
        evaluations.append({})
      evaluations[-1][key] = float(value)
  return evaluations


def append_eval_results(output_dir: str, results: Mapping[str, float]) -> bool:
  """Appends one evaluation to eval_results.txt.

  Args:
    output_dir: the run's directory.
    results: global_step plus EVAL_METRICS.

  Returns:
    Whether masked_lm_accuracy beats every earlier evaluation in the file (so the checkpoint should
    become model.ckpt-best).
  """
  earlier = [e[BEST_METRIC] for e in read_eval_results(output_dir) if BEST_METRIC in e]
  with tf.io.gfile.GFile(os.path.join(output_dir, EVAL_RESULTS_FILE), "a") as f:
    f.write(format_eval_results(results))
  return not earlier or results[BEST_METRIC] > max(earlier)
