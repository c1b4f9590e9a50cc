"""Original TF1 checkpoint compatibility: loading, writing, and the errors users see.

Checkpoints are built with the exact original names by `tf1_checkpoint_fixtures` (tf.compat.v1
variables + Saver), outputs are checked against the independent NumPy forward pass in
`numpy_albert`, and every user error is checked for its exact one-line message.
"""

import os

import numpy as np
import numpy_albert
import pytest
import tensorflow as tf
import tf1_checkpoint_fixtures as fixtures
import tf_keras

import albert_tf
from albert_tf import brightmart
from albert_tf import checkpoint_names
from albert_tf import checkpoints
from albert_tf.config import AlbertConfigError

TOLERANCE = 1e-5


def tiny_config(**overrides) -> dict:
  config = {
      "vocab_size": 50,
      "embedding_size": 8,
      "hidden_size": 16,
      "num_hidden_layers": 3,
      "num_hidden_groups": 1,
      "num_attention_heads": 4,
      "intermediate_size": 24,
      "inner_group_num": 1,
      "hidden_act": "gelu",
      "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1,
      "max_position_embeddings": 20,
      "type_vocab_size": 2,
      "initializer_range": 0.02,
  }
  config.update(overrides)
  return config


def albert_config(config: dict) -> albert_tf.AlbertConfig:
  return albert_tf.AlbertConfig(**config)


def model_inputs() -> dict:
  rng = np.random.default_rng(7)
  ids = rng.integers(0, 50, size=(2, 7)).astype(np.int32)
  mask = np.ones((2, 7), np.int32)
  mask[1, 4:] = 0
  types = np.zeros((2, 7), np.int32)
  types[:, 3:] = 1
  return {
      "input_word_ids": ids,
      "input_mask": mask,
      "input_type_ids": types,
      "masked_lm_positions": np.array([[1, 2, 6], [0, 3, 2]], np.int32),
  }


def numpy_outputs(weights: dict, config: dict, inputs: dict) -> dict:
  return numpy_albert.albert_forward(weights, config, inputs["input_word_ids"],
                                     inputs["input_mask"], inputs["input_type_ids"],
                                     inputs["masked_lm_positions"])


def backbone_inputs(inputs: dict) -> dict:
  return {name: value for name, value in inputs.items() if name != "masked_lm_positions"}


def assert_close(actual, expected, name):
  difference = np.max(np.abs(np.asarray(actual, np.float64) - expected))
  assert difference <= TOLERANCE, f"{name}: max abs diff {difference}"


def variable_values(model) -> dict:
  return {variable.name: variable.numpy() for variable in model.variables}


def mismatch_message(model, path) -> str:
  """Loads expecting a CheckpointMismatchError; returns its message."""
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    albert_tf.load_checkpoint(model, path)
  return str(error.value)


def expected_message_prefix(prefix) -> str:
  return f"checkpoint {prefix} does not match the config: "


# --- The reference itself ----------------------------------------------------------------------


def numpy_reference_gelu(x):
  return tf.nn.gelu(x, approximate=True)


def test_numpy_reference_matches_tf_models_albert_encoder():
  """The oracle agrees with tf-models-official's AlbertEncoder (G=1, K=1), an independent port."""
  from official.nlp.modeling.networks import albert_encoder  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(0), False)
  hidden, heads = config["hidden_size"], config["num_attention_heads"]
  encoder = albert_encoder.AlbertEncoder(vocab_size=50, embedding_width=8, hidden_size=hidden,
                                         num_layers=3, num_attention_heads=heads,
                                         max_sequence_length=20, type_vocab_size=2,
                                         intermediate_size=24, activation=numpy_reference_gelu,
                                         dropout_rate=0.0, attention_dropout_rate=0.0,
                                         dict_outputs=True)
  inputs = backbone_inputs(model_inputs())
  encoder(inputs)
  block = "bert/encoder/transformer/group_0/inner_group_0/"
  tf_models_names = {
      "word_embeddings/embeddings": "bert/embeddings/word_embeddings",
      "position_embedding/embeddings": "bert/embeddings/position_embeddings",
      "type_embeddings/embeddings": "bert/embeddings/token_type_embeddings",
      "embeddings/layer_norm/gamma": "bert/embeddings/LayerNorm/gamma",
      "embeddings/layer_norm/beta": "bert/embeddings/LayerNorm/beta",
      "embedding_projection/kernel": "bert/encoder/embedding_hidden_mapping_in/kernel",
      "embedding_projection/bias": "bert/encoder/embedding_hidden_mapping_in/bias",
      "transformer/self_attention/attention_output/bias": block + "attention_1/output/dense/bias",
      "transformer/self_attention_layer_norm/gamma": block + "LayerNorm/gamma",
      "transformer/self_attention_layer_norm/beta": block + "LayerNorm/beta",
      "transformer/intermediate/kernel": block + "ffn_1/intermediate/dense/kernel",
      "transformer/intermediate/bias": block + "ffn_1/intermediate/dense/bias",
      "transformer/output/kernel": block + "ffn_1/intermediate/output/dense/kernel",
      "transformer/output/bias": block + "ffn_1/intermediate/output/dense/bias",
      "transformer/output_layer_norm/gamma": block + "LayerNorm_1/gamma",
      "transformer/output_layer_norm/beta": block + "LayerNorm_1/beta",
      "pooler_transform/kernel": "bert/pooler/dense/kernel",
      "pooler_transform/bias": "bert/pooler/dense/bias",
  }
  for projection in ("query", "key", "value"):
    tf_models_names[f"transformer/self_attention/{projection}/kernel"] = (
        block + f"attention_1/self/{projection}/kernel")
    tf_models_names[f"transformer/self_attention/{projection}/bias"] = (
        block + f"attention_1/self/{projection}/bias")
  tf_models_names["transformer/self_attention/attention_output/kernel"] = (
      block + "attention_1/output/dense/kernel")
  for variable in encoder.weights:
    value = weights[tf_models_names[variable.name[:-len(":0")]]]
    variable.assign(value.reshape(variable.shape))  # tf-models splits heads: [H,N,D], [N,D,H].
  outputs = encoder(inputs)
  expected = numpy_albert.albert_forward(weights, config, inputs["input_word_ids"],
                                         inputs["input_mask"], inputs["input_type_ids"])
  assert_close(outputs["sequence_output"], expected["sequence_output"], "sequence_output")
  assert_close(outputs["pooled_output"], expected["pooled_output"], "pooled_output")


