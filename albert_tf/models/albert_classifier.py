"""AlbertClassifier: the backbone plus run_classifier.py's head (classification or regression)."""
# pylint: disable=g-classes-have-attributes

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from albert_tf import checkpoint_names
from albert_tf.layers import classification_head
from albert_tf.models import albert_model


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertClassifier(albert_model.ConfiguredModel):
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

  def __init__(self, config: albert_model.ConfigLike, num_labels: int, dropout_rate: float = 0.1,
               encoder: Optional[tf_keras.layers.Layer] = None, **kwargs):
    kwargs.setdefault("name", "albert_classifier")
    super().__init__(config, **kwargs)
    self.num_labels = num_labels
    self.dropout_rate = dropout_rate
    cfg = self.config
    self.albert = encoder or albert_model.AlbertModel(cfg, name="albert")
    self.classifier = classification_head.AlbertClassificationHead(
        hidden_size=cfg.hidden_size, num_labels=num_labels, dropout_rate=dropout_rate,
        initializer_range=cfg.initializer_range, name="classifier")

  def checkpoint_table(self) -> checkpoint_names.CheckpointTable:
    """The backbone's original variables plus run_classifier's head, which a checkpoint may lack.

    Raises:
      TypeError: the encoder is a SavedModel (HubEncoder), whose weights come with it.
    """
    if not isinstance(self.albert, checkpoint_names.CheckpointedModel):
      raise TypeError(f"{self.name}'s encoder is a {type(self.albert).__name__}, whose weights "
                      "come from its SavedModel, not from a checkpoint: build the classifier "
                      "without `encoder` to load a checkpoint into it")
    return self.albert.checkpoint_table().with_head(checkpoint_names.CLASSIFIER_HEAD, optional=True)

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

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({"num_labels": self.num_labels, "dropout_rate": self.dropout_rate})
    if not isinstance(self.albert, albert_model.AlbertModel):
      config["encoder"] = tf_keras.layers.serialize(self.albert)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None) -> tf_keras.Model:
    config = dict(config)
    if "encoder" in config:
      config["encoder"] = tf_keras.layers.deserialize(config["encoder"],
                                                      custom_objects=custom_objects)
    return cls(**config)
