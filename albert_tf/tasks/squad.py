"""The SQuAD task of run_squad_v1.py and run_squad_v2.py on the one training loop.

One task class, two heads: `SpanHeadV1` (AlbertSquadV1, start/end softmax cross-entropy, n-best of
start x end logits) and `SpanHeadV2` (AlbertSquadV2, XLNet-style end network conditioned on the
start, a no-answer classifier, thresholded null odds). The task reads cached SQuAD features
(albert_tf.tasks.squad_data), and turns the predictions of every evaluated checkpoint into the
original's predictions and EM/F1 (albert_tf.tasks.squad_postprocess); the best checkpoint is the one
with the highest f1, as the original keeps it.
"""

import dataclasses
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints as checkpoint_loading
from albert_tf.config import AlbertConfig
from albert_tf.models import hub_encoder
from albert_tf.models.albert_squad_v1 import AlbertSquadV1
from albert_tf.models.albert_squad_v2 import AlbertSquadV2
from albert_tf.tasks import squad_data
from albert_tf.tasks import squad_metrics
from albert_tf.tasks import squad_postprocess
from albert_tf.tasks import task as task_lib
from albert_tf.training import run_identity


def _gold_log_prob(log_probs: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
  """float32 [B]: log_probs[b, positions[b]] (the original's sum of one_hot x log_probs)."""
  return tf.gather(tf.cast(log_probs, tf.float32), tf.cast(positions, tf.int32), batch_dims=1)


def _accuracy(metric: tf_keras.metrics.Metric, scores: tf.Tensor, positions: tf.Tensor) -> None:
  metric.update_state(tf.cast(positions, tf.int32), tf.argmax(scores, axis=-1,
                                                              output_type=tf.int32))


@dataclasses.dataclass(frozen=True)
class SpanHeadV1:
  """run_squad_v1's head: start and end logits from `cls/squad/output_weights`."""

  version = "v1"
  metric_names = ("start_accuracy", "end_accuracy")

  def build_model(self, config: AlbertConfig,
                  encoder: tf_keras.layers.Layer | None) -> tf_keras.Model:
    return AlbertSquadV1(config, encoder=encoder)

  def per_example_loss(self, features: task_lib.Features, outputs: task_lib.Outputs) -> tf.Tensor:
    """(CE_start + CE_end) / 2 per window, from the softmax of the logits (the original's)."""
    start = -_gold_log_prob(tf.nn.log_softmax(tf.cast(outputs["start_logits"], tf.float32)),
                            features["start_positions"])
    end = -_gold_log_prob(tf.nn.log_softmax(tf.cast(outputs["end_logits"], tf.float32)),
                          features["end_positions"])
    return (start + end) / 2.0

  def update_metrics(self, metrics: Mapping[str, tf_keras.metrics.Metric],
                     features: task_lib.Features, outputs: task_lib.Outputs) -> None:
    _accuracy(metrics["start_accuracy"], outputs["start_logits"], features["start_positions"])
    _accuracy(metrics["end_accuracy"], outputs["end_logits"], features["end_positions"])

  def raw_outputs(self, outputs: task_lib.Outputs) -> dict[str, tf.Tensor]:
    return {name: outputs[name] for name in ("start_logits", "end_logits")}

  def raw_results(self, unique_ids: np.ndarray, raw: Mapping[str, np.ndarray]) -> list:
    return [
        squad_postprocess.RawResultV1(unique_id=int(unique_id),
                                      start_logits=raw["start_logits"][i].tolist(),
                                      end_logits=raw["end_logits"][i].tolist())
        for i, unique_id in enumerate(unique_ids)
    ]

  def predictions(self, examples: Sequence[Any], features: Sequence[Any], results: list,
                  n_best_size: int, max_answer_length: int) -> Any:
    return squad_postprocess.predictions_v1(examples, features, results, n_best_size=n_best_size,
                                            max_answer_length=max_answer_length)

  def evaluate(self, dataset: Any, predictions: Any) -> dict[str, Any]:
    return squad_metrics.evaluate_v1(dataset, predictions)

  def answer_threshold(self, scores: Mapping[str, float]) -> float | None:
    """No threshold: every v1 question has an answer."""
    del scores  # Unused.
    return None


@dataclasses.dataclass(frozen=True)
class SpanHeadV2:
  """run_squad_v2's head: top-k starts x top-k ends and a no-answer logit.

  Attributes:
    start_n_top: start positions kept per window at inference.
    end_n_top: end positions kept per start.
    dropout_rate: the answer-class dropout (--dropout_prob).
    null_score_diff_threshold: the no-answer threshold fixed in advance; eval_results.txt reports
      its scores besides those at the threshold tuned on the evaluated set (the original's).
  """
  start_n_top: int = 5
  end_n_top: int = 5
  dropout_rate: float = 0.1
  null_score_diff_threshold: float = 0.0

  version = "v2"
  metric_names = ("start_accuracy", "end_accuracy", "no_answer_accuracy")

  def build_model(self, config: AlbertConfig,
                  encoder: tf_keras.layers.Layer | None) -> tf_keras.Model:
    return AlbertSquadV2(config, start_n_top=self.start_n_top, end_n_top=self.end_n_top,
                         dropout_rate=self.dropout_rate, encoder=encoder)

  def per_example_loss(self, features: task_lib.Features, outputs: task_lib.Outputs) -> tf.Tensor:
    """(CE_start + CE_end) / 2 + 0.5 x sigmoid CE(cls_logits, is_impossible) per window.

    From the model's log-probabilities: the end's are conditioned on the gold start, which the
    model reads from the training features.
    """
    start = -_gold_log_prob(outputs["start_log_probs"], features["start_positions"])
    end = -_gold_log_prob(outputs["end_log_probs"], features["end_positions"])
    answer_class = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.reshape(tf.cast(features["is_impossible"], tf.float32), [-1]),
        logits=tf.cast(outputs["cls_logits"], tf.float32))
    return (start + end) * 0.5 + answer_class * 0.5

  def update_metrics(self, metrics: Mapping[str, tf_keras.metrics.Metric],
                     features: task_lib.Features, outputs: task_lib.Outputs) -> None:
    _accuracy(metrics["start_accuracy"], outputs["start_log_probs"], features["start_positions"])
    _accuracy(metrics["end_accuracy"], outputs["end_log_probs"], features["end_positions"])
    metrics["no_answer_accuracy"].update_state(
        tf.reshape(tf.cast(features["is_impossible"], tf.float32), [-1, 1]),
        tf.reshape(tf.cast(outputs["cls_logits"], tf.float32), [-1, 1]))

  def raw_outputs(self, outputs: task_lib.Outputs) -> dict[str, tf.Tensor]:
    return {
        name: outputs[name] for name in ("start_top_log_probs", "start_top_index",
                                        "end_top_log_probs", "end_top_index", "cls_logits")
    }

  def raw_results(self, unique_ids: np.ndarray, raw: Mapping[str, np.ndarray]) -> list:
    return [
        squad_postprocess.RawResultV2(unique_id=int(unique_id),
                                      start_top_log_probs=raw["start_top_log_probs"][i].tolist(),
                                      start_top_index=raw["start_top_index"][i].tolist(),
                                      end_top_log_probs=raw["end_top_log_probs"][i].tolist(),
                                      end_top_index=raw["end_top_index"][i].tolist(),
                                      cls_logits=float(raw["cls_logits"][i]))
        for i, unique_id in enumerate(unique_ids)
    ]

  def predictions(self, examples: Sequence[Any], features: Sequence[Any], results: list,
                  n_best_size: int, max_answer_length: int) -> Any:
    return squad_postprocess.predictions_v2(examples, features, results, n_best_size=n_best_size,
                                            max_answer_length=max_answer_length,
                                            start_n_top=self.start_n_top, end_n_top=self.end_n_top)

  def evaluate(self, dataset: Any, predictions: Any) -> dict[str, Any]:
    return squad_metrics.evaluate_v2(dataset, predictions,
                                     fixed_threshold=self.null_score_diff_threshold)

  def answer_threshold(self, scores: Mapping[str, float]) -> float | None:
    """The threshold predictions.json applies: the one tuned on the evaluated set, as the
    original writes it (null_odds.json lets you apply another)."""
    return scores["null_score_diff_threshold"]


