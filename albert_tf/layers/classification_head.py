"""The fine-tuning classifier head of run_classifier.py (original root-scope variables)."""
# pylint: disable=g-classes-have-attributes

import tensorflow as tf
import tf_keras

from albert_tf.layers import initializers


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertClassificationHead(tf_keras.layers.Layer):
  """`logits = dropout(pooled) · output_weightsᵀ + output_bias`, output_weights stored [C, H].

  The original (classifier_utils.create_model) creates `output_weights` [num_labels, H] with a
  truncated normal of stddev 0.02 and `output_bias` [num_labels] of zeros at the root scope, and
  applies dropout with keep probability 0.9 to the pooled output in training only. The head runs in
  float32, so logits and losses stay exact under mixed precision.

  Args:
    hidden_size: H.
    num_labels: C (1 for regression).
    dropout_rate: dropout on the pooled output in training (the original's 0.1).
    initializer_range: stddev of the truncated-normal initializer of `output_weights`.
    **kwargs: passed to tf_keras.layers.Layer (dtype defaults to "float32").

  Example:
    >>> head = AlbertClassificationHead(hidden_size=768, num_labels=3)
    >>> head(tf.zeros([4, 768]), training=True).shape   # pooled_output [B, H] -> logits
    TensorShape([4, 3])
  """

  def __init__(self, hidden_size: int, num_labels: int, dropout_rate: float = 0.1,
               initializer_range: float = 0.02, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    if num_labels < 1:
      raise ValueError(f"num_labels={num_labels}: a classifier needs at least one output.")
    self.hidden_size = hidden_size
    self.num_labels = num_labels
    self.dropout_rate = dropout_rate
    self.initializer_range = initializer_range
    self.dropout = tf_keras.layers.Dropout(dropout_rate, dtype="float32")

  def build(self, input_shape=None):
    self.output_weights, self.output_bias = initializers.add_output_weights(
        self, self.num_labels, self.hidden_size, self.initializer_range)
    super().build(input_shape)

  def call(self, pooled_output: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    """Returns float32 [B, num_labels] logits for pooled_output [B, H]."""
    pooled_output = self.dropout(tf.cast(pooled_output, self.compute_dtype), training=training)
    return tf.matmul(pooled_output, self.output_weights, transpose_b=True) + self.output_bias

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "hidden_size": self.hidden_size,
        "num_labels": self.num_labels,
        "dropout_rate": self.dropout_rate,
        "initializer_range": self.initializer_range
    })
    return config
