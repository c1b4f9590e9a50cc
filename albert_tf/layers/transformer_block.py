"""One ALBERT attention + feed-forward block (post-LayerNorm, BERT style)."""
# pylint: disable=g-classes-have-attributes

import math
from typing import ContextManager, List, Optional

import tensorflow as tf
import tf_keras

from albert_tf import config as albert_config
from albert_tf.layers import activations
from albert_tf.layers import initializers
from albert_tf.layers import normalization
from albert_tf.layers import trace_flag

_SPLIT_FEED_FORWARD = trace_flag.TraceFlag()


def split_feed_forward() -> ContextManager[None]:
  """Blocks called in this scope compute the feed-forward in slices of at most H units.

  The same function as the whole feed-forward: each slice s of the I units computes
  act(a·W1[:, s] + b1[s])·W2[s, :], and the slices' products are summed before b2 is added, so
  only the order of the float32 sums over I changes. It is for the TFLite export: XNNPACK's GEMM
  sweeps the whole weight matrix for every 7 rows of tokens, and the [H, I] and [I, H] matrices
  (9.4 MB each at H = 768) do not stay in a core's L2 cache while [H, H] slices of them about do;
  on the albert_base_v2 shape the float32 TFLite encoder takes 0.92-0.96x the time with them
  (`benchmarks/tflite_split_bench.py`).
  TF's oneDNN GEMMs are slower on the smaller shapes, so the SavedModel keeps one matmul each.

  Returns:
    The scope; it holds for calls (and so for tf.function traces) in this thread.
  """
  return _SPLIT_FEED_FORWARD.scope()


