"""AlbertSquadV1 and AlbertSquadV2: outputs against a NumPy forward pass, and their checkpoints.

Fine-tuned checkpoints are built as the original run_squad_v1/v2 write them (`bert/...` beside the
head: `cls/squad/...` for v1, root-scope `start_logits/`, `end_logits/`, `answer_class/` for v2,
AdamW slots, global_step) by `tf1_checkpoint_fixtures`; the names are spelled out in `numpy_albert`
(squad_v1_shapes, squad_v2_shapes), never taken from albert_tf.
"""

import numpy as np
import numpy_albert
import pytest
import tensorflow as tf
import tf1_checkpoint_fixtures as fixtures
import tf_keras

import albert_tf
from albert_tf import checkpoints
from albert_tf.models.albert_squad_v1 import AlbertSquadV1
from albert_tf.models.albert_squad_v2 import AlbertSquadV2
from tests import model_configs

TOLERANCE = 1e-5
MASKED = -1e29  # masked log-probs are about -1e30
CONFIG = model_configs.TWO_GROUPS
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
START_N_TOP, END_N_TOP = 3, 2
HEAD_SHAPES = {"v1": numpy_albert.squad_v1_shapes, "v2": numpy_albert.squad_v2_shapes}


def config(**overrides) -> albert_tf.AlbertConfig:
  return albert_tf.AlbertConfig(**{**CONFIG, **overrides})


def model(version: str, dropout_rate: float = 0.1, **config_overrides) -> tf_keras.Model:
  if version == "v1":
    return AlbertSquadV1(config(**config_overrides))
  return AlbertSquadV2(config(**config_overrides), start_n_top=START_N_TOP, end_n_top=END_N_TOP,
                       dropout_rate=dropout_rate)


def inputs(batch: int = 3, seed: int = 3) -> dict:
  """Question [CLS] q q [SEP], paragraph, [SEP], padding; p_mask 1 outside the paragraph but CLS."""
  rng = np.random.default_rng(seed)
  mask = np.ones((batch, 9), np.int32)
  mask[1:, 7:] = 0
  types = np.zeros((batch, 9), np.int32)
  types[:, 4:] = 1
  p_mask = np.ones((batch, 9), np.float32)
  p_mask[:, 0] = 0.0
  p_mask[:, 4:6] = 0.0
  p_mask[0, 6:8] = 0.0
  return {
      "input_word_ids": rng.integers(0, 40, size=(batch, 9)).astype(np.int32),
      "input_mask": mask,
      "input_type_ids": types,
      "p_mask": p_mask,
      "start_positions": rng.integers(0, 9, size=batch).astype(np.int32),
  }


def shapes(version: str) -> dict:
  return {
      **numpy_albert.original_shapes(CONFIG, include_heads=False),
      **HEAD_SHAPES[version](CONFIG)
  }


def sequence_output(weights: dict, features: dict) -> np.ndarray:
  return numpy_albert.albert_forward(weights, CONFIG, features["input_word_ids"],
                                     features["input_mask"],
                                     features["input_type_ids"])["sequence_output"]


def numpy_outputs(version: str, weights: dict, features: dict) -> dict:
  hidden = sequence_output(weights, features)
  if version == "v1":
    start, end = numpy_albert.squad_v1_logits(weights, hidden)
    return {"start_logits": start, "end_logits": end}
  return numpy_albert.squad_v2_outputs(weights, hidden, features["p_mask"],
                                       features["start_positions"], START_N_TOP, END_N_TOP)


def assert_close(actual, expected, name, p_mask=None):
  """Within TOLERANCE; where p_mask is 1 (log-probs of about -1e30), both must be masked."""
  actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
  assert actual.shape == expected.shape, name
  if p_mask is not None:
    masked = np.broadcast_to(np.asarray(p_mask) > 0, actual.shape)
    assert np.all(actual[masked] < MASKED) and np.all(expected[masked] < MASKED), name
    actual, expected = actual[~masked], expected[~masked]
  difference = np.max(np.abs(actual - expected))
  assert difference <= TOLERANCE, f"{name}: max abs diff {difference}"


def assert_v2_outputs(outputs: dict, expected: dict, features: dict, keys) -> None:
  assert sorted(outputs) == sorted(keys)
  for key in keys:
    if key.endswith("_index"):
      assert outputs[key].dtype == tf.int32, key
      np.testing.assert_array_equal(outputs[key].numpy(), expected[key], err_msg=key)
    else:
      assert outputs[key].dtype == tf.float32, key
      p_mask = features["p_mask"] if key in ("start_log_probs", "end_log_probs") else None
      assert_close(outputs[key], expected[key], key, p_mask)


