"""run_squad_v1 / run_squad_v2 on tiny generated SQuAD files: the original's epoch arithmetic, the
losses against NumPy, original fine-tuned checkpoints predicted alone (no training file; the
original v1 crashes there and v2 needs --train_file) against an independent NumPy forward pass,
and the one-line errors of bad flags and bad input.

Runs call `squad_run.run` in-process; the command lines run in subprocesses only for their exit
status and error lines (run_squad_v1 and run_squad_v2 define flags of the same names, so they
cannot be imported into one process with each other or with run_classifier).
"""

import dataclasses
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  # registers the exported tokenizer's ops

from albert_tf.tasks import squad
from albert_tf.tasks import squad_postprocess
from albert_tf.training import squad_run
from albert_tf.training.options import SquadOptions
from tests import classifier_fixtures
from tests import numpy_albert
from tests import squad_fixtures
from tests import tf1_checkpoint_fixtures

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A window of the tiny config (max_position_embeddings 64) holds a question and a whole paragraph.
SHAPE = dict(max_seq_length=64, doc_stride=32, max_query_length=16)


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory) -> dict:
  return classifier_fixtures.build_workspace(tmp_path_factory.mktemp("workspace"))


def squad_options(workspace, output_dir, **settings) -> SquadOptions:
  """SquadOptions of a fast run on the tiny SentencePiece workspace."""
  values = dict(albert_config_file=workspace["config"], spm_model_file=workspace["spm"],
                output_dir=str(output_dir), train_batch_size=8, predict_batch_size=8,
                learning_rate=1e-3, steps_per_loop=10, log_steps=10, save_checkpoints_steps=10,
                n_best_size=5, max_answer_length=8, seed=0, **SHAPE)
  values.update(settings)
  return SquadOptions(**values)


# --- Epochs -> steps, as the original -------------------------------------------------------------


def test_training_steps_count_questions_as_the_original(tmp_path):
  options = SquadOptions(output_dir=str(tmp_path), do_train=True, do_predict=True,
                         predict_batch_size=24)
  # int(1000 / 32 * 3.0) = 93 steps, int(93 * 0.1) = 9 warmup steps.
  loop = squad_run.loop_options(options, num_train_examples=1000)
  assert (loop.num_train_steps, loop.num_warmup_steps) == (93, 9)
  assert (loop.do_eval, loop.eval_batch_size) == (True, 24)  # every checkpoint is evaluated
  loop = squad_run.loop_options(
      SquadOptions(output_dir=str(tmp_path), do_train=True, num_train_epochs=2.0,
                   warmup_proportion=0.25, num_warmup_steps=None), 100)
  assert (loop.num_train_steps, loop.num_warmup_steps, loop.do_eval) == (6, 1, False)
  loop = squad_run.loop_options(
      SquadOptions(output_dir=str(tmp_path), do_train=True, num_train_steps=7, num_warmup_steps=2),
      100)
  assert (loop.num_train_steps, loop.num_warmup_steps) == (7, 2)
  with pytest.raises(squad_run.SquadRunError, match="is 0 steps"):
    squad_run.loop_options(SquadOptions(output_dir=str(tmp_path), do_train=True), 10)


# --- Losses ---------------------------------------------------------------------------------------


def test_v1_loss_is_the_mean_of_start_and_end_cross_entropy():
  rng = np.random.default_rng(0)
  start_logits, end_logits = rng.normal(size=(2, 3, 7)).astype(np.float32)
  starts, ends = np.array([0, 2, 6]), np.array([0, 4, 6])
  task = squad.SquadTask(None, squad.SpanHeadV1(), record_files={}, max_seq_length=7)
  features = {
      "input_word_ids": tf.zeros([3, 7], tf.int32),
      "start_positions": starts,
      "end_positions": ends
  }
  losses = task.compute_losses(features, {
      "start_logits": start_logits,
      "end_logits": end_logits
  }, task.batch_statistics(features))
  expected = -(numpy_albert.log_softmax(start_logits.astype(np.float64))[range(3), starts] +
               numpy_albert.log_softmax(end_logits.astype(np.float64))[range(3), ends]) / 2
  assert float(losses["loss"]) == pytest.approx(expected.mean(), rel=1e-5)
  # Evaluation windows have no gold positions: the loss is a constant 0.
  del features["start_positions"], features["end_positions"]
  assert float(task.compute_losses(features, {}, task.batch_statistics(features))["loss"]) == 0.0


