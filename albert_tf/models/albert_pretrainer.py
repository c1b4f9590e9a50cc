"""AlbertPretrainer: the backbone plus the MLM and SOP heads of run_pretraining.py."""
# pylint: disable=g-classes-have-attributes

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import masked_lm_head
from albert_tf.layers import sentence_order_head
from albert_tf.models import albert_model


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertPretrainer(albert_model.ConfiguredModel):
  """ALBERT with the original pretraining heads (original scope `cls`).

  The MLM head runs on the P gathered `masked_lm_positions` only and is tied to the backbone's word
  embedding table; the SOP head scores the pooled output. Both heads compute in float32, so the
  logits (and the losses in `pretraining_objectives`) stay exact under mixed precision.

  Other checkpoint layouts subclass this with three hooks: `backbone_class` (the backbone built
  under the attribute `albert`), `masked_lm_width()` (the MLM transform's output width) and
  `masked_lm_table()` (the [V, width] matrix the MLM head scores against); see
  `albert_tf.brightmart.BrightmartPretrainer`.

  Args:
    config: an AlbertConfig (or its dict form).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> pretrainer = AlbertPretrainer(AlbertConfig.from_preset("albert_tiny_test"))  # V = 99
    >>> ids = tf.constant([[2, 10, 4, 3, 0]])
    >>> out = pretrainer({"input_word_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32),
    ...                   "input_type_ids": tf.zeros_like(ids),
    ...                   "masked_lm_positions": tf.constant([[2]])}, training=True)
    >>> out["mlm_logits"].shape, out["sop_logits"].shape   # [B, P, V], [B, 2]
    (TensorShape([1, 1, 99]), TensorShape([1, 2]))
    >>> table = pretrainer.albert.get_embedding_table()   # tied to the MLM output: listed once
    >>> sum(variable is table for variable in pretrainer.trainable_variables)
    1
  """

  backbone_class = albert_model.AlbertModel
  extra_inputs = ("masked_lm_positions",)

  def __init__(self, config: albert_model.ConfigLike, **kwargs):
    kwargs.setdefault("name", "albert_pretrainer")
    super().__init__(config, **kwargs)
    cfg = self.config
    self.albert = self.backbone_class(cfg, name="albert")
    self.masked_lm = masked_lm_head.AlbertMaskedLMHead(vocab_size=cfg.vocab_size,
                                                       embedding_size=self.masked_lm_width(),
                                                       hidden_act=cfg.hidden_act,
                                                       initializer_range=cfg.initializer_range,
                                                       name="masked_lm")
    self.sentence_order = sentence_order_head.AlbertSentenceOrderHead(
        hidden_size=cfg.hidden_size, initializer_range=cfg.initializer_range, name="sentence_order")

  def masked_lm_width(self) -> int:
    """The MLM transform's output width: E, the width of the tied word embedding table."""
    return self.config.embedding_size

  def masked_lm_table(self) -> tf.Tensor:
    """The [V, masked_lm_width()] matrix the MLM head scores against: the word embedding table."""
    return self.albert.get_embedding_table()

  def checkpoint_table(self) -> checkpoint_names.CheckpointTable:
    """The backbone's original variables plus the MLM and SOP heads (`cls/...`)."""
    return self.albert.checkpoint_table().with_head(checkpoint_names.PRETRAINING_HEADS)

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    hidden_size = self.config.hidden_size
    albert_model.build_sublayers(self,
                                 ((self.albert, None), (self.masked_lm, [None, None, hidden_size]),
                                  (self.sentence_order, [None, hidden_size])))

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the backbone and both heads.

    Args:
      inputs: the backbone's inputs plus "masked_lm_positions" int [B, P].
      training: enables dropout.

    Returns:
      {"mlm_logits": float32 [B, P, V], "sop_logits": float32 [B, 2], "sequence_output",
      "pooled_output"}.
    """
    outputs = self.albert(inputs, training=training)
    return {
        # The hook itself, not its value: the float32 head evaluates it, so under mixed precision
        # a table computed from variables (brightmart's product) is formed in float32 too.
        "mlm_logits":
            self.masked_lm(outputs["sequence_output"], inputs["masked_lm_positions"],
                           self.masked_lm_table),
        "sop_logits":
            self.sentence_order(outputs["pooled_output"]),
        "sequence_output":
            outputs["sequence_output"],
        "pooled_output":
            outputs["pooled_output"],
    }