def randomize(target: tf_keras.Model, seed: int) -> None:
  """Random values everywhere (biases, LayerNorms, head), so a misplaced weight shows."""
  rng = np.random.default_rng(seed)
  for variable in target.variables:
    variable.assign(rng.normal(0.0, 0.2, size=variable.shape).astype(np.float32))


def head_values(target: tf_keras.Model) -> list:
  return [variable.numpy() for variable in target.squad_head.variables]


@pytest.fixture(scope="module", params=["v1", "v2"])
def fine_tuned(request, tmp_path_factory) -> tuple:
  """An original run_squad checkpoint with AdamW slots and global_step, and its weights."""
  weights = numpy_albert.random_weights(shapes(request.param), np.random.default_rng(0))
  prefix = fixtures.write_tf1_checkpoint(
      tmp_path_factory.mktemp(f"squad_{request.param}") / "model.ckpt-best", weights,
      optimizer_slots=True, global_step=700)
  return request.param, prefix, weights


BEAM_KEYS = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index")

# --- Original fine-tuned checkpoints -----------------------------------------------------------


def test_original_fine_tuned_checkpoint_gives_the_original_outputs(fine_tuned):
  version, prefix, weights = fine_tuned
  target = model(version)
  report = albert_tf.load_checkpoint(target, prefix)
  assert report.kind == checkpoints.TF1_KIND
  assert sorted(report.loaded) == sorted(weights)
  slots = [f"{name}/{slot}" for name in weights for slot in ("adam_m", "adam_v")]
  assert sorted(report.ignored) == sorted(slots + ["global_step"])
  assert report.not_found == ()

  features = inputs()
  outputs = target(features, training=False)
  expected = numpy_outputs(version, weights, features)
  if version == "v1":
    assert sorted(outputs) == ["end_logits", "start_logits"]
    for key in outputs:
      assert outputs[key].dtype == tf.float32
      assert_close(outputs[key], expected[key], key)  # v1 masks nothing
  else:
    keys = ("start_log_probs", "end_log_probs", "cls_logits") + BEAM_KEYS
    assert_v2_outputs(outputs, expected, features, keys)
    assert outputs["end_top_index"].shape == (3, START_N_TOP * END_N_TOP)


def test_batch_size_one_without_gold_starts(fine_tuned):
  version, prefix, weights = fine_tuned
  target = model(version)
  albert_tf.load_checkpoint(target, prefix)
  features = inputs(batch=1, seed=5)
  del features["start_positions"]
  if version == "v1":
    outputs = target(features, training=False)
    assert outputs["start_logits"].shape == (1, 9)
    expected = numpy_outputs("v1", weights, features)
    assert_close(outputs["end_logits"], expected["end_logits"], "end_logits")
    return
  outputs = target(features, training=False)
  expected = numpy_albert.squad_v2_outputs(weights, sequence_output(weights, features),
                                           features["p_mask"], None, START_N_TOP, END_N_TOP)
  assert_v2_outputs(outputs, expected, features, ("start_log_probs", "cls_logits") + BEAM_KEYS)
  assert outputs["cls_logits"].shape == (1,)
  # The beam keeps paragraph positions (and CLS) only, in the original's start-major order.
  allowed = set(np.flatnonzero(features["p_mask"][0] == 0))
  assert set(outputs["end_top_index"].numpy().ravel()) <= allowed


def test_v2_training_step_conditions_the_end_on_the_gold_start(tmp_path):
  """training=True: end_log_probs from the gold start (the original's training branch), no beam."""
  weights = numpy_albert.random_weights(shapes("v2"), np.random.default_rng(7))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-1", weights)
  target = model("v2", dropout_rate=0.0, **NO_DROPOUT)
  albert_tf.load_checkpoint(target, prefix)
  for batch in (1, 3):
    features = inputs(batch=batch, seed=batch)
    outputs = target(features, training=True)
    expected = numpy_outputs("v2", weights, features)
    assert_v2_outputs(outputs, expected, features,
                      ("start_log_probs", "end_log_probs", "cls_logits"))
  # Another gold start gives other end log-probs.
  moved = dict(features, start_positions=(features["start_positions"] + 1) % 9)
  assert np.max(
      np.abs(
          target(moved, training=True)["end_log_probs"].numpy() -
          outputs["end_log_probs"].numpy())) > 1e-3


def test_v2_answer_class_dropout_only_in_training():
  target = AlbertSquadV2(config(**NO_DROPOUT), start_n_top=2, end_n_top=2, dropout_rate=0.5)
  features = inputs()
  inference = target(features, training=False)["cls_logits"].numpy()
  tf.random.set_seed(0)
  trained = target(features, training=True)
  assert np.max(np.abs(trained["cls_logits"].numpy() - inference)) > 1e-4
  np.testing.assert_allclose(trained["start_log_probs"].numpy(),
                             target(features, training=False)["start_log_probs"].numpy())


