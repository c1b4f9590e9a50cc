"""AlbertClassifier: outputs against a NumPy forward pass, and its checkpoints in both directions.

Fine-tuned checkpoints are built as the original run_classifier writes them (root-scope
`output_weights` [C, H] and `output_bias` [C] beside `bert/...`, AdamW slots, global_step) by
`tf1_checkpoint_fixtures`; names are spelled out in `numpy_albert`, never taken from albert_tf.
"""

import numpy as np
import numpy_albert
import pytest
import tensorflow as tf
import tf1_checkpoint_fixtures as fixtures
import tf_keras

import albert_tf
from albert_tf import checkpoints
from albert_tf.models.albert_classifier import AlbertClassifier
from tests import model_configs

TOLERANCE = 1e-5
HEAD = ("output_weights", "output_bias")
CONFIG = model_configs.TWO_GROUPS


def classifier(num_labels: int, **config_overrides) -> AlbertClassifier:
  return AlbertClassifier(albert_tf.AlbertConfig(**{
      **CONFIG,
      **config_overrides
  }), num_labels=num_labels)


def inputs() -> dict:
  rng = np.random.default_rng(3)
  mask = np.ones((3, 6), np.int32)
  mask[1, 4:] = 0
  mask[2, 2:] = 0
  types = np.zeros((3, 6), np.int32)
  types[:, 3:] = 1
  return {
      "input_word_ids": rng.integers(0, 40, size=(3, 6)).astype(np.int32),
      "input_mask": mask,
      "input_type_ids": types
  }


def fine_tuned_weights(num_labels: int, seed: int) -> dict:
  shapes = {
      **numpy_albert.original_shapes(CONFIG, include_heads=False),
      **numpy_albert.classifier_shapes(CONFIG, num_labels)
  }
  return numpy_albert.random_weights(shapes, np.random.default_rng(seed))


def numpy_logits(weights: dict) -> np.ndarray:
  features = inputs()
  pooled = numpy_albert.albert_forward(weights, CONFIG, features["input_word_ids"],
                                       features["input_mask"],
                                       features["input_type_ids"])["pooled_output"]
  return numpy_albert.classifier_logits(weights, pooled)


def assert_close(actual, expected, name):
  difference = np.max(np.abs(np.asarray(actual, np.float64) - expected))
  assert difference <= TOLERANCE, f"{name}: max abs diff {difference}"


def head_values(model: AlbertClassifier) -> list:
  return [model.classifier.output_weights.numpy(), model.classifier.output_bias.numpy()]


def randomize(model: tf_keras.Model, seed: int) -> None:
  """Random values everywhere (biases, LayerNorms, head), so a misplaced weight shows."""
  rng = np.random.default_rng(seed)
  for variable in model.variables:
    variable.assign(rng.normal(0.0, 0.2, size=variable.shape).astype(np.float32))


@pytest.fixture(scope="module")
def fine_tuned_checkpoint(tmp_path_factory) -> tuple:
  """An original run_classifier checkpoint for 3 labels, with AdamW slots and global_step."""
  weights = fine_tuned_weights(num_labels=3, seed=0)
  prefix = fixtures.write_tf1_checkpoint(
      tmp_path_factory.mktemp("mnli") / "model.ckpt-best", weights, optimizer_slots=True,
      global_step=300)
  return prefix, weights


# --- Original fine-tuned checkpoints -----------------------------------------------------------


def test_original_fine_tuned_checkpoint_gives_the_original_probabilities(fine_tuned_checkpoint):
  prefix, weights = fine_tuned_checkpoint
  model = classifier(num_labels=3)
  report = albert_tf.load_checkpoint(model, prefix)
  assert report.kind == checkpoints.TF1_KIND
  assert sorted(report.loaded) == sorted(weights)
  slots = [f"{name}/{slot}" for name in weights for slot in ("adam_m", "adam_v")]
  assert sorted(report.ignored) == sorted(slots + ["global_step"])
  assert report.not_found == ()

  features = inputs()
  expected = numpy_albert.classifier_probabilities(weights, CONFIG, features["input_word_ids"],
                                                   features["input_mask"],
                                                   features["input_type_ids"])
  outputs = model(features, training=False)
  assert outputs["logits"].dtype == tf.float32
  assert outputs["logits"].shape == (3, 3)
  assert_close(tf.nn.softmax(outputs["logits"]), expected, "probabilities")
  assert_close(outputs["logits"], numpy_logits(weights), "logits")


def test_original_regression_checkpoint(tmp_path):
  """STS-B: one output, whose logit is the prediction (no softmax)."""
  weights = fine_tuned_weights(num_labels=1, seed=1)
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-best", weights)
  model = classifier(num_labels=1)
  albert_tf.load_checkpoint(model, prefix)
  outputs = model(inputs(), training=False)
  assert outputs["logits"].shape == (3, 1)
  assert outputs["pooled_output"].shape == (3, 16)
  assert outputs["sequence_output"].shape == (3, 6, 16)
  assert_close(outputs["logits"], numpy_logits(weights), "logits")


