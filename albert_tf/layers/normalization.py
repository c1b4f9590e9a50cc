"""The original's LayerNorm: last axis, biased variance, epsilon 1e-12 (Keras' default is 1e-3)."""

import tf_keras

LAYER_NORM_EPSILON = 1e-12


def albert_layer_norm(name: str, **kwargs) -> tf_keras.layers.LayerNormalization:
  """A LayerNormalization with the original's epsilon.

  Under a bfloat16/float16 compute dtype tf_keras computes the statistics in float32 and returns
  the compute dtype, which is what mixed precision needs.

  Args:
    name: the layer name.
    **kwargs: passed to tf_keras.layers.LayerNormalization (e.g. dtype).

  Returns:
    The layer (gamma = 1, beta = 0 at initialization).
  """
  return tf_keras.layers.LayerNormalization(axis=-1, epsilon=LAYER_NORM_EPSILON, name=name,
                                            **kwargs)