def feed_forward_slices(intermediate_size: int, hidden_size: int) -> List[int]:
  """The widths of the fewest near-equal slices of I units that are each at most H wide."""
  count = -(-intermediate_size // hidden_size)
  return [intermediate_size // count + (i < intermediate_size % count) for i in range(count)]


def _residual_sum(sublayer_output: tf.Tensor, residual: tf.Tensor) -> tf.Tensor:
  """sublayer_output + residual in float32 (a no-op cast when both already are)."""
  return tf.cast(sublayer_output, tf.float32) + tf.cast(residual, tf.float32)


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertTransformerBlock(tf_keras.layers.Layer):
  """Self-attention and feed-forward sublayers, each followed by dropout, residual and LayerNorm.

  Numerics of the original `attention_ffn_block`: separate query/key/value kernels [H, H] whose
  columns n·D..(n+1)·D-1 belong to head n; scores q·kᵀ are scaled by 1/sqrt(D) and THEN the mask
  bias (0 or -10000) is added; softmax over keys; dropout on the probabilities; output projection,
  dropout, LN(x + a); then LN(a + dropout(W2·act(W1·a))). LayerNorm epsilon is 1e-12.

  All matmuls run on [B·T, H] matrices, and heads are split with one reshape per tensor, so XLA and
  oneDNN see large 2-D GEMMs. Under a mixed precision policy the projections and the feed-forward
  matmuls run in the compute dtype (e.g. bfloat16), while q·kᵀ, the masked softmax, the residual
  adds and the LayerNorms run in float32, so the residual stream between blocks stays float32. That
  is close to the original's numerics on TPU (a float32 model whose matmul inputs the TPU rounds to
  bfloat16), and it keeps the rounding error from growing with depth: the block output is rounded
  to bfloat16 only where it enters the next matmul.

  Args:
    hidden_size: H.
    num_attention_heads: N; must divide H.
    intermediate_size: I, the feed-forward width.
    hidden_act: activation of the feed-forward layer ("gelu" is the tanh approximation).
    hidden_dropout_prob: dropout after the attention output and the feed-forward output.
    attention_probs_dropout_prob: dropout on the attention probabilities.
    initializer_range: stddev of the truncated-normal kernel initializer.
    **kwargs: passed to tf_keras.layers.Layer.

  Example:
    >>> block = AlbertTransformerBlock(hidden_size=768, num_attention_heads=12,
    ...                                intermediate_size=3072)
    >>> x, attention_bias = tf.zeros([2, 5, 768]), tf.zeros([2, 1, 1, 5])  # bias [B, 1, 1, T]
    >>> block(x, attention_bias).shape
    TensorShape([2, 5, 768])
  """

  def __init__(self, hidden_size: int, num_attention_heads: int, intermediate_size: int,
               hidden_act: str = "gelu", hidden_dropout_prob: float = 0.0,
               attention_probs_dropout_prob: float = 0.0, initializer_range: float = 0.02,
               **kwargs):
    super().__init__(**kwargs)
    albert_config.check_attention_heads(hidden_size, num_attention_heads)
    self.hidden_size = hidden_size
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.initializer_range = initializer_range
    self.head_size = hidden_size // num_attention_heads

    def dense(units, name, activation=None):
      return tf_keras.layers.Dense(
          units, activation=activation,
          kernel_initializer=initializers.truncated_normal(initializer_range), name=name)

    self.query = dense(hidden_size, "query")
    self.key = dense(hidden_size, "key")
    self.value = dense(hidden_size, "value")
    self.attention_probs_dropout = tf_keras.layers.Dropout(attention_probs_dropout_prob,
                                                           name="attention_probs_dropout")
    self.attention_output = dense(hidden_size, "attention_output")
    self.attention_dropout = tf_keras.layers.Dropout(hidden_dropout_prob, name="attention_dropout")
    # float32 LayerNorms carry the float32 residual stream under mixed precision (see above).
    self.attention_layer_norm = normalization.albert_layer_norm("attention_layer_norm",
                                                                dtype="float32")
    self.intermediate = dense(intermediate_size, "intermediate",
                              activations.get_activation(hidden_act))
    self.output_dense = dense(hidden_size, "output_dense")
    self.output_dropout = tf_keras.layers.Dropout(hidden_dropout_prob, name="output_dropout")
    self.output_layer_norm = normalization.albert_layer_norm("output_layer_norm", dtype="float32")

  def build(self, input_shape=None):
    hidden = [None, self.hidden_size]
    for sublayer, shape in ((self.query, hidden), (self.key, hidden), (self.value, hidden),
                            (self.attention_output, hidden), (self.attention_layer_norm, hidden),
                            (self.intermediate, hidden), (self.output_dense,
                                                          [None, self.intermediate_size
                                                          ]), (self.output_layer_norm, hidden)):
      with tf.name_scope(sublayer.name):
        sublayer.build(shape)
    super().build(input_shape)

  def call(self, inputs: tf.Tensor, attention_bias: tf.Tensor,
           training: Optional[bool] = None) -> tf.Tensor:
    """Applies the block.

    Args:
      inputs: [B, T, H].
      attention_bias: float32 [B, 1, 1, T] (or broadcastable to [B, N, T, T]): 0 for keys to
        attend to, -10000 for masked keys.
      training: enables dropout.

    Returns:
      float32 [B, T, H] (the residual stream; see the class docstring).
    """
    shape = tf.shape(inputs)
    batch_size, seq_length = shape[0], shape[1]
    hidden = tf.reshape(inputs, [-1, self.hidden_size])
    attention = self._self_attention(hidden, attention_bias, batch_size, seq_length, training)
    attention = self.attention_layer_norm(
        _residual_sum(self.attention_dropout(attention, training=training), hidden))
    output = self._feed_forward(attention)
    output = self.output_layer_norm(
        _residual_sum(self.output_dropout(output, training=training), attention))
    return tf.reshape(output, shape)

  def _feed_forward(self, attention: tf.Tensor) -> tf.Tensor:
    """W2·act(W1·a + b1) + b2 on [B·T, H] rows, in slices of I inside `split_feed_forward()`."""
    if not _SPLIT_FEED_FORWARD.enabled:
      return self.output_dense(self.intermediate(attention))
    slices = feed_forward_slices(self.intermediate_size, self.hidden_size)
    dtype = self.intermediate.compute_dtype
    attention = tf.cast(attention, dtype)
    kernels_in = tf.split(tf.cast(self.intermediate.kernel, dtype), slices, axis=1)
    biases_in = tf.split(tf.cast(self.intermediate.bias, dtype), slices)
    kernels_out = tf.split(tf.cast(self.output_dense.kernel, dtype), slices, axis=0)
    output = tf.cast(self.output_dense.bias, dtype)
    # The layers' names scope the ops (made unique as intermediate_1, ...), as in the op names
    # that the TFLite int8 export and error messages go by.
    with tf.name_scope(self.intermediate.name):
      inner = [
          self.intermediate.activation(tf.matmul(attention, kernel) + bias)
          for kernel, bias in zip(kernels_in, biases_in)
      ]
    with tf.name_scope(self.output_dense.name):
      for inner_slice, kernel in zip(inner, kernels_out):
        output = tf.matmul(inner_slice, kernel) + output
    return output

  def _self_attention(self, hidden, attention_bias, batch_size, seq_length, training):
    """Multi-head attention on [B·T, H] rows; returns the output projection [B·T, H]."""
    heads_shape = [batch_size, seq_length, self.num_attention_heads, self.head_size]

    def split_heads(projection):
      # [B·T, H] -> [B, N, T, D]: one reshape and one transpose, then batched matmuls (measured
      # ~7% less CPU time than the equivalent einsum on oneDNN without XLA; equal under XLA).
      return tf.transpose(tf.reshape(projection(hidden), heads_shape), [0, 2, 1, 3])

    query, key, value = split_heads(self.query), split_heads(self.key), split_heads(self.value)
    # q·kᵀ in float32 under mixed precision: a score of magnitude s rounded to bfloat16 moves its
    # probability by up to ~s·2⁻⁹ relative (4% at s = 20); of the bfloat16 steps tried one at a
    # time on the trained demo model this one cost the most. It is ~1.4% of the FLOPs at T = 128.
    scores = tf.matmul(tf.cast(query, tf.float32), tf.cast(key, tf.float32), transpose_b=True)
    # As the original: scale first, then the additive mask.
    scores = scores * (1.0 / math.sqrt(self.head_size))
    probs = tf.nn.softmax(scores + attention_bias, axis=-1)
    probs = self.attention_probs_dropout(tf.cast(probs, value.dtype), training=training)
    context = tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])
    return self.attention_output(tf.reshape(context, [-1, self.hidden_size]))

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "hidden_size": self.hidden_size,
        "num_attention_heads": self.num_attention_heads,
        "intermediate_size": self.intermediate_size,
        "hidden_act": self.hidden_act,
        "hidden_dropout_prob": self.hidden_dropout_prob,
        "attention_probs_dropout_prob": self.attention_probs_dropout_prob,
        "initializer_range": self.initializer_range,
    })
    return config
