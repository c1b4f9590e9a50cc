"""One run_squad_v1 / run_squad_v2 run: SQuAD JSON -> cached features -> the SQuAD task on the one
training loop (every checkpoint evaluated, the best by f1 kept as model.ckpt-best) -> predictions
and EM/F1 of the best checkpoint -> a question-answering SavedModel.

`run(options, strategy)` is what `albert_tf.run_squad_v1` / `run_squad_v2` call after parsing
flags; tests call it directly. Outputs in `output_dir` (docs/finetuning.md, "SQuAD"):
albert_config.json, model.ckpt-<step>.*, model.ckpt-best.*, eval_results.txt, best_trial.txt,
predictions.json, nbest_predictions.json, null_odds.json (v2), TensorBoard events; the feature
cache in `cached_dir` (default: output_dir) unless --train_feature_file / --predict_feature_file /
--predict_feature_left_file name its files.

Deviations from the original (deliberate): --do_predict alone evaluates one checkpoint (the run's
model.ckpt-best, else its newest, else a fine-tuned --init_checkpoint) and returns; the original
v1 crashes there (global_step < None) and v2 needs --train_file even to predict, and both wait
forever for new checkpoints.
"""

import dataclasses

from absl import logging
import tensorflow as tf

from albert_tf import precision
from albert_tf.models import hub_encoder
from albert_tf.tasks import squad
from albert_tf.tasks import squad_data
from albert_tf.tasks import squad_postprocess
from albert_tf.training import evaluation
from albert_tf.training import fine_tuning
from albert_tf.training import run_identity
from albert_tf.training import run_loop
from albert_tf.training.options import SquadOptions


class SquadRunError(ValueError):
  """A flag combination or input that a SQuAD run cannot use."""


# What the command lines print as one line (besides the errors every run shares).
USER_ERRORS = (SquadRunError, squad_data.SquadDataError, fine_tuning.NoTrainedCheckpointError,
               run_loop.EvalTimeoutError)


def _check_files(options: SquadOptions) -> None:
  """The flag combinations the original refuses, checked before anything is read."""
  if options.do_train and not options.train_file:
    raise SquadRunError("--do_train needs --train_file=<SQuAD JSON to train on>")
  if options.do_predict and not options.predict_file:
    raise SquadRunError("--do_predict needs --predict_file=<SQuAD JSON to predict, e.g. "
                        "dev-v1.1.json>")
  if options.spm_model_file and options.vocab_file:
    raise SquadRunError("both --spm_model_file and --vocab_file are given: pass "
                        "--spm_model_file (SentencePiece, English) or --vocab_file (WordPiece, "
                        "Chinese), not both")
  if not (options.spm_model_file or options.vocab_file):
    raise SquadRunError("no vocabulary: pass --spm_model_file (SentencePiece, English) or "
                        "--vocab_file (WordPiece, Chinese)")
  fine_tuning.check_starting_weights(options, SquadRunError)


def _head(options: SquadOptions) -> squad.SpanHead:
  if options.version_2_with_negative:
    return squad.SpanHeadV2(start_n_top=options.start_n_top, end_n_top=options.end_n_top,
                            dropout_rate=options.dropout_prob,
                            null_score_diff_threshold=options.null_score_diff_threshold)
  return squad.SpanHeadV1()


@dataclasses.dataclass
class _Data:
  """What build_task read: record files, the training example count, the eval examples."""
  record_files: dict
  num_train_examples: int = 0
  num_train_features: int = 0
  eval_examples: list = dataclasses.field(default_factory=list)
  eval_features: list = dataclasses.field(default_factory=list)


