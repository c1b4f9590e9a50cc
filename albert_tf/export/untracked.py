"""A holder that keeps an object out of a serving module's SavedModel object graph."""

from typing import Any


class Untracked:
  """Holds an object without making it a SavedModel dependency.

  Serving modules track the model's weights as a plain list and call the model through this
  holder, so that saving writes the signatures only instead of running the Keras SavedModel
  serialization (which traces every layer's call functions). They hold their shared tokenizer
  tf.function the same way: the signatures that call it carry its graph, and the SavedModel gets no
  attribute the saver would trace on its own.

  Example:

    self._model = Untracked(classifier)
    logits = self._model.value(inputs, training=False)["logits"]
  """

  def __init__(self, value: Any):
    self.value = value