SpanHead = SpanHeadV1 | SpanHeadV2


class SquadMetrics(tf.Module):
  """Training-time metrics: start and end accuracy against the gold positions (v2: also the
  no-answer classifier's accuracy, cls_logits > 0 meaning "no answer").

  Evaluation features carry no gold positions, so evaluation updates nothing here: EM and F1 come
  from the post-processed predictions (SquadTask.reduce_eval).
  """

  def __init__(self, head: SpanHead, name: str = "squad_metrics"):
    super().__init__(name=name)
    self.head = head
    available = {
        "start_accuracy":
            tf_keras.metrics.Accuracy(name="start_accuracy"),
        "end_accuracy":
            tf_keras.metrics.Accuracy(name="end_accuracy"),
        "no_answer_accuracy":
            tf_keras.metrics.BinaryAccuracy(name="no_answer_accuracy", threshold=0.0),
    }
    self.metrics = {name: available[name] for name in head.metric_names}

  def update_state(self, features: task_lib.Features, outputs: task_lib.Outputs) -> None:
    if "start_positions" in features:  # training batches only
      self.head.update_metrics(self.metrics, features, outputs)

  def result(self) -> dict[str, tf.Tensor]:
    return {name: metric.result() for name, metric in self.metrics.items()}

  def reset_state(self) -> None:
    for metric in self.metrics.values():
      metric.reset_state()


