"""brightmart/albert_zh's projection-first embeddings (scope `bert/embeddings`)."""
# pylint: disable=g-classes-have-attributes

from typing import Optional

import tensorflow as tf
import tf_keras

from albert_tf.layers import embeddings
from albert_tf.layers import initializers


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class BrightmartEmbeddings(embeddings.AlbertEmbeddings):
  """Word lookup at width E, projection to H, then + type + position at width H, LayerNorm, dropout.

  `x = LN(word_embeddings[ids]·word_embeddings_2 + token_type_embeddings[types] + pos[0:T])`, as
  brightmart's `embedding_lookup_factorized` + `embedding_postprocessor`: the projection has no
  bias, and the LayerNorm (epsilon 1e-12) acts at width H. Everything else is AlbertEmbeddings'.

  Args:
    hidden_size: H, the width of the projection and of everything after it.
    **kwargs: AlbertEmbeddings' arguments (vocab_size, embedding_size, max_position_embeddings,
      type_vocab_size, hidden_dropout_prob, initializer_range) and tf_keras.layers.Layer's.

  Example:

    embeddings = BrightmartEmbeddings(hidden_size=312, vocab_size=21128, embedding_size=128)
    x = embeddings(input_word_ids, input_type_ids)   # [B, T, 312]
  """

  def __init__(self, hidden_size: int, **kwargs):
    super().__init__(**kwargs)
    self.hidden_size = hidden_size

  def build(self, input_shape=None):
    shapes = {
        "word_embeddings": [self.vocab_size, self.embedding_size],
        "word_embeddings_2": [self.embedding_size, self.hidden_size],
        "token_type_embeddings": [self.type_vocab_size, self.hidden_size],
        "position_embeddings": [self.max_position_embeddings, self.hidden_size],
    }
    for name, shape in shapes.items():
      setattr(self, name, self.add_weight(
          name, shape=shape, initializer=initializers.truncated_normal(self.initializer_range),
          trainable=True))
    with tf.name_scope(self.layer_norm.name):
      self.layer_norm.build([None, None, self.hidden_size])
    # Skips AlbertEmbeddings.build, whose tables are E wide.
    tf_keras.layers.Layer.build(self, input_shape)

  def call(self,
           input_word_ids: tf.Tensor,
           input_type_ids: Optional[tf.Tensor] = None,
           training: Optional[bool] = None) -> tf.Tensor:
    """As AlbertEmbeddings.call, but projects each word vector before adding type and position."""
    seq_length = tf.shape(input_word_ids)[1]
    if input_type_ids is None:
      input_type_ids = tf.zeros_like(input_word_ids)
    projected = tf.matmul(tf.gather(self.word_embeddings, input_word_ids), self.word_embeddings_2)
    projected += tf.gather(self.token_type_embeddings, input_type_ids)
    projected += self.position_embeddings[:seq_length][tf.newaxis]
    return self.dropout(self.layer_norm(projected), training=training)

  def get_config(self) -> dict:
    return dict(super().get_config(), hidden_size=self.hidden_size)