# --- The name table ----------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {},
    {
        "num_hidden_groups": 2,
        "inner_group_num": 2
    },
    {
        "num_hidden_layers": 4,
        "num_hidden_groups": 3
    },
    {
        "embedding_size": 16
    },
])
def test_name_table_lists_the_original_names_and_shapes(overrides):
  config = tiny_config(**overrides)
  assert (checkpoint_names.original_variable_shapes(
      albert_config(config)) == numpy_albert.original_shapes(config))
  assert (checkpoint_names.original_variable_shapes(
      albert_config(config),
      include_heads=False) == numpy_albert.original_shapes(config, include_heads=False))


def test_name_table_gives_the_published_parameter_counts():
  """reference/original_albert.md §3.3: ALBERT-base backbone and backbone + heads."""
  base = albert_tf.AlbertConfig(vocab_size=30000, embedding_size=128, hidden_size=768,
                                num_hidden_layers=12, num_attention_heads=12,
                                intermediate_size=3072)
  backbone = checkpoint_names.original_variable_shapes(base, include_heads=False)
  with_heads = checkpoint_names.original_variable_shapes(base)
  assert sum(int(np.prod(shape)) for shape in backbone.values()) == 11683584
  assert sum(int(np.prod(shape)) for shape in with_heads.values()) == 11813810


def test_name_table_has_32_variables_for_one_group_and_no_projection_when_e_equals_h():
  names = checkpoint_names.original_variable_shapes(albert_config(tiny_config()))
  assert len(names) == 32
  square = checkpoint_names.original_variable_shapes(albert_config(tiny_config(embedding_size=16)))
  assert len(square) == 30
  assert not any("embedding_hidden_mapping_in" in name for name in square)


# --- Loading original checkpoints: outputs equal the NumPy forward pass ------------------------


@pytest.mark.parametrize("overrides", [
    {
        "hidden_act": "gelu"
    },
    {
        "hidden_act": "relu"
    },
    {
        "hidden_act": "gelu",
        "num_hidden_groups": 2,
        "inner_group_num": 2
    },
    {
        "hidden_act": "relu",
        "num_hidden_groups": 2,
        "inner_group_num": 2
    },
    {
        "hidden_act": "relu",
        "num_hidden_layers": 4,
        "num_hidden_groups": 3
    },
    {
        "hidden_act": "gelu",
        "embedding_size": 16
    },
])
def test_loaded_models_match_numpy_forward(tmp_path, overrides):
  config = tiny_config(**overrides)
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(1))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights, global_step=100)
  inputs = model_inputs()
  expected = numpy_outputs(weights, config, inputs)

  pretrainer = albert_tf.AlbertPretrainer(albert_config(config))
  report = albert_tf.load_checkpoint(pretrainer, prefix)
  assert report.kind == checkpoints.TF1_KIND
  assert sorted(report.loaded) == sorted(weights)
  assert report.ignored == ("global_step",)
  outputs = pretrainer(inputs, training=False)
  for name in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits"):
    assert_close(outputs[name], expected[name], name)

  model = albert_tf.AlbertModel(albert_config(config))
  report = albert_tf.load_checkpoint(model, tmp_path)
  heads = sorted(name for name in weights if name.startswith("cls/"))
  assert sorted(report.ignored) == sorted(heads + ["global_step"])
  outputs = model(backbone_inputs(inputs), training=False)
  for name in ("sequence_output", "pooled_output", "embedding_output"):
    assert_close(outputs[name], expected[name], name)
  assert len(outputs["encoder_outputs"]) == len(expected["encoder_outputs"])
  for index, (actual,
              reference) in enumerate(zip(outputs["encoder_outputs"], expected["encoder_outputs"])):
    assert_close(actual, reference, f"encoder_outputs[{index}]")


def test_hub_prefix_and_optimizer_slots(tmp_path):
  config = tiny_config(num_hidden_groups=2, inner_group_num=2)
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(2))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-1000", weights,
                                         name_prefix="module/", optimizer_slots=True,
                                         global_step=1000)
  pretrainer = albert_tf.AlbertPretrainer(albert_config(config))
  report = albert_tf.load_checkpoint(pretrainer, prefix)
  assert report.loaded == {name: "module/" + name for name in weights}
  assert str(report) == (f"loaded 80 variables from original TF1 checkpoint {prefix} (0 of them "
                         "from group_0), ignored 161 checkpoint entries")
  slots = [f"module/{name}/{slot}" for name in weights for slot in ("adam_m", "adam_v")]
  assert sorted(report.ignored) == sorted(slots + ["global_step"])
  block = pretrainer.albert.encoder.groups[1][1]
  np.testing.assert_array_equal(
      block.output_dense.kernel.numpy(),
      weights["bert/encoder/transformer/group_1/inner_group_1/ffn_1/intermediate/output/dense/"
              "kernel"])
  np.testing.assert_array_equal(pretrainer.sentence_order.output_weights.numpy(),
                                weights["cls/seq_relationship/output_weights"])


