"""HubEncoder: albert-export's encoder SavedModel behind AlbertModel's contract, trainable."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf.export import exporter
from albert_tf.models.hub_encoder import HubEncoder
from albert_tf.models.hub_encoder import HubEncoderError

VOCAB_SIZE = 300
HIDDEN_SIZE = 32
INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def _tiny_config(**overrides):
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=VOCAB_SIZE, **overrides)
  return AlbertConfig.from_dict(values)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
  """A random tiny ALBERT exported twice: with its staged config asset, and with no assets."""
  root = tmp_path_factory.mktemp("hub_encoder")
  config = _tiny_config()
  assert config.hidden_size == HIDDEN_SIZE
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  rng = np.random.default_rng(0)
  for variable in pretrainer.variables:  # Larger than the init scale, so differences show.
    variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
  with exporter.staged_config_asset(config) as config_asset:
    with_config = exporter.export_encoder(pretrainer, str(root / "with_config"),
                                          assets={"albert_config.json": config_asset})
  bare = exporter.export_encoder(pretrainer, str(root / "bare"))
  return {
      "root": root,
      "config": config,
      "albert": pretrainer.albert,
      "with_config": with_config,
      "bare": bare,
      "encoder": HubEncoder(with_config)
  }


def _inputs():
  rng = np.random.default_rng(1)
  ids = rng.integers(5, VOCAB_SIZE, [2, 9]).astype(np.int32)
  mask = np.ones([2, 9], np.int32)
  mask[1, 6:] = 0
  types = np.zeros([2, 9], np.int32)
  types[:, 4:] = 1
  return {name: tf.constant(value) for name, value in zip(INPUT_NAMES, (ids, mask, types))}


def test_outputs_equal_the_keras_albert_model(encoders):
  inputs = _inputs()
  outputs = encoders["encoder"](inputs, training=False)
  expected = encoders["albert"](inputs, training=False)
  assert set(outputs) == {"sequence_output", "pooled_output"}
  assert outputs["sequence_output"].shape == (2, 9, HIDDEN_SIZE)
  assert outputs["pooled_output"].shape == (2, HIDDEN_SIZE)
  for name in outputs:
    np.testing.assert_allclose(outputs[name].numpy(), expected[name].numpy(), rtol=0, atol=1e-5)


def test_config_from_the_asset_or_hidden_size_from_a_probe(encoders):
  assert encoders["encoder"].config == encoders["config"]
  assert encoders["encoder"].hidden_size == HIDDEN_SIZE
  bare = HubEncoder(encoders["bare"])
  assert bare.config is None
  assert bare.hidden_size == HIDDEN_SIZE


def test_trainable_every_variable_gets_a_gradient(encoders):
  encoder = encoders["encoder"]
  assert len(encoder.trainable_variables) == len(encoders["albert"].trainable_variables)
  inputs = _inputs()
  with tf.GradientTape() as tape:
    outputs = encoder(inputs, training=True)
    loss = (tf.reduce_sum(outputs["pooled_output"]**2) +
            tf.reduce_sum(outputs["sequence_output"]**2))
  gradients = tape.gradient(loss, encoder.trainable_variables)
  assert all(gradient is not None for gradient in gradients)
  assert all(float(tf.linalg.global_norm([gradient])) > 0 for gradient in gradients)


def test_frozen_encoder_has_no_trainable_variables(encoders):
  frozen = HubEncoder(encoders["bare"], trainable=False)
  assert not frozen.trainable_variables
  assert len(frozen.non_trainable_variables) == len(encoders["albert"].variables)


def test_keras_config_round_trip(encoders):
  encoder = encoders["encoder"]
  copy = HubEncoder.from_config(encoder.get_config())
  assert copy.handle == encoder.handle and copy.config == encoder.config
  np.testing.assert_allclose(
      copy(_inputs())["pooled_output"].numpy(),
      encoder(_inputs())["pooled_output"].numpy(), rtol=0, atol=0)


class _TakesOneTensor(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(self, x):
    return 2.0 * x


class _PooledOnly(tf.Module):

  @tf.function(input_signature=[{
      name: tf.TensorSpec([None, None], tf.int32) for name in INPUT_NAMES
  }])
  def __call__(self, inputs):
    return {"pooled_output": tf.zeros([tf.shape(inputs["input_word_ids"])[0], 4])}


def _handle_error(handle, **kwargs):
  with pytest.raises(HubEncoderError) as error:
    HubEncoder(handle, **kwargs)
  assert "\n" not in str(error.value)
  return str(error.value)


def test_handle_errors(encoders, tmp_path):
  missing = str(tmp_path / "missing")
  assert _handle_error(missing) == (
      f"albert_hub_module_handle {missing} is not a directory holding a SavedModel: pass the "
      "directory written by albert-export --encoder_export_dir, or a TF2 TF-Hub ALBERT/BERT "
      "encoder")
  assert _handle_error(str(tmp_path)).startswith(f"albert_hub_module_handle {tmp_path} is not a")
  one_tensor = str(tmp_path / "one_tensor")
  tf.saved_model.save(_TakesOneTensor(), one_tensor)
  assert _handle_error(one_tensor).startswith(
      f"albert_hub_module_handle {one_tensor} cannot be called on the dict {{input_word_ids, "
      "input_mask, input_type_ids} (int32 [batch, seq]) of a TF2 ALBERT/BERT encoder (")
  pooled_only = str(tmp_path / "pooled_only")
  tf.saved_model.save(_PooledOnly(), pooled_only)
  assert _handle_error(pooled_only) == (
      f"albert_hub_module_handle {pooled_only} does not return a dict with sequence_output and "
      "pooled_output: pass an ALBERT/BERT encoder SavedModel")
  wider = _tiny_config(hidden_size=48, intermediate_size=40)
  assert _handle_error(encoders["bare"], config=wider) == (
      f"albert_hub_module_handle {encoders['bare']} has hidden size 32 but the config says "
      "hidden_size=48: pass the config of this encoder")