# --- Pretraining checkpoints: the backbone loads, the head keeps its initialisation -------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_original_pretraining_checkpoint_keeps_the_head_initialisation(version, tmp_path):
  weights = numpy_albert.random_original_weights(CONFIG, np.random.default_rng(2))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights,
                                         optimizer_slots=True)
  target = model(version)
  target.build()
  initial_head = head_values(target)
  report = albert_tf.load_checkpoint(target, prefix)
  assert sorted(report.loaded) == sorted(numpy_albert.original_shapes(CONFIG, include_heads=False))
  assert report.not_found == tuple(HEAD_SHAPES[version](CONFIG))
  assert "cls/predictions/output_bias" in report.ignored
  for actual, initial in zip(head_values(target), initial_head):
    np.testing.assert_array_equal(actual, initial)
  features = inputs()
  head = dict(zip(HEAD_SHAPES[version](CONFIG), initial_head))
  expected = numpy_outputs(version, {**weights, **head}, features)
  outputs = target(features, training=False)
  key = "start_logits" if version == "v1" else "start_log_probs"
  assert_close(outputs[key], expected[key], key, None if version == "v1" else features["p_mask"])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_head_initialisation_as_the_original(version):
  """Kernels truncated normal (|w| <= 2 * 0.02), biases zeros, LayerNorm gamma 1 beta 0."""
  tf.random.set_seed(1)
  target = model(version, hidden_size=256)
  target.build()
  for variable in target.squad_head.variables:
    value = variable.numpy()
    name = variable.name.split("/")[-1]
    if name in ("output_bias:0", "bias:0", "beta:0"):
      np.testing.assert_array_equal(value, 0.0)
    elif name == "gamma:0":
      np.testing.assert_array_equal(value, 1.0)
    else:
      # A truncated normal of stddev 0.02 cut at 2 stddevs has a standard deviation of 0.0176.
      assert np.max(np.abs(value)) <= 0.04 and 0.013 < np.std(value) < 0.022, variable.name


# --- Our checkpoints in the original layout, and the model's plumbing ---------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_save_original_checkpoint_round_trips(version, tmp_path):
  source = model(version)
  source.build()
  randomize(source, seed=6)
  prefix = albert_tf.save_original_checkpoint(source, tmp_path / "export" / "model.ckpt-50",
                                              global_step=50)
  expected_shapes = shapes(version)
  assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map() == {
      **{
          name: list(shape) for name, shape in expected_shapes.items()
      }, "global_step": []
  }
  restored = fixtures.read_with_tf1_saver(prefix, expected_shapes)
  features = inputs()
  expected = numpy_outputs(version, {name: restored[name] for name in expected_shapes}, features)
  target = model(version)
  albert_tf.load_checkpoint(target, prefix)
  source_outputs = source(features, training=False)
  for key, value in target(features, training=False).items():
    np.testing.assert_array_equal(value.numpy(), source_outputs[key].numpy())
  key = "end_logits" if version == "v1" else "cls_logits"
  assert_close(source_outputs[key], expected[key], key)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_build_creates_every_variable_and_the_config_round_trips(version):
  target = model(version)
  target.build()
  table = target.checkpoint_table()
  assert len(target.variables) == len(table.variables())
  assert [variable.name for variable in table.head_variables()
         ] == list(HEAD_SHAPES[version](CONFIG))
  clone = type(target).from_config(target.get_config())
  assert clone.get_config() == target.get_config()
  if version == "v2":
    assert (clone.start_n_top, clone.end_n_top) == (START_N_TOP, END_N_TOP)
  clone.build()
  assert [v.shape for v in clone.variables] == [v.shape for v in target.variables]
  serialized = tf_keras.saving.serialize_keras_object(target)
  assert type(tf_keras.saving.deserialize_keras_object(serialized)) is type(target)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_outputs_stay_float32_under_mixed_precision(version):
  tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    target = model(version)
    outputs = target(inputs(), training=False)
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  for key, value in outputs.items():
    assert value.dtype == (tf.int32 if key.endswith("_index") else tf.float32), key
  assert all(variable.dtype == tf.float32 for variable in target.squad_head.variables)


def test_v2_needs_p_mask():
  features = inputs()
  del features["p_mask"]
  with pytest.raises(ValueError) as error:
    model("v2")(features)
  assert str(error.value) == ("AlbertSquadV2 needs `p_mask` [batch, seq] in its inputs (1 where "
                              "the answer may not be: question, special tokens, padding)")
