"""Evaluation results in the original formats (reference §10, finetuning.md §1).

eval_results.txt gets one block per evaluation of `key = value` lines, keys sorted, floats printed
as float32 like the Estimator. Two formats:
* "pretraining" (run_pretraining.py): just the block; the checkpoint is copied to model.ckpt-best.*
  whenever the best metric (masked_lm_accuracy) improves.
* "fine_tuning" (run_classifier.py): the block, then `best = <best value before this evaluation>`
  and a line of 50 "=", like the original's eval loop; best_trial.txt holds
  `<global_step>:<best step>:<best value>` after each evaluation.
"""

import os
from typing import Mapping

import numpy as np
import tensorflow as tf

from albert_tf import file_io

EVAL_RESULTS_FILE = "eval_results.txt"
BEST_TRIAL_FILE = "best_trial.txt"
FORMATS = ("pretraining", "fine_tuning")
_SEPARATOR = "=" * 50


def format_eval_results(results: Mapping[str, float]) -> str:
  """The original's lines: `key = value`, sorted by key, floats as float32 like the Estimator."""
  lines = []
  for key in sorted(results):
    value = results[key]
    text = str(int(value)) if key == "global_step" else str(np.float32(value))
    lines.append(f"{key} = {text}\n")
  return "".join(lines)


def read_eval_results(output_dir: str) -> list[dict[str, float]]:
  """Parses eval_results.txt back into one dict per evaluation (either format)."""
  path = os.path.join(output_dir, EVAL_RESULTS_FILE)
  if not tf.io.gfile.exists(path):
    return []
  evaluations: list[dict[str, float]] = []
  with tf.io.gfile.GFile(path) as f:
    for line in f:
      key, separator, value = line.strip().partition(" = ")
      if not separator or key == "best":  # the fine-tuning format's best = and ==== lines
        continue
      if not evaluations or key in evaluations[-1]:
        evaluations.append({})
      evaluations[-1][key] = float(value)
  return evaluations


class EvalResults:
  """A run's eval_results.txt (and best_trial.txt), appended to after each evaluation.

  Example:

    results = EvalResults(output_dir, best_metric="eval_accuracy", results_format="fine_tuning")
    if results.append({"global_step": 100, "eval_accuracy": 0.8, "eval_loss": 0.4}):
      ...  # the best so far: keep this checkpoint as model.ckpt-best

  Args:
    output_dir: the run's directory.
    best_metric: the metric (higher is better) that picks model.ckpt-best.
    results_format: one of FORMATS.
  """

  def __init__(self, output_dir: str, best_metric: str, results_format: str = "pretraining"):
    if results_format not in FORMATS:
      raise ValueError(f"results_format={results_format!r}: use one of {', '.join(FORMATS)}")
    self.output_dir = output_dir
    self.best_metric = best_metric
    self.results_format = results_format

  def last_step(self) -> int:
    """The newest global_step the file holds, or -1."""
    return max((int(results["global_step"])
                for results in read_eval_results(self.output_dir)
                if "global_step" in results), default=-1)

  def best(self) -> tuple[int, float]:
    """(step, value) of the best evaluation so far, or (-1, -inf)."""
    scored = [(e[self.best_metric], int(e.get("global_step", -1)))
              for e in read_eval_results(self.output_dir)
              if self.best_metric in e]
    if not scored:
      return -1, float("-inf")
    value, step = max(scored, key=lambda pair: pair[0])
    return step, value

  def improves(self, results: Mapping[str, float]) -> bool:
    """Whether `results`' best_metric beats every evaluation recorded so far."""
    _, best_value = self.best()
    # The file holds float32 text, so compare as float32: an equal score must not count as better.
    return bool(np.float32(results[self.best_metric]) > np.float32(best_value))

  def append(self, results: Mapping[str, float]) -> bool:
    """Appends one evaluation; returns whether its best_metric beats every earlier one."""
    best_step, best_value = self.best()
    improved = self.improves(results)
    text = format_eval_results(results)
    if self.results_format == "fine_tuning":
      best_text = str(np.float32(best_value)) if best_step >= 0 else "-1"
      text += f"best = {best_text}\n{_SEPARATOR}\n"
    with tf.io.gfile.GFile(os.path.join(self.output_dir, EVAL_RESULTS_FILE), "a") as f:
      f.write(text)
    if self.results_format == "fine_tuning":
      if improved:
        best_step, best_value = int(results["global_step"]), results[self.best_metric]
      self._write_best_trial(int(results["global_step"]), best_step, best_value)
    return improved

  def _write_best_trial(self, step: int, best_step: int, best_value: float) -> None:
    file_io.write_text_atomically(os.path.join(self.output_dir, BEST_TRIAL_FILE),
                                  f"{step}:{best_step}:{str(np.float32(best_value))}")
