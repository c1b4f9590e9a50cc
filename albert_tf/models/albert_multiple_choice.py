"""AlbertMultipleChoice: the backbone plus run_race.py's head, one score per option."""
# pylint: disable=g-classes-have-attributes

from typing import Any, Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import classification_head
from albert_tf.models import albert_model
from albert_tf.models import backbone_with_head
from albert_tf.models import inputs as model_inputs


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertMultipleChoice(backbone_with_head.BackboneWithHead):
  """ALBERT with the original RACE head: each option's sequence is scored on its own.

  The [B, C, T] inputs are flattened to B·C sequences for the backbone; each pooled output ->
  dropout (training only) -> `output_weights` [1, H], `output_bias` [1] -> one logit, reshaped to
  [B, C]: the variables (root scope) and initialisation of the original race_utils.create_model.
  The head is AlbertClassificationHead with one output, so it runs in float32.

  Args:
    config: an AlbertConfig (or its dict form).
    num_choices: C, the options per question (RACE: 4).
    dropout_rate: dropout on the pooled outputs in training (the original's --dropout_prob, 0.1).
    encoder: the backbone to fine-tune instead of a new AlbertModel (AlbertModel's call contract).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertMultipleChoice(AlbertConfig.from_preset("albert_tiny_test"))
    >>> ids = tf.constant([[[2, 10, 3, 11, 3]] * 4])          # [B=1, C=4, T=5]
    >>> out = model({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...              "input_type_ids": tf.zeros_like(ids)})
    >>> out["logits"].dtype, out["logits"].shape
    (tf.float32, TensorShape([1, 4]))
  """

  checkpoint_head = checkpoint_names.MULTIPLE_CHOICE_HEAD
  head_arguments = ("num_choices", "dropout_rate")

  def __init__(self, config: albert_model.ConfigLike, num_choices: int = 4,
               dropout_rate: float = 0.1, encoder: Optional[tf_keras.layers.Layer] = None,
               **kwargs):
    if num_choices < 2:
      raise ValueError(f"num_choices={num_choices}: a multiple-choice question needs at least 2 "
                       "options.")
    kwargs.setdefault("name", "albert_multiple_choice")
    super().__init__(config, encoder, **kwargs)
    self.num_choices = num_choices
    self.dropout_rate = dropout_rate
    self.classifier = classification_head.AlbertClassificationHead(
        hidden_size=self.config.hidden_size, num_labels=1, dropout_rate=dropout_rate,
        initializer_range=self.config.initializer_range, name="classifier")

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    albert_model.build_sublayers(self, ((self.albert, None),
                                        (self.classifier, [None, self.config.hidden_size])))

  def __call__(self, inputs, *args, **kwargs):
    # Not ConfiguredModel's [batch, seq] normalisation: the inputs are [batch, choices, seq];
    # `call` checks and flattens them, and the backbone normalises the flattened sequences.
    return tf_keras.Model.__call__(self, inputs, *args, **kwargs)

  def call(self, inputs: Mapping[str, Any], training: Optional[bool] = None) -> dict:
    """Scores every option.

    Args:
      inputs: input_word_ids, input_mask, input_type_ids: int [B, num_choices, T].
      training: enables dropout.

    Returns:
      {"logits": float32 [B, num_choices]}.
    """
    flat = {}
    for name in model_inputs.BACKBONE_INPUTS:
      if inputs.get(name) is None:
        continue
      value = tf.convert_to_tensor(inputs[name])
      if value.shape.rank != 3 or value.shape[1] not in (None, self.num_choices):
        raise ValueError(f"{type(self).__name__}: {name} must be int [batch, {self.num_choices}, "
                         f"length], got shape {value.shape}")
      flat[name] = tf.reshape(value, [-1, tf.shape(value)[-1]])
    pooled = self.albert(flat, training=training)["pooled_output"]
    logits = self.classifier(pooled, training=training)  # [B·C, 1]
    return {"logits": tf.reshape(logits, [-1, self.num_choices])}
