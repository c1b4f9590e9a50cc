"""AlbertMultipleChoice: logits against a NumPy forward pass, and original run_race checkpoints.

Fine-tuned checkpoints are built as the original run_race writes them (root-scope `output_weights`
[1, H] and `output_bias` [1] beside `bert/...`, AdamW slots, global_step) by
`tf1_checkpoint_fixtures`; names are spelled out in `numpy_albert`, never taken from albert_tf.
"""

import numpy as np
import numpy_albert
import pytest
import tensorflow as tf
import tf1_checkpoint_fixtures as fixtures

import albert_tf
from albert_tf import checkpoints
from albert_tf.models.albert_multiple_choice import AlbertMultipleChoice
from tests import model_configs

TOLERANCE = 1e-5
CONFIG = {**model_configs.TWO_GROUPS, "num_hidden_groups": 1, "inner_group_num": 1}


def model() -> AlbertMultipleChoice:
  return AlbertMultipleChoice(albert_tf.AlbertConfig(**CONFIG))


def inputs(batch: int = 2) -> dict:
  """[B, 4, 7] options of different lengths, with segment 1 on the option part."""
  rng = np.random.default_rng(5)
  mask = np.ones((batch, 4, 7), np.int32)
  types = np.zeros((batch, 4, 7), np.int32)
  for b in range(batch):
    for c in range(4):
      length = 4 + (b + c) % 4
      mask[b, c, length:] = 0
      types[b, c, 3:length] = 1
  return {
      "input_word_ids": rng.integers(0, 40, size=(batch, 4, 7)).astype(np.int32),
      "input_mask": mask,
      "input_type_ids": types
  }


def fine_tuned_weights(seed: int) -> dict:
  shapes = {
      **numpy_albert.original_shapes(CONFIG, include_heads=False),
      **numpy_albert.classifier_shapes(CONFIG, num_labels=1)
  }
  return numpy_albert.random_weights(shapes, np.random.default_rng(seed))


def numpy_logits(weights: dict, features: dict) -> np.ndarray:
  return numpy_albert.multiple_choice_logits(weights, CONFIG, features["input_word_ids"],
                                             features["input_mask"], features["input_type_ids"])


@pytest.fixture(name="fine_tuned", scope="module")
def fixture_fine_tuned(tmp_path_factory) -> tuple:
  weights = fine_tuned_weights(seed=0)
  prefix = fixtures.write_tf1_checkpoint(
      tmp_path_factory.mktemp("race") / "model.ckpt-best", weights, optimizer_slots=True,
      global_step=1200)
  return prefix, weights


def test_original_checkpoint_gives_the_numpy_logits(fine_tuned):
  prefix, weights = fine_tuned
  race_model = model()
  report = albert_tf.load_checkpoint(race_model, prefix)
  assert report.kind == checkpoints.TF1_KIND
  assert sorted(report.loaded) == sorted(weights)
  assert report.not_found == ()
  features = inputs()
  logits = race_model(features, training=False)["logits"]
  assert logits.dtype == tf.float32 and logits.shape == (2, 4)
  np.testing.assert_allclose(logits.numpy(), numpy_logits(weights, features), atol=TOLERANCE)
  # Each option is scored on its own: changing option 2's padding tokens changes nothing, changing
  # a real token of option 2 changes only logit 2.
  changed = {name: value.copy() for name, value in features.items()}
  changed["input_word_ids"][:, 2, 2] = (changed["input_word_ids"][:, 2, 2] + 1) % 40
  difference = np.abs(race_model(changed, training=False)["logits"].numpy() - logits.numpy())
  assert np.all(difference[:, 2] > 1e-6) and np.all(difference[:, [0, 1, 3]] < 1e-6)


def test_head_variables_are_the_originals():
  race_model = model()
  race_model.build()
  head = {variable.name: variable.shape.as_list() for variable in race_model.classifier.variables}
  assert head == {"classifier/output_weights:0": [1, 16], "classifier/output_bias:0": [1]}
  names = [variable.name for variable in race_model.checkpoint_table().variables()]
  assert names[-2:] == ["output_weights", "output_bias"]


def test_pretraining_checkpoint_leaves_the_head_at_init(tmp_path):
  weights = numpy_albert.random_original_weights(CONFIG, np.random.default_rng(1))
  prefix = fixtures.write_tf1_checkpoint(tmp_path / "model.ckpt-125000", weights)
  race_model = model()
  race_model.build()
  report = albert_tf.load_checkpoint(race_model, prefix)
  assert sorted(report.not_found) == ["output_bias", "output_weights"]
  assert not np.any(race_model.classifier.output_bias.numpy())
  features = inputs(batch=1)
  head = {
      "output_weights": race_model.classifier.output_weights.numpy(),
      "output_bias": race_model.classifier.output_bias.numpy()
  }
  expected = numpy_logits({**weights, **head}, features)
  np.testing.assert_allclose(race_model(features)["logits"].numpy(), expected, atol=TOLERANCE)


def test_written_checkpoint_has_the_original_names_and_reloads(tmp_path, fine_tuned):
  prefix, weights = fine_tuned
  race_model = model()
  albert_tf.load_checkpoint(race_model, prefix)
  written = checkpoints.save_original_checkpoint(race_model, str(tmp_path / "model.ckpt-1"))
  stored = dict(tf.train.list_variables(written))
  assert stored["output_weights"] == [1, 16] and stored["output_bias"] == [1]
  reloaded = model()
  albert_tf.load_checkpoint(reloaded, written)
  features = inputs()
  np.testing.assert_allclose(
      reloaded(features)["logits"].numpy(), numpy_logits(weights, features), atol=TOLERANCE)


def test_dropout_only_in_training():
  race_model = AlbertMultipleChoice(albert_tf.AlbertConfig(**CONFIG), dropout_rate=0.5)
  features = inputs()
  first, second = (race_model(features, training=False)["logits"].numpy() for _ in range(2))
  np.testing.assert_array_equal(first, second)
  assert not np.allclose(race_model(features, training=True)["logits"].numpy(), first)


def test_wrong_input_rank_is_one_clear_error():
  with pytest.raises(ValueError, match=r"input_word_ids must be int \[batch, 4, length\]"):
    model()({"input_word_ids": np.zeros((2, 7), np.int32)})
