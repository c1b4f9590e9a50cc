"""ALBERT's sentence-order prediction head (original scope `cls/seq_relationship`)."""
# pylint: disable=g-classes-have-attributes

import tensorflow as tf
import tf_keras

from albert_tf.layers import initializers

NUM_CLASSES = 2


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSentenceOrderHead(tf_keras.layers.Layer):
  """`logits = pooled · output_weightsᵀ + output_bias`; output_weights is [2, H], as originally.

  Runs in float32 by default, like the MLM head, so the SOP loss is exact under mixed precision.

  Args:
    hidden_size: H.
    initializer_range: stddev of the truncated-normal initializer of `output_weights`.
    **kwargs: passed to tf_keras.layers.Layer (dtype defaults to "float32").

  Example:
    >>> head = AlbertSentenceOrderHead(hidden_size=768)
    >>> head(tf.zeros([4, 768])).shape   # pooled_output [B, H] -> logits; class 1 = swapped
    TensorShape([4, 2])
  """

  def __init__(self, hidden_size: int, initializer_range: float = 0.02, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.hidden_size = hidden_size
    self.initializer_range = initializer_range

  def build(self, input_shape=None):
    self.output_weights, self.output_bias = initializers.add_output_weights(
        self, NUM_CLASSES, self.hidden_size, self.initializer_range)
    super().build(input_shape)

  def call(self, pooled_output: tf.Tensor) -> tf.Tensor:
    """Returns [B, 2] logits for pooled_output [B, H]."""
    pooled_output = tf.cast(pooled_output, self.compute_dtype)
    return tf.matmul(pooled_output, self.output_weights, transpose_b=True) + self.output_bias

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({"hidden_size": self.hidden_size, "initializer_range": self.initializer_range})
    return config
