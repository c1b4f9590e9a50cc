"""run_classifier learns (issue 9 item 9): fine-tuning a tiny checkpoint on generated data.

The checkpoint is a freshly initialised pretrainer of the tiny config under the original's TF1
names (it stands in for a pretrained one: the test is that fine-tuning learns, not that pretraining
helped). The label of each sentence depends on its words only (kitchen words vs. school words, or
the share of kitchen words as a score), the dev and test sentences are not in the training file,
and the run's files (eval_results.txt, best_trial.txt, model.ckpt-best, test_results.tsv,
submit_results.tsv) are checked against each other and against the data.
"""

import os
import random

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.tasks.classifier_data import GenericTaskSpec
from albert_tf.training import classifier_run
from tests import classifier_fixtures as fixtures


def checkpoint_values(prefix) -> dict:
  reader = tf.train.load_checkpoint(prefix)
  return {
      name: reader.get_tensor(name)
      for name in reader.get_variable_to_shape_map()
      if name.startswith(("model/", "optimizer/"))
  }


def assert_best_files(output_dir, best_metric) -> int:
  """best_trial.txt names the step with the highest best_metric (the first of equal ones), the
  `best =` lines carry the running best, and model.ckpt-best equals that step's checkpoint.

  Returns:
    The best step.
  """
  blocks = fixtures.read_eval_blocks(output_dir)
  values = [block[best_metric] for block in blocks]
  steps = [int(block["global_step"]) for block in blocks]
  best = int(np.argmax(values))  # the first maximum: a later equal value does not replace it
  for index, block in enumerate(blocks):
    assert block["best"] == (max(values[:index]) if index else -1)
  with open(os.path.join(output_dir, "best_trial.txt"), encoding="utf-8") as f:
    last_step, best_step, best_value = f.read().split(":")
  assert (int(last_step), int(best_step)) == (steps[-1], steps[best])
  assert float(best_value) == pytest.approx(values[best], abs=1e-6)
  best_checkpoint = checkpoint_values(os.path.join(output_dir, "model.ckpt-best"))
  step_checkpoint = checkpoint_values(os.path.join(output_dir, f"model.ckpt-{steps[best]}"))
  assert best_checkpoint.keys() == step_checkpoint.keys()
  for name, value in step_checkpoint.items():
    np.testing.assert_array_equal(best_checkpoint[name], value, err_msg=name)
  return steps[best]


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory) -> dict:
  return fixtures.build_workspace(tmp_path_factory.mktemp("workspace"))


def write_splits(data_dir, rows, sizes) -> dict:
  """train/dev/test.tsv (header text_a, label) from consecutive slices of `rows`, whose sentences
  are distinct: dev and test sentences are held out from training."""
  assert len({text for text, _ in rows}) == len(rows)
  splits, start = {}, 0
  for split, size in sizes.items():
    splits[split] = rows[start:start + size]
    fixtures.write_tsv(data_dir / f"{split}.tsv", ["text_a", "label"], splits[split])
    start += size
  return splits


def fine_tune(workspace, data_dir, output_dir, **settings):
  classifier_run.run(
      fixtures.options(data_dir=str(data_dir), output_dir=str(output_dir), task_name="generic",
                       albert_config_file=workspace["config"], spm_model_file=workspace["spm"],
                       init_checkpoint=workspace["checkpoint"], do_train=True, do_eval=True,
                       do_predict=True, train_batch_size=16, eval_batch_size=16,
                       predict_batch_size=16, num_warmup_steps=10, **settings))


@pytest.fixture(name="topics", scope="module")
def fixture_topics(workspace, tmp_path_factory) -> tuple:
  """A 100-step fine-tuning on kitchen vs. school sentences, evaluated every 25 steps."""
  root = tmp_path_factory.mktemp("topics")
  rows = fixtures.topic_rows(random.Random(0), 320 + 64 + 40)
  splits = write_splits(root / "data", rows, {"train": 320, "dev": 64, "test": 40})
  fine_tune(workspace, root / "data", root / "out", num_train_steps=100, save_checkpoints_steps=25,
            steps_per_loop=25, log_steps=25)
  return root / "out", splits


def test_classification_learns_the_topic(topics):
  output_dir, splits = topics
  blocks = fixtures.read_eval_blocks(output_dir)
  assert [int(block["global_step"]) for block in blocks] == [25, 50, 75, 100]
  # Chance is 0.5 (the dev labels are balanced within 0.3-0.7); measured: 0.86 at step 25, 1.0
  # at step 100.
  assert 0.3 <= np.mean([label == "kitchen" for _, label in splits["dev"]]) <= 0.7
  assert blocks[-1]["eval_accuracy"] >= 0.9
  assert blocks[-1]["eval_loss"] < blocks[0]["eval_loss"]
  assert sorted(blocks[-1]) == ["best", "eval_accuracy", "eval_loss", "global_step", "loss"]


def test_classification_files_agree(topics):
  output_dir, splits = topics
  assert_best_files(output_dir, "eval_accuracy")
  labels = (output_dir / "label_list.txt").read_text().split()
  assert labels == ["kitchen", "school"]  # the training file's labels, sorted

  probabilities = np.array(fixtures.read_tsv_rows(output_dir / "test_results.tsv"), np.float64)
  assert probabilities.shape == (len(splits["test"]), 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
  submit = fixtures.read_tsv_rows(output_dir / "submit_results.tsv")
  assert submit[0] == ["index", "prediction"]
  assert [row[0] for row in submit[1:]] == [str(index) for index in range(len(splits["test"]))]
  predicted = [row[1] for row in submit[1:]]
  assert predicted == [labels[index] for index in probabilities.argmax(axis=1)]
  # Held-out test sentences: chance 0.5, measured 1.0.
  truth = [label for _, label in splits["test"]]
  assert np.mean([p == t for p, t in zip(predicted, truth)]) >= 0.9


def test_regression_learns_the_score(workspace, tmp_path):
  rows = fixtures.score_rows(random.Random(1), 320 + 64 + 32)
  splits = write_splits(tmp_path / "data", rows, {"train": 320, "dev": 64, "test": 32})
  fine_tune(workspace, tmp_path / "data", tmp_path / "out", num_train_steps=100,
            save_checkpoints_steps=50, steps_per_loop=50, log_steps=50,
            generic=GenericTaskSpec(regression=True))
  output_dir = tmp_path / "out"
  blocks = fixtures.read_eval_blocks(output_dir)
  assert sorted(
      blocks[-1]) == ["MSE", "best", "eval_loss", "global_step", "loss", "pearson", "spearman"]
  # Pearson of a constant guess is 0; measured: 0.91 at step 50, 0.97 at step 100.
  assert blocks[-1]["pearson"] >= 0.8
  assert_best_files(output_dir, "pearson")
  assert not os.path.exists(output_dir / "label_list.txt")

  test_results = fixtures.read_tsv_rows(output_dir / "test_results.tsv")
  scores = np.array(test_results, np.float64)
  assert scores.shape == (len(splits["test"]), 1)
  submit = fixtures.read_tsv_rows(output_dir / "submit_results.tsv")
  assert submit[1:] == [[str(index), row[0]] for index, row in enumerate(test_results)]
  truth = [score for _, score in splits["test"]]
  assert np.corrcoef(scores[:, 0], truth)[0, 1] >= 0.8
