"""ALBERT's masked-LM head, tied to the word embedding table (original scope `cls/predictions`)."""
# pylint: disable=g-classes-have-attributes

from typing import Callable, Union

import tensorflow as tf
import tf_keras

from albert_tf.layers import activations
from albert_tf.layers import initializers
from albert_tf.layers import normalization


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertMaskedLMHead(tf_keras.layers.Layer):
  """Gathers the masked positions, transforms H->E (act + LayerNorm), scores against the table.

  `logits = LN(act(h·W + b)) · word_embeddingsᵀ + output_bias`, computed only at the P gathered
  positions. The output matrix is the word embedding table itself: it is passed to `call` and not
  tracked by this layer, so the tied variable exists (and is trained) exactly once. The head runs
  in float32 by default (dtype="float32"); its cost is small next to the encoder's and float32
  logits keep the softmax cross-entropy exact under mixed precision.

  Args:
    vocab_size: V, the length of `output_bias`.
    embedding_size: E, the transform's output width (the table's width).
    hidden_act: the transform's activation (the config's hidden_act).
    initializer_range: stddev of the truncated-normal kernel initializer.
    **kwargs: passed to tf_keras.layers.Layer (dtype defaults to "float32").

  Example:
    >>> head = AlbertMaskedLMHead(vocab_size=30000, embedding_size=128)
    >>> table = tf.Variable(tf.zeros([30000, 128]))   # the backbone's get_embedding_table()
    >>> sequence_output, positions = tf.zeros([2, 5, 768]), tf.constant([[1, 3], [2, 0]])
    >>> head(sequence_output, positions, table).shape   # [B, P, V]
    TensorShape([2, 2, 30000])
  """

  def __init__(self, vocab_size: int, embedding_size: int, hidden_act: str = "gelu",
               initializer_range: float = 0.02, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.vocab_size = vocab_size
    self.embedding_size = embedding_size
    self.hidden_act = hidden_act
    self.initializer_range = initializer_range
    self.transform = tf_keras.layers.Dense(
        embedding_size, activation=activations.get_activation(hidden_act),
        kernel_initializer=initializers.truncated_normal(initializer_range), name="transform",
        dtype=self.dtype_policy)
    self.layer_norm = normalization.albert_layer_norm("layer_norm", dtype=self.dtype_policy)

  def build(self, input_shape=None):
    """Creates the variables; input_shape is the sequence output's, [B, T, H]."""
    with tf.name_scope(self.transform.name):
      self.transform.build([None, tf.TensorShape(input_shape)[-1]])
    with tf.name_scope(self.layer_norm.name):
      self.layer_norm.build([None, self.embedding_size])
    self.output_bias = self.add_weight("output_bias", shape=[self.vocab_size], initializer="zeros",
                                       trainable=True)
    super().build(input_shape)

  def call(self, sequence_output: tf.Tensor, masked_lm_positions: tf.Tensor,
           embedding_table: Union[tf.Variable, Callable[[], tf.Tensor]]) -> tf.Tensor:
    """Computes the MLM logits.

    Args:
      sequence_output: [B, T, H].
      masked_lm_positions: int [B, P], positions in 0..T-1.
      embedding_table: the word embeddings [V, E] as the variable (not a tensor), or a function
        of no arguments that computes the table from variables. Either is read inside this layer,
        so mixed precision reads the variables in this layer's dtype (float32).

    Returns:
      [B, P, V] logits in the layer's compute dtype (float32 by default).
    """
    sequence_output = tf.cast(sequence_output, self.compute_dtype)
    gathered = tf.gather(sequence_output, masked_lm_positions, batch_dims=1)
    gathered = tf.reshape(gathered, [-1, sequence_output.shape[-1]])
    transformed = self.layer_norm(self.transform(gathered))
    if callable(embedding_table):
      embedding_table = embedding_table()
    table = tf.cast(embedding_table, self.compute_dtype)
    logits = tf.matmul(transformed, table, transpose_b=True) + self.output_bias
    return tf.reshape(logits, tf.concat([tf.shape(masked_lm_positions), [self.vocab_size]], 0))

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "vocab_size": self.vocab_size,
        "embedding_size": self.embedding_size,
        "hidden_act": self.hidden_act,
        "initializer_range": self.initializer_range,
    })
    return config
