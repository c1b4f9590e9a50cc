"""BackboneWithHead: what every fine-tuning model shares, an `albert` backbone plus a task head."""
# pylint: disable=g-classes-have-attributes

from typing import Optional, Tuple

import tf_keras

from albert_tf import checkpoint_names
from albert_tf.models import albert_model


class BackboneWithHead(albert_model.ConfiguredModel):
  """An ALBERT backbone (`self.albert`) and a task head that subclasses add.

  The backbone is a new AlbertModel, or the `encoder` given: any layer with AlbertModel's call
  contract, e.g. a `hub_encoder.HubEncoder` (the original's albert_hub_module_handle). Subclasses
  declare their head's original checkpoint names (`checkpoint_head`, a checkpoint_names head) and
  the constructor arguments besides config and encoder that their Keras config keeps
  (`head_arguments`, stored as attributes of the same names).

  Args:
    config: an AlbertConfig (or its dict form).
    encoder: the backbone to fine-tune instead of a new AlbertModel.
    **kwargs: passed to tf_keras.Model (e.g. name).
  """

  # The checkpoint_names head table of the subclass's head, e.g. checkpoint_names.CLASSIFIER_HEAD.
  checkpoint_head: str = ""
  # The subclass's own constructor arguments, in the order get_config writes them.
  head_arguments: Tuple[str, ...] = ()
  # What checkpoint_table's error calls the model ("build the <noun> without `encoder`").
  model_noun: str = "model"

  def __init__(self, config: albert_model.ConfigLike,
               encoder: Optional[tf_keras.layers.Layer] = None, **kwargs):
    super().__init__(config, **kwargs)
    self.albert = encoder or albert_model.AlbertModel(self.config, name="albert")

  def checkpoint_table(self) -> checkpoint_names.CheckpointTable:
    """The backbone's original variables plus the head's, which a checkpoint may lack.

    Raises:
      TypeError: the encoder is a SavedModel (HubEncoder), whose weights come with it.
    """
    if not isinstance(self.albert, checkpoint_names.CheckpointedModel):
      raise TypeError(f"{self.name}'s encoder is a {type(self.albert).__name__}, whose weights "
                      f"come from its SavedModel, not from a checkpoint: build the "
                      f"{self.model_noun} without `encoder` to load a checkpoint into it")
    return self.albert.checkpoint_table().with_head(self.checkpoint_head, optional=True)

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({name: getattr(self, name) for name in self.head_arguments})
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
