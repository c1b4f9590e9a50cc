"""ALBERT's encoder: L layer applications that share G groups of K transformer blocks."""
# pylint: disable=g-classes-have-attributes

import itertools
from typing import ContextManager, List, Optional

import tensorflow as tf
import tf_keras

from albert_tf import config as albert_config
from albert_tf.layers import trace_flag
from albert_tf.layers import transformer_block

ATTENTION_MASK_VALUE = -10000.0
_LOOP_LAYERS = trace_flag.TraceFlag()


def loop_layers() -> ContextManager[None]:
  """Encoders called in this scope run each group's consecutive layers as one `tf.while_loop`.

  The same function, with one difference in what is returned: only the last output of each run of
  layers that use the same group, not all L·K block outputs. It is for the TFLite export: the
  converter turns the loop into a WHILE op whose body holds the group's blocks once, so XNNPACK
  packs the shared weights once instead of once per layer application (the unrolled base-shape
  encoder grew the process by 265 MiB for 27 MiB of weights; `benchmarks/tflite_split_bench.py`).

  Returns:
    The scope; it holds for calls (and so for tf.function traces) in this thread.
  """
  return _LOOP_LAYERS.scope()


def attention_bias_from_mask(input_mask: tf.Tensor) -> tf.Tensor:
  """Turns an int [B, T] 0/1 key mask into the additive float32 bias [B, 1, 1, T].

  The original adds (1 - mask) * -10000.0 (not -inf), so a row whose keys are all masked becomes a
  plain softmax instead of NaN.

  Args:
    input_mask: [B, T], 1 for real tokens and 0 for padding.

  Returns:
    float32 [B, 1, 1, T] with 0 for kept keys and -10000 for masked keys.
  """
  mask = tf.cast(input_mask, tf.float32)
  # expand_dims, not `[:, tf.newaxis, tf.newaxis, :]`: that is a StridedSlice with new_axis_mask,
  # which the TFLite converter rejects when the sequence length is dynamic.
  return tf.expand_dims(tf.expand_dims((1.0 - mask) * ATTENTION_MASK_VALUE, 1), 1)


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSharedEncoder(tf_keras.layers.Layer):
  """The original `transformer_model` with cross-layer parameter sharing.

  `groups[g][k]` is the k-th block of group g (original scope `group_g/inner_group_k`). Layer l
  applies the K blocks of group int(l / L * G) in order; every block application is one entry of
  the returned list, so the list has L·K tensors. `blocks` lists the same G·K blocks group-major.
  With G = K = 1 (every published model) one block is applied L times.

  Args:
    num_hidden_layers: L, the number of layer applications.
    num_hidden_groups: G, the number of distinct parameter groups (1 <= G <= L).
    inner_group_num: K, blocks per group, each with its own variables.
    hidden_size: H.
    num_attention_heads: N.
    intermediate_size: I.
    hidden_act: feed-forward activation name.
    hidden_dropout_prob: dropout inside the blocks.
    attention_probs_dropout_prob: dropout on attention probabilities.
    initializer_range: stddev of the truncated-normal kernel initializer.
    **kwargs: passed to tf_keras.layers.Layer.

  Example:
    >>> encoder = AlbertSharedEncoder(num_hidden_layers=12, num_hidden_groups=1, inner_group_num=1,
    ...                               hidden_size=768, num_attention_heads=12,
    ...                               intermediate_size=3072)
    >>> outputs = encoder(tf.zeros([2, 5, 768]), tf.ones([2, 5], tf.int32))  # hidden, input_mask
    >>> len(outputs), outputs[-1].shape   # one block's weights, run 12 times
    (12, TensorShape([2, 5, 768]))
  """

  def __init__(self, num_hidden_layers: int, hidden_size: int, num_attention_heads: int,
               intermediate_size: int, num_hidden_groups: int = 1, inner_group_num: int = 1,
               hidden_act: str = "gelu", hidden_dropout_prob: float = 0.0,
               attention_probs_dropout_prob: float = 0.0, initializer_range: float = 0.02,
               **kwargs):
    super().__init__(**kwargs)
    albert_config.check_layer_groups(num_hidden_layers, num_hidden_groups)
    self.num_hidden_layers = num_hidden_layers
    self.hidden_size = hidden_size
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.num_hidden_groups = num_hidden_groups
    self.inner_group_num = inner_group_num
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.initializer_range = initializer_range
    self.groups = [[
        transformer_block.AlbertTransformerBlock(
            hidden_size=hidden_size, num_attention_heads=num_attention_heads,
            intermediate_size=intermediate_size, hidden_act=hidden_act,
            hidden_dropout_prob=hidden_dropout_prob,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            initializer_range=initializer_range, name=f"group_{group}_inner_group_{inner}")
        for inner in range(inner_group_num)
    ]
                   for group in range(num_hidden_groups)]
    # The same blocks, group-major, in a flat list: tf_keras' .keras format saves layers held in a
    # list but skips lists nested in lists, so without it `groups` would be silently not saved.
    self.blocks = [block for blocks in self.groups for block in blocks]

  @property
  def layer_to_group(self) -> List[int]:
    """The group index used by each of the L layers."""
    return [
        albert_config.group_of_layer(layer, self.num_hidden_layers, self.num_hidden_groups)
        for layer in range(self.num_hidden_layers)
    ]

  def build(self, input_shape=None):
    for block in self.blocks:
      with tf.name_scope(block.name):
        block.build([None, None, self.hidden_size])
    super().build(input_shape)

  def call(self, inputs: tf.Tensor, input_mask: Optional[tf.Tensor] = None,
           training: Optional[bool] = None) -> List[tf.Tensor]:
    """Runs the L layers.

    Args:
      inputs: [B, T, H], the projected embeddings.
      input_mask: int [B, T] of 0/1 (keys to attend to); all ones when None.
      training: enables dropout.

    Returns:
      The L·K block outputs, each [B, T, H]; the last one is the sequence output. Inside
      `loop_layers()`, one output per run of layers that use the same group.
    """
    if input_mask is None:
      input_mask = tf.ones(tf.shape(inputs)[:2], tf.int32)
    attention_bias = attention_bias_from_mask(input_mask)
    hidden = inputs
    outputs = []
    for group, layers in itertools.groupby(self.layer_to_group):
      count = len(list(layers))
      if _LOOP_LAYERS.enabled and count > 1:
        hidden = self._loop(self.groups[group], tf.cast(hidden, tf.float32), attention_bias, count,
                            training)
        outputs.append(hidden)
        continue
      for _ in range(count):
        for block in self.groups[group]:
          hidden = block(hidden, attention_bias, training=training)
          outputs.append(hidden)
    return outputs

  def _loop(self, blocks, hidden, attention_bias, count, training):
    """`count` applications of `blocks` to the float32 residual stream, as one while loop."""

    def body(step, hidden):
      for block in blocks:
        hidden = block(hidden, attention_bias, training=training)
      return step + 1, hidden

    _, hidden = tf.while_loop(lambda step, _: step < count, body, (tf.constant(0), hidden),
                              maximum_iterations=count)
    return hidden

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "num_hidden_layers": self.num_hidden_layers,
        "hidden_size": self.hidden_size,
        "num_attention_heads": self.num_attention_heads,
        "intermediate_size": self.intermediate_size,
        "num_hidden_groups": self.num_hidden_groups,
        "inner_group_num": self.inner_group_num,
        "hidden_act": self.hidden_act,
        "hidden_dropout_prob": self.hidden_dropout_prob,
        "attention_probs_dropout_prob": self.attention_probs_dropout_prob,
        "initializer_range": self.initializer_range,
    })
    return config