def test_v2_loss_adds_half_the_no_answer_cross_entropy():
  rng = np.random.default_rng(1)
  start_log_probs = numpy_albert.log_softmax(rng.normal(size=(4, 6)))
  end_log_probs = numpy_albert.log_softmax(rng.normal(size=(4, 6)))
  cls_logits = rng.normal(size=4)
  starts, ends = np.array([0, 1, 3, 0]), np.array([0, 2, 5, 0])
  impossible = np.array([1.0, 0.0, 0.0, 1.0])
  task = squad.SquadTask(None, squad.SpanHeadV2(), record_files={}, max_seq_length=6)
  features = {
      "input_word_ids": tf.zeros([4, 6], tf.int32),
      "start_positions": starts,
      "end_positions": ends,
      "is_impossible": impossible.astype(np.float32)
  }
  outputs = {
      "start_log_probs": start_log_probs.astype(np.float32),
      "end_log_probs": end_log_probs.astype(np.float32),
      "cls_logits": cls_logits.astype(np.float32)
  }
  losses = task.compute_losses(features, outputs, task.batch_statistics(features))
  span = -(start_log_probs[range(4), starts] + end_log_probs[range(4), ends]) / 2
  probabilities = 1 / (1 + np.exp(-cls_logits))
  no_answer = -(impossible * np.log(probabilities) + (1 - impossible) * np.log(1 - probabilities))
  assert float(losses["loss"]) == pytest.approx(np.mean(span + 0.5 * no_answer), rel=1e-5)


# --- Original fine-tuned checkpoints, predicted alone ---------------------------------------------


def original_checkpoint(workspace, version_2: bool) -> tuple:
  """An original run_squad checkpoint (random weights, AdamW slots, global_step 1200)."""
  with open(workspace["config"], encoding="utf-8") as f:
    config = json.load(f)
  head = numpy_albert.squad_v2_shapes if version_2 else numpy_albert.squad_v1_shapes
  shapes = {**numpy_albert.original_shapes(config, include_heads=False), **head(config)}
  weights = numpy_albert.random_weights(shapes, np.random.default_rng(6))
  prefix = tf1_checkpoint_fixtures.write_tf1_checkpoint(
      os.path.join(workspace["root"], f"squad_v{2 if version_2 else 1}", "model.ckpt-best"),
      weights, optimizer_slots=True, global_step=1200)
  return prefix, weights, config


def numpy_results(task, weights, config, version_2: bool) -> list:
  """The RawResults of the original's forward pass in NumPy on the task's prediction windows."""
  results = []
  for batch in task.dataset("predict", 8):
    real = batch["is_real_example"].numpy().astype(bool)
    sequence_output = numpy_albert.albert_forward(weights, config,
                                                  batch["input_word_ids"].numpy()[real],
                                                  batch["input_mask"].numpy()[real],
                                                  batch["input_type_ids"].numpy()[real])
    sequence_output = sequence_output["sequence_output"]
    unique_ids = batch["unique_ids"].numpy()[real]
    if version_2:
      outputs = numpy_albert.squad_v2_outputs(weights, sequence_output,
                                              batch["p_mask"].numpy()[real])
      results += squad.SpanHeadV2().raw_results(unique_ids, outputs)
    else:
      start, end = numpy_albert.squad_v1_logits(weights, sequence_output)
      results += squad.SpanHeadV1().raw_results(unique_ids, {
          "start_logits": start,
          "end_logits": end
      })
  return results