def test_lamb_slots_are_ignored(tmp_path):
  config = tiny_config()
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(3))
  slots = {f"{name}/lamb_m": value for name, value in weights.items()}
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "albert_model.ckpt", weights,
                                         extra_variables=slots)
  report = albert_tf.load_checkpoint(albert_tf.AlbertPretrainer(albert_config(config)), prefix)
  assert sorted(report.ignored) == sorted(slots)


def test_init_from_group0(tmp_path):
  """A 1-group checkpoint initialises every group of a 2-group model (reference §7.7)."""
  one_group = tiny_config(inner_group_num=2)
  two_groups = tiny_config(inner_group_num=2, num_hidden_groups=2)
  weights = numpy_albert.random_original_weights(one_group, np.random.default_rng(4))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights)
  pretrainer = albert_tf.AlbertPretrainer(albert_config(two_groups))

  assert mismatch_message(pretrainer, prefix) == (
      expected_message_prefix(prefix) +
      "missing: bert/encoder/transformer/group_1/* (32 variables); the checkpoint has fewer layer "
      "groups than num_hidden_groups: pass init_from_group0=True to initialise the other groups "
      "from group_0")

  report = albert_tf.load_checkpoint(pretrainer, prefix, init_from_group0=True)
  assert len(report.from_group0) == 32
  assert (report.from_group0["bert/encoder/transformer/group_1/inner_group_1/LayerNorm_1/beta"] ==
          "bert/encoder/transformer/group_0/inner_group_1/LayerNorm_1/beta")
  expanded = dict(weights)
  for name, value in weights.items():
    if "/group_0/" in name:
      expanded[name.replace("/group_0/", "/group_1/")] = value
  inputs = model_inputs()
  expected = numpy_outputs(expanded, two_groups, inputs)
  outputs = pretrainer(inputs, training=False)
  for name in ("sequence_output", "mlm_logits", "sop_logits"):
    assert_close(outputs[name], expected[name], name)


# --- Writing original checkpoints --------------------------------------------------------------


def test_save_then_load_round_trips_exactly(tmp_path):
  config = tiny_config(num_hidden_groups=2, inner_group_num=2)
  source = albert_tf.AlbertPretrainer(albert_config(config))
  source(model_inputs())
  rng = np.random.default_rng(13)
  for variable in source.variables:  # Biases and LayerNorms too, so nothing is 0 or 1 by default.
    variable.assign(rng.normal(size=variable.shape).astype(np.float32))
  prefix = albert_tf.save_original_checkpoint(source, str(tmp_path / "export" / "model.ckpt-best"),
                                              global_step=0)
  assert sorted(os.listdir(
      tmp_path / "export")) == ["model.ckpt-best.data-00000-of-00001", "model.ckpt-best.index"]

  reader = tf.train.load_checkpoint(prefix)
  shapes = numpy_albert.original_shapes(config)
  assert reader.get_variable_to_shape_map() == {
      **{
          name: list(shape) for name, shape in shapes.items()
      }, "global_step": []
  }
  assert reader.get_variable_to_dtype_map()["global_step"] == tf.int64

  restored = fixtures.read_with_tf1_saver(prefix, shapes)
  assert restored["global_step"] == 0
  np.testing.assert_array_equal(restored["bert/embeddings/word_embeddings"],
                                source.albert.embeddings.word_embeddings.numpy())
  np.testing.assert_array_equal(restored["cls/seq_relationship/output_weights"],
                                source.sentence_order.output_weights.numpy())

  target = albert_tf.AlbertPretrainer(albert_config(config))
  albert_tf.load_checkpoint(target, tmp_path / "export")
  source_values, target_values = variable_values(source), variable_values(target)
  assert sorted(source_values) == sorted(target_values)
  for name, value in source_values.items():
    np.testing.assert_array_equal(target_values[name], value, err_msg=name)


def test_save_backbone_only_and_global_step(tmp_path):
  config = tiny_config(embedding_size=16)
  model = albert_tf.AlbertModel(albert_config(config))
  prefix = albert_tf.save_original_checkpoint(model, tmp_path / "model.ckpt", global_step=42)
  reader = tf.train.load_checkpoint(prefix)
  assert reader.get_tensor("global_step") == 42
  assert sorted(reader.get_variable_to_shape_map()) == sorted(
      list(numpy_albert.original_shapes(config, include_heads=False)) + ["global_step"])


def test_failed_save_leaves_no_files(tmp_path, monkeypatch):

  def write_then_fail(prefix, tensors):
    checkpoints.tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(tensors),
                                  shape_and_slices=[""] * len(tensors),
                                  tensors=list(tensors.values()))
    raise OSError("disk full")

  monkeypatch.setattr(checkpoints, "_save_v2", write_then_fail)
  model = albert_tf.AlbertModel(albert_config(tiny_config()))
  with pytest.raises(OSError, match="disk full"):
    albert_tf.save_original_checkpoint(model, tmp_path / "model.ckpt")
  assert os.listdir(tmp_path) == []


