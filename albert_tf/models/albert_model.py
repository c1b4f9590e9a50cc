"""AlbertModel: the ALBERT backbone (original scope `bert`)."""
# pylint: disable=g-classes-have-attributes

from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf import config as albert_config
from albert_tf.layers import embeddings
from albert_tf.layers import initializers
from albert_tf.layers import shared_encoder
from albert_tf.models import inputs as model_inputs

ConfigLike = Union[albert_config.AlbertConfig, Mapping[str, Any]]


def as_config(config: ConfigLike) -> albert_config.AlbertConfig:
  """Accepts an AlbertConfig or its dict form (as stored by get_config)."""
  if isinstance(config, albert_config.AlbertConfig):
    return config
  return albert_config.AlbertConfig.from_dict(config)


def config_fields(config: albert_config.AlbertConfig, *names: str) -> dict:
  """{name: config.name}: the layer arguments that are config fields of the same name."""
  return {name: getattr(config, name) for name in names}


def build_sublayers(
    model: tf_keras.Model, sublayers: Iterable[Tuple[tf_keras.layers.Layer,
                                                     Optional[Sequence[Optional[int]]]]]) -> None:
  """Builds each (layer, input shape) under the layer's own name scope and marks `model` built.

  The name scopes give the variables the names a forward pass would give them below `model`.

  Args:
    model: the model that owns the sublayers.
    sublayers: (layer, input_shape) pairs; input_shape is None for layers whose shapes come from
      their constructor arguments alone.
  """
  for sublayer, shape in sublayers:
    with tf.name_scope(sublayer.name):
      sublayer.build(shape)
  model.built = True  # tf_keras.Model.build would demand an input shape; none is needed here.


def pooler(config: albert_config.AlbertConfig) -> tf_keras.layers.Dense:
  """The tanh pooler on token 0 (original scope `bert/pooler/dense`), named "pooler"."""
  return tf_keras.layers.Dense(
      config.hidden_size, activation="tanh",
      kernel_initializer=initializers.truncated_normal(config.initializer_range), name="pooler")


class ConfiguredModel(tf_keras.Model):
  """A tf_keras.Model whose whole Keras config is its AlbertConfig (plus its name).

  Calls take the backbone's inputs (plus `extra_inputs`) as users pass them: `__call__` normalises
  them with `inputs.normalize_inputs` before Keras sees them, so `call` gets int32 tensors.

  Args:
    config: an AlbertConfig (or its dict form), kept as `self.config`.
    **kwargs: passed to tf_keras.Model (e.g. name).
  """

  # Required int [batch, n] inputs besides the backbone's, e.g. the pretrainer's masked positions.
  extra_inputs: Tuple[str, ...] = ()

  def __init__(self, config: ConfigLike, **kwargs):
    super().__init__(**kwargs)
    self.config = as_config(config)

  def __call__(self, inputs, *args, **kwargs):
    # Before Keras: it would map a nested list to scalar tensors and wrap our errors in its own.
    inputs = model_inputs.normalize_inputs(inputs, self.config.max_position_embeddings,
                                           type(self).__name__, self.extra_inputs)
    return super().__call__(inputs, *args, **kwargs)

  def get_config(self) -> dict:
    return {"config": self.config.to_dict(), "name": self.name}

  @classmethod
  def from_config(cls, config: Mapping[str, Any], custom_objects=None) -> tf_keras.Model:
    del custom_objects  # Unused: the config is plain data.
    return cls(**config)


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertModel(ConfiguredModel):
  """The ALBERT encoder of Google's release, with layer groups and inner groups.

  Embeddings at width E (LayerNorm, dropout) -> linear E->H only when E != H -> L applications of
  the shared transformer groups -> tanh pooler on token 0. See docs/architecture.md for the
  attribute paths, which mirror the original checkpoint names.

  Args:
    config: an AlbertConfig (or its dict form).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertModel(AlbertConfig.from_preset("albert_tiny_test"))  # H = 32
    >>> ids = tf.constant([[2, 10, 11, 3, 0]])
    >>> out = model({"input_word_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32),
    ...              "input_type_ids": tf.zeros_like(ids)})
    >>> out["sequence_output"].shape, out["pooled_output"].shape   # [B, T, H], [B, H]
    (TensorShape([1, 5, 32]), TensorShape([1, 32]))
  """

  def __init__(self, config: ConfigLike, **kwargs):
    kwargs.setdefault("name", "albert")
    super().__init__(config, **kwargs)
    cfg = self.config
    self.embeddings = embeddings.AlbertEmbeddings(
        **config_fields(cfg, "vocab_size", "embedding_size", "max_position_embeddings",
                        "type_vocab_size", "hidden_dropout_prob", "initializer_range"),
        name="embeddings")
    self.embedding_projection = None
    if cfg.embedding_size != cfg.hidden_size:
      self.embedding_projection = tf_keras.layers.Dense(
          cfg.hidden_size, kernel_initializer=initializers.truncated_normal(cfg.initializer_range),
          name="embedding_projection")
    self.encoder = shared_encoder.AlbertSharedEncoder(
        **config_fields(cfg, "num_hidden_layers", "hidden_size", "num_attention_heads",
                        "intermediate_size", "num_hidden_groups", "inner_group_num", "hidden_act",
                        "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range"),
        name="encoder")
    self.pooler = pooler(cfg)

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    cfg = self.config
    sublayers = [(self.embeddings, None), (self.encoder, None),
                 (self.pooler, [None, cfg.hidden_size])]
    if self.embedding_projection is not None:
      sublayers.append((self.embedding_projection, [None, cfg.embedding_size]))
    build_sublayers(self, sublayers)

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the encoder.

    Args:
      inputs: {"input_word_ids": int32 [B, T], "input_mask": int32 [B, T] (optional, all ones),
        "input_type_ids": int32 [B, T] (optional, zeros)}, with T <= max_position_embeddings;
        calling the model accepts lists and NumPy arrays too (see `inputs.normalize_inputs`).
      training: enables dropout.

    Returns:
      {"sequence_output": [B, T, H], "pooled_output": [B, H], "encoder_outputs": list of L·K
      [B, T, H], "embedding_output": [B, T, E]}. Under mixed precision the sequence and encoder
      outputs are float32 (the residual stream), the others are in the compute dtype.
    """
    input_mask = inputs.get("input_mask")
    embedding_output = self.embeddings(inputs["input_word_ids"], inputs.get("input_type_ids"),
                                       training=training)
    hidden = embedding_output
    if self.embedding_projection is not None:
      hidden = self.embedding_projection(hidden)
    encoder_outputs = self.encoder(hidden, input_mask, training=training)
    sequence_output = encoder_outputs[-1]
    pooled_output = self.pooler(sequence_output[:, 0, :])
    return {
        "sequence_output": sequence_output,
        "pooled_output": pooled_output,
        "encoder_outputs": encoder_outputs,
        "embedding_output": embedding_output,
    }

  def checkpoint_table(self) -> checkpoint_names.CheckpointTable:
    """The original variables this backbone holds: Google's layout, no head."""
    return checkpoint_names.CheckpointTable(self.config, checkpoint_names.GOOGLE_LAYOUT)

  def get_embedding_table(self) -> tf.Variable:
    """The word embedding table [V, E] (tied to the MLM output)."""
    if not self.embeddings.built:
      self.build()
    return self.embeddings.word_embeddings