def _read_data(options: SquadOptions, tokenizer, fingerprint: str, cache_name: str) -> _Data:
  """Reads the SQuAD files the run uses and writes (or reuses) their cached features
  (`{cache_name}_train.tf_record`, `{cache_name}_predict.tf_record` unless the flags name them)."""
  settings = squad_data.FeatureSettings(max_seq_length=options.max_seq_length,
                                        doc_stride=options.doc_stride,
                                        max_query_length=options.max_query_length)
  cached_dir = options.cached_dir or options.output_dir
  version_2 = options.version_2_with_negative
  data = _Data(record_files={})
  if options.do_train:
    examples = squad_data.read_squad_examples(options.train_file, is_training=True,
                                              version_2_with_negative=version_2)
    data.record_files["train"], data.num_train_features = squad_data.cached_train_features(
        cached_dir, cache_name, examples, tokenizer, settings, fingerprint,
        **_explicit_files(train_record=options.train_feature_file))
    data.num_train_examples = len(examples)
    logging.info("train: %d examples, %d windows (%s).", len(examples), data.num_train_features,
                 data.record_files["train"])
  if options.do_predict:
    data.eval_examples = squad_data.read_squad_examples(options.predict_file, is_training=False,
                                                        version_2_with_negative=version_2)
    data.record_files["eval"], data.eval_features = squad_data.cached_eval_features(
        cached_dir, cache_name, data.eval_examples, tokenizer, settings, fingerprint,
        **_explicit_files(predict_record=options.predict_feature_file,
                          predict_metadata=options.predict_feature_left_file))
    logging.info("predict: %d examples, %d windows (%s).", len(data.eval_examples),
                 len(data.eval_features), data.record_files["eval"])
  return data


def _explicit_files(**paths: str | None) -> dict:
  """squad_data's keyword arguments for the feature files the flags name."""
  names = {
      "train_record": "record_file",
      "predict_record": "record_file",
      "predict_metadata": "metadata_file"
  }
  return {names[key]: path for key, path in paths.items() if path}


def build_task(options: SquadOptions) -> tuple[squad.SquadTask, int]:
  """Reads the SQuAD files, writes or reuses the feature cache and builds the task.

  Returns:
    (task, number of training examples).
  """
  config = hub_encoder.encoder_config(options.albert_config_file, options.albert_hub_module_handle)
  fine_tuning.check_max_seq_length(options, config, SquadRunError)
  tokenizer = squad_data.make_tokenizer(options.spm_model_file, options.vocab_file,
                                        options.do_lower_case)
  vocabulary = fine_tuning.vocabulary_entry(options)
  # Before the feature cache in output_dir is touched: a run of another model or vocabulary there
  # stays as it is.
  run_identity.check_run_directory(options.output_dir,
                                   run_identity.RunIdentity(config, vocabulary=vocabulary))
  head = _head(options)
  data = _read_data(options, tokenizer, vocabulary["fingerprint"],
                    cache_name=f"squad_{head.version}")
  task = squad.SquadTask(config, head, record_files=data.record_files,
                         max_seq_length=options.max_seq_length,
                         num_train_features=data.num_train_features,
                         eval_examples=data.eval_examples, eval_features=data.eval_features,
                         eval_dataset=options.predict_file, n_best_size=options.n_best_size,
                         max_answer_length=options.max_answer_length,
                         seed=0 if options.seed is None else options.seed,
                         hub_module_handle=options.albert_hub_module_handle, vocabulary=vocabulary)
  return task, data.num_train_examples


def loop_options(options: SquadOptions, num_train_examples: int) -> SquadOptions:
  """The loop's settings: steps from the epochs, evaluation of every checkpoint with --do_predict.

  As the original, num_train_steps = int(examples / train_batch_size * num_train_epochs) counts
  questions (examples), not windows, and num_warmup_steps = int(steps * warmup_proportion).
  """
  steps = options.num_train_steps
  if steps is None:
    steps = int(num_train_examples / options.train_batch_size * options.num_train_epochs)
    if options.do_train and steps < 1:
      raise SquadRunError(
          f"{num_train_examples} training examples / --train_batch_size="
          f"{options.train_batch_size} x --num_train_epochs={options.num_train_epochs} is 0 "
          "steps: raise --num_train_epochs or pass --num_train_steps")
    steps = max(steps, 1)  # an optimizer is built even when the run only predicts
  warmup = options.num_warmup_steps
  if warmup is None:
    warmup = int(steps * options.warmup_proportion)
  return dataclasses.replace(options, num_train_steps=steps, num_warmup_steps=warmup,
                             do_eval=options.do_train and options.do_predict,
                             eval_batch_size=options.predict_batch_size,
                             train_steps_flag="num_train_steps")


