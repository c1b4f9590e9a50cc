"""The pretraining loop in-process on CPU: exact resume, warm start, eval files, NaN guard, XLA."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints
from albert_tf.training import checkpointing
from albert_tf.training import evaluation
from albert_tf.training import pretraining_run
from albert_tf.training import trainer as trainer_lib
from tests import test_train_support as support


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def options(data, output_dir, **overrides):
  settings = dict(num_train_steps=6, num_warmup_steps=2, save_checkpoints_steps=3, log_steps=3,
                  steps_per_loop=3, max_eval_steps=2, seed=7)
  settings.update(overrides)
  return pretraining_run.RunOptions(**support.run_settings(data, output_dir, **settings))


def checkpoint_values(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {
      name: reader.get_tensor(name)
      for name in reader.get_variable_to_shape_map()
      if name.startswith(("model/", "optimizer/")) and "OBJECT_GRAPH" not in name
  }


def steps_of(output_dir):
  return sorted(
      checkpointing.checkpoint_step(p[:-len(".index")])
      for p in tf.io.gfile.glob(os.path.join(output_dir, "model.ckpt-[0-9]*.index")))


def assert_same_state(first, second, **tolerance):
  assert first.keys() == second.keys()
  for name in first:
    np.testing.assert_allclose(first[name], second[name], err_msg=name, **tolerance)


@pytest.fixture(name="straight", scope="module")
def fixture_straight(data, tmp_path_factory):
  """An uninterrupted 6-step run with evaluation after each checkpoint (steps 3 and 6)."""
  output_dir = tmp_path_factory.mktemp("straight")
  pretraining_run.run(options(data, output_dir, do_eval=True))
  return output_dir


class Interrupted(Exception):
  """Stands for a crash right after a checkpoint was written."""


def test_restart_resumes_exactly_weights_slots_step_and_data(data, straight, tmp_path, monkeypatch):
  save = checkpointing.TrainingCheckpoints.save

  def save_then_crash(self, step):
    save(self, step)
    raise Interrupted

  monkeypatch.setattr(checkpointing.TrainingCheckpoints, "save", save_then_crash)
  with pytest.raises(Interrupted):
    pretraining_run.run(options(data, tmp_path, do_eval=True))
  monkeypatch.undo()
  assert steps_of(tmp_path) == [3]
  pretraining_run.run(options(data, tmp_path, do_eval=True))  # the same command resumes at 3
  assert steps_of(tmp_path) == steps_of(straight) == [3, 6]
  state = checkpoint_values(str(tmp_path / "model.ckpt-6"))
  assert checkpoints.recorded_step(str(tmp_path / "model.ckpt-6")) == 6
  assert any("/m/.ATTRIBUTES" in name for name in state)  # LAMB slots are saved
  assert_same_state(checkpoint_values(str(straight / "model.ckpt-6")), state, rtol=1e-6, atol=1e-7)
  assert (straight / "albert_config.json").exists()
  assert tf.io.gfile.glob(str(straight / "train" / "events.out.tfevents.*"))


def test_object_graph_is_readable_by_load_checkpoint(data, straight):
  from albert_tf import AlbertConfig  # pylint: disable=g-import-not-at-top
  from albert_tf import AlbertPretrainer  # pylint: disable=g-import-not-at-top
  from albert_tf import load_checkpoint  # pylint: disable=g-import-not-at-top
  pretrainer = AlbertPretrainer(AlbertConfig.from_json_file(data[1]))
  load_checkpoint(pretrainer, str(straight / "model.ckpt-3"))
  saved = checkpoint_values(str(straight / "model.ckpt-3"))
  np.testing.assert_array_equal(pretrainer.masked_lm.output_bias.numpy(),
                                saved["model/masked_lm/output_bias/.ATTRIBUTES/VARIABLE_VALUE"])


def model_weights(prefix):
  return {
      name: value
      for name, value in checkpoint_values(prefix).items()
      if name.startswith("model/") and "OPTIMIZER_SLOT" not in name
  }


def test_init_checkpoint_warm_starts_a_new_run(data, straight, tmp_path):
  # Learning rate 0 leaves the weights where the warm start put them.
  pretraining_run.run(
      options(data, tmp_path, num_train_steps=1, learning_rate=0.0, seed=99,
              init_checkpoint=str(straight)))
  assert_same_state(model_weights(str(straight / "model.ckpt-6")),
                    model_weights(str(tmp_path / "model.ckpt-1")), rtol=0, atol=0)


def assert_eval_results_format(output_dir, evaluations):
  """eval_results.txt holds exactly `evaluations` blocks of the original's six sorted keys."""
  text = (output_dir / "eval_results.txt").read_text()
  keys = [
      "global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
      "sentence_order_loss"
  ]
  pattern = "".join(rf"{key} = [-0-9.e]+\n" for key in keys)
  assert re.fullmatch(f"({pattern}){{{evaluations}}}", text), text