def test_save_into_a_directory_path_is_refused(tmp_path):
  model = albert_tf.AlbertModel(albert_config(tiny_config()))
  with pytest.raises(ValueError) as error:
    albert_tf.save_original_checkpoint(model, tmp_path)
  assert str(error.value) == (f"checkpoint path {tmp_path} is a directory: pass a checkpoint "
                              f"prefix such as {tmp_path / 'model.ckpt'}")


# --- Object-based training checkpoints ---------------------------------------------------------


def test_object_based_training_checkpoint(tmp_path):
  config = tiny_config(num_hidden_groups=2, inner_group_num=2)
  source = albert_tf.AlbertPretrainer(albert_config(config))
  inputs = model_inputs()
  source(inputs)
  optimizer = tf_keras.optimizers.Adam(0.01)
  optimizer.build(source.trainable_variables)  # Slot variables, as a training checkpoint has.
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(model=source, optimizer=optimizer, step=tf.Variable(5, dtype=tf.int64)),
      tmp_path, max_to_keep=2, checkpoint_name="model.ckpt")
  manager.save(checkpoint_number=5)
  expected = source(inputs, training=False)

  pretrainer = albert_tf.AlbertPretrainer(albert_config(config))
  report = albert_tf.load_checkpoint(pretrainer, tmp_path)
  assert report.kind == checkpoints.OBJECT_KIND
  assert report.path == str(tmp_path / "model.ckpt-5")
  assert sorted(report.loaded) == sorted(numpy_albert.original_shapes(config))
  assert "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE" in report.ignored
  adam_slots = 2 * len(source.trainable_variables)
  assert sum(key.startswith("optimizer/_variables/") for key in report.ignored) == adam_slots
  outputs = pretrainer(inputs, training=False)
  for name in ("sequence_output", "mlm_logits", "sop_logits"):
    np.testing.assert_array_equal(outputs[name].numpy(), expected[name].numpy())

  model = albert_tf.AlbertModel(albert_config(config))
  albert_tf.load_checkpoint(model, report.path)
  np.testing.assert_array_equal(
      model(backbone_inputs(inputs))["pooled_output"].numpy(), expected["pooled_output"].numpy())

  wider = albert_tf.AlbertModel(albert_config(tiny_config(num_hidden_groups=3, inner_group_num=2)))
  assert mismatch_message(wider, report.path) == (
      expected_message_prefix(report.path) +
      "missing: bert/encoder/transformer/group_2/* (32 variables); the checkpoint has fewer layer "
      "groups than num_hidden_groups: pass init_from_group0=True to initialise the other groups "
      "from group_0")


def test_models_declare_their_checkpoint_table():
  config = albert_config(tiny_config(ln_type="postln"))
  google, brightmart_layout = checkpoint_names.GOOGLE_LAYOUT, checkpoint_names.BRIGHTMART_LAYOUT
  assert albert_tf.AlbertModel(config).checkpoint_table() == checkpoint_names.CheckpointTable(
      config, google)
  assert albert_tf.AlbertPretrainer(config).checkpoint_table() == (checkpoint_names.CheckpointTable(
      config, google, checkpoint_names.PRETRAINING_HEADS))
  assert brightmart.BrightmartPretrainer(config).checkpoint_table() == (
      checkpoint_names.CheckpointTable(config, brightmart_layout,
                                       checkpoint_names.PRETRAINING_HEADS))
  assert brightmart.BrightmartAlbertModel(config).checkpoint_table().layout == brightmart_layout


def test_recorded_step(tmp_path):
  config = tiny_config()
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(4))
  assert checkpoints.recorded_step(
      fixtures.write_tf1_checkpoint(tmp_path / "tf1" / "model.ckpt-best", weights,
                                    global_step=100)) == 100
  assert checkpoints.recorded_step(
      fixtures.write_tf1_checkpoint(tmp_path / "tf1" / "model.ckpt-12", weights)) == 12
  assert checkpoints.recorded_step(
      fixtures.write_tf1_checkpoint(tmp_path / "tf1" / "albert_model.ckpt", weights)) is None

  pretrainer = albert_tf.AlbertPretrainer(albert_config(config))
  pretrainer.build()
  optimizer = tf_keras.optimizers.legacy.Adam()
  optimizer.iterations.assign(7)
  training = checkpoints.training_checkpoint(pretrainer, optimizer)
  best = training.write(str(tmp_path / "run" / checkpoints.BEST_CHECKPOINT_NAME))
  assert checkpoints.recorded_step(best) == 7  # A copy named -best keeps its step.
  assert checkpoints.recorded_step(tmp_path / "run") == 7
  assert albert_tf.load_checkpoint(albert_tf.AlbertPretrainer(albert_config(config)),
                                   best).kind == checkpoints.OBJECT_KIND

  without_step = tf.train.Checkpoint(model=pretrainer)
  assert checkpoints.recorded_step(without_step.write(str(tmp_path / "model.ckpt-5"))) == 5
  assert checkpoints.recorded_step(without_step.write(str(tmp_path / "other"))) is None


def test_object_based_checkpoint_without_model_is_refused(tmp_path):
  prefix = tf.train.Checkpoint(encoder=tf_keras.layers.Dense(2)).write(str(tmp_path / "ckpt"))
  assert mismatch_message(albert_tf.AlbertModel(albert_config(tiny_config())), prefix) == (
      f"checkpoint {prefix} is object-based but has no `model` object (it has: encoder): pass an "
      "albert-tf training checkpoint, written as tf.train.Checkpoint(model=AlbertPretrainer)")


# --- Paths -------------------------------------------------------------------------------------


