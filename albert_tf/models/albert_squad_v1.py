"""AlbertSquadV1: the backbone plus run_squad_v1.py's span head (start and end logits)."""
# pylint: disable=g-classes-have-attributes

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import squad_v1_head
from albert_tf.models import albert_model
from albert_tf.models import backbone_with_head


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSquadV1(backbone_with_head.BackboneWithHead):
  """ALBERT with the original SQuAD v1.1 head (squad_utils.create_v1_model).

  sequence_output -> `cls/squad/output_weights` [2, H], `cls/squad/output_bias` [2] -> start and
  end logits per token, unmasked as in the original (post-processing keeps paragraph spans only).
  The loss (the mean of the start and end softmax cross-entropies) is the task's.

  Args:
    config: an AlbertConfig (or its dict form).
    encoder: the backbone to fine-tune instead of a new AlbertModel: any layer with AlbertModel's
      call contract, e.g. a `hub_encoder.HubEncoder` (the original's albert_hub_module_handle).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertSquadV1(AlbertConfig.from_preset("albert_tiny_test"))
    >>> ids = tf.constant([[2, 10, 3, 11, 12, 3]])
    >>> out = model({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...              "input_type_ids": tf.constant([[0, 0, 0, 1, 1, 1]])})
    >>> sorted(out), out["start_logits"].dtype, out["end_logits"].shape
    (['end_logits', 'start_logits'], tf.float32, TensorShape([1, 6]))
  """

  checkpoint_head = checkpoint_names.SQUAD_V1_HEAD

  def __init__(self, config: albert_model.ConfigLike,
               encoder: Optional[tf_keras.layers.Layer] = None, **kwargs):
    kwargs.setdefault("name", "albert_squad_v1")
    super().__init__(config, encoder, **kwargs)
    cfg = self.config
    self.squad_head = squad_v1_head.AlbertSquadV1Head(hidden_size=cfg.hidden_size,
                                                      initializer_range=cfg.initializer_range,
                                                      name="squad_head")

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    albert_model.build_sublayers(self, ((self.albert, None), (self.squad_head, None)))

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the backbone and the head.

    Args:
      inputs: the backbone's inputs (input_word_ids, input_mask, input_type_ids); other keys
        (labels) are ignored.
      training: enables the backbone's dropout.

    Returns:
      {"start_logits": float32 [B, T], "end_logits": float32 [B, T]}.
    """
    sequence_output = self.albert(inputs, training=training)["sequence_output"]
    start_logits, end_logits = self.squad_head(sequence_output)
    return {"start_logits": start_logits, "end_logits": end_logits}
