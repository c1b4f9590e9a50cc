"""Task: what the training loop needs from pretraining, classification, SQuAD or RACE.

The loop in `albert_tf.training` (Trainer and TrainingRun) knows tasks only through this interface:
a task builds its model, turns features and model outputs into losses, keeps its metrics, and
supplies its input pipelines. Nothing in the loop names a particular task's features or heads.
"""

import abc
from typing import Any, Mapping, Protocol

from absl import logging
import numpy as np
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints
from albert_tf.training import run_identity

Features = Mapping[str, tf.Tensor]
Outputs = Mapping[str, Any]


class TaskMetrics(Protocol):
  """In-graph metrics a task accumulates over training or evaluation batches.

  Created under the strategy's scope; `update_state` runs in replica context (Keras metrics
  aggregate over replicas by themselves).
  """

  def update_state(self, features: Features, outputs: Outputs) -> None:
    """Adds one batch."""

  def result(self) -> dict[str, tf.Tensor]:
    """{metric name: scalar} over the batches since the last reset."""

  def reset_state(self) -> None:
    """Forgets every batch."""


class Task(abc.ABC):
  """A model, a loss, metrics and an input, for the one training loop.

  Losses come in two steps so that one code path serves every clipping mode: `batch_statistics`
  gives the sums over a replica's examples that normalise the loss (example counts, masked-LM
  weight sums); the trainer passes either those local sums (the loss of the replica's own batch) or
  their all-reduced sums over every replica (each replica's share of the global batch's loss) to
  `compute_losses`.

  Example (what the trainer does with a task):

    model = task.build_model()                               # under strategy.scope()
    outputs = model(features, training=True)
    losses = task.compute_losses(features, outputs, task.batch_statistics(features))
    losses["loss"]                                            # the objective
  """

  #: The eval metric whose improvement (a higher value) makes a checkpoint model.ckpt-best.
  best_metric: str
  #: How eval_results.txt records evaluations: "pretraining" (run_pretraining's key = value
  #: blocks) or "fine_tuning" (run_classifier's blocks with a `best = ` line, and best_trial.txt).
  eval_results_format: str = "pretraining"

  @abc.abstractmethod
  def build_model(self) -> tf_keras.Model:
    """The model, with every variable created (called under the strategy's scope)."""

  @abc.abstractmethod
  def batch_statistics(self, features: Features) -> dict[str, tf.Tensor]:
    """float32 scalar sums over this batch's examples that `compute_losses` normalises by."""

  @abc.abstractmethod
  def compute_losses(self, features: Features, outputs: Outputs,
                     statistics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """{"loss": the objective, plus named float32 scalar components}, normalised by `statistics`."""

  @abc.abstractmethod
  def build_metrics(self) -> TaskMetrics:
    """A fresh set of in-graph metrics (called under the strategy's scope)."""

  @abc.abstractmethod
  def dataset(self, split: str, batch_size: int, input_pipeline_id: int = 0,
              num_input_pipelines: int = 1) -> tf.data.Dataset:
    """Batches of features for one input pipeline.

    Args:
      split: "train" (repeated, shuffled, static batches) or "eval".
      batch_size: examples per batch of this pipeline.
      input_pipeline_id: this pipeline's index (one pipeline per worker).
      num_input_pipelines: the number of pipelines.
    """

  @abc.abstractmethod
  def num_eval_steps(self, eval_batch_size: int) -> int:
    """Batches of the "eval" split one evaluation runs."""

  def eval_outputs(self, features: Features, outputs: Outputs) -> dict[str, tf.Tensor]:
    """Per-example tensors [B, ...] the host collects during evaluation and prediction."""
    del features, outputs  # Unused by tasks whose metrics are all in-graph.
    return {}

  def reduce_eval(self, results: dict[str, float],
                  collected: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The final eval metrics from the in-graph `results` and the `eval_outputs` collected."""
    del collected  # Unused by tasks whose metrics are all in-graph.
    return results

  @abc.abstractmethod
  def identity(self) -> run_identity.RunIdentity:
    """What every run writing into the same output_dir must agree on (its config, ...)."""

  @abc.abstractmethod
  def write_run_files(self, output_dir: str) -> None:
    """Writes what a run directory keeps besides checkpoints (albert_config.json, ...)."""

  def initialize(self, model: tf_keras.Model, init_checkpoint: str) -> None:
    """Warm-starts a new run's model from `init_checkpoint` (not called when resuming): every
    variable the checkpoint holds (an original TF1 or an albert-tf checkpoint); a fine-tuning
    head it lacks keeps its initial values."""
    report = checkpoints.load_checkpoint(model, init_checkpoint)
    logging.info("Initialised from %s: %s", init_checkpoint, report)

  def progress_line(self, logs: Mapping[str, float]) -> str:
    """The metrics part of a progress line (default: every log, sorted)."""
    return " ".join(f"{key}={value:.4g}" for key, value in sorted(logs.items()))