def test_checkpoint_paths(tmp_path):
  weights = numpy_albert.random_original_weights(tiny_config(), np.random.default_rng(5))
  directory = tmp_path / "release"
  prefix = fixtures.write_tf1_checkpoint(directory / "model.ckpt-best", weights)
  os.remove(directory / "checkpoint")  # Released tarballs carry no state file.
  assert checkpoints.resolve_checkpoint_prefix(directory) == prefix
  assert checkpoints.resolve_checkpoint_prefix(prefix + ".index") == prefix
  assert checkpoints.resolve_checkpoint_prefix(prefix + ".data-00000-of-00001") == prefix

  steps = tmp_path / "steps"
  for step in (900, 1000, 200):
    fixtures.write_tf1_checkpoint(steps / f"model.ckpt-{step}", weights)
  os.remove(steps / "checkpoint")
  assert checkpoints.resolve_checkpoint_prefix(steps) == str(steps / "model.ckpt-1000")


def test_hub_module_directory(tmp_path):
  weights = numpy_albert.random_original_weights(tiny_config(), np.random.default_rng(11))
  module = tmp_path / "albert_tiny_hub"
  prefix = fixtures.write_tf1_checkpoint(module / "variables" / "variables", weights)
  (module / "tfhub_module.pb").write_bytes(b"")
  os.remove(module / "variables" / "checkpoint")
  report = albert_tf.load_checkpoint(albert_tf.AlbertPretrainer(albert_config(tiny_config())),
                                     module)
  assert report.path == prefix
  assert len(report.loaded) == 32


def test_mixed_precision_keeps_float32_variables(tmp_path):
  config = tiny_config()
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(12))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights)
  tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    pretrainer = albert_tf.AlbertPretrainer(albert_config(config))
    albert_tf.load_checkpoint(pretrainer, prefix)
    saved = albert_tf.save_original_checkpoint(pretrainer, tmp_path / "export" / "model.ckpt")
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  np.testing.assert_array_equal(pretrainer.albert.embeddings.word_embeddings.numpy(),
                                weights["bert/embeddings/word_embeddings"])
  reader = tf.train.load_checkpoint(saved)
  for name, value in weights.items():
    assert reader.get_variable_to_dtype_map()[name] == tf.float32
    np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)


def test_other_models_are_refused(tmp_path):
  prefix = write_tiny_checkpoint(tmp_path)
  with pytest.raises(TypeError) as error:
    albert_tf.load_checkpoint(tf_keras.Sequential([tf_keras.layers.Dense(2)]), prefix)
  assert str(error.value) == ("expected an AlbertModel, AlbertPretrainer or AlbertClassifier (or "
                              "an albert_tf.brightmart model), got Sequential")


def test_nonexistent_path(tmp_path):
  missing = tmp_path / "nowhere" / "model.ckpt-best"
  with pytest.raises(checkpoints.CheckpointNotFoundError) as error:
    albert_tf.load_checkpoint(albert_tf.AlbertModel(albert_config(tiny_config())), missing)
  assert isinstance(error.value, FileNotFoundError)
  assert isinstance(error.value, checkpoints.CheckpointError)
  assert str(error.value) == (
      f"checkpoint {missing} does not exist (no {missing}.index): pass a checkpoint prefix such as "
      "dir/model.ckpt-best, or a directory holding checkpoints")


def test_directory_without_checkpoint(tmp_path):
  with pytest.raises(checkpoints.CheckpointNotFoundError) as error:
    albert_tf.load_checkpoint(albert_tf.AlbertModel(albert_config(tiny_config())), tmp_path)
  assert str(error.value) == (
      f"checkpoint directory {tmp_path} holds no checkpoint (no *.index file): pass a directory "
      "written by training or export, or a checkpoint prefix")


# --- Checkpoints that do not fit ---------------------------------------------------------------


def write_tiny_checkpoint(tmp_path, config=None, drop=(), extra=None, seed=6) -> str:
  weights = numpy_albert.random_original_weights(config or tiny_config(),
                                                 np.random.default_rng(seed))
  for name in drop:
    del weights[name]
  return fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights, extra_variables=extra)


def assert_nothing_loaded(model, before):
  for name, value in variable_values(model).items():
    np.testing.assert_array_equal(value, before[name], err_msg=name)


