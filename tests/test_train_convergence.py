"""Learning, not just running: a tiny ALBERT learns generated structure; bfloat16 tracks float32."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf import optimization
from albert_tf.config import AlbertConfig
from albert_tf.models.albert_pretrainer import AlbertPretrainer
from albert_tf.tasks import pretraining
from albert_tf.training import trainer as trainer_lib
from tests import test_train_support as support

STEPS, WINDOW, BATCH, SEQ, PRED = 300, 50, 32, 16, 3
# At 1e-3 the run is smooth and seed-robust (measured, seeds 1-4: final loss 2.68-3.08, float32 and
# bfloat16 within 0.5% of each other). At 1e-2 it sits on the edge of the unigram plateau (loss
# ~4.24): whether a run escapes depends on the seed and even on XLA vs graph mode, in float32 too.
LEARNING_RATE = 1e-3
CHANCE = 1.0 / (support.TINY_CONFIG["vocab_size"] - support.FIRST_WORD)


def loss_curve(files, policy):
  """Mean training loss per WINDOW steps, and the last window's masked-LM accuracy."""
  tf_keras.mixed_precision.set_global_policy(policy)
  try:
    tf_keras.utils.set_random_seed(1)
    pretrainer = AlbertPretrainer(
        AlbertConfig.from_dict({
            **support.TINY_CONFIG, "hidden_size": 32,
            "intermediate_size": 64
        }))
    pretrainer.build()
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  # AdamW: at this width LAMB's trust ratio (|w| / |update|, with |w| ~ 0.02 * sqrt(size)) makes
  # steps too small to learn in a few hundred steps; the update rule itself is tested elsewhere.
  optimizer = optimization.create_optimizer(LEARNING_RATE, STEPS, STEPS // 10, optimizer="adamw")
  task = pretraining.PretrainingTask(pretrainer.config, files, max_seq_length=SEQ,
                                     max_predictions_per_seq=PRED)
  trainer = trainer_lib.Trainer(tf.distribute.get_strategy(), task, pretrainer, optimizer,
                                global_batch_size=BATCH, jit_compile=True)
  iterator = iter(task.dataset("train", BATCH))
  windows = [trainer.train(iterator, WINDOW) for _ in range(STEPS // WINDOW)]
  return np.array([w["loss"] for w in windows]), windows[-1]["masked_lm_accuracy"]


@pytest.fixture(name="files", scope="module")
def fixture_files(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("records"))
  return support.write_records(directory, num_files=2, per_file=256, seq_length=SEQ,
                               max_predictions=PRED, stride=0)[0]


@pytest.fixture(name="float32_run", scope="module")
def fixture_float32_run(files):
  return loss_curve(files, "float32")


@pytest.mark.slow
def test_loss_falls_and_mlm_accuracy_beats_chance(float32_run):
  losses, accuracy = float32_run
  assert losses[-1] < losses[0] - 1.0, losses  # measured: 4.26 -> 2.68
  assert accuracy > 8 * CHANCE, accuracy  # measured: 0.67, chance 0.029


@pytest.mark.slow
def test_bfloat16_loss_curve_within_two_percent_of_float32(files, float32_run):
  bfloat16_losses, bfloat16_accuracy = loss_curve(files, "mixed_bfloat16")
  np.testing.assert_allclose(bfloat16_losses, float32_run[0], rtol=0.02)  # measured: <= 0.2%
  assert bfloat16_accuracy > 8 * CHANCE, bfloat16_accuracy
