"""The original pretraining losses and eval metrics (run_pretraining.py), always in float32."""

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

MLM_WEIGHT_EPSILON = 1e-5


def _sop_labels(features: Mapping[str, tf.Tensor]) -> tf.Tensor:
  """next_sentence_labels as int32 [B] (the records store [B, 1])."""
  return tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])


def _per_prediction_mlm_loss(features, outputs) -> tf.Tensor:
  """−log p(label) for every masked prediction, float32 [B, P]."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(features["masked_lm_ids"], tf.int32),
      logits=tf.cast(outputs["mlm_logits"], tf.float32))


def _per_example_sop_loss(features, outputs) -> tf.Tensor:
  """Softmax cross-entropy of the sentence-order logits, float32 [B]."""
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=_sop_labels(features), logits=tf.cast(outputs["sop_logits"], tf.float32))


def compute_pretraining_losses(features: Mapping[str, tf.Tensor], outputs: Mapping[str, tf.Tensor],
                               masked_lm_weight_sum: Optional[tf.Tensor] = None,
                               num_examples: Optional[tf.Tensor] = None) -> dict:
  """The original ALBERT pretraining loss.

  MLM: Σ(w · nll) / (Σw + 1e-5) over the whole (per-replica) batch, with w = masked_lm_weights, so
  padded predictions (w = 0) do not count. SOP: mean softmax cross-entropy. Total = MLM + SOP.

  Args:
    features: {"masked_lm_ids": int [B, P], "masked_lm_weights": float [B, P],
      "next_sentence_labels": int [B, 1] or [B]}.
    outputs: the AlbertPretrainer outputs ("mlm_logits" [B, P, V], "sop_logits" [B, 2]).
    masked_lm_weight_sum: the Σw to normalise by (default: this batch's). Given the sum over a
      global batch split between replicas, each replica's loss is its share of the global loss.
    num_examples: the number of examples to average the SOP loss over (default: this batch's).

  Returns:
    {"loss", "masked_lm_loss", "sentence_order_loss"}: float32 scalars.
  """
  weights = tf.cast(features["masked_lm_weights"], tf.float32)
  if masked_lm_weight_sum is None:
    masked_lm_weight_sum = tf.reduce_sum(weights)
  sop_losses = _per_example_sop_loss(features, outputs)
  if num_examples is None:
    num_examples = tf.cast(tf.shape(sop_losses)[0], tf.float32)
  nll = _per_prediction_mlm_loss(features, outputs)
  masked_lm_loss = tf.reduce_sum(weights * nll) / (masked_lm_weight_sum + MLM_WEIGHT_EPSILON)
  sentence_order_loss = tf.reduce_sum(sop_losses) / num_examples
  return {
      "loss": masked_lm_loss + sentence_order_loss,
      "masked_lm_loss": masked_lm_loss,
      "sentence_order_loss": sentence_order_loss,
  }


class PretrainingMetrics(tf.Module):
  """The original eval metrics, accumulated over batches.

  masked_lm_accuracy and masked_lm_loss are weighted by masked_lm_weights (tf.metrics.accuracy /
  tf.metrics.mean with weights); sentence_order_accuracy and sentence_order_loss are plain means.

  Example:

    metrics = PretrainingMetrics()
    for features in eval_dataset:
      metrics.update_state(features, pretrainer(features, training=False))
    metrics.result()   # {"masked_lm_accuracy": ..., "masked_lm_loss": ..., ...}
    metrics.reset_state()
  """

  def __init__(self, name: str = "pretraining_metrics"):
    super().__init__(name=name)
    self.masked_lm_accuracy = tf_keras.metrics.Accuracy(name="masked_lm_accuracy")
    self.masked_lm_loss = tf_keras.metrics.Mean(name="masked_lm_loss")
    self.sentence_order_accuracy = tf_keras.metrics.Accuracy(name="sentence_order_accuracy")
    self.sentence_order_loss = tf_keras.metrics.Mean(name="sentence_order_loss")

  @property
  def metrics(self) -> list:
    return [
        self.masked_lm_accuracy, self.masked_lm_loss, self.sentence_order_accuracy,
        self.sentence_order_loss
    ]

  def update_state(self, features: Mapping[str, tf.Tensor], outputs: Mapping[str,
                                                                             tf.Tensor]) -> None:
    """Adds one batch (same arguments as compute_pretraining_losses)."""
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    mlm_predictions = tf.argmax(outputs["mlm_logits"], axis=-1, output_type=tf.int32)
    self.masked_lm_accuracy.update_state(tf.cast(features["masked_lm_ids"], tf.int32),
                                         mlm_predictions, sample_weight=weights)
    self.masked_lm_loss.update_state(_per_prediction_mlm_loss(features, outputs),
                                     sample_weight=weights)
    sop_predictions = tf.argmax(outputs["sop_logits"], axis=-1, output_type=tf.int32)
    self.sentence_order_accuracy.update_state(_sop_labels(features), sop_predictions)
    self.sentence_order_loss.update_state(_per_example_sop_loss(features, outputs))

  def result(self) -> dict:
    """{metric name: float32 scalar}."""
    return {metric.name: metric.result() for metric in self.metrics}

  def reset_state(self) -> None:
    for metric in self.metrics:
      metric.reset_state()