def truncate(path):
  content = path.read_bytes()
  path.write_bytes(content[:len(content) // 2])


@pytest.mark.parametrize("damage, reason", [
    (lambda prefix: truncate(prefix.with_name(prefix.name + ".data-00000-of-00001")),
     "Read less bytes than requested"),
    (lambda prefix: prefix.with_name(prefix.name + ".data-00000-of-00001").unlink(),
     "{prefix}.data-00000-of-00001; No such file or directory"),
    (lambda prefix: prefix.with_name(prefix.name + ".index").write_bytes(b"not a checkpoint" * 8),
     "not an sstable (bad magic number)"),
])
def test_unreadable_checkpoint_files(tmp_path, damage, reason):
  prefix = write_tiny_checkpoint(tmp_path)
  damage(tmp_path / "model.ckpt-best")
  model = albert_tf.AlbertModel(albert_config(tiny_config()))
  model(backbone_inputs(model_inputs()))
  before = variable_values(model)
  with pytest.raises(checkpoints.CheckpointReadError) as error:
    albert_tf.load_checkpoint(model, prefix)
  assert isinstance(error.value, checkpoints.CheckpointError)
  assert str(error.value) == (
      f"checkpoint {prefix} cannot be read ({reason.format(prefix=prefix)}): its files are "
      "incomplete or corrupt; copy or export it again")
  assert_nothing_loaded(model, before)


def test_vocab_size_mismatch(tmp_path):
  prefix = write_tiny_checkpoint(tmp_path, tiny_config(vocab_size=52))
  pretrainer = albert_tf.AlbertPretrainer(albert_config(tiny_config()))
  pretrainer(model_inputs())
  before = variable_values(pretrainer)
  assert mismatch_message(pretrainer, prefix) == (
      expected_message_prefix(prefix) + "vocab_size is 52 in the checkpoint but 50 in the config; "
      "bert/embeddings/word_embeddings has shape [52,8], config expects [50,8] (vocab_size); "
      "cls/predictions/output_bias has shape [52], config expects [50] (vocab_size)")
  assert_nothing_loaded(pretrainer, before)


def test_hidden_size_mismatch(tmp_path):
  prefix = write_tiny_checkpoint(tmp_path, tiny_config(hidden_size=32))
  message = mismatch_message(albert_tf.AlbertModel(albert_config(tiny_config())), prefix)
  assert message.startswith(
      expected_message_prefix(prefix) + "hidden_size is 32 in the checkpoint but 16 in the config; "
      "bert/encoder/embedding_hidden_mapping_in/kernel has shape [8,32], config expects [8,16] "
      "(hidden_size); bert/encoder/embedding_hidden_mapping_in/bias has shape [32], config expects "
      "[16] (hidden_size); ")
  assert message.endswith(
      "bert/pooler/dense/kernel has shape [32,32], config expects [16,16] (hidden_size); "
      "bert/pooler/dense/bias has shape [32], config expects [16] (hidden_size)")
  # Every backbone variable with a hidden dimension: the projection's 2, 15 of the 16 block
  # variables (all but the FFN inner bias [I]) and the pooler's 2.
  assert message.count("(hidden_size)") == 2 + 15 + 2
  assert "\n" not in message and "missing" not in message and "unexpected" not in message


def test_missing_variable(tmp_path):
  prefix = write_tiny_checkpoint(tmp_path, drop=["bert/pooler/dense/bias"])
  message = mismatch_message(albert_tf.AlbertModel(albert_config(tiny_config())), prefix)
  assert message == expected_message_prefix(prefix) + "missing: bert/pooler/dense/bias"


def test_unexpected_variable(tmp_path):
  extra = {
      "bert/encoder/transformer/group_0/inner_group_0/attention_1/self/rel_bias":
          np.zeros([4], np.float32)
  }
  prefix = write_tiny_checkpoint(tmp_path, extra=extra)
  assert mismatch_message(albert_tf.AlbertModel(albert_config(tiny_config())), prefix) == (
      expected_message_prefix(prefix) +
      "unexpected: bert/encoder/transformer/group_0/inner_group_0/attention_1/self/rel_bias")


def test_pretrainer_needs_the_heads(tmp_path):
  config = tiny_config()
  weights = numpy_albert.random_original_weights(config, np.random.default_rng(8),
                                                 include_heads=False)
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights)
  message = mismatch_message(albert_tf.AlbertPretrainer(albert_config(config)), prefix)
  assert message == expected_message_prefix(prefix) + "missing: cls/* (7 variables)"


def test_brightmart_layout_is_refused_by_google_models(tmp_path):
  config = tiny_config(hidden_act="relu")
  weights = fixtures.random_brightmart_weights(config, np.random.default_rng(9))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "albert_model.ckpt", weights)
  with pytest.raises(checkpoints.CheckpointLayoutError) as error:
    albert_tf.load_checkpoint(albert_tf.AlbertModel(albert_config(config)), prefix)
  assert isinstance(error.value, checkpoints.CheckpointMismatchError)
  assert str(error.value) == (
      f"checkpoint {prefix} uses the brightmart/albert_zh layout "
      "(bert/embeddings/word_embeddings_2, bert/encoder/layer_shared/ ...), which AlbertModel does "
      "not load: AlbertModel and AlbertPretrainer take the Google layout (Google's "
      "albert_{base,large,xlarge,xxlarge}_{v1,v2,zh} checkpoints, brightmart's "
      "albert_tiny_zh_google / albert_small_zh_google); load brightmart's own checkpoints into "
      "albert_tf.brightmart.BrightmartAlbertModel or BrightmartPretrainer")


def test_google_layout_is_refused_by_brightmart_models(tmp_path):
  prefix = write_tiny_checkpoint(tmp_path)
  with pytest.raises(checkpoints.CheckpointLayoutError) as error:
    albert_tf.load_checkpoint(brightmart.BrightmartPretrainer(albert_config(tiny_config())), prefix)
  assert str(error.value) == (
      f"checkpoint {prefix} uses the Google ALBERT layout "
      "(bert/encoder/embedding_hidden_mapping_in/, bert/encoder/transformer/ ...), which "
      "BrightmartPretrainer does not load: load it into albert_tf.AlbertModel or AlbertPretrainer")


def test_bert_checkpoint_is_refused(tmp_path):
  bert_layer = "bert/encoder/layer_0/attention/self/query/kernel"
  prefix = write_tiny_checkpoint(tmp_path, extra={bert_layer: np.zeros([16, 16], np.float32)})
  with pytest.raises(checkpoints.CheckpointLayoutError) as error:
    albert_tf.load_checkpoint(albert_tf.AlbertModel(albert_config(tiny_config())), prefix)
  assert str(error.value) == (
      f"checkpoint {prefix} uses the BERT layout (bert/encoder/layer_0/ ...), which AlbertModel "
      "does not load: it is a BERT checkpoint, not an ALBERT one; use the ALBERT checkpoint that "
      "came with this albert_config.json")


