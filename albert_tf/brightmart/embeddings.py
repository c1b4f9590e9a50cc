"""brightmart/albert_zh's projection-first embeddings (scope `bert/embeddings`)."""
# pylint: disable=g-classes-have-attributes

import tensorflow as tf
import tf_keras

from albert_tf.layers import embeddings


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class BrightmartEmbeddings(embeddings.AlbertEmbeddings):
  """Word lookup at width E, projection to H, then + type + position at width H, LayerNorm, dropout.

  `x = LN(word_embeddings[ids]·word_embeddings_2 + token_type_embeddings[types] + pos[0:T])`, as
  brightmart's `embedding_lookup_factorized` + `embedding_postprocessor`: the projection has no
  bias, and the LayerNorm (epsilon 1e-12) acts at width H. Everything else, the refusal of sequences
  longer than max_position_embeddings included, is AlbertEmbeddings'.

  Args:
    hidden_size: H, the width of the projection and of everything after it.
    **kwargs: AlbertEmbeddings' arguments (vocab_size, embedding_size, max_position_embeddings,
      type_vocab_size, hidden_dropout_prob, initializer_range) and tf_keras.layers.Layer's.

  Example:
    >>> embeddings = BrightmartEmbeddings(hidden_size=312, vocab_size=21128, embedding_size=128)
    >>> ids = tf.constant([[101, 791, 102]])
    >>> embeddings(ids, tf.zeros_like(ids)).shape   # H wide: the projection comes first
    TensorShape([1, 3, 312])
  """

  def __init__(self, hidden_size: int, **kwargs):
    super().__init__(**kwargs)
    self.hidden_size = hidden_size

  @property
  def width(self) -> int:
    """H: brightmart adds type and position embeddings after the projection."""
    return self.hidden_size

  def build_word_projection(self) -> None:
    """Creates `word_embeddings_2` [E, H], the projection (no bias)."""
    self.word_embeddings_2 = self.add_table("word_embeddings_2",
                                            [self.embedding_size, self.hidden_size])

  def embed_words(self, input_word_ids: tf.Tensor) -> tf.Tensor:
    """Each word vector projected to H: word_embeddings[ids] · word_embeddings_2."""
    return tf.matmul(super().embed_words(input_word_ids), self.word_embeddings_2)

  def get_config(self) -> dict:
    return dict(super().get_config(), hidden_size=self.hidden_size)