def _checkpoint_step(training_run: run_loop.TrainingRun, path: str) -> int:
  """The global step of the checkpoint `path` restored (an original one: its global_step)."""
  step = int(training_run.trainer.global_step.numpy())
  if step == 0:
    reader = tf.train.load_checkpoint(path)
    if reader.has_tensor("global_step"):
      step = int(reader.get_tensor("global_step"))
  return step


def predict(training_run: run_loop.TrainingRun, options: SquadOptions) -> dict[str, float]:
  """Predicts --predict_file with the best (else newest, else the given fine-tuned) checkpoint.

  Writes predictions.json, nbest_predictions.json (v2: null_odds.json) and, unless an evaluation
  of that step is already there, its EM/F1 block in eval_results.txt.

  Returns:
    The scores.
  """
  task = training_run.task
  path, collected = fine_tuning.predict_with_trained(
      training_run, options, len(task.eval_features),
      f"{len(task.eval_examples)} questions ({len(task.eval_features)} windows)")
  predictions = task.predictions(collected)
  scores = task.evaluate_predictions(predictions)
  squad_postprocess.write_prediction_files(
      options.output_dir, predictions, null_score_diff_threshold=task.head.answer_threshold(scores))
  step = _checkpoint_step(training_run, path)
  results = evaluation.EvalResults(options.output_dir, task.best_metric, task.eval_results_format)
  recorded = {
      int(block.get("global_step", -1))
      for block in evaluation.read_eval_results(options.output_dir)
  }
  if step not in recorded:
    results.append({**scores, "global_step": step})
  logging.info("Scores of %s (step %d): %s", path, step,
               evaluation.format_eval_results(scores).strip().replace("\n", ", "))
  return scores


def export(training_run: run_loop.TrainingRun, options: SquadOptions) -> str:
  """Exports the run's best (else newest) checkpoint to export_dir/<its step>: an answer_question
  SavedModel that takes question and context strings (v2: no answer when the null score is at
  least --null_score_diff_threshold, the threshold fixed in advance).

  The model exported is the one the run trained, in the run's compute dtype. A rerun replaces the
  version it exported before: the checkpoint is the truth.
  """
  from albert_tf.export import qa_exporter  # pylint: disable=g-import-not-at-top
  task = training_run.task
  path = fine_tuning.restore_trained(training_run, options)
  exported = qa_exporter.export_fine_tuned(
      training_run.model, task.config, path, export_dir=options.export_dir,
      spm_model_file=options.spm_model_file, vocab_file=options.vocab_file,
      do_lower_case=options.do_lower_case, max_seq_length=options.max_seq_length,
      doc_stride=options.doc_stride, max_query_length=options.max_query_length,
      max_answer_length=options.max_answer_length, n_best_size=options.n_best_size,
      version_2=options.version_2_with_negative,
      null_score_diff_threshold=options.null_score_diff_threshold, overwrite=True)
  logging.info("Exported the SQuAD model (%s) to %s.", path, exported)
  return exported


def run(options: SquadOptions, strategy: tf.distribute.Strategy | None = None) -> None:
  """Trains, predicts and evaluates, and exports as `options` say.

  Raises:
    SquadRunError, SquadDataError, AlbertConfigError, CheckpointMismatchError: bad inputs.
    NoTrainedCheckpointError: --do_predict or --export_dir without a fine-tuned checkpoint.
    trainer.NonFiniteLossError: as for pretraining.
  """
  _check_files(options)
  fine_tuning.check_trained_checkpoint(options, options.export_dir)
  task, num_train_examples = build_task(options)
  options = loop_options(options, num_train_examples)
  with precision.policy_scope(options.mixed_precision):
    training_run = run_loop.run(task, options, strategy)
    if options.do_predict:
      predict(training_run, options)
    if options.export_dir:
      export(training_run, options)