# --- brightmart/albert_zh's own layout ---------------------------------------------------------


def test_brightmart_name_table():
  config = tiny_config()
  assert (checkpoint_names.original_variable_shapes(
      albert_config(config),
      layout=checkpoint_names.BRIGHTMART_LAYOUT) == fixtures.brightmart_shapes(config))


@pytest.mark.parametrize("hidden_act", ["gelu", "relu"])
def test_brightmart_models_match_numpy_forward(tmp_path, hidden_act):
  config = tiny_config(hidden_act=hidden_act, ln_type="postln")
  weights = fixtures.random_brightmart_weights(config, np.random.default_rng(10))
  slots = {f"{name}/lamb_m": value for name, value in weights.items()}
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "albert_model.ckpt", weights,
                                         extra_variables=slots, global_step=3)
  inputs = model_inputs()
  expected = numpy_albert.brightmart_forward(weights, config, inputs["input_word_ids"],
                                             inputs["input_mask"], inputs["input_type_ids"],
                                             inputs["masked_lm_positions"])
  pretrainer = brightmart.BrightmartPretrainer(albert_config(config))
  report = albert_tf.load_checkpoint(pretrainer, prefix)
  assert sorted(report.loaded) == sorted(weights)
  outputs = pretrainer(inputs, training=False)
  for name in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits"):
    assert_close(outputs[name], expected[name], name)

  model = brightmart.BrightmartAlbertModel(albert_config(config))
  albert_tf.load_checkpoint(model, prefix)
  outputs = model(backbone_inputs(inputs), training=False)
  for name in ("embedding_output", "sequence_output", "pooled_output"):
    assert_close(outputs[name], expected[name], name)


def test_brightmart_save_then_load_round_trips_exactly(tmp_path):
  config = tiny_config()
  source = brightmart.BrightmartPretrainer(albert_config(config))
  source(model_inputs())
  prefix = albert_tf.save_original_checkpoint(source, tmp_path / "albert_model.ckpt")
  assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map() == {
      **{
          name: list(shape) for name, shape in fixtures.brightmart_shapes(config).items()
      }, "global_step": []
  }
  target = brightmart.BrightmartPretrainer(albert_config(config))
  albert_tf.load_checkpoint(target, prefix)
  source_values, target_values = variable_values(source), variable_values(target)
  assert sorted(source_values) == sorted(target_values)
  for name, value in source_values.items():
    np.testing.assert_array_equal(target_values[name], value, err_msg=name)


def test_brightmart_configs_round_trip():
  layer = brightmart.BrightmartEmbeddings(hidden_size=16, vocab_size=50, embedding_size=8)
  assert brightmart.BrightmartEmbeddings.from_config(
      layer.get_config()).get_config() == (layer.get_config())
  config = albert_config(tiny_config(ln_type="postln"))
  for model_class in (brightmart.BrightmartAlbertModel, brightmart.BrightmartPretrainer):
    model = model_class(config)
    restored = model_class.from_config(model.get_config())
    assert restored.config.to_dict() == config.to_dict()
    assert restored.name == model.name


@pytest.mark.parametrize("overrides, message", [
    ({
        "num_hidden_groups": 2
    }, "brightmart/albert_zh models share one block across all layers: "
     "num_hidden_groups and inner_group_num must be 1, got 2 and 1"),
    ({
        "ln_type": "preln"
    }, "ln_type 'preln' is not supported: brightmart's released checkpoints "
     "are post-LN (ln_type 'postln'); its pre-LN xxlarge config has no released checkpoint"),
])
def test_brightmart_config_limits(overrides, message):
  with pytest.raises(AlbertConfigError) as error:
    brightmart.BrightmartAlbertModel(albert_config(tiny_config(**overrides)))
  assert str(error.value) == message


