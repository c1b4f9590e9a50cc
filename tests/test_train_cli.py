"""albert-run-pretraining through its main(): --do_eval without --do_train, and flag and user
errors (one line, exit status 1, nothing written)."""

import os
import pathlib

from absl import flags
import numpy as np
import pytest

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf import command_line
from albert_tf import load_checkpoint
from albert_tf.training import evaluation
from albert_tf.training import input_pipeline
from albert_tf.training import pretraining_run
from tests import test_train_loop
from tests import test_train_support as support


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def cli_error(data, output_dir, drop=(), **overrides):
  """The error of albert-run-pretraining's flag parsing and main() in this process."""
  from albert_tf import run_pretraining  # pylint: disable=g-import-not-at-top
  settings = support.run_settings(data, output_dir, **overrides)
  arguments = [f"--{k}={v}" for k, v in settings.items() if k not in drop]
  flags.FLAGS.unparse_flags()
  try:
    with pytest.raises(SystemExit) as raised:
      run_pretraining.main(
          command_line.parse_flags(["albert-run-pretraining", *arguments],
                                   "albert-run-pretraining: error: "))
  finally:
    flags.FLAGS.unparse_flags()
  message = str(raised.value.code)
  assert message.startswith("albert-run-pretraining: error: ") and "\n" not in message
  assert not os.path.exists(os.path.join(str(output_dir), "model.ckpt-2.index"))
  return message


@pytest.mark.parametrize("overrides,drop,expected", [
    ({
        "masked_lm_budget": 0.15
    }, (), "the records are already masked (they hold masked_lm_positions)"),
    ({}, ("input_file",), "flag --input_file=None: Flag --input_file must have a value other than "
     "None."),
    ({
        "input_file": "/nonexistent/train-*"
    }, (), "--input_file pattern '/nonexistent/train-*' "
     "matches no file"),
    ({
        "max_seq_length": 512
    }, (), "records have max_seq_length=16 (input_ids has 16 values) but "
     "--max_seq_length=512: pass --max_seq_length=16."),
    ({
        "max_predictions_per_seq": 20
    }, (), "records have max_predictions_per_seq=3"),
    ({
        "train_batch_size": 0
    }, (), "flag --train_batch_size=0: 0 is not a positive integer"),
    ({
        "learning_rate": -1
    }, (), "flag --learning_rate=-1.0: --learning_rate must be above 0."),
    ({
        "num_warmup_steps": -1
    }, (), "flag --num_warmup_steps=-1: -1 is not a non-negative "
     "integer"),
    ({
        "poly_power": -1
    }, (), "flag --poly_power=-1: -1.0 is not a non-negative number"),
    ({
        "use_tpu": True,
        "distribution_strategy": "mirrored"
    }, (), "flags use_tpu=True, "
     "distribution_strategy=mirrored: --use_tpu means --distribution_strategy=tpu: drop one of "
     "them."),
    ({
        "albert_config_file": "/nonexistent/albert_config.json"
    }, (), "/nonexistent/albert_config.json"),
    ({
        "do_train": False,
        "do_eval": False
    }, (), "flags do_train=False, do_eval=False: at least one "
     "of --do_train or --do_eval must be true."),
    ({
        "do_train": False,
        "do_eval": True,
        "eval_timeout_secs": 1
    }, (), "for --eval_timeout_secs=1 "
     "(last evaluated step: none, --num_train_steps=4): train into this --output_dir (--do_train) "
     "or raise --eval_timeout_secs."),
])
def test_user_errors_are_one_line(data, tmp_path, overrides, drop, expected):
  assert expected in cli_error(data, tmp_path, drop=drop, **overrides)


