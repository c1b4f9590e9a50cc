"""Gradient accumulation: N micro-batches per step give the weights of one unaccumulated step.

With dropout off, training a classifier and the RACE model for 3 steps with
--gradient_accumulation_steps 2 and 4 ends at the weights of N=1 on the same batches (within 1e-5),
with one optimizer update per step; under global clipping on 2 replicas as well. Bad values are
one-line errors (the command line's are in test_race_run). A variable the loss does not use is
skipped by the update, with and without accumulation.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf.config import AlbertConfig
from albert_tf.models.albert_classifier import AlbertClassifier
from albert_tf.tasks import classification
from albert_tf.tasks import race
from albert_tf.training import trainer as trainer_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, STEPS, LENGTH = 8, 3, 8
TOLERANCE = 1e-5


def config() -> AlbertConfig:
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  return AlbertConfig.from_dict(
      dict(values, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


class _Classification(classification.ClassificationTask):
  """The classification task with its head's dropout off."""

  def build_model(self) -> tf_keras.Model:
    model = AlbertClassifier(self.config, num_labels=self.num_labels, dropout_rate=0.0)
    model.build()
    return model


def tasks() -> dict:
  common = dict(record_files={}, num_examples={}, max_seq_length=LENGTH)
  return {
      "classifier":
          _Classification(config(), task_name="mnli", label_list=["a", "b", "c"],
                          is_regression=False, **common),
      "race":
          race.RaceTask(config(), levels={}, dropout_rate=0.0, **common),
  }


def batches(task_name: str) -> dict:
  """STEPS batches of random features, stacked: {name: [STEPS * BATCH, ...]}."""
  rng = np.random.default_rng(0)
  shape = (STEPS * BATCH, LENGTH) if task_name == "classifier" else (STEPS * BATCH, 4, LENGTH)
  mask = (np.arange(LENGTH) < rng.integers(3, LENGTH + 1, size=shape[:-1] + (1,))).astype(np.int32)
  return {
      "input_word_ids": rng.integers(5, 99, size=shape).astype(np.int32) * mask,
      "input_mask": mask,
      "input_type_ids": (np.arange(LENGTH) >= 3).astype(np.int32) * mask,
      "label_ids": rng.integers(0, 3, size=STEPS * BATCH).astype(np.int32),
      "is_real_example": np.ones(STEPS * BATCH, np.int32),
  }


def train(task, initial, data, strategy, accumulation, clipping="per_replica"):
  """(final weights, optimizer iterations, logs) of STEPS steps."""
  with strategy.scope():
    model = task.build_model()
    model.set_weights(initial)
    # SGD, whose update is linear in the gradient: a rounding-size difference in a gradient that
    # is zero in exact arithmetic (RACE's output_bias, which the softmax over the options cancels)
    # stays rounding-size, where Adam's normalisation would blow it up to a full step.
    optimizer = tf_keras.optimizers.legacy.SGD(learning_rate=0.5)
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer, global_batch_size=BATCH,
                                clip_norm=0.1, gradient_clipping=clipping,
                                gradient_accumulation_steps=accumulation)
  logs = trainer.train(iter(tf.data.Dataset.from_tensor_slices(data).batch(BATCH)), STEPS)
  return [w.numpy() for w in trainer.trainable_variables], int(optimizer.iterations.numpy()), logs


@pytest.mark.slow
@pytest.mark.parametrize("task_name", ["classifier", "race"])
def test_accumulated_steps_give_the_weights_of_one_step(task_name):
  task = tasks()[task_name]
  tf_keras.utils.set_random_seed(0)
  initial = task.build_model().get_weights()
  data = batches(task_name)
  strategy = tf.distribute.get_strategy()
  reference, iterations, reference_logs = train(task, initial, data, strategy, 1)
  assert iterations == STEPS
  moved = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, train_initial(task, initial)))
  assert moved > 1e-3  # the steps changed the weights, so equality below means something
  for accumulation in (2, 4):
    weights, iterations, logs = train(task, initial, data, strategy, accumulation)
    assert iterations == STEPS, accumulation
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(weights, reference))
    assert difference < TOLERANCE, (accumulation, difference)
    # The logs cover the whole batches: loss, accuracy (updated per micro-batch), gradient norm.
    for key in ("loss", "accuracy", "gradient_norm"):
      assert logs[key] == pytest.approx(reference_logs[key], abs=1e-5), key