def test_backbone_from_a_fine_tuned_checkpoint_ignores_the_head(fine_tuned_checkpoint):
  prefix, weights = fine_tuned_checkpoint
  model = albert_tf.AlbertModel(albert_tf.AlbertConfig(**CONFIG))
  report = albert_tf.load_checkpoint(model, prefix)
  assert set(HEAD) <= set(report.ignored)
  assert sorted(report.loaded) == sorted(numpy_albert.original_shapes(CONFIG, include_heads=False))
  features = inputs()
  expected = numpy_albert.albert_forward(weights, CONFIG, features["input_word_ids"],
                                         features["input_mask"], features["input_type_ids"])
  assert_close(model(features)["pooled_output"], expected["pooled_output"], "pooled_output")


# --- Pretraining checkpoints: the backbone loads, the head keeps its initialisation -------------


def test_original_pretraining_checkpoint_keeps_the_head_initialisation(tmp_path):
  weights = numpy_albert.random_original_weights(CONFIG, np.random.default_rng(2))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "hub" / "variables" / "variables", weights,
                                         name_prefix="module/", optimizer_slots=True)
  model = classifier(num_labels=2)
  model(inputs())
  initial_head = head_values(model)
  report = albert_tf.load_checkpoint(model, prefix)
  backbone = sorted(numpy_albert.original_shapes(CONFIG, include_heads=False))
  assert sorted(report.loaded) == backbone
  assert report.not_found == HEAD
  pretraining_heads = [name for name in weights if name.startswith("cls/")]
  slots = [f"module/{name}/{slot}" for name in weights for slot in ("adam_m", "adam_v")]
  assert sorted(report.ignored) == sorted(["module/" + name for name in pretraining_heads] + slots)
  assert str(report).endswith(", kept the initialisation of output_weights, output_bias (not in "
                              "the checkpoint)")
  for actual, initial in zip(head_values(model), initial_head):
    np.testing.assert_array_equal(actual, initial)

  features = inputs()
  expected = numpy_albert.albert_forward(weights, CONFIG, features["input_word_ids"],
                                         features["input_mask"], features["input_type_ids"])
  outputs = model(features, training=False)
  assert_close(outputs["pooled_output"], expected["pooled_output"], "pooled_output")
  head = dict(zip(HEAD, initial_head))
  assert_close(outputs["logits"], numpy_albert.classifier_logits(head, expected["pooled_output"]),
               "logits")


def test_object_based_pretraining_checkpoint_loads_the_backbone(tmp_path):
  pretrainer = albert_tf.AlbertPretrainer(albert_tf.AlbertConfig(**CONFIG))
  pretrainer({**inputs(), "masked_lm_positions": np.zeros((3, 2), np.int32)})
  randomize(pretrainer, seed=4)
  optimizer = tf_keras.optimizers.Adam(0.01)
  optimizer.build(pretrainer.trainable_variables)
  prefix = tf.train.Checkpoint(model=pretrainer,
                               optimizer=optimizer).write(str(tmp_path / "model.ckpt-7"))

  model = classifier(num_labels=2)
  report = albert_tf.load_checkpoint(model, prefix)
  assert report.kind == checkpoints.OBJECT_KIND
  assert sorted(report.loaded) == sorted(numpy_albert.original_shapes(CONFIG, include_heads=False))
  assert report.not_found == HEAD
  features = inputs()
  np.testing.assert_array_equal(
      model(features)["pooled_output"].numpy(),
      pretrainer.albert(features)["pooled_output"].numpy())


# --- Our classifier checkpoints ----------------------------------------------------------------


def test_object_based_classifier_checkpoint_loads_everything(tmp_path):
  source = classifier(num_labels=3)
  source(inputs())
  randomize(source, seed=5)
  optimizer = tf_keras.optimizers.Adam(0.01)
  optimizer.build(source.trainable_variables)
  prefix = tf.train.Checkpoint(model=source, optimizer=optimizer, step=tf.Variable(
      9, dtype=tf.int64)).write(str(tmp_path / "model.ckpt-9"))

  model = classifier(num_labels=3)
  report = albert_tf.load_checkpoint(model, tmp_path)
  assert report.path == prefix
  names = [*numpy_albert.original_shapes(CONFIG, include_heads=False), *HEAD]
  assert sorted(report.loaded) == sorted(names)
  assert report.not_found == ()
  features = inputs()
  np.testing.assert_array_equal(
      model(features)["logits"].numpy(),
      source(features)["logits"].numpy())


