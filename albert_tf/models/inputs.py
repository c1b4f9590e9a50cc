"""What the ALBERT models accept as inputs, and the one place that normalises it.

Users call the models with Python lists, NumPy arrays of any integer dtype or tensors; the layers
want int32 [batch, seq] tensors of one shape. `normalize_inputs` converts the first into the
second, and turns every mistake (a float or ragged input, a missing batch dimension, inputs of
different shapes, a sequence longer than the position table) into one ValueError that names the
input and the fix, instead of a gather error deep in the graph or silent broadcasting.

All checks read static shapes and dtypes in Python, so inside a tf.function they run once, when
it is traced, and add nothing to the graph; dimensions only known when the graph runs are left to
the layers (the position table still refuses a sequence that is too long).

Example:
  >>> import numpy as np
  >>> inputs = normalize_inputs({"input_word_ids": np.array([[2, 10, 3]], np.int64),
  ...                            "input_mask": [[1, 1, 1]]}, max_position_embeddings=8,
  ...                           model_name="AlbertModel")
  >>> inputs["input_word_ids"].dtype, inputs["input_mask"].shape
  (tf.int32, TensorShape([1, 3]))
"""

from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

# The backbone's inputs: the token ids (required), then the optional key mask and segment ids.
BACKBONE_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def normalize_inputs(inputs: Any, max_position_embeddings: int, model_name: str,
                     extra_inputs: Sequence[str] = ()) -> dict:
  """Returns `inputs` with each int input as an int32 [batch, seq] tensor, after checking them.

  Args:
    inputs: a mapping with "input_word_ids" (and optionally "input_mask", "input_type_ids") and
      every name in `extra_inputs`; values are tensors, NumPy arrays or nested Python lists of
      integers (the mask may also be boolean). Other keys (labels, weights) pass through as they
      are.
    max_position_embeddings: the longest sequence the model's position table holds.
    model_name: the model's class name, which starts every error message.
    extra_inputs: further required int [batch, n] inputs, e.g. ("masked_lm_positions",); their
      second dimension may differ from the sequence length.

  Returns:
    A new dict: the named inputs as int32 tensors (the same tensors when they already were), the
    other keys unchanged.

  Raises:
    ValueError: `inputs` is not a mapping or lacks a required input; an input is not integer, not
      rank 2 or ragged; the inputs disagree on the batch size or the sequence length; the sequence
      is empty or longer than max_position_embeddings. The message names the input and the fix.
  """
  required = ("input_word_ids",) + tuple(extra_inputs)
  if not isinstance(inputs, Mapping) or any(name not in inputs for name in required):
    raise ValueError(f"{model_name} takes a dict with {', '.join(required)} (and optionally "
                     "input_mask, input_type_ids), each an int32 [batch, length] array")
  normalized = dict(inputs)
  for name in BACKBONE_INPUTS + tuple(extra_inputs):
    if inputs.get(name) is not None:
      normalized[name] = _as_int32_matrix(inputs[name], name, model_name)
  _check_shapes(normalized, max_position_embeddings, model_name, extra_inputs)
  return normalized


def _as_int32_matrix(value: Any, name: str, model_name: str) -> tf.Tensor:
  """`value` as an int32 tensor of rank 2 (or unknown rank), or a ValueError naming `name`."""
  prefix = f"{model_name}: {name}"
  if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
    raise ValueError(f"{prefix} is a {type(value).__name__}; pad the rows to one length and pass "
                     "a dense int32 [batch, seq] tensor")
  if tf.is_tensor(value):
    kind, rank = np.dtype(value.dtype.as_numpy_dtype).kind, value.shape.rank
  else:  # Python lists and NumPy arrays.
    try:
      array = np.asarray(value)
    except ValueError:
      raise ValueError(f"{prefix} has rows of different lengths; pad them to one length (with "
                       "input_mask 0 on the padding)") from None
    # np.asarray([[]]) is float64, but an empty list holds no floats: let the length check speak.
    value = array.astype(np.int32) if array.size == 0 and array is not value else array
    kind, rank = value.dtype.kind, value.ndim
  if kind not in ("iub" if name == "input_mask" else "iu"):
    raise ValueError(f"{prefix} has dtype {value.dtype.name}; pass integers (any integer dtype, "
                     "int32 is used)")
  if rank not in (None, 2):
    raise ValueError(f"{prefix} has shape {list(value.shape)}; pass [batch, seq] (rank 2), e.g. "
                     "[ids] for a single sequence")
  if isinstance(value, np.ndarray):
    return tf.convert_to_tensor(value.astype(np.int32))
  return value if value.dtype == tf.int32 else tf.cast(value, tf.int32)


def _check_shapes(inputs: dict, max_position_embeddings: int, model_name: str,
                  extra_inputs: Sequence[str]) -> None:
  """Raises a ValueError when the static shapes disagree or the sequence has a bad length."""
  word_shape = inputs["input_word_ids"].shape
  for name in BACKBONE_INPUTS[1:] + tuple(extra_inputs):
    if inputs.get(name) is None:
      continue
    shape = inputs[name].shape
    # The extra inputs (masked positions) share only the batch dimension.
    compared = (word_shape, shape) if name in BACKBONE_INPUTS else (word_shape[:1], shape[:1])
    if not compared[0].is_compatible_with(compared[1]):
      raise ValueError(f"{model_name}: {name} has shape {shape.as_list()} but input_word_ids has "
                       f"{word_shape.as_list()}; pass inputs with the same "
                       f"{'[batch, seq]' if name in BACKBONE_INPUTS else 'batch'} size")
  length = word_shape[1] if word_shape.rank == 2 else None
  if length == 0:
    raise ValueError(f"{model_name}: input_word_ids is empty (sequence length 0); pass at least "
                     "one token per sequence")
  if length is not None and length > max_position_embeddings:
    raise ValueError(f"{model_name}: input_word_ids has sequence length {length}, which exceeds "
                     f"max_position_embeddings ({max_position_embeddings}); truncate the "
                     "sequences or use a config with more positions")
