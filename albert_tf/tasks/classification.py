"""The classification task of run_classifier.py: AlbertClassifier, cross-entropy (or squared error
for regression), the original's metrics, and cached classifier TFRecords."""

import math
import os
from typing import Mapping

import numpy as np
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints as checkpoint_loading
from albert_tf.config import AlbertConfig
from albert_tf.models import hub_encoder
from albert_tf.models.albert_classifier import AlbertClassifier
from albert_tf.tasks import classifier_data
from albert_tf.tasks import classifier_metrics
from albert_tf.tasks import task as task_lib
from albert_tf.training import run_identity

LABEL_LIST_FILE = "label_list.txt"


def per_example_loss(features: task_lib.Features, logits: tf.Tensor,
                     is_regression: bool) -> tf.Tensor:
  """float32 [B]: softmax cross-entropy of the labels, or (logit - score)² for regression."""
  logits = tf.cast(logits, tf.float32)
  if is_regression:
    return tf.square(tf.squeeze(logits, -1) - tf.cast(features["label_ids"], tf.float32))
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(features["label_ids"], tf.int32), logits=logits)


class ClassificationMetrics(tf.Module):
  """Training-time metrics: loss and, for classification, accuracy over real examples.

  The eval metrics of the original (MCC, F1, Pearson, Spearman) need every prediction, so the
  task computes them on the host from `eval_outputs` (see ClassificationTask.reduce_eval).
  """

  def __init__(self, is_regression: bool, name: str = "classification_metrics"):
    super().__init__(name=name)
    self.is_regression = is_regression
    self.accuracy = tf_keras.metrics.Accuracy(name="accuracy")
    self.mean_squared_error = tf_keras.metrics.Mean(name="mean_squared_error")

  def update_state(self, features: task_lib.Features, outputs: task_lib.Outputs) -> None:
    weights = tf.cast(features["is_real_example"], tf.float32)
    if self.is_regression:
      self.mean_squared_error.update_state(per_example_loss(features, outputs["logits"], True),
                                           sample_weight=weights)
    else:
      predictions = tf.argmax(outputs["logits"], axis=-1, output_type=tf.int32)
      self.accuracy.update_state(tf.cast(features["label_ids"], tf.int32), predictions,
                                 sample_weight=weights)

  def result(self) -> dict[str, tf.Tensor]:
    metric = self.mean_squared_error if self.is_regression else self.accuracy
    return {metric.name: metric.result()}

  def reset_state(self) -> None:
    self.accuracy.reset_state()
    self.mean_squared_error.reset_state()


