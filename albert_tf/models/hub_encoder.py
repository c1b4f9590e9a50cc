"""HubEncoder: an encoder SavedModel (ours, or TF-Hub style) with AlbertModel's call contract."""
# pylint: disable=g-classes-have-attributes

import os
from typing import Any, Mapping, Optional

from absl import logging
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from albert_tf.config import AlbertConfig

# Where albert-export's encoder and serving SavedModels carry the model's config.
CONFIG_ASSET = "albert_config.json"
_INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")
_OUTPUT_NAMES = ("sequence_output", "pooled_output")
_PROBE_ERRORS = (TypeError, ValueError, KeyError, tf.errors.OpError)


class HubEncoderError(ValueError):
  """The handle is not an encoder SavedModel of the TF-Hub BERT contract; the message says why."""


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class HubEncoder(tf_keras.layers.Layer):
  """A fine-tunable encoder SavedModel behind AlbertModel's call contract.

  The handle is a directory holding `albert-export --encoder_export_dir` output or a TF2 TF-Hub
  style ALBERT/BERT encoder: called on {input_word_ids, input_mask, input_type_ids} (int32
  [B, T]), it returns at least {sequence_output [B, T, H], pooled_output [B, H]}. This is what the
  original `--albert_hub_module_handle` loaded (as a TF1 hub module there). The variables are
  trainable and dropout follows `training`, as the module defines it.

  Args:
    handle: the SavedModel directory (local or any tf.io.gfile URL).
    config: the model's AlbertConfig; None reads `assets/albert_config.json` when the SavedModel
      carries one (albert-export's do). Its hidden_size must be the encoder's.
    trainable: whether fine-tuning updates the encoder's variables.
    **kwargs: passed to tf_keras.layers.Layer (e.g. name).

  Attributes:
    config: the AlbertConfig, or None when neither given nor carried by the SavedModel.
    hidden_size: H, measured on a probe call.

  Raises:
    HubEncoderError: the handle is not such a directory, or its config disagrees with it.

  Example:

    encoder = HubEncoder("serving/albert_encoder")
    out = encoder({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types})
    out["pooled_output"]  # [B, encoder.hidden_size]
  """

  def __init__(self, handle: str, config: Optional[AlbertConfig] = None, trainable: bool = True,
               **kwargs):
    kwargs.setdefault("name", "hub_encoder")
    super().__init__(trainable=trainable, **kwargs)
    if not tf.io.gfile.isdir(handle) or not tf.saved_model.contains_saved_model(handle):
      raise HubEncoderError(
          f"albert_hub_module_handle {handle} is not a directory holding a SavedModel: pass the "
          "directory written by albert-export --encoder_export_dir, or a TF2 TF-Hub ALBERT/BERT "
          "encoder")
    self.handle = handle
    self.config = config or read_config_asset(handle)
    self.encoder = hub.KerasLayer(handle, trainable=trainable, name="encoder")
    self.hidden_size = self._probe_hidden_size()
    if self.config is not None and self.config.hidden_size != self.hidden_size:
      raise HubEncoderError(
          f"albert_hub_module_handle {handle} has hidden size {self.hidden_size} but the config "
          f"says hidden_size={self.config.hidden_size}: pass the config of this encoder")

  def _probe_hidden_size(self) -> int:
    """Calls the encoder on one two-token row to check its contract; returns H."""
    ids = tf.zeros([1, 2], tf.int32)
    try:
      outputs = self.encoder(dict(zip(_INPUT_NAMES, (ids, tf.ones_like(ids), ids))), training=False)
    except _PROBE_ERRORS as error:
      raise HubEncoderError(
          f"albert_hub_module_handle {self.handle} cannot be called on the dict "
          f"{{{', '.join(_INPUT_NAMES)}}} (int32 [batch, seq]) of a TF2 ALBERT/BERT encoder "
          f"({type(error).__name__}); a TF1 hub module needs its TF2 version") from None
    if not isinstance(outputs, Mapping) or not set(_OUTPUT_NAMES) <= set(outputs):
      raise HubEncoderError(
          f"albert_hub_module_handle {self.handle} does not return a dict with "
          f"{' and '.join(_OUTPUT_NAMES)}: pass an ALBERT/BERT encoder SavedModel")
    return int(outputs["pooled_output"].shape[-1])

  def call(self, inputs: Mapping[str, tf.Tensor], training: Optional[bool] = None) -> dict:
    """Runs the encoder.

    Args:
      inputs: {"input_word_ids", "input_mask", "input_type_ids"}, each int32 [B, T].
      training: enables the module's dropout.

    Returns:
      {"sequence_output": [B, T, H], "pooled_output": [B, H]}.
    """
    outputs = self.encoder({name: inputs[name] for name in _INPUT_NAMES}, training=training)
    return {name: outputs[name] for name in _OUTPUT_NAMES}

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "handle": self.handle,
        "config": None if self.config is None else self.config.to_dict()
    })
    return config

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> "HubEncoder":
    config = dict(config)
    if config.get("config") is not None:
      config["config"] = AlbertConfig.from_dict(config["config"])
    return cls(**config)


def read_config_asset(handle: str) -> Optional[AlbertConfig]:
  """The AlbertConfig a SavedModel carries in `assets/albert_config.json`, or None."""
  path = os.path.join(handle, "assets", CONFIG_ASSET)
  if not tf.io.gfile.exists(path):
    logging.info("%s carries no %s; its hidden size comes from a probe call.", handle, CONFIG_ASSET)
    return None
  return AlbertConfig.from_json_file(path)


def encoder_config(albert_config_file: str | None, hub_module_handle: str | None) -> AlbertConfig:
  """The fine-tuning CLIs' encoder config: --albert_config_file, else the config an
  --albert_hub_module_handle export carries.

  Raises:
    HubEncoderError: only a hub module is given, and it carries no config.
  """
  if albert_config_file:
    return AlbertConfig.from_json_file(albert_config_file)
  config = read_config_asset(hub_module_handle)
  if config is None:
    raise HubEncoderError(f"--albert_hub_module_handle={hub_module_handle} carries no "
                          f"assets/{CONFIG_ASSET}: pass the encoder's --albert_config_file too")
  return config
