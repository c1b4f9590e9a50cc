"""One run_classifier run: data -> cached features -> the classification task on the one training
loop -> eval_results.txt / model.ckpt-best -> test predictions -> a SavedModel.

`run(options, strategy)` is what `albert_tf.run_classifier` calls after parsing flags; tests call it
directly. Outputs in `output_dir` (docs/finetuning.md): albert_config.json, label_list.txt,
model.ckpt-<step>.*, model.ckpt-best.*, eval_results.txt, best_trial.txt, test_results.tsv,
submit_results.tsv, TensorBoard events; the feature cache in `cached_dir` (default: output_dir).
"""

import math
import os

from absl import logging
import tensorflow as tf

from albert_tf import precision
from albert_tf import tokenization
from albert_tf.config import AlbertConfig
from albert_tf.models import hub_encoder
from albert_tf.tasks import classification
from albert_tf.tasks import classifier_data
from albert_tf.tasks import classifier_outputs
from albert_tf.training import fine_tuning
from albert_tf.training import run_identity
from albert_tf.training import run_loop
from albert_tf.training.options import ClassifierOptions

# Our split names -> the processors' ("eval" is the dev set, "predict" the test set).
_DATA_SPLITS = {"train": "train", "eval": "dev", "predict": "test"}

# The command line (run_flags) reports it as one line; its home is fine_tuning.


def _check_options(options: ClassifierOptions, config: AlbertConfig) -> None:
  fine_tuning.check_starting_weights(options, classifier_data.ClassifierDataError)
  if not (options.spm_model_file or options.vocab_file):
    raise classifier_data.ClassifierDataError(
        "no vocabulary: pass --spm_model_file (SentencePiece, English) or --vocab_file "
        "(WordPiece, Chinese)")
  fine_tuning.check_max_seq_length(options, config, classifier_data.ClassifierDataError)


def _labels(processor: classifier_data.ClassifierProcessor, options: ClassifierOptions) -> list:
  """The label list; a run directory's label_list.txt wins, so eval and predict use its ids."""
  if processor.is_regression:
    return []
  saved = os.path.join(options.output_dir, classification.LABEL_LIST_FILE)
  if tf.io.gfile.exists(saved) and not options.do_train:
    return classifier_data.read_label_list(saved)
  return processor.get_labels(options.data_dir)


def build_task(options: ClassifierOptions) -> tuple[classification.ClassificationTask, dict]:
  """Reads the task's files, writes or reuses the feature cache and builds the task.

  Returns:
    (task, {split: guids of its real examples}) for the splits the options use.
  """
  config = hub_encoder.encoder_config(options.albert_config_file, options.albert_hub_module_handle)
  _check_options(options, config)
  processor = classifier_data.get_processor(options.task_name, use_spm=bool(options.spm_model_file),
                                            do_lower_case=options.do_lower_case,
                                            generic=options.generic)
  tokenizer = tokenization.FullTokenizer(vocab_file=options.vocab_file,
                                         do_lower_case=options.do_lower_case,
                                         spm_model_file=options.spm_model_file)
  vocabulary = fine_tuning.vocabulary_entry(options)
  labels = _labels(processor, options)
  # Before the feature cache in output_dir is touched: a run of another model, labels or
  # vocabulary there stays as it is.
  run_identity.check_run_directory(
      options.output_dir,
      run_identity.RunIdentity(config, label_list=None if processor.is_regression else labels,
                               vocabulary=vocabulary))
  wanted = {"train": options.do_train, "eval": options.do_eval, "predict": options.do_predict}
  files, counts, guids = {}, {}, {}
  for split in (name for name, used in wanted.items() if used):
    examples = processor.get_examples(options.data_dir, _DATA_SPLITS[split])
    files[split], counts[split] = classifier_data.cached_features(
        cached_dir=options.cached_dir or options.output_dir, task_name=processor.name,
        split=_DATA_SPLITS[split], examples=examples, label_list=labels,
        max_seq_length=options.max_seq_length, tokenizer=tokenizer,
        vocab_fingerprint=vocabulary["fingerprint"], is_regression=processor.is_regression)
    guids[split] = [example.guid for example in examples]
    logging.info("%s: %d examples (%s).", split, counts[split], files[split])
  task = classification.ClassificationTask(
      config, task_name=processor.name, label_list=labels, is_regression=processor.is_regression,
      record_files=files, num_examples=counts, max_seq_length=options.max_seq_length,
      seed=0 if options.seed is None else options.seed,
      hub_module_handle=options.albert_hub_module_handle, vocabulary=vocabulary)
  return task, guids


def predict(training_run: run_loop.TrainingRun, options: ClassifierOptions,
            guids: list[str]) -> None:
  """Writes test_results.tsv and submit_results.tsv for the test split."""
  task = training_run.task
  _, collected = fine_tuning.predict_with_trained(training_run, options, len(guids),
                                                  f"{len(guids)} test examples")
  test_file, submit_file = classifier_outputs.write_predictions(options.output_dir, guids,
                                                                task.predictions(collected),
                                                                task.label_list, task.is_regression)
  logging.info("Wrote %s and %s.", test_file, submit_file)


def export(training_run: run_loop.TrainingRun, options: ClassifierOptions) -> str:
  """Exports the run's best (else newest) checkpoint to export_dir/<its step>.

  The model exported is the one the run trained (a TF-Hub encoder included), in the run's
  compute dtype. A rerun replaces the version it exported before: the checkpoint is the truth.
  """
  from albert_tf.export import classifier_exporter  # pylint: disable=g-import-not-at-top
  task = training_run.task
  path = fine_tuning.restore_trained(training_run, options)
  threshold = None if math.isnan(options.threshold_to_export) else options.threshold_to_export
  exported = classifier_exporter.export_fine_tuned(
      training_run.model, task.config, path, export_dir=options.export_dir,
      spm_model_file=options.spm_model_file, vocab_file=options.vocab_file,
      do_lower_case=options.do_lower_case, max_seq_length=options.max_seq_length,
      labels=task.label_list, is_regression=task.is_regression, threshold=threshold, version=None,
      overwrite=True)
  logging.info("Exported the classifier (%s) to %s.", path, exported)
  return exported


def run(options: ClassifierOptions, strategy: tf.distribute.Strategy | None = None) -> None:
  """Trains, evaluates, predicts and exports as `options` say.

  Raises:
    ClassifierDataError, AlbertConfigError, CheckpointMismatchError: bad inputs.
    NoTrainedCheckpointError: --do_predict or --export_dir without a fine-tuned checkpoint.
    trainer.NonFiniteLossError, run_loop.EvalTimeoutError: as for pretraining.
  """
  fine_tuning.check_trained_checkpoint(options, options.export_dir)
  task, guids = build_task(options)
  with precision.policy_scope(options.mixed_precision):
    training_run = run_loop.run(task, options, strategy)
    if options.do_predict:
      predict(training_run, options, guids["predict"])
    if options.export_dir:
      export(training_run, options)
