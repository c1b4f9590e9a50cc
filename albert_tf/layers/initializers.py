"""The original's weight initializer, one fresh instance per weight, and its output layers'
root-scope `output_weights` / `output_bias` pair."""

import tensorflow as tf
import tf_keras


def truncated_normal(stddev: float) -> tf_keras.initializers.Initializer:
  """truncated_normal(stddev) as in the original (values beyond 2·stddev are re-drawn).

  A new instance per weight: tf_keras warns about, and may repeat values from, a reused
  unseeded initializer.

  Args:
    stddev: the config's initializer_range.

  Returns:
    A TruncatedNormal initializer.
  """
  return tf_keras.initializers.TruncatedNormal(stddev=stddev)


def add_output_weights(layer: tf_keras.layers.Layer, num_outputs: int, hidden_size: int,
                       initializer_range: float) -> tuple[tf.Variable, tf.Variable]:
  """Creates the original heads' `output_weights` [num_outputs, H] (truncated normal) and
  `output_bias` [num_outputs] (zeros) on `layer`, in that order (run_classifier, the
  sentence-order head, run_squad_v1 and run_race all name and shape them so).

  Returns:
    (output_weights, output_bias).
  """
  weights = layer.add_weight("output_weights", shape=[num_outputs, hidden_size],
                             initializer=truncated_normal(initializer_range), trainable=True)
  bias = layer.add_weight("output_bias", shape=[num_outputs], initializer="zeros", trainable=True)
  return weights, bias
