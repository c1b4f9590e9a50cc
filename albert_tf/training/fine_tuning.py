"""What the fine-tuning runs (classifier_run, squad_run, race_run) share, whatever their task.

* The checks of the flags every fine-tuning run has (`check_starting_weights`,
  `check_max_seq_length`) and the run's vocabulary entry (`vocabulary_entry`, what run_identity
  compares and run_info.json records).
* The checkpoint that predicting and exporting use (`trained_checkpoint`): the run's
  model.ckpt-best, else its newest checkpoint, else a fine-tuned --init_checkpoint; a run that
  predicts or exports without training fails before reading any data when there is none
  (`check_trained_checkpoint`).
* Prediction over the predict split with that checkpoint (`predict_with_trained`).

Example:
  from albert_tf.training import fine_tuning
  fine_tuning.check_trained_checkpoint(options, options.export_dir)  # before reading data
  ...
  path, collected = fine_tuning.predict_with_trained(training_run, options, len(guids),
                                                     f"{len(guids)} test examples")
"""

import math
import os
from typing import Optional

from absl import logging
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf.config import AlbertConfig
from albert_tf.tasks import classifier_data
from albert_tf.training import run_identity
from albert_tf.training import run_loop
from albert_tf.training.options import FineTuningOptions


class NoTrainedCheckpointError(ValueError):
  """--do_predict or --export_dir found no fine-tuned checkpoint to use."""


def check_starting_weights(options: FineTuningOptions, error: type[ValueError]) -> None:
  """Raises `error` when both --init_checkpoint and --albert_hub_module_handle are given."""
  if options.albert_hub_module_handle and options.init_checkpoint:
    raise error(
        "--init_checkpoint and --albert_hub_module_handle both give starting weights: drop one")


def check_max_seq_length(options: FineTuningOptions, config: AlbertConfig,
                         error: type[ValueError]) -> None:
  """Raises `error` when --max_seq_length exceeds the model's position table."""
  if options.max_seq_length > config.max_position_embeddings:
    raise error(
        f"--max_seq_length={options.max_seq_length} exceeds the model's "
        f"max_position_embeddings={config.max_position_embeddings} "
        f"({options.albert_config_file}): pass --max_seq_length<={config.max_position_embeddings}")


def vocabulary_entry(options: FineTuningOptions) -> dict:
  """The run's vocabulary entry: {"file", "do_lower_case", "fingerprint"} (run_identity's; the
  feature caches are keyed by the fingerprint).

  Raises:
    ClassifierDataError: no vocabulary given, or the file does not exist.
  """
  files = {"spm_model_file": options.spm_model_file, "vocab_file": options.vocab_file}
  return run_identity.vocabulary_entry(
      **files, do_lower_case=options.do_lower_case,
      fingerprint=classifier_data.vocab_fingerprint(**files, do_lower_case=options.do_lower_case))


def trained_checkpoint(options: FineTuningOptions) -> str:
  """model.ckpt-best of output_dir, else its newest checkpoint, else a fine-tuned
  --init_checkpoint.

  Raises:
    NoTrainedCheckpointError: none of them exists.
  """
  best = os.path.join(options.output_dir, checkpoints.BEST_CHECKPOINT_NAME)
  if tf.io.gfile.exists(best + ".index"):
    return best
  latest = tf.train.latest_checkpoint(options.output_dir)
  if latest:
    logging.info("No %s in %s (run --do_eval to pick the best): using %s.",
                 checkpoints.BEST_CHECKPOINT_NAME, options.output_dir, latest)
    return latest
  if options.init_checkpoint:
    return options.init_checkpoint
  raise NoTrainedCheckpointError(
      f"no fine-tuned checkpoint in --output_dir={options.output_dir} (model.ckpt-best or "
      "model.ckpt-<step>): train first (--do_train), or pass --init_checkpoint=<a fine-tuned "
      "checkpoint>")


def check_trained_checkpoint(options: FineTuningOptions, export_dir: Optional[str] = None) -> None:
  """Fails before any data is read when the run predicts or exports (`export_dir`) without
  training and finds no fine-tuned checkpoint.

  Raises:
    NoTrainedCheckpointError: as `trained_checkpoint`.
  """
  if (options.do_predict or export_dir) and not options.do_train:
    trained_checkpoint(options)


def restore_trained(training_run: run_loop.TrainingRun, options: FineTuningOptions) -> str:
  """Loads trained_checkpoint(options) into the run's model; returns its prefix."""
  path = trained_checkpoint(options)
  if path == options.init_checkpoint:
    training_run.task.load_fine_tuned(training_run.model, path)
  else:
    training_run.checkpoints.checkpoint.restore(path).expect_partial()
  return path


def predict_with_trained(training_run: run_loop.TrainingRun, options: FineTuningOptions,
                         num_records: int, what: str) -> tuple[str, dict]:
  """Restores the trained checkpoint and runs the model over the predict split once.

  Args:
    training_run: the run.
    options: its options (output_dir, init_checkpoint, predict_batch_size).
    num_records: the records of the predict split (SQuAD: windows).
    what: what the log line says is predicted, e.g. "12 test examples".

  Returns:
    (the checkpoint's prefix, the collected eval outputs of every batch).
  """
  path = restore_trained(training_run, options)
  logging.info("Predicting %s with %s.", what, path)
  batch_size = options.predict_batch_size
  collected = training_run.trainer.predict(training_run.iterator("predict", batch_size),
                                           math.ceil(num_records / batch_size))
  return path, collected
