"""The RACE task of run_race.py: AlbertMultipleChoice, softmax cross-entropy over the 4 options,
accuracy overall and per level (middle / high school), cached RACE TFRecords.

Everything but the model, the input and the per-level accuracy is the classification task's (a
4-label classifier whose logits come from scoring each option): the loss, the in-graph accuracy,
checkpoint loading, run files and the best checkpoint by eval_accuracy, as the original run_race.
"""

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from albert_tf.config import AlbertConfig
from albert_tf.models import hub_encoder
from albert_tf.models.albert_multiple_choice import AlbertMultipleChoice
from albert_tf.tasks import classification
from albert_tf.tasks import classifier_metrics
from albert_tf.tasks import race_data


def race_metrics(collected: Mapping[str, np.ndarray], levels: Sequence[str]) -> dict[str, float]:
  """eval_accuracy and eval_loss (the original's keys) plus eval_accuracy_<level> for each level.

  Args:
    collected: the task's `eval_outputs` over one padded pass (label_ids, logits,
      is_real_example, per_example_loss), in example order.
    levels: the level of each real example, in the same order.

  Returns:
    The metrics; a level without examples has no key.
  """
  metrics = classifier_metrics.classification_metrics("race", collected["label_ids"],
                                                      collected["logits"],
                                                      collected["is_real_example"],
                                                      collected["per_example_loss"],
                                                      is_regression=False)
  real = np.asarray(collected["is_real_example"]) > 0
  correct = (np.argmax(collected["logits"], axis=-1) == collected["label_ids"])[real]
  levels = np.asarray(levels)
  if len(levels) != len(correct):
    raise ValueError(f"{len(correct)} evaluated examples but {len(levels)} levels")
  for level in race_data.LEVELS:
    if np.any(levels == level):
      metrics[f"eval_accuracy_{level}"] = float(np.mean(correct[levels == level]))
  return metrics


class RaceTask(classification.ClassificationTask):
  """Multiple-choice reading comprehension (RACE), as run_race.py fine-tunes it.

  Args:
    config: the encoder's AlbertConfig.
    record_files: {split: a `race_data.cached_race_features` file} for the splits the run uses
      ("train", "eval", "predict").
    num_examples: {split: questions in that file}.
    levels: {split: the level of each question, in file order} for "eval" (and "predict").
    max_seq_length: tokens per option sequence.
    dropout_rate: dropout on the pooled outputs (the original's --dropout_prob).
    seed: seed of the training shuffle.
    hub_module_handle: fine-tune this encoder SavedModel instead of a new AlbertModel.
    vocabulary: the vocabulary entry the run directory records.

  Example:

    task = RaceTask(config, record_files={"train": path}, num_examples={"train": 87866},
                    levels={}, max_seq_length=512)
  """

  def __init__(self, config: AlbertConfig, *, record_files: Mapping[str, str],
               num_examples: Mapping[str, int], levels: Mapping[str, Sequence[str]],
               max_seq_length: int, dropout_rate: float = 0.1, seed: int = 0,
               hub_module_handle: str | None = None, vocabulary: dict | None = None):
    super().__init__(config, task_name="race", label_list=list(race_data.LABELS),
                     is_regression=False, record_files=record_files, num_examples=num_examples,
                     max_seq_length=max_seq_length, seed=seed, hub_module_handle=hub_module_handle,
                     vocabulary=vocabulary)
    self.levels = {split: list(values) for split, values in levels.items()}
    self.dropout_rate = dropout_rate

  def build_model(self) -> tf_keras.Model:
    encoder = None
    if self.hub_module_handle:
      encoder = hub_encoder.HubEncoder(self.hub_module_handle, self.config, name="albert")
    model = AlbertMultipleChoice(self.config, num_choices=race_data.NUM_CHOICES,
                                 dropout_rate=self.dropout_rate, encoder=encoder)
    model.build()
    return model

  def dataset(self, split: str, batch_size: int, input_pipeline_id: int = 0,
              num_input_pipelines: int = 1) -> tf.data.Dataset:
    return race_data.race_dataset(self.record_files[split], batch_size=batch_size,
                                  max_seq_length=self.max_seq_length, is_training=split == "train",
                                  seed=self.seed, input_pipeline_id=input_pipeline_id,
                                  num_input_pipelines=num_input_pipelines)

  def reduce_eval(self, results: dict[str, float],
                  collected: Mapping[str, np.ndarray]) -> dict[str, float]:
    metrics = race_metrics(collected, self.levels["eval"])
    return {**metrics, "loss": metrics["eval_loss"]}
