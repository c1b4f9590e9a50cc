"""ALBERT's factorized input embeddings (width E), before the E->H projection."""
# pylint: disable=g-classes-have-attributes

from typing import Optional

import tensorflow as tf
import tf_keras

from albert_tf.layers import initializers
from albert_tf.layers import normalization


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertEmbeddings(tf_keras.layers.Layer):
  """Word + token-type + position embeddings at width E, then LayerNorm and dropout.

  As the original (scope `bert/embeddings`): positions are always 0..T-1 (rows 0..T-1 of the table),
  the LayerNorm uses epsilon 1e-12 and acts at width E, before any projection to the hidden size.

  Args:
    vocab_size: V, rows of `word_embeddings`.
    embedding_size: E, the width of all three tables.
    max_position_embeddings: rows of `position_embeddings`; the longest sequence accepted.
    type_vocab_size: rows of `token_type_embeddings`.
    hidden_dropout_prob: dropout rate after the LayerNorm (training only).
    initializer_range: stddev of the truncated-normal table initializer.
    **kwargs: passed to tf_keras.layers.Layer.

  Example:
    >>> embeddings = AlbertEmbeddings(vocab_size=30000, embedding_size=128)
    >>> ids = tf.constant([[2, 9, 3]])
    >>> embeddings(ids, tf.zeros_like(ids)).shape   # [B, T, E]
    TensorShape([1, 3, 128])
  """

  def __init__(self, vocab_size: int, embedding_size: int, max_position_embeddings: int = 512,
               type_vocab_size: int = 2, hidden_dropout_prob: float = 0.0,
               initializer_range: float = 0.02, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = vocab_size
    self.embedding_size = embedding_size
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.initializer_range = initializer_range
    self.layer_norm = normalization.albert_layer_norm("layer_norm")
    self.dropout = tf_keras.layers.Dropout(hidden_dropout_prob, name="dropout")

  @property
  def width(self) -> int:
    """The width the type and position embeddings are added at, and the output width: E."""
    return self.embedding_size

  def build(self, input_shape=None):
    self.word_embeddings = self.add_table("word_embeddings", [self.vocab_size, self.embedding_size])
    self.build_word_projection()
    self.token_type_embeddings = self.add_table("token_type_embeddings",
                                                [self.type_vocab_size, self.width])
    self.position_embeddings = self.add_table("position_embeddings",
                                              [self.max_position_embeddings, self.width])
    with tf.name_scope(self.layer_norm.name):
      self.layer_norm.build([None, None, self.width])
    super().build(input_shape)

  def build_word_projection(self) -> None:
    """Creates the variables of `embed_words` beyond the word table: none here."""

  def add_table(self, name: str, shape: list[int]) -> tf.Variable:
    """A trainable table with the original's truncated-normal initialisation."""
    return self.add_weight(name, shape=shape,
                           initializer=initializers.truncated_normal(self.initializer_range),
                           trainable=True)

  def embed_words(self, input_word_ids: tf.Tensor) -> tf.Tensor:
    """The word vectors of the ids, [B, T, width]: rows of the word table here."""
    return tf.gather(self.word_embeddings, input_word_ids)

  def call(self, input_word_ids: tf.Tensor, input_type_ids: Optional[tf.Tensor] = None,
           training: Optional[bool] = None) -> tf.Tensor:
    """Embeds token ids.

    Args:
      input_word_ids: int [B, T].
      input_type_ids: int [B, T]; zeros when None.
      training: enables dropout.

    Returns:
      [B, T, width] in the layer's compute dtype.

    Raises:
      ValueError: (InvalidArgumentError when the length is only known when it runs) T exceeds
        max_position_embeddings.
    """
    seq_length = input_word_ids.shape[1]
    if seq_length is None:
      seq_length = tf.shape(input_word_ids)[1]
    embeddings = self.embed_words(input_word_ids)
    if input_type_ids is None:
      input_type_ids = tf.zeros_like(input_word_ids)
    embeddings += tf.gather(self.token_type_embeddings, input_type_ids)
    embeddings += self._positions(seq_length)[tf.newaxis]
    return self.dropout(self.layer_norm(embeddings), training=training)

  def _positions(self, seq_length) -> tf.Tensor:
    """Rows 0..T-1 of the position table, refusing T > max_position_embeddings."""
    message = (f"sequence length exceeds max_position_embeddings ({self.max_position_embeddings}); "
               "truncate the inputs or use a config with more positions")
    if isinstance(seq_length, int):
      if seq_length > self.max_position_embeddings:
        raise ValueError(f"{message} (got {seq_length})")
      return self.position_embeddings[:seq_length]
    with tf.control_dependencies(
        [tf.debugging.assert_less_equal(seq_length, self.max_position_embeddings,
                                        message=message)]):
      return self.position_embeddings[:seq_length]

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "vocab_size": self.vocab_size,
        "embedding_size": self.embedding_size,
        "max_position_embeddings": self.max_position_embeddings,
        "type_vocab_size": self.type_vocab_size,
        "hidden_dropout_prob": self.hidden_dropout_prob,
        "initializer_range": self.initializer_range,
    })
    return config
