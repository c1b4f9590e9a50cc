"""The original's weight initializer, one fresh instance per weight."""

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
