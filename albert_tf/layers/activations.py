"""The activations ALBERT's `hidden_act` names, with the original's semantics."""

from typing import Callable, Optional

import tensorflow as tf
import tf_keras

from albert_tf import config as albert_config


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
def gelu_tanh(x: tf.Tensor) -> tf.Tensor:
  """The original's "gelu": 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) (HF: "gelu_new").

  `tf.nn.gelu(approximate=True)` is this formula as one op: the TFLite converter turns it into one
  GELU op that XNNPACK runs (about 4x faster than the nine elementwise ops of the written-out
  formula, measured at [128, 3072]), and TF's oneDNN remapper can fuse it into the MatMul before it.

  Args:
    x: a float tensor.

  Returns:
    The tanh-approximated GELU of `x`, in the dtype of `x`.
  """
  return tf.nn.gelu(x, approximate=True)


# One function per name of albert_tf.config.ACTIVATIONS (None: the identity).
_FUNCTIONS = {
    "gelu": gelu_tanh,
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "linear": None,
}


def get_activation(hidden_act: Optional[str]) -> Optional[Callable[[tf.Tensor], tf.Tensor]]:
  """Maps a config's `hidden_act` to a function (None for linear), as the original does.

  Args:
    hidden_act: "gelu" (tanh approximation), "relu", "tanh", "linear", "" or None; any case.

  Returns:
    The activation function, or None for the identity.

  Raises:
    AlbertConfigError: the name is not one of the above (see `config.normalize_activation`).
  """
  return _FUNCTIONS[albert_config.normalize_activation(hidden_act)]