class SquadTask(task_lib.Task):
  """SQuAD v1.1 or v2.0 span extraction, as run_squad_v1.py / run_squad_v2.py fine-tune it.

  Args:
    config: the encoder's AlbertConfig.
    head: SpanHeadV1() or SpanHeadV2(...).
    record_files: {"train": squad_data.cached_train_features' file, "eval": the predict file's
      squad_data.cached_eval_features file} for the splits the run uses; "predict" reads "eval"'s.
    num_train_features: windows in the training file.
    eval_examples: the predict file's examples (squad_data.read_squad_examples).
    eval_features: their windows, in the order of the eval records.
    eval_dataset: what the official evaluation compares with: the predict file's path.
    max_seq_length: sequence length of the records.
    n_best_size: candidates kept per question.
    max_answer_length: longest answer, in tokens.
    seed: seed of the training shuffle.
    hub_module_handle: fine-tune this encoder SavedModel instead of a new AlbertModel.
    vocabulary: the vocabulary entry the run directory records (`run_identity.RunIdentity`).

  Example:

    task = SquadTask(config, SpanHeadV1(), record_files={"train": path}, num_train_features=88641,
                     max_seq_length=384)
  """

  best_metric = "f1"
  eval_results_format = "fine_tuning"

  def __init__(self, config: AlbertConfig, head: SpanHead, *, record_files: Mapping[str, str],
               max_seq_length: int, num_train_features: int = 0, eval_examples: Sequence[Any] = (),
               eval_features: Sequence[Any] = (), eval_dataset: Any = None, n_best_size: int = 20,
               max_answer_length: int = 30, seed: int = 0, hub_module_handle: str | None = None,
               vocabulary: dict | None = None):
    self.config = config
    self.head = head
    self.record_files = dict(record_files)
    self.max_seq_length = max_seq_length
    self.num_train_features = num_train_features
    self.eval_examples = list(eval_examples)
    self.eval_features = list(eval_features)
    self.eval_dataset = eval_dataset
    self.n_best_size = n_best_size
    self.max_answer_length = max_answer_length
    self.seed = seed
    self.hub_module_handle = hub_module_handle
    self.vocabulary = vocabulary

  def identity(self) -> run_identity.RunIdentity:
    return run_identity.RunIdentity(self.config, vocabulary=self.vocabulary)

  def write_run_files(self, output_dir: str) -> None:
    self.config.to_json_file(os.path.join(output_dir, run_identity.CONFIG_FILE))

  def build_model(self) -> tf_keras.Model:
    encoder = None
    if self.hub_module_handle:
      encoder = hub_encoder.HubEncoder(self.hub_module_handle, self.config, name="albert")
    model = self.head.build_model(self.config, encoder)
    model.build()
    if encoder is None:
      # The span heads read sequence_output only: the pooler gets no gradient, and the original's
      # optimizers skip such variables (no update, no weight decay, no slots). It stays in the
      # checkpoints.
      model.albert.pooler.trainable = False
    return model

  def batch_statistics(self, features: task_lib.Features) -> dict[str, tf.Tensor]:
    return {"examples": tf.cast(tf.shape(features["input_word_ids"])[0], tf.float32)}

  def compute_losses(self, features: task_lib.Features, outputs: task_lib.Outputs,
                     statistics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    if "start_positions" not in features:
      # Evaluation and prediction windows carry no gold positions (as in the original, which has
      # no eval loss for SQuAD): the loss is a constant 0, and reduce_eval reports EM/F1 instead.
      return {"loss": tf.zeros([], tf.float32)}
    # The original's tf.reduce_mean over the batch (training batches have no padding rows).
    losses = self.head.per_example_loss(features, outputs)
    return {"loss": tf.reduce_sum(losses) / statistics["examples"]}

  def build_metrics(self) -> task_lib.TaskMetrics:
    return SquadMetrics(self.head)

  def dataset(self, split: str, batch_size: int, input_pipeline_id: int = 0,
              num_input_pipelines: int = 1) -> tf.data.Dataset:
    record_file = self.record_files["train" if split == "train" else "eval"]
    return squad_data.squad_dataset(record_file, batch_size=batch_size,
                                    is_training=split == "train",
                                    max_seq_length=self.max_seq_length, seed=self.seed,
                                    input_pipeline_id=input_pipeline_id,
                                    num_input_pipelines=num_input_pipelines)

  def num_eval_steps(self, eval_batch_size: int) -> int:
    return math.ceil(len(self.eval_features) / eval_batch_size)

  def eval_outputs(self, features: task_lib.Features,
                   outputs: task_lib.Outputs) -> dict[str, tf.Tensor]:
    return {
        "unique_ids": features["unique_ids"],
        "is_real_example": features["is_real_example"],
        **self.head.raw_outputs(outputs)
    }

  def raw_results(self, collected: Mapping[str, np.ndarray]) -> list:
    """The head's RawResult of every real window, from predict's (or eval's) collected outputs."""
    real = np.asarray(collected["is_real_example"]).astype(bool)
    raw = {name: np.asarray(value)[real] for name, value in collected.items()}
    return self.head.raw_results(raw["unique_ids"], raw)

  def predictions(self, collected: Mapping[str, np.ndarray]) -> Any:
    """squad_postprocess's predictions of the eval examples from the collected outputs."""
    return self.head.predictions(self.eval_examples, self.eval_features,
                                 self.raw_results(collected), n_best_size=self.n_best_size,
                                 max_answer_length=self.max_answer_length)

  def evaluate_predictions(self, predictions: Any) -> dict[str, float]:
    """EM/F1 (v2: also the tuned and the fixed threshold's scores) of `predictions`."""
    scores = self.head.evaluate(self.eval_dataset, predictions)
    return {name: float(value) for name, value in scores.items() if _is_number(value)}

  def reduce_eval(self, results: dict[str, float],
                  collected: Mapping[str, np.ndarray]) -> dict[str, float]:
    # The in-graph results (a loss of 0, no accuracies) say nothing at evaluation: the block is
    # the official SQuAD scores of this checkpoint's predictions.
    del results
    return self.evaluate_predictions(self.predictions(collected))

  def load_fine_tuned(self, model: tf_keras.Model, checkpoint: str) -> None:
    """Loads a SQuAD fine-tuned checkpoint (ours or the original's), which must include the head.

    Raises:
      CheckpointMismatchError: the checkpoint has no head of this SQuAD version.
    """
    version = self.head.version
    checkpoint_loading.load_fine_tuned(model, checkpoint, f"SQuAD {version}",
                                       f"a checkpoint fine-tuned by run_squad_{version}")

  def progress_line(self, logs: Mapping[str, float]) -> str:
    names = ("loss",) + self.head.metric_names
    return " ".join(f"{name}={logs[name]:.4f}" for name in names)


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
