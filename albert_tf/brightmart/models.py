"""brightmart/albert_zh's ALBERT backbone and pretrainer, on the shared albert_tf layers."""
# pylint: disable=g-classes-have-attributes

from typing import Any, Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.brightmart import embeddings as brightmart_embeddings
from albert_tf.config import AlbertConfigError
from albert_tf.layers import shared_encoder
from albert_tf.models import albert_model
from albert_tf.models import albert_pretrainer

# The config fields each layer takes under their own names; brightmart shares one block (G = K = 1).
_EMBEDDING_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "max_position_embeddings",
                     "type_vocab_size", "hidden_dropout_prob", "initializer_range")
_ENCODER_FIELDS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                   "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
                   "initializer_range")
_POST_LN = "postln"


def validate_brightmart_config(config: Any) -> None:
  """Rejects what brightmart's released checkpoints never use.

  Args:
    config: an AlbertConfig read from one of brightmart's albert_config_*.json files.

  Raises:
    AlbertConfigError: layer groups, inner groups or pre-LN were asked for.
  """
  if config.num_hidden_groups != 1 or config.inner_group_num != 1:
    raise AlbertConfigError(
        "brightmart/albert_zh models share one block across all layers: num_hidden_groups and "
        f"inner_group_num must be 1, got {config.num_hidden_groups} and {config.inner_group_num}")
  ln_type = config.extra.get("ln_type", _POST_LN)
  if ln_type != _POST_LN:
    raise AlbertConfigError(
        f"ln_type {ln_type!r} is not supported: brightmart's released checkpoints are post-LN "
        f"(ln_type {_POST_LN!r}); its pre-LN xxlarge config has no released checkpoint")


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class BrightmartAlbertModel(albert_model.ConfiguredModel):
  """The ALBERT encoder of brightmart/albert_zh's own checkpoints (albert_tiny_zh ... xlarge_zh).

  Same inputs and outputs as `albert_tf.AlbertModel`; `embedding_output` is [B, T, H] here, since
  brightmart's embeddings end at width H. Attribute paths: `embeddings` (BrightmartEmbeddings),
  `encoder.groups[0][0]` (the shared block), `pooler`.

  Args:
    config: an AlbertConfig (or its dict form) with num_hidden_groups = inner_group_num = 1 and no
      ln_type other than "postln".
    **kwargs: passed to tf_keras.Model.

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> model = BrightmartAlbertModel(AlbertConfig.from_preset("albert_tiny_test"))  # E 16, H 32
    >>> ids = tf.constant([[2, 10, 11, 3]])
    >>> out = model({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...              "input_type_ids": tf.zeros_like(ids)})
    >>> out["sequence_output"].shape, out["embedding_output"].shape   # both H wide
    (TensorShape([1, 4, 32]), TensorShape([1, 4, 32]))
  """

  def __init__(self, config: albert_model.ConfigLike, **kwargs):
    kwargs.setdefault("name", "albert")
    super().__init__(config, **kwargs)
    validate_brightmart_config(self.config)
    cfg = self.config
    self.embeddings = brightmart_embeddings.BrightmartEmbeddings(
        **albert_model.config_fields(cfg, *_EMBEDDING_FIELDS), name="embeddings")
    self.encoder = shared_encoder.AlbertSharedEncoder(
        **albert_model.config_fields(cfg, *_ENCODER_FIELDS), name="encoder")
    self.pooler = albert_model.pooler(cfg)

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    albert_model.build_sublayers(self, ((self.embeddings, None), (self.encoder, None),
                                        (self.pooler, [None, self.config.hidden_size])))

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the encoder.

    Args:
      inputs: {"input_word_ids": int [B, T], "input_mask": int [B, T] (optional),
        "input_type_ids": int [B, T] (optional)}.
      training: enables dropout.

    Returns:
      {"sequence_output": [B, T, H], "pooled_output": [B, H], "encoder_outputs": L tensors
      [B, T, H], "embedding_output": [B, T, H]}.
    """
    embedding_output = self.embeddings(inputs["input_word_ids"], inputs.get("input_type_ids"),
                                       training=training)
    encoder_outputs = self.encoder(embedding_output, inputs.get("input_mask"), training=training)
    return {
        "sequence_output": encoder_outputs[-1],
        "pooled_output": self.pooler(encoder_outputs[-1][:, 0, :]),
        "encoder_outputs": encoder_outputs,
        "embedding_output": embedding_output,
    }

  def checkpoint_table(self) -> checkpoint_names.CheckpointTable:
    """The original variables this backbone holds: brightmart's layout, no head."""
    return checkpoint_names.CheckpointTable(self.config, checkpoint_names.BRIGHTMART_LAYOUT)

  def get_output_embedding_table(self) -> tf.Tensor:
    """The MLM output matrix [V, H] = word_embeddings · word_embeddings_2 (both tied)."""
    if not self.embeddings.built:
      self.build()
    return tf.matmul(self.embeddings.word_embeddings, self.embeddings.word_embeddings_2)


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class BrightmartPretrainer(albert_pretrainer.AlbertPretrainer):
  """brightmart/albert_zh's backbone with its MLM (H->H transform) and SOP heads.

  Inputs, outputs, heads and variable paths as `albert_tf.AlbertPretrainer`, whose hooks this
  overrides: the backbone is a BrightmartAlbertModel, the MLM transform is H wide, and the MLM
  logits are `LN(act(h·W + b))·word_embeddings_2ᵀ·word_embeddingsᵀ + output_bias`, computed as one
  product with the [V, H] matrix `word_embeddings·word_embeddings_2` (equal up to float rounding),
  formed inside the float32 MLM head, so under mixed precision it is float32 as well.

  Args:
    config: as for BrightmartAlbertModel.
    **kwargs: passed to tf_keras.Model (name defaults to "brightmart_pretrainer").

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> pretrainer = BrightmartPretrainer(AlbertConfig.from_preset("albert_tiny_test"))
    >>> ids = tf.constant([[2, 10, 4, 3]])
    >>> out = pretrainer({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...                   "input_type_ids": tf.zeros_like(ids),
    ...                   "masked_lm_positions": tf.constant([[2]])})
    >>> out["mlm_logits"].shape   # [B, P, V]
    TensorShape([1, 1, 99])
  """

  backbone_class = BrightmartAlbertModel

  def __init__(self, config: albert_model.ConfigLike, **kwargs):
    kwargs.setdefault("name", "brightmart_pretrainer")
    super().__init__(config, **kwargs)

  def masked_lm_width(self) -> int:
    """H: brightmart's MLM transform is H->H (cls/predictions/transform/dense [H, H])."""
    return self.config.hidden_size

  def masked_lm_table(self) -> tf.Tensor:
    """The [V, H] product word_embeddings · word_embeddings_2 of the backbone's tied tables."""
    return self.albert.get_output_embedding_table()