def log_softmax(logits):
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def reference_evaluation(pretrainer, batches):
  """The original metric_fn (reference §10) in NumPy over `batches`, plus the mean batch loss."""
  mlm_correct = mlm_nll = mlm_weight = sop_correct = sop_nll = examples = 0.0
  batch_losses = []
  for features in batches:
    outputs = pretrainer(features, training=False)
    mlm_log_probs = log_softmax(outputs["mlm_logits"].numpy().astype(np.float64))
    sop_log_probs = log_softmax(outputs["sop_logits"].numpy().astype(np.float64))
    ids = features["masked_lm_ids"].numpy()
    weights = features["masked_lm_weights"].numpy().astype(np.float64)
    labels = features["next_sentence_labels"].numpy().reshape(-1)
    nll = -np.take_along_axis(mlm_log_probs, ids[..., None], axis=-1)[..., 0]
    sop_example_nll = -sop_log_probs[np.arange(len(labels)), labels]
    mlm_correct += np.sum(weights * (mlm_log_probs.argmax(axis=-1) == ids))
    mlm_nll += np.sum(weights * nll)
    mlm_weight += np.sum(weights)
    sop_correct += np.sum(sop_log_probs.argmax(axis=-1) == labels)
    sop_nll += np.sum(sop_example_nll)
    examples += len(labels)
    batch_losses.append(np.sum(weights * nll) / (np.sum(weights) + 1e-5) + sop_example_nll.mean())
  return {
      "loss": np.mean(batch_losses),
      "masked_lm_accuracy": mlm_correct / mlm_weight,
      "masked_lm_loss": mlm_nll / mlm_weight,
      "sentence_order_accuracy": sop_correct / examples,
      "sentence_order_loss": sop_nll / examples
  }


def file_contents(directory):
  return {
      path.relative_to(directory): path.read_bytes()
      for path in directory.rglob("*")
      if path.is_file()
  }


def test_eval_only_evaluates_every_checkpoint_once_and_stops(data, tmp_path):
  settings = support.run_settings(data, tmp_path, max_eval_steps=3)  # checkpoints at steps 2 and 4
  pretraining_run.run(pretraining_run.RunOptions(**settings))
  trained = file_contents(tmp_path)
  assert test_train_loop.steps_of(str(tmp_path)) == [2, 4]
  # Waiting on after the step-4 checkpoint would end in a timeout error (SystemExit) here.
  support.run_cli_in_process([f"--{k}={v}" for k, v in settings.items()] +
                             ["--do_train=false", "--do_eval=true", "--eval_timeout_secs=60"])
  after = file_contents(tmp_path)
  assert {name: after[name] for name in trained} == trained  # nothing of the training changed
  assert sorted(str(name) for name in after.keys() - trained.keys() if name.parts[0] != "eval") == [
      "eval_results.txt", "model.ckpt-best.data-00000-of-00001", "model.ckpt-best.index"
  ]
  test_train_loop.assert_eval_results_format(tmp_path, 2)
  evaluations = evaluation.read_eval_results(str(tmp_path))
  assert [e["global_step"] for e in evaluations] == [2, 4]
  batches = list(
      input_pipeline.pretraining_dataset(input_pipeline.resolve_input_files(settings["input_file"]),
                                         settings["eval_batch_size"], settings["max_seq_length"],
                                         settings["max_predictions_per_seq"],
                                         is_training=False).take(settings["max_eval_steps"]))
  for results in evaluations:
    pretrainer = AlbertPretrainer(AlbertConfig.from_json_file(settings["albert_config_file"]))
    load_checkpoint(pretrainer, str(tmp_path / f"model.ckpt-{int(results['global_step'])}"))
    expected = reference_evaluation(pretrainer, batches)
    for name in ("loss", "masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
                 "sentence_order_loss"):
      np.testing.assert_allclose(results[name], expected[name], rtol=0, atol=1e-5, err_msg=name)
  test_train_loop.assert_best_is_kept(tmp_path)
  # A restarted evaluation job goes on after the steps eval_results.txt holds: nothing to add.
  evaluated = file_contents(tmp_path)
  support.run_cli_in_process([f"--{k}={v}" for k, v in settings.items()] +
                             ["--do_train=false", "--do_eval=true", "--eval_timeout_secs=0"])
  assert (tmp_path / "eval_results.txt").read_bytes() == evaluated[pathlib.Path("eval_results.txt")]


def test_eval_only_skips_a_listed_checkpoint_whose_files_are_gone(data, tmp_path):
  settings = support.run_settings(data, tmp_path, max_eval_steps=1, do_train=False, do_eval=True,
                                  eval_timeout_secs=0)
  pretraining_run.run(pretraining_run.RunOptions(**{
      **settings, "do_train": True,
      "do_eval": False
  }))
  for path in tmp_path.glob("model.ckpt-2.*"):  # as if --keep_checkpoint_max had rotated it away
    path.unlink()
  pretraining_run.run(pretraining_run.RunOptions(**settings))
  assert [e["global_step"] for e in evaluation.read_eval_results(str(tmp_path))] == [4]