def train_initial(task, initial):
  model = task.build_model()
  model.set_weights(initial)
  return [w.numpy() for w in trainer_lib.unique_variables(model.trainable_variables)]


MIRRORED_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from albert_tf.training import strategy as strategy_lib
strategy_lib.split_cpu(2)
import numpy as np, tensorflow as tf, tf_keras
from tests import test_train_accumulation as t
task = t.tasks()["classifier"]
tf_keras.utils.set_random_seed(0)
initial = task.build_model().get_weights()
data = t.batches("classifier")
reference = t.train(task, initial, data, tf.distribute.get_strategy(), 1)[0]
mirrored = strategy_lib.build_strategy("mirrored")
weights, iterations, _ = t.train(task, initial, data, mirrored, 2, clipping="global")
print("RESULT", json.dumps({"replicas": mirrored.num_replicas_in_sync, "iterations": iterations,
      "difference": max(float(np.max(np.abs(a - b))) for a, b in zip(weights, reference))}))
"""


@pytest.mark.slow
def test_accumulation_on_two_replicas_with_global_clipping():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  process = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, REPO], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600, check=False)
  assert process.returncode == 0, process.stderr[-3000:]
  line = next(line for line in process.stdout.splitlines() if line.startswith("RESULT "))
  result = json.loads(line[len("RESULT "):])
  assert result["replicas"] == 2 and result["iterations"] == STEPS
  assert result["difference"] < TOLERANCE


@pytest.mark.parametrize("accumulation, message", [
    (0, "--gradient_accumulation_steps=0: use 1 (no accumulation) or more."),
    (3, "--train_batch_size=8 does not split into 1 replica(s) x --gradient_accumulation_steps=3 "
     "equal micro-batches: use a batch that is a multiple of 3."),
])
def test_invalid_accumulation_is_one_line(accumulation, message):
  task = tasks()["classifier"]
  with pytest.raises(ValueError) as error:
    trainer_lib.Trainer(tf.distribute.get_strategy(), task, None, None, global_batch_size=BATCH,
                        gradient_accumulation_steps=accumulation)
  assert str(error.value) == message


class _ClassifierWithUnused(AlbertClassifier):
  """A classifier holding a trainable variable its outputs do not use."""

  def build(self, input_shape=None):
    super().build(input_shape)
    self.unused = self.add_weight("unused", shape=[3], initializer="ones", trainable=True)


class _UnusedVariableTask(_Classification):

  def build_model(self) -> tf_keras.Model:
    model = _ClassifierWithUnused(self.config, num_labels=self.num_labels, dropout_rate=0.0)
    model.build()
    return model


def test_a_variable_the_loss_does_not_use_is_skipped():
  """With accumulation: its micro-batch loop and the update both leave the variable out."""
  task = _UnusedVariableTask(config(), task_name="mnli", label_list=["a", "b",
                                                                     "c"], is_regression=False,
                             record_files={}, num_examples={}, max_seq_length=LENGTH)
  strategy = tf.distribute.get_strategy()
  model = task.build_model()
  optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=0.1)
  before = model.classifier.output_weights.numpy()
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer, global_batch_size=BATCH,
                                gradient_accumulation_steps=2)
  trainer.train(iter(tf.data.Dataset.from_tensor_slices(batches("classifier")).batch(BATCH)), 2)
  assert int(optimizer.iterations.numpy()) == 2
  np.testing.assert_array_equal(model.unused.numpy(), [1.0, 1.0, 1.0])
  assert not np.allclose(model.classifier.output_weights.numpy(), before)
  assert [slot.name for slot in optimizer.variables() if "unused" in slot.name] == []
