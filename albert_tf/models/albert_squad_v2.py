"""AlbertSquadV2: the backbone plus run_squad_v2.py's XLNet-style head with a no-answer logit."""
# pylint: disable=g-classes-have-attributes

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import squad_v2_head
from albert_tf.models import albert_model
from albert_tf.models import backbone_with_head

P_MASK = "p_mask"
START_POSITIONS = "start_positions"


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertSquadV2(backbone_with_head.BackboneWithHead):
  """ALBERT with the original SQuAD 2.0 head (squad_utils.create_v2_model).

  The start network, the end network conditioned on a start (the gold one when `start_positions`
  is given, the top start_n_top starts x top end_n_top ends at inference) and the answer-class
  network, with the original root-scope variables (`start_logits/dense`, `end_logits/dense_0`,
  `end_logits/LayerNorm`, `end_logits/dense_1`, `answer_class/dense_0`, `answer_class/dense_1`);
  see `squad_v2_head.AlbertSquadV2Head`. The loss is the task's.

  Args:
    config: an AlbertConfig (or its dict form).
    start_n_top: k1, the start positions kept at inference (the original's 5).
    end_n_top: k2, the end positions kept per start (the original's 5).
    dropout_rate: dropout in the answer-class network in training (the original's 0.1).
    encoder: the backbone to fine-tune instead of a new AlbertModel: any layer with AlbertModel's
      call contract, e.g. a `hub_encoder.HubEncoder` (the original's albert_hub_module_handle).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertSquadV2(AlbertConfig.from_preset("albert_tiny_test"), start_n_top=2,
    ...                       end_n_top=2)
    >>> ids = tf.constant([[2, 10, 3, 11, 12, 3]])
    >>> out = model({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...              "input_type_ids": tf.constant([[0, 0, 0, 1, 1, 1]]),
    ...              "p_mask": tf.constant([[1., 1., 1., 0., 0., 1.]])}, training=False)
    >>> out["start_log_probs"].shape, out["end_top_index"].shape, out["cls_logits"].shape
    (TensorShape([1, 6]), TensorShape([1, 4]), TensorShape([1]))
  """

  checkpoint_head = checkpoint_names.SQUAD_V2_HEAD
  head_arguments = ("start_n_top", "end_n_top", "dropout_rate")

  def __init__(self, config: albert_model.ConfigLike, start_n_top: int = 5, end_n_top: int = 5,
               dropout_rate: float = 0.1, encoder: Optional[tf_keras.layers.Layer] = None,
               **kwargs):
    kwargs.setdefault("name", "albert_squad_v2")
    super().__init__(config, encoder, **kwargs)
    self.start_n_top = start_n_top
    self.end_n_top = end_n_top
    self.dropout_rate = dropout_rate
    cfg = self.config
    self.squad_head = squad_v2_head.AlbertSquadV2Head(hidden_size=cfg.hidden_size,
                                                      start_n_top=start_n_top, end_n_top=end_n_top,
                                                      dropout_rate=dropout_rate,
                                                      initializer_range=cfg.initializer_range,
                                                      name="squad_head")

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    albert_model.build_sublayers(self, ((self.albert, None), (self.squad_head, None)))

  def __call__(self, inputs, *args, **kwargs):
    # Before Keras, which would wrap the message in its own.
    if isinstance(inputs, Mapping) and P_MASK not in inputs:
      raise ValueError(f"{type(self).__name__} needs `{P_MASK}` [batch, seq] in its inputs "
                       "(1 where the answer may not be: question, special tokens, padding)")
    return super().__call__(inputs, *args, **kwargs)

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the backbone and the head.

    Args:
      inputs: the backbone's inputs (input_word_ids, input_mask, input_type_ids), "p_mask" [B, T]
        (1 where the answer may not be: question, special tokens, padding) and optionally
        "start_positions" int [B] (the gold starts the end network is conditioned on).
      training: enables dropout; when false, the top-k outputs are added.

    Returns:
      {"start_log_probs": float32 [B, T], "cls_logits": float32 [B]}, plus "end_log_probs"
      float32 [B, T] when start_positions is given, plus "start_top_log_probs" [B, k1],
      "start_top_index" int32 [B, k1], "end_top_log_probs" [B, k1·k2] and "end_top_index" int32
      [B, k1·k2] (the original's start-major order) when not training.
    """
    sequence_output = self.albert(inputs, training=training)["sequence_output"]
    return self.squad_head(sequence_output, inputs[P_MASK], inputs.get(START_POSITIONS),
                           training=training)