# Every brightmart checkpoint name and the Keras variable name that BrightmartPretrainer.build()
# gives it (backbone variables lose the "albert/" prefix when BrightmartAlbertModel is built alone).
_BRIGHTMART_BLOCK = "albert/encoder/group_0_inner_group_0"
_BRIGHTMART_VARIABLE_NAMES = {
    "bert/embeddings/word_embeddings":
        "albert/embeddings/word_embeddings:0",
    "bert/embeddings/word_embeddings_2":
        "albert/embeddings/word_embeddings_2:0",
    "bert/embeddings/token_type_embeddings":
        "albert/embeddings/token_type_embeddings:0",
    "bert/embeddings/position_embeddings":
        "albert/embeddings/position_embeddings:0",
    "bert/embeddings/LayerNorm/gamma":
        "albert/embeddings/layer_norm/gamma:0",
    "bert/embeddings/LayerNorm/beta":
        "albert/embeddings/layer_norm/beta:0",
    "bert/encoder/layer_shared/attention/self/query/kernel":
        f"{_BRIGHTMART_BLOCK}/query/kernel:0",
    "bert/encoder/layer_shared/attention/self/query/bias":
        f"{_BRIGHTMART_BLOCK}/query/bias:0",
    "bert/encoder/layer_shared/attention/self/key/kernel":
        f"{_BRIGHTMART_BLOCK}/key/kernel:0",
    "bert/encoder/layer_shared/attention/self/key/bias":
        f"{_BRIGHTMART_BLOCK}/key/bias:0",
    "bert/encoder/layer_shared/attention/self/value/kernel":
        f"{_BRIGHTMART_BLOCK}/value/kernel:0",
    "bert/encoder/layer_shared/attention/self/value/bias":
        f"{_BRIGHTMART_BLOCK}/value/bias:0",
    "bert/encoder/layer_shared/attention/output/dense/kernel":
        f"{_BRIGHTMART_BLOCK}/attention_output/kernel:0",
    "bert/encoder/layer_shared/attention/output/dense/bias":
        f"{_BRIGHTMART_BLOCK}/attention_output/bias:0",
    "bert/encoder/layer_shared/attention/output/LayerNorm/gamma":
        f"{_BRIGHTMART_BLOCK}/attention_layer_norm/gamma:0",
    "bert/encoder/layer_shared/attention/output/LayerNorm/beta":
        f"{_BRIGHTMART_BLOCK}/attention_layer_norm/beta:0",
    "bert/encoder/layer_shared/intermediate/dense/kernel":
        f"{_BRIGHTMART_BLOCK}/intermediate/kernel:0",
    "bert/encoder/layer_shared/intermediate/dense/bias":
        f"{_BRIGHTMART_BLOCK}/intermediate/bias:0",
    "bert/encoder/layer_shared/output/dense/kernel":
        f"{_BRIGHTMART_BLOCK}/output_dense/kernel:0",
    "bert/encoder/layer_shared/output/dense/bias":
        f"{_BRIGHTMART_BLOCK}/output_dense/bias:0",
    "bert/encoder/layer_shared/output/LayerNorm/gamma":
        f"{_BRIGHTMART_BLOCK}/output_layer_norm/gamma:0",
    "bert/encoder/layer_shared/output/LayerNorm/beta":
        f"{_BRIGHTMART_BLOCK}/output_layer_norm/beta:0",
    "bert/pooler/dense/kernel":
        "albert/pooler/kernel:0",
    "bert/pooler/dense/bias":
        "albert/pooler/bias:0",
    "cls/predictions/transform/dense/kernel":
        "masked_lm/transform/kernel:0",
    "cls/predictions/transform/dense/bias":
        "masked_lm/transform/bias:0",
    "cls/predictions/transform/LayerNorm/gamma":
        "masked_lm/layer_norm/gamma:0",
    "cls/predictions/transform/LayerNorm/beta":
        "masked_lm/layer_norm/beta:0",
    "cls/predictions/output_bias":
        "masked_lm/output_bias:0",
    "cls/seq_relationship/output_weights":
        "sentence_order/output_weights:0",
    "cls/seq_relationship/output_bias":
        "sentence_order/output_bias:0",
}


@pytest.mark.parametrize("model_class",
                         [brightmart.BrightmartPretrainer, brightmart.BrightmartAlbertModel])
def test_brightmart_build_creates_exactly_the_variables_loading_needs(tmp_path, model_class):
  config = tiny_config()
  weights = fixtures.random_brightmart_weights(config, np.random.default_rng(11))
  with_heads = model_class is brightmart.BrightmartPretrainer
  expected_names = {
      original: name if with_heads else name.removeprefix("albert/")
      for original, name in _BRIGHTMART_VARIABLE_NAMES.items()
      if with_heads or original.startswith("bert/")
  }
  model = model_class(albert_config(config))
  model.build()
  assert model.built
  built = list(model.variables)
  assert sorted(variable.name for variable in built) == sorted(expected_names.values())
  shapes = {variable.name: variable.shape.as_list() for variable in built}
  for original, name in expected_names.items():
    assert shapes[name] == list(weights[original].shape), name

  prefix = fixtures.write_tf1_checkpoint(tmp_path / "albert_model.ckpt",
                                         {name: weights[name] for name in expected_names})
  report = albert_tf.load_checkpoint(model, prefix)
  assert sorted(report.loaded) == sorted(expected_names)
  assert [variable.ref() for variable in model.variables] == [variable.ref() for variable in built]
  values = variable_values(model)
  for original, name in expected_names.items():
    np.testing.assert_array_equal(values[name], weights[original], err_msg=original)


@pytest.mark.parametrize("layout", ["google", "brightmart"])
def test_mlm_logits_stay_float32_exact_under_mixed_bfloat16(tmp_path, layout):
  # The MLM head must form its table in float32 even when the backbone computes in bfloat16 (for
  # brightmart the table is the product word_embeddings·word_embeddings_2, which a bfloat16 read
  # of the two variables would round: measured 1.8e-2 on these logits before the fix).
  config = tiny_config(ln_type="postln") if layout == "brightmart" else tiny_config()
  rng = np.random.default_rng(12)
  if layout == "brightmart":
    model_class = brightmart.BrightmartPretrainer
    weights = numpy_albert.random_weights(fixtures.brightmart_shapes(config), rng, scale=0.5)
  else:
    model_class = albert_tf.AlbertPretrainer
    weights = numpy_albert.random_weights(numpy_albert.original_shapes(config), rng, scale=0.5)
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "albert_model.ckpt", weights)
  tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    pretrainer = model_class(albert_config(config))
    albert_tf.load_checkpoint(pretrainer, prefix)
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  inputs = model_inputs()
  outputs = pretrainer(inputs, training=False)
  assert outputs["sequence_output"].dtype == outputs["mlm_logits"].dtype == tf.float32
  expected = numpy_albert.masked_lm_logits(weights, config, outputs["sequence_output"].numpy(),
                                           inputs["masked_lm_positions"])
  np.testing.assert_allclose(outputs["mlm_logits"].numpy(), expected, atol=1e-4, rtol=1e-5)