def assert_best_is_kept(output_dir):
  """model.ckpt-best holds the checkpoint of the first best masked_lm_accuracy in eval_results."""
  evaluations = evaluation.read_eval_results(str(output_dir))
  best = max(evaluations, key=lambda e: e["masked_lm_accuracy"])
  kept = checkpoint_values(str(output_dir / "model.ckpt-best"))
  source = checkpoint_values(str(output_dir / f"model.ckpt-{int(best['global_step'])}"))
  assert_same_state(source, kept, rtol=0, atol=0)


def test_eval_appends_original_format_and_keeps_best(straight):
  assert_eval_results_format(straight, 2)
  assert [e["global_step"] for e in evaluation.read_eval_results(str(straight))] == [3, 6]
  assert_best_is_kept(straight)


def test_append_eval_results_reports_improvement_only(tmp_path):
  results = {
      "global_step": 5,
      "loss": 1.5,
      "masked_lm_accuracy": 0.25,
      "masked_lm_loss": 1.0,
      "sentence_order_accuracy": 0.5,
      "sentence_order_loss": 0.5
  }
  record = evaluation.EvalResults(str(tmp_path), "masked_lm_accuracy")
  assert record.append(results)
  assert not record.append({**results, "global_step": 6})
  assert record.append({**results, "global_step": 7, "masked_lm_accuracy": 0.5})
  assert (tmp_path / "eval_results.txt"
         ).read_text().startswith("global_step = 5\nloss = 1.5\nmasked_lm_accuracy = 0.25\n")
  assert record.best() == (7, 0.5) and record.last_step() == 7
  assert not (tmp_path / "best_trial.txt").exists()


def test_fine_tuning_eval_results_have_best_lines_and_best_trial(tmp_path):
  record = evaluation.EvalResults(str(tmp_path), "eval_accuracy", "fine_tuning")
  assert record.append({"global_step": 10, "eval_accuracy": 0.5, "eval_loss": 0.7})
  assert (tmp_path / "best_trial.txt").read_text() == "10:10:0.5"
  assert not record.append({"global_step": 20, "eval_accuracy": 0.25, "eval_loss": 0.6})
  assert (tmp_path / "best_trial.txt").read_text() == "20:10:0.5"
  separator = "=" * 50
  assert (tmp_path / "eval_results.txt").read_text() == (
      f"eval_accuracy = 0.5\neval_loss = 0.7\nglobal_step = 10\nbest = -1\n{separator}\n"
      f"eval_accuracy = 0.25\neval_loss = 0.6\nglobal_step = 20\nbest = 0.5\n{separator}\n")
  assert [e["global_step"] for e in evaluation.read_eval_results(str(tmp_path))] == [10, 20]


def test_xla_step_matches_the_graph_step(data, straight, tmp_path):
  pretraining_run.run(
      options(data, tmp_path, num_train_steps=6, save_checkpoints_steps=6, jit_compile=True))
  assert_same_state(checkpoint_values(str(straight / "model.ckpt-6")),
                    checkpoint_values(str(tmp_path / "model.ckpt-6")), rtol=2e-4, atol=2e-5)


def test_tied_embedding_table_is_updated_once():
  table = tf.Variable(tf.ones([2]))
  other = tf.Variable(tf.ones([1]))
  assert trainer_lib.unique_variables([table, other, table]) == [table, other]


def test_mixed_precision_policy_is_restored(data, tmp_path):
  pretraining_run.run(options(data, tmp_path, num_train_steps=1, mixed_precision="bfloat16"))
  assert tf_keras.mixed_precision.global_policy().name == "float32"
