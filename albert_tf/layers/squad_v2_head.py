"""The SQuAD 2.0 head of run_squad_v2.py: XLNet's start/end network and answer classifier.

tf-models' `XLNetSpanLabeling` computes the same function, but it is not reused: its
`tf.squeeze` drops the batch dimension at batch size 1, it computes either the end log-probs of
the gold start or the top-k beam (never both, which evaluation with gold starts needs), and its
dense layers read the concatenation [H_t, H_start] at every (position, start) pair, where
splitting the kernel reads each half once (about 2·k1 times fewer FLOPs at inference, the same
function).
"""
# pylint: disable=g-classes-have-attributes

from typing import Optional

import tensorflow as tf
import tf_keras

from albert_tf.layers import initializers
from albert_tf.layers import normalization

# The original's mask value: `logits * (1 - p_mask) - 1e30 * p_mask`.
MASKED_LOGIT = 1e30


def mask_logits(logits: tf.Tensor, p_mask: tf.Tensor) -> tf.Tensor:
  """The original's masking: positions with p_mask 1 get -1e30, the others keep their logit."""
  return logits * (1.0 - p_mask) - MASKED_LOGIT * p_mask


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSquadV2Head(tf_keras.layers.Layer):
  """Start log-probs, end log-probs given a start, and the no-answer logit (create_v2_model).

  With the original scopes (variables at the root, as in squad_utils.create_v2_model):
  `start_logits/dense` (H -> 1); `end_logits/dense_0` (tanh, [H_t, H_start] 2H -> H),
  `end_logits/LayerNorm`, `end_logits/dense_1` (H -> 1); `answer_class/dense_0` (tanh,
  [Σ softmax(start)·H, H_CLS] 2H -> H), dropout, `answer_class/dense_1` (H -> 1, no bias). All
  kernels are truncated normal with initializer_range, biases zeros. Logits are masked where
  p_mask is 1 as the original does (`l·(1-p) - 1e30·p`). The head runs in float32.

  Args:
    hidden_size: H.
    start_n_top: k1, the start positions kept at inference.
    end_n_top: k2, the end positions kept per start at inference.
    dropout_rate: dropout before `answer_class/dense_1` in training (the original's 0.1).
    initializer_range: stddev of the kernels' truncated-normal initializer.
    **kwargs: passed to tf_keras.layers.Layer (dtype defaults to "float32").

  Example:
    >>> head = AlbertSquadV2Head(hidden_size=32, start_n_top=2, end_n_top=3)
    >>> p_mask = tf.constant([[1., 1., 0., 0., 0., 1.]])  # 1 = may not be an answer
    >>> out = head(tf.random.normal([1, 6, 32]), p_mask, training=False)
    >>> out["start_top_index"].shape, out["end_top_index"].shape, out["cls_logits"].shape
    (TensorShape([1, 2]), TensorShape([1, 6]), TensorShape([1]))
  """

  def __init__(self, hidden_size: int, start_n_top: int = 5, end_n_top: int = 5,
               dropout_rate: float = 0.1, initializer_range: float = 0.02, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    if start_n_top < 1 or end_n_top < 1:
      raise ValueError(f"start_n_top={start_n_top}, end_n_top={end_n_top}: both must be >= 1")
    self.hidden_size = hidden_size
    self.start_n_top = start_n_top
    self.end_n_top = end_n_top
    self.dropout_rate = dropout_rate
    self.initializer_range = initializer_range
    self.start_dense = self._dense(1, "start_dense")
    self.end_dense_0 = self._dense(hidden_size, "end_dense_0")  # tanh, applied in _end_logits.
    self.end_layer_norm = normalization.albert_layer_norm("end_layer_norm", dtype=self.dtype_policy)
    self.end_dense_1 = self._dense(1, "end_dense_1")
    self.answer_dense_0 = self._dense(hidden_size, "answer_dense_0", activation="tanh")
    self.dropout = tf_keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
    self.answer_dense_1 = self._dense(1, "answer_dense_1", use_bias=False)

  def _dense(self, units: int, name: str, **kwargs) -> tf_keras.layers.Dense:
    return tf_keras.layers.Dense(
        units, kernel_initializer=initializers.truncated_normal(self.initializer_range), name=name,
        dtype=self.dtype_policy, **kwargs)

  def build(self, input_shape=None):
    width, double = [None, self.hidden_size], [None, 2 * self.hidden_size]
    # The end network runs on [B, T, K, H] (K starts); Keras' LayerNorm keeps its built rank.
    end_width = [None, None, None, self.hidden_size]
    for layer, shape in ((self.start_dense, width), (self.end_dense_0, double),
                         (self.end_layer_norm, end_width), (self.end_dense_1, end_width),
                         (self.answer_dense_0, double), (self.answer_dense_1, width)):
      with tf.name_scope(layer.name):
        layer.build(shape)
    super().build(input_shape)

  def _end_logits(self, hidden: tf.Tensor, start_features: tf.Tensor) -> tf.Tensor:
    """End logits [B, T, K] for hidden [B, T, H] and the features of K starts [B, K, H].

    dense_0 on concat([H_t, H_start]) is H_t·W[:H] + H_start·W[H:] + b: each half read once.
    """
    kernel = self.end_dense_0.kernel
    hidden_part = tf.einsum("bth,hd->btd", hidden, kernel[:self.hidden_size])
    start_part = tf.einsum("bkh,hd->bkd", start_features, kernel[self.hidden_size:])
    inner = tf.tanh(hidden_part[:, :, None, :] + start_part[:, None, :, :] + self.end_dense_0.bias)
    return tf.squeeze(self.end_dense_1(self.end_layer_norm(inner)), -1)

  def _answer_class(self, hidden: tf.Tensor, start_logits_masked: tf.Tensor,
                    training: Optional[bool]) -> tf.Tensor:
    """cls_logits [B] from the start-probability-weighted hidden state and [CLS]'s."""
    start_p = tf.nn.softmax(start_logits_masked, axis=-1)
    start_feature = tf.einsum("bth,bt->bh", hidden, start_p)
    features = tf.concat([start_feature, hidden[:, 0, :]], axis=-1)
    features = self.dropout(self.answer_dense_0(features), training=training)
    return tf.squeeze(self.answer_dense_1(features), -1)

  def call(self, sequence_output: tf.Tensor, p_mask: tf.Tensor,
           start_positions: Optional[tf.Tensor] = None, training: Optional[bool] = None) -> dict:
    """Runs the head.

    Args:
      sequence_output: [B, T, H].
      p_mask: [B, T], 1 where the answer may not be (question, special tokens, padding).
      start_positions: int [B] gold starts; when given, "end_log_probs" is conditioned on them.
      training: enables dropout; when false, the top-k beam outputs are added.

    Returns:
      {"start_log_probs" [B, T], "cls_logits" [B]}, plus "end_log_probs" [B, T] when
      start_positions is given, plus "start_top_log_probs" [B, k1], "start_top_index" int32
      [B, k1], "end_top_log_probs" and "end_top_index" int32 [B, k1·k2] (start-major, the
      original's order) when not training. All float32 but the indices.
    """
    hidden = tf.cast(sequence_output, self.compute_dtype)
    p_mask = tf.cast(p_mask, self.compute_dtype)
    start_logits = mask_logits(tf.squeeze(self.start_dense(hidden), -1), p_mask)
    start_log_probs = tf.nn.log_softmax(start_logits, -1)
    outputs = {"start_log_probs": start_log_probs}
    if start_positions is not None:
      start_positions = tf.reshape(tf.cast(start_positions, tf.int32), [-1, 1])
      gold_features = tf.gather(hidden, start_positions, batch_dims=1)  # [B, 1, H]
      end_logits = mask_logits(self._end_logits(hidden, gold_features)[:, :, 0], p_mask)
      outputs["end_log_probs"] = tf.nn.log_softmax(end_logits, -1)
    if not training:
      outputs.update(self._beam(hidden, start_log_probs, p_mask))
    outputs["cls_logits"] = self._answer_class(hidden, start_logits, training)
    return outputs

  def _beam(self, hidden: tf.Tensor, start_log_probs: tf.Tensor, p_mask: tf.Tensor) -> dict:
    """The top k1 starts and, for each, its top k2 ends (create_v2_model's inference branch)."""
    start_top_log_probs, start_top_index = tf.nn.top_k(start_log_probs, k=self.start_n_top)
    start_features = tf.gather(hidden, start_top_index, batch_dims=1)  # [B, k1, H]
    end_logits = tf.transpose(self._end_logits(hidden, start_features), [0, 2, 1])  # [B, k1, T]
    end_log_probs = tf.nn.log_softmax(mask_logits(end_logits, p_mask[:, None, :]), -1)
    end_top_log_probs, end_top_index = tf.nn.top_k(end_log_probs, k=self.end_n_top)
    beam = self.start_n_top * self.end_n_top
    return {
        "start_top_log_probs": start_top_log_probs,
        "start_top_index": start_top_index,
        "end_top_log_probs": tf.reshape(end_top_log_probs, [-1, beam]),
        "end_top_index": tf.reshape(end_top_index, [-1, beam]),
    }

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "hidden_size": self.hidden_size,
        "start_n_top": self.start_n_top,
        "end_n_top": self.end_n_top,
        "dropout_rate": self.dropout_rate,
        "initializer_range": self.initializer_range,
    })
    return config
