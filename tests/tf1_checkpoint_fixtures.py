"""Builders of TF1 name-based checkpoints with the exact names of the original releases.

The checkpoints are written the way the original TF1 code writes them: `tf.compat.v1` variables in a
`tf.Graph`, saved by `tf.compat.v1.train.Saver` (index, data, meta and the `checkpoint` state file).
Names are spelled out here and in `numpy_albert`, never taken from `albert_tf`, so these fixtures
check the package's name table instead of echoing it.

Example:

    weights = numpy_albert.random_original_weights(config, np.random.default_rng(0))
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights, optimizer_slots=True)
"""

import os
from typing import Mapping, Optional

import numpy as np
import numpy_albert
import tensorflow as tf

OPTIMIZER_SLOTS = ("adam_m", "adam_v")


def write_tf1_checkpoint(prefix: os.PathLike, weights: Mapping[str,
                                                               np.ndarray], name_prefix: str = "",
                         optimizer_slots: bool = False, global_step: Optional[int] = None,
                         extra_variables: Optional[Mapping[str, np.ndarray]] = None) -> str:
  """Writes a TF1 name-based checkpoint like the original training or export code.

  Args:
    prefix: checkpoint prefix, e.g. `<dir>/model.ckpt-best`.
    weights: {original name: array}.
    name_prefix: prepended to every name, e.g. "module/" as in TF-Hub modules.
    optimizer_slots: also write `<name>/adam_m` and `<name>/adam_v` for every weight, as the
      original LAMB/AdamW optimizers do (random values, so loading them by mistake shows).
    global_step: when given, an int64 `global_step` variable is written.
    extra_variables: more {name: array}, written as given (for unexpected-variable tests).

  Returns:
    The checkpoint prefix as a string.
  """
  values = {name_prefix + name: value for name, value in weights.items()}
  if optimizer_slots:
    rng = np.random.default_rng(1234)
    for name, value in weights.items():
      for slot in OPTIMIZER_SLOTS:
        values[f"{name_prefix}{name}/{slot}"] = rng.normal(size=value.shape).astype(value.dtype)
  if global_step is not None:
    values["global_step"] = np.int64(global_step)
  values.update(extra_variables or {})

  prefix = os.fspath(prefix)
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  with tf.Graph().as_default():
    variables = [
        tf.compat.v1.get_variable(name, initializer=tf.constant(value), use_resource=False)
        for name, value in values.items()
    ]
    saver = tf.compat.v1.train.Saver(variables)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      saver.save(session, prefix, write_meta_graph=True)
  return prefix


def brightmart_shapes(config: Mapping[str, object]) -> dict:
  """{name: shape} of a brightmart/albert_zh checkpoint (reference/albert_zh.md §4.1)."""
  vocab = int(config["vocab_size"])
  emb = int(config["embedding_size"])
  hidden = int(config["hidden_size"])
  inter = int(config["intermediate_size"])
  scope = "bert/encoder/layer_shared"
  shapes = {
      "bert/embeddings/word_embeddings": (vocab, emb),
      "bert/embeddings/word_embeddings_2": (emb, hidden),
      "bert/embeddings/token_type_embeddings": (int(config["type_vocab_size"]), hidden),
      "bert/embeddings/position_embeddings": (int(config["max_position_embeddings"]), hidden),
      "bert/embeddings/LayerNorm/gamma": (hidden,),
      "bert/embeddings/LayerNorm/beta": (hidden,),
      f"{scope}/attention/output/dense/kernel": (hidden, hidden),
      f"{scope}/attention/output/dense/bias": (hidden,),
      f"{scope}/attention/output/LayerNorm/gamma": (hidden,),
      f"{scope}/attention/output/LayerNorm/beta": (hidden,),
      f"{scope}/intermediate/dense/kernel": (hidden, inter),
      f"{scope}/intermediate/dense/bias": (inter,),
      f"{scope}/output/dense/kernel": (inter, hidden),
      f"{scope}/output/dense/bias": (hidden,),
      f"{scope}/output/LayerNorm/gamma": (hidden,),
      f"{scope}/output/LayerNorm/beta": (hidden,),
      "bert/pooler/dense/kernel": (hidden, hidden),
      "bert/pooler/dense/bias": (hidden,),
      "cls/predictions/transform/dense/kernel": (hidden, hidden),
      "cls/predictions/transform/dense/bias": (hidden,),
      "cls/predictions/transform/LayerNorm/gamma": (hidden,),
      "cls/predictions/transform/LayerNorm/beta": (hidden,),
      "cls/predictions/output_bias": (vocab,),
      "cls/seq_relationship/output_weights": (2, hidden),
      "cls/seq_relationship/output_bias": (2,),
  }
  for name in ("query", "key", "value"):
    shapes[f"{scope}/attention/self/{name}/kernel"] = (hidden, hidden)
    shapes[f"{scope}/attention/self/{name}/bias"] = (hidden,)
  return shapes


def random_brightmart_weights(config: Mapping[str, object], rng: np.random.Generator) -> dict:
  """Random float32 weights under the brightmart/albert_zh names."""
  return numpy_albert.random_weights(brightmart_shapes(config), rng)


def read_with_tf1_saver(prefix: os.PathLike, shapes: Mapping[str, tuple]) -> dict:
  """Restores {name: shape} float32 variables (and int64 global_step) the way the original does.

  Builds the variables in a `tf.Graph` and restores them with `tf.compat.v1.train.Saver`, which
  fails if a name, shape or dtype is not in the checkpoint as the original code expects it.

  Returns:
    {name: restored value}, including "global_step".
  """
  with tf.Graph().as_default():
    variables = [
        tf.compat.v1.get_variable(name, shape=shape, dtype=tf.float32, use_resource=False)
        for name, shape in shapes.items()
    ]
    variables.append(
        tf.compat.v1.get_variable("global_step", shape=[], dtype=tf.int64, use_resource=False))
    saver = tf.compat.v1.train.Saver(variables)
    with tf.compat.v1.Session() as session:
      saver.restore(session, os.fspath(prefix))
      values = session.run(variables)
  return {variable.op.name: value for variable, value in zip(variables, values)}