class ClassificationTask(task_lib.Task):
  """Sentence (pair) classification or regression, as run_classifier.py fine-tunes it.

  Args:
    config: the encoder's AlbertConfig.
    task_name: the --task_name (picks the metrics and the best-checkpoint metric).
    label_list: the labels, in label-id order ([] for regression).
    is_regression: one output and squared error (STS-B, your own scores).
    record_files: {split: a `classifier_data.cached_features` record file} for the splits the run
      uses ("train", "eval", "predict").
    num_examples: {split: real examples in that file}.
    max_seq_length: sequence length of the records.
    seed: seed of the training shuffle.
    hub_module_handle: fine-tune this encoder SavedModel (`hub_encoder.HubEncoder`) instead of a
      new AlbertModel; its weights are the starting point.
    vocabulary: the vocabulary entry the run directory records (`run_identity.RunIdentity`);
      None when unknown.

  Example:

    task = ClassificationTask(config, task_name="mrpc", label_list=["0", "1"], is_regression=False,
                              record_files={"train": path}, num_examples={"train": 3668},
                              max_seq_length=128)
  """

  eval_results_format = "fine_tuning"

  def __init__(self, config: AlbertConfig, *, task_name: str, label_list: list[str],
               is_regression: bool, record_files: Mapping[str, str],
               num_examples: Mapping[str, int], max_seq_length: int, seed: int = 0,
               hub_module_handle: str | None = None, vocabulary: dict | None = None):
    self.config = config
    self.task_name = task_name
    self.label_list = list(label_list)
    self.is_regression = is_regression
    self.num_labels = 1 if is_regression else len(self.label_list)
    self.record_files = dict(record_files)
    self.num_examples = dict(num_examples)
    self.max_seq_length = max_seq_length
    self.seed = seed
    self.hub_module_handle = hub_module_handle
    self.vocabulary = vocabulary
    self.best_metric = classifier_metrics.best_metric_name(task_name, is_regression)

  def identity(self) -> run_identity.RunIdentity:
    return run_identity.RunIdentity(self.config,
                                    label_list=None if self.is_regression else self.label_list,
                                    vocabulary=self.vocabulary)

  def write_run_files(self, output_dir: str) -> None:
    self.config.to_json_file(os.path.join(output_dir, run_identity.CONFIG_FILE))
    if not self.is_regression:
      classifier_data.write_label_list(os.path.join(output_dir, LABEL_LIST_FILE), self.label_list)

  def build_model(self) -> tf_keras.Model:
    encoder = None
    if self.hub_module_handle:
      encoder = hub_encoder.HubEncoder(self.hub_module_handle, self.config, name="albert")
    classifier = AlbertClassifier(self.config, num_labels=self.num_labels, encoder=encoder)
    classifier.build()
    return classifier

  def batch_statistics(self, features: task_lib.Features) -> dict[str, tf.Tensor]:
    return {"examples": tf.cast(tf.shape(features["input_word_ids"])[0], tf.float32)}

  def compute_losses(self, features: task_lib.Features, outputs: task_lib.Outputs,
                     statistics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    # The original's tf.reduce_mean over the batch (padding rows only exist in eval batches).
    losses = per_example_loss(features, outputs["logits"], self.is_regression)
    return {"loss": tf.reduce_sum(losses) / statistics["examples"]}

  def build_metrics(self) -> task_lib.TaskMetrics:
    return ClassificationMetrics(self.is_regression)

  def dataset(self, split: str, batch_size: int, input_pipeline_id: int = 0,
              num_input_pipelines: int = 1) -> tf.data.Dataset:
    return classifier_data.classifier_dataset(self.record_files[split], batch_size=batch_size,
                                              max_seq_length=self.max_seq_length,
                                              is_training=split == "train",
                                              is_regression=self.is_regression, seed=self.seed,
                                              input_pipeline_id=input_pipeline_id,
                                              num_input_pipelines=num_input_pipelines)

  def num_eval_steps(self, eval_batch_size: int) -> int:
    return self.num_batches("eval", eval_batch_size)

  def num_batches(self, split: str, batch_size: int) -> int:
    """Batches of one padded pass over `split`."""
    return math.ceil(self.num_examples[split] / batch_size)

  def eval_outputs(self, features: task_lib.Features,
                   outputs: task_lib.Outputs) -> dict[str, tf.Tensor]:
    return {
        "label_ids": features["label_ids"],
        "is_real_example": features["is_real_example"],
        "logits": outputs["logits"],
        "per_example_loss": per_example_loss(features, outputs["logits"], self.is_regression)
    }

  def reduce_eval(self, results: dict[str, float],
                  collected: Mapping[str, np.ndarray]) -> dict[str, float]:
    metrics = classifier_metrics.classification_metrics(self.task_name, collected["label_ids"],
                                                        collected["logits"],
                                                        collected["is_real_example"],
                                                        collected["per_example_loss"],
                                                        is_regression=self.is_regression)
    # The Estimator's `loss` key: here the mean loss over real examples (= eval_loss).
    return {**metrics, "loss": metrics["eval_loss"]}

  def predictions(self, collected: Mapping[str, np.ndarray]) -> np.ndarray:
    """[N, C] class probabilities, or [N] scores for regression, from predict's outputs."""
    logits = collected["logits"].astype(np.float64)
    if self.is_regression:
      return logits.reshape(-1)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)

  def load_fine_tuned(self, model: tf_keras.Model, checkpoint: str) -> None:
    """Loads a fine-tuned checkpoint (ours or the original's), which must include the head.

    Raises:
      CheckpointMismatchError: the checkpoint has no classifier head, or one of another size.
    """
    checkpoint_loading.load_fine_tuned(model, checkpoint, "classifier", "a fine-tuned checkpoint")

  def progress_line(self, logs: Mapping[str, float]) -> str:
    metric = "mean_squared_error" if self.is_regression else "accuracy"
    return f"loss={logs['loss']:.4f} {metric}={logs[metric]:.4f}"