def test_save_original_checkpoint_round_trips_and_reads_in_the_original_saver(tmp_path):
  source = classifier(num_labels=3)
  source(inputs())
  randomize(source, seed=6)
  prefix = albert_tf.save_original_checkpoint(source, tmp_path / "export" / "model.ckpt-1200",
                                              global_step=1200)
  shapes = {
      **numpy_albert.original_shapes(CONFIG, include_heads=False),
      **numpy_albert.classifier_shapes(CONFIG, 3)
  }
  assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map() == {
      **{
          name: list(shape) for name, shape in shapes.items()
      }, "global_step": []
  }

  # What the original Estimator's Saver restores for eval, predict and export.
  restored = fixtures.read_with_tf1_saver(prefix, shapes)
  assert restored["global_step"] == 1200
  np.testing.assert_array_equal(restored["output_weights"],
                                source.classifier.output_weights.numpy())
  np.testing.assert_array_equal(restored["output_bias"], source.classifier.output_bias.numpy())
  features = inputs()
  expected = numpy_logits({name: restored[name] for name in shapes})

  target = classifier(num_labels=3)
  albert_tf.load_checkpoint(target, prefix)
  target_logits = target(features, training=False)["logits"].numpy()
  np.testing.assert_array_equal(target_logits, source(features, training=False)["logits"].numpy())
  assert_close(target_logits, expected, "logits")


# --- A head for another task -------------------------------------------------------------------


def test_num_labels_mismatch_in_an_original_checkpoint(fine_tuned_checkpoint):
  prefix, _ = fine_tuned_checkpoint
  model = classifier(num_labels=2)
  model(inputs())
  before = [variable.numpy() for variable in model.variables]
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    albert_tf.load_checkpoint(model, prefix)
  assert str(error.value) == (
      f"checkpoint {prefix} does not fit the task: output_weights is [3,16] (num_labels=3) but "
      "the task has 2 labels: use a checkpoint fine-tuned for this task, or a pretraining "
      "checkpoint")
  for variable, value in zip(model.variables, before):
    np.testing.assert_array_equal(variable.numpy(), value)

  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    albert_tf.load_checkpoint(classifier(num_labels=1), prefix)
  assert str(error.value) == (
      f"checkpoint {prefix} does not fit the task: output_weights is [3,16] (num_labels=3) but "
      "the task has 1 output (a regression task): use a checkpoint fine-tuned for this task, or a "
      "pretraining checkpoint")


def test_num_labels_mismatch_in_our_checkpoint(tmp_path):
  regression = classifier(num_labels=1)
  regression(inputs())
  prefix = tf.train.Checkpoint(model=regression).write(str(tmp_path / "model.ckpt-1"))
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    albert_tf.load_checkpoint(classifier(num_labels=2), prefix)
  assert str(error.value) == (
      f"checkpoint {prefix} does not fit the task: model/classifier/output_weights/.ATTRIBUTES/"
      "VARIABLE_VALUE is [1,16] (num_labels=1) but the task has 2 labels: use a checkpoint "
      "fine-tuned for this task, or a pretraining checkpoint")


def test_a_pretrainer_does_not_load_a_fine_tuned_checkpoint(fine_tuned_checkpoint):
  prefix, _ = fine_tuned_checkpoint
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    albert_tf.load_checkpoint(albert_tf.AlbertPretrainer(albert_tf.AlbertConfig(**CONFIG)), prefix)
  assert str(error.value) == (f"checkpoint {prefix} does not match the config: "
                              "missing: cls/* (7 variables)")


# --- Dropout -----------------------------------------------------------------------------------


def test_a_saved_model_encoder_takes_no_checkpoint(fine_tuned_checkpoint):
  model = AlbertClassifier(albert_tf.AlbertConfig(**CONFIG), num_labels=3,
                           encoder=tf_keras.layers.Layer(name="saved_model_encoder"))
  with pytest.raises(TypeError) as error:
    albert_tf.load_checkpoint(model, fine_tuned_checkpoint[0])
  assert str(error.value) == (
      "albert_classifier's encoder is a Layer, whose weights come from its SavedModel, not from a "
      "checkpoint: build the classifier without `encoder` to load a checkpoint into it")


def test_head_dropout_only_in_training():
  # No backbone dropout, so any difference between calls comes from the head's dropout.
  model = classifier(num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  features = inputs()
  inference = model(features, training=False)
  np.testing.assert_array_equal(model(features)["logits"].numpy(), inference["logits"].numpy())
  tf.random.set_seed(0)
  trained = [model(features, training=True)["logits"].numpy() for _ in range(3)]
  assert all(np.any(np.abs(logits - inference["logits"].numpy()) > 1e-6) for logits in trained)
  # The backbone itself is deterministic here: the pooled output is the same in training.
  np.testing.assert_array_equal(
      model(features, training=True)["pooled_output"].numpy(), inference["pooled_output"].numpy())

  no_dropout = AlbertClassifier(model.config, num_labels=2, dropout_rate=0.0)
  no_dropout(features)
  for target, value in zip(no_dropout.variables, model.variables):
    target.assign(value)
  np.testing.assert_array_equal(
      no_dropout(features, training=True)["logits"].numpy(), inference["logits"].numpy())