@pytest.mark.parametrize("version_2", [False, True], ids=["v1", "v2"])
def test_original_checkpoint_predicts_alone_as_numpy(workspace, tmp_path, version_2):
  prefix, weights, config = original_checkpoint(workspace, version_2)
  predict_file = tmp_path / "dev.json"
  squad_fixtures.write_squad_json(predict_file, random.Random(3), 10, version_2=version_2)
  output_dir = tmp_path / "out"
  options = squad_options(workspace, output_dir, version_2_with_negative=version_2, do_predict=True,
                          predict_file=str(predict_file), init_checkpoint=prefix, n_best_size=4)
  squad_run.run(options)  # no --train_file, no --do_train

  task, _ = squad_run.build_task(options)  # the cached features, reused
  results = numpy_results(task, weights, config, version_2)
  if version_2:
    expected = squad_postprocess.predictions_v2(task.eval_examples, task.eval_features, results,
                                                n_best_size=4, max_answer_length=8)
  else:
    expected = squad_postprocess.predictions_v1(task.eval_examples, task.eval_features, results,
                                                n_best_size=4, max_answer_length=8)
  blocks = classifier_fixtures.read_eval_blocks(output_dir)
  assert len(blocks) == 1 and blocks[0]["global_step"] == 1200
  threshold = blocks[0]["null_score_diff_threshold"] if version_2 else None
  if version_2:
    null_odds = json.loads((output_dir / "null_odds.json").read_text(encoding="utf-8"))
    assert list(null_odds) == list(expected.null_odds)
    np.testing.assert_allclose(list(null_odds.values()), list(expected.null_odds.values()),
                               atol=1e-4)
    # The tuned threshold is one question's own null score difference, so that question sits on it
    # and float32 rounding (TF's against NumPy's) decides its side: apply it to the run's scores.
    expected = dataclasses.replace(expected, null_odds=null_odds)
  predictions = json.loads((output_dir / "predictions.json").read_text(encoding="utf-8"))
  assert predictions == expected.answers(threshold)
  assert list(predictions) == squad_fixtures.question_ids(
      json.loads(predict_file.read_text(encoding="utf-8")))
  nbest = json.loads((output_dir / "nbest_predictions.json").read_text(encoding="utf-8"))
  assert {
      qid: [entry["text"] for entry in entries] for qid, entries in nbest.items()
  } == {
      qid: [entry["text"] for entry in entries] for qid, entries in expected.nbest.items()
  }
  if version_2:
    assert {"exact", "f1", "best_f1", "best_f1_thresh", "fixed_threshold_f1"} <= set(blocks[0])
  else:
    assert {"exact_match", "f1"} <= set(blocks[0])
  assert not tf.io.gfile.glob(str(output_dir / "model.ckpt-*"))  # nothing was trained


# --- Bad flags and bad input: one line, exit status 1 ---------------------------------------------

# Calls run_squad_v<n>.main once per argument list in one process (one TensorFlow start): prints
# what each exit but the last carried, then lets the last one end the process as the command does.
MAIN_BATCH = """
import importlib, json, sys
from absl import flags
module = importlib.import_module(sys.argv[1])
*batch, last = json.loads(sys.argv[2])
codes = []
for argv in batch:
  flags.FLAGS.unparse_flags()
  flags.FLAGS(["run_squad", *argv])
  try:
    module.main([])
    codes.append(None)
  except SystemExit as exit:
    codes.append(exit.code)
print("CODES", json.dumps(codes), flush=True)
flags.FLAGS.unparse_flags()
flags.FLAGS(["run_squad", *last])
module.main([])
"""


def cli_arguments(workspace, root, name, *, vocab=("spm",), actions=("--do_train",), extra=()):
  """run_squad's arguments for a 2-step run on root/train.json and root/dev.json into root/name."""
  vocab_flags = {
      "spm": f"--spm_model_file={workspace['spm']}",
      "vocab": f"--vocab_file={workspace['vocab']}"
  }
  return [
      f"--output_dir={root / name}", f"--albert_config_file={workspace['config']}",
      f"--train_file={root / 'train.json'}", f"--predict_file={root / 'dev.json'}",
      *(vocab_flags[kind] for kind in vocab), *actions, "--max_seq_length=64",
      "--max_query_length=16", "--doc_stride=32", "--train_batch_size=4", "--predict_batch_size=4",
      "--num_train_steps=2", "--save_checkpoints_steps=2", "--iterations_per_loop=2", *extra
  ]


