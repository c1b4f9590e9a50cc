"""run_race end to end on generated RACE data: train (with gradient accumulation), evaluate each
checkpoint with per-level accuracy, keep the best, score the test split; --do_predict alone;
one-line errors from the command line."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from albert_tf.training import evaluation
from albert_tf.training import race_run
from tests import classifier_fixtures
from tests import test_race_support as support

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory) -> dict:
  root = tmp_path_factory.mktemp("race_run")
  workspace = classifier_fixtures.build_workspace(root)
  rng = random.Random(0)
  data_dir = os.path.join(root, "data")
  for split, count in (("train", 24), ("eval", 10), ("predict", 6)):
    support.write_race(data_dir, split, "middle", support.topic_articles(rng, count, "m"), "all")
    support.write_race(data_dir, split, "high", support.topic_articles(rng, count // 2, "h"),
                       "files")
  workspace["data_dir"] = data_dir
  return workspace


@pytest.fixture(name="trained", scope="module")
def fixture_trained(workspace, tmp_path_factory) -> str:
  output_dir = str(tmp_path_factory.mktemp("race_out"))
  race_run.run(
      support.options(data_dir=workspace["data_dir"], output_dir=output_dir,
                      albert_config_file=workspace["config"], spm_model_file=workspace["spm"],
                      init_checkpoint=workspace["checkpoint"], do_predict=True,
                      gradient_accumulation_steps=2))
  return output_dir


def test_training_evaluates_every_checkpoint_per_level(trained):
  results = evaluation.read_eval_results(trained)
  assert [int(result["global_step"]) for result in results] == [2, 4]
  for result in results:
    assert set(result) == {
        "eval_accuracy", "eval_accuracy_middle", "eval_accuracy_high", "eval_loss", "loss",
        "global_step"
    }
    # 10 middle and 5 high questions: the overall accuracy is their weighted mean.
    overall = (10 * result["eval_accuracy_middle"] + 5 * result["eval_accuracy_high"]) / 15
    assert result["eval_accuracy"] == pytest.approx(overall, abs=1e-6)
  assert os.path.exists(os.path.join(trained, "model.ckpt-best.index"))
  for name in ("race_train.tf_record", "race_eval.tf_record", "race_predict.tf_record"):
    assert os.path.exists(os.path.join(trained, name + ".metadata.json"))


def test_predict_writes_the_test_accuracy_and_the_answers(trained):
  with open(os.path.join(trained, race_run.PREDICT_RESULTS_FILE), encoding="utf-8") as f:
    lines = f.read().splitlines()
  assert lines[0] == "***** Predict results *****"
  values = dict(line.split(" = ") for line in lines[1:])
  assert set(values) == {
      "eval_accuracy", "eval_accuracy_middle", "eval_accuracy_high", "eval_loss", "global_step",
      "checkpoint"
  }
  assert values["checkpoint"].endswith("model.ckpt-best")
  answers = classifier_fixtures.read_tsv_rows(os.path.join(trained, "submit_results.tsv"))
  assert answers[0] == ["index", "prediction"] and len(answers) == 1 + 9
  assert {row[1] for row in answers[1:]} <= {"A", "B", "C", "D"}
  probabilities = np.array(
      classifier_fixtures.read_tsv_rows(os.path.join(trained, "test_results.tsv")), float)
  assert probabilities.shape == (9, 4)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_predict_alone_needs_no_training_data(workspace, trained, tmp_path):
  data_dir = tmp_path / "only_test"
  support.write_race(data_dir, "predict", "high", support.topic_articles(random.Random(3), 4, "t"),
                     "files")
  os.remove(os.path.join(trained, race_run.PREDICT_RESULTS_FILE))
  race_run.run(
      support.options(data_dir=str(data_dir), output_dir=trained, cached_dir=str(tmp_path),
                      albert_config_file=workspace["config"], spm_model_file=workspace["spm"],
                      do_train=False, do_eval=False, do_predict=True))
  with open(os.path.join(trained, race_run.PREDICT_RESULTS_FILE), encoding="utf-8") as f:
    text = f.read()
  assert "eval_accuracy_high = " in text and "eval_accuracy_middle" not in text


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-m", "albert_tf.run_race", *arguments], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_cli_errors_are_one_line(workspace, tmp_path):
  common = [
      f"--albert_config_file={workspace['config']}", f"--spm_model_file={workspace['spm']}",
      f"--output_dir={tmp_path / 'out'}", "--max_seq_length=24", "--max_qa_length=8"
  ]
  (tmp_path / "empty" / "RACE" / "train").mkdir(parents=True)
  result = run_cli(f"--data_dir={tmp_path / 'empty'}", *common)
  directory = tmp_path / "empty" / "RACE" / "train"
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      f"albert-run-race: error: {directory} holds no RACE data: expected "
      f"{directory}/{{middle,high}}/all.txt (JSON lines, the original run_race layout) or "
      f"{directory}/{{middle,high}}/*.txt (one JSON article per file, upstream RACE).")
  result = run_cli(f"--data_dir={workspace['data_dir']}", "--train_batch_size=8",
                   "--gradient_accumulation_steps=3", *common)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      "albert-run-race: error: --train_batch_size=8 does not split into 1 replica(s) x "
      "--gradient_accumulation_steps=3 equal micro-batches: use a batch that is a multiple of 3.")
