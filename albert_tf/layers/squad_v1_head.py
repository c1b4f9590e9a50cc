"""The SQuAD v1.1 span head of run_squad_v1.py (original scope `cls/squad`)."""
# pylint: disable=g-classes-have-attributes

import tensorflow as tf
import tf_keras

from albert_tf.layers import initializers


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSquadV1Head(tf_keras.layers.Layer):
  """Start and end logits: `sequence_output · output_weightsᵀ + output_bias`, split in two.

  The original (squad_utils.create_v1_model) creates `cls/squad/output_weights` [2, H] with a
  truncated normal of stddev 0.02 (every released config's initializer_range) and
  `cls/squad/output_bias` [2] of zeros; row 0 gives the start logits, row 1 the end logits. It
  masks nothing: padding, question and special tokens keep their logits, and the post-processing
  skips spans outside the paragraph. The head runs in float32, so logits and losses stay exact
  under mixed precision.

  Args:
    hidden_size: H.
    initializer_range: stddev of the truncated-normal initializer of `output_weights`.
    **kwargs: passed to tf_keras.layers.Layer (dtype defaults to "float32").

  Example:
    >>> head = AlbertSquadV1Head(hidden_size=32)
    >>> start_logits, end_logits = head(tf.zeros([2, 7, 32]))   # sequence_output [B, T, H]
    >>> start_logits.shape, end_logits.dtype
    (TensorShape([2, 7]), tf.float32)
  """

  def __init__(self, hidden_size: int, initializer_range: float = 0.02, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.hidden_size = hidden_size
    self.initializer_range = initializer_range

  def build(self, input_shape=None):
    self.output_weights, self.output_bias = initializers.add_output_weights(
        self, 2, self.hidden_size, self.initializer_range)
    super().build(input_shape)

  def call(self, sequence_output: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Returns float32 (start_logits, end_logits), each [B, T], for sequence_output [B, T, H]."""
    sequence_output = tf.cast(sequence_output, self.compute_dtype)
    logits = tf.einsum("bth,nh->nbt", sequence_output, self.output_weights)
    logits += self.output_bias[:, None, None]
    return logits[0], logits[1]

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({"hidden_size": self.hidden_size, "initializer_range": self.initializer_range})
    return config