# Parses each argument list as the command line does, in one process: prints the one-line error
# each bad list exits with.
PARSE_BATCH = """
import json, sys
from absl import flags
from albert_tf import command_line
from albert_tf import run_squad_v2
errors = []
for argv in json.loads(sys.argv[1]):
  flags.FLAGS.unparse_flags()
  try:
    command_line.parse_flags(["run_squad", *argv], run_squad_v2.ERROR_PREFIX)
    errors.append(None)
  except SystemExit as exit:
    errors.append(exit.code)
print(json.dumps(errors))
"""


def test_bad_flags_are_one_line_errors(tmp_path):
  # Flags are checked before any file is read: the files need not exist.
  files = {"config": "albert_config.json", "spm": "30k-clean.model", "vocab": "vocab.txt"}
  cases = {
      "--max_query_length=61": "flags max_seq_length=64, max_query_length=61: --max_seq_length "
                               "must be greater than --max_query_length + 3 ([CLS], two [SEP] and "
                               "at least one paragraph token).",
      "--nodo_train": "flags do_train=False, do_predict=False, export_dir=None: at least one of "
                      "--do_train, --do_predict or --export_dir must be given.",
      "--learning_rate=0": "flag --learning_rate=0.0: --learning_rate must be above 0.",
      "--num_train_epochs=0": "flag --num_train_epochs=0.0: --num_train_epochs must be above 0.",
      "--warmup_proportion=1.5": "flag --warmup_proportion=1.5: 1.5 is not a number in the range "
                                 "[0.0, 1.0]",
  }
  batch = [cli_arguments(files, tmp_path, "out", extra=(flag,)) for flag in cases]
  result = subprocess.run(
      [sys.executable, "-c", PARSE_BATCH, json.dumps(batch)], cwd=REPO, capture_output=True,
      text=True, timeout=120, check=True)
  assert json.loads(result.stdout.strip().splitlines()[-1]) == [
      "albert-run-squad-v2: error: " + message for message in cases.values()
  ]
  assert not os.path.exists(tmp_path / "out")


# --- The command line, end to end: train, predict, export, query ---------------------------------


def bad_input_cases(workspace, root) -> dict:
  """{case: (run_squad_v2's arguments, the error line it must end with)}."""
  (root / "broken.json").write_text('{"data": [', encoding="utf-8")
  missing = root / "absent.json"
  return {
      "no_train_file": (cli_arguments(workspace, root, "a", extra=("--train_file=",)),
                        "--do_train needs --train_file=<SQuAD JSON to train on>"),
      "missing_file": (cli_arguments(workspace, root, "b", extra=(f"--train_file={missing}",)),
                       f"{missing} not found: pass an existing SQuAD-format JSON file."),
      "malformed_json": (cli_arguments(
          workspace, root, "g", actions=("--do_predict",),
          extra=(f"--predict_file={root / 'broken.json'}", f"--init_checkpoint={root / 'absent'}")),
                         f"{root / 'broken.json'}: not valid JSON (Expecting value at line 1 "
                         "column 11)."),
      "both_vocabularies": (cli_arguments(workspace, root, "c", vocab=("spm", "vocab")),
                            "both --spm_model_file and --vocab_file are given: pass "
                            "--spm_model_file (SentencePiece, English) or --vocab_file "
                            "(WordPiece, Chinese), not both"),
      "no_vocabulary": (cli_arguments(workspace, root, "d", vocab=()),
                        "no vocabulary: pass --spm_model_file (SentencePiece, English) or "
                        "--vocab_file (WordPiece, Chinese)"),
      "max_seq_length": (cli_arguments(workspace, root, "e", extra=("--max_seq_length=65",)),
                         f"--max_seq_length=65 exceeds the model's max_position_embeddings=64 "
                         f"({workspace['config']}): pass --max_seq_length<=64"),
      "untrained": (cli_arguments(workspace, root, "f", actions=("--do_predict",)),
                    f"no fine-tuned checkpoint in --output_dir={root / 'f'} "
                    "(model.ckpt-best or model.ckpt-<step>): train first (--do_train), or pass "
                    "--init_checkpoint=<a fine-tuned checkpoint>"),
  }


