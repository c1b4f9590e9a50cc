"""AlbertClassifier: the backbone plus run_classifier.py's head (classification or regression)."""
# pylint: disable=g-classes-have-attributes

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import classification_head
from albert_tf.models import albert_model
from albert_tf.models import backbone_with_head


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertClassifier(backbone_with_head.BackboneWithHead):
  """ALBERT with the original fine-tuning classifier head.

  pooled_output -> dropout (training only) -> `output_weights` [C, H], `output_bias` [C]: the
  variables and initialisation of the original classifier_utils.create_model. Regression tasks
  (STS-B, your own scores) use num_labels=1.

  Args:
    config: an AlbertConfig (or its dict form).
    num_labels: C, the number of classes (1 for regression).
    dropout_rate: dropout on the pooled output in training (the original's 0.1).
    encoder: the backbone to fine-tune instead of a new AlbertModel: any layer with AlbertModel's
      call contract, e.g. a `hub_encoder.HubEncoder` (the original's albert_hub_module_handle).
    **kwargs: passed to tf_keras.Model (e.g. name).

  Example:
    >>> from albert_tf.config import AlbertConfig
    >>> classifier = AlbertClassifier(AlbertConfig.from_preset("albert_tiny_test"), num_labels=3)
    >>> ids = tf.constant([[2, 10, 11, 3]])
    >>> out = classifier({"input_word_ids": ids, "input_mask": tf.ones_like(ids),
    ...                   "input_type_ids": tf.zeros_like(ids)})
    >>> out["logits"].dtype, out["logits"].shape, out["pooled_output"].shape
    (tf.float32, TensorShape([1, 3]), TensorShape([1, 32]))
  """

  checkpoint_head = checkpoint_names.CLASSIFIER_HEAD
  head_arguments = ("num_labels", "dropout_rate")
  model_noun = "classifier"

  def __init__(self, config: albert_model.ConfigLike, num_labels: int, dropout_rate: float = 0.1,
               encoder: Optional[tf_keras.layers.Layer] = None, **kwargs):
    kwargs.setdefault("name", "albert_classifier")
    super().__init__(config, encoder, **kwargs)
    self.num_labels = num_labels
    self.dropout_rate = dropout_rate
    cfg = self.config
    self.classifier = classification_head.AlbertClassificationHead(
        hidden_size=cfg.hidden_size, num_labels=num_labels, dropout_rate=dropout_rate,
        initializer_range=cfg.initializer_range, name="classifier")

  def build(self, input_shape=None):
    """Creates every variable from the config alone; no forward pass is needed."""
    albert_model.build_sublayers(self, ((self.albert, None),
                                        (self.classifier, [None, self.config.hidden_size])))

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the backbone and the head.

    Args:
      inputs: the backbone's inputs (input_word_ids, input_mask, input_type_ids).
      training: enables dropout.

    Returns:
      {"logits": float32 [B, num_labels], "sequence_output", "pooled_output"}.
    """
    outputs = self.albert(inputs, training=training)
    return {
        "logits": self.classifier(outputs["pooled_output"], training=training),
        "sequence_output": outputs["sequence_output"],
        "pooled_output": outputs["pooled_output"],
    }
