"""The Keras mixed-precision policy a layer is built under, for training, export and benchmarks.

Flags name a compute dtype ("float32", "bfloat16", "float16"; the original's --mixed_precision
also says "none" for float32). Variables stay float32 under every policy.
"""

import contextlib
from typing import Iterator

import tf_keras

KERAS_POLICIES = {
    "none": "float32",
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16"
}


@contextlib.contextmanager
def policy_scope(dtype: str) -> Iterator[None]:
  """Builds Keras layers under the policy of `dtype` (a KERAS_POLICIES key), then restores the
  previous global policy."""
  previous = tf_keras.mixed_precision.global_policy()
  tf_keras.mixed_precision.set_global_policy(KERAS_POLICIES[dtype])
  try:
    yield
  finally:
    tf_keras.mixed_precision.set_global_policy(previous)