@pytest.mark.slow
def test_command_line_errors_then_a_run_that_trains_predicts_and_exports(workspace, tmp_path):
  # One process (one TensorFlow start): the bad inputs, each one line and exit status 1, then a
  # v2 run that trains 2 steps, evaluates, predicts and exports.
  squad_fixtures.write_squad_json(tmp_path / "train.json", random.Random(4), 24, version_2=True)
  dev = squad_fixtures.write_squad_json(tmp_path / "dev.json", random.Random(5), 6, version_2=True)
  cases = bad_input_cases(workspace, tmp_path)
  good = cli_arguments(
      workspace, tmp_path, "out", actions=("--do_train", "--do_predict"),
      extra=(f"--export_dir={tmp_path / 'serving'}", "--start_n_top=3", "--end_n_top=2",
             "--n_best_size=4"))
  result = subprocess.run([
      sys.executable, "-c", MAIN_BATCH, "albert_tf.run_squad_v2",
      json.dumps([case[0] for case in cases.values()] + [good])
  ], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  codes = json.loads(result.stdout.split("CODES ")[-1].splitlines()[0])
  assert dict(zip(cases, codes)) == {
      name: "albert-run-squad-v2: error: " + case[1] for name, case in cases.items()
  }
  assert not os.path.exists(tmp_path / "f")
  output_dir = tmp_path / "out"
  blocks = classifier_fixtures.read_eval_blocks(output_dir)
  assert [int(block["global_step"]) for block in blocks] == [2]
  assert blocks[0]["fixed_threshold"] == 0.0
  nbest = json.loads((output_dir / "nbest_predictions.json").read_text(encoding="utf-8"))
  null_odds = json.loads((output_dir / "null_odds.json").read_text(encoding="utf-8"))
  predictions = json.loads((output_dir / "predictions.json").read_text(encoding="utf-8"))
  assert list(nbest) == list(null_odds) == list(predictions) == squad_fixtures.question_ids(dev)
  # predictions.json is at one threshold (the one tuned on the dev file, the original's): the best
  # non-null candidate where the null odds are at most the threshold, else "". A question without
  # any valid span has the empty placeholder as its best candidate, so it reads "" either way.
  assert blocks[0]["null_score_diff_threshold"] == blocks[0]["best_f1_thresh"]
  threshold = blocks[0]["null_score_diff_threshold"]
  assert predictions == {
      qid: nbest[qid][0]["text"] if null_odds[qid] <= threshold else "" for qid in predictions
  }

  # The SavedModel of model.ckpt-best (its step names the version) answers raw text.
  best_step = int((output_dir / "best_trial.txt").read_text().split(":")[1])
  model = tf.saved_model.load(str(tmp_path / "serving" / str(best_step)))
  paragraphs = [(paragraph["context"], qa)
                for article in dev["data"]
                for paragraph in article["paragraphs"]
                for qa in paragraph["qas"]]
  outputs = model.signatures["answer_question"](question=tf.constant([
      qa["question"] for _, qa in paragraphs
  ]), context=tf.constant([context for context, _ in paragraphs]))
  np.testing.assert_allclose(outputs["null_score_diff"].numpy(),
                             [null_odds[qa["id"]] for _, qa in paragraphs], atol=1e-4)
  assert [answer.decode("utf-8").lower() for answer in outputs["best_non_null_answer"].numpy()
         ] == [nbest[qa["id"]][0]["text"].lower() for _, qa in paragraphs]
  assert outputs["is_impossible"].numpy().tolist() == [
      null_odds[qa["id"]] >= 0.0 for _, qa in paragraphs
  ]
