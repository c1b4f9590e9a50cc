"""One run_race run: RACE files -> cached features -> the RACE task on the one training loop ->
eval_results.txt / model.ckpt-best -> test accuracy.

`run(options, strategy)` is what `albert_tf.run_race` calls after parsing flags; tests call it
directly. Outputs in `output_dir` (docs/finetuning.md): albert_config.json, label_list.txt,
model.ckpt-<step>.*, model.ckpt-best.*, eval_results.txt (eval_accuracy, eval_loss and
eval_accuracy_middle / eval_accuracy_high after each checkpoint), best_trial.txt, and with
--do_predict predict_results.txt (the same metrics on the test split, as the original writes them)
plus test_results.tsv / submit_results.tsv (each question's option probabilities and answer).
The feature cache is in `cached_dir` (default: output_dir) unless --train_file, --eval_file or
--predict_file name the record files.
"""

import os

from absl import logging
import tensorflow as tf

from albert_tf import precision
from albert_tf import tokenization
from albert_tf.file_io import write_text_atomically
from albert_tf.models import hub_encoder
from albert_tf.tasks import classifier_outputs
from albert_tf.tasks import race
from albert_tf.tasks import race_data
from albert_tf.training import evaluation
from albert_tf.training import fine_tuning
from albert_tf.training import run_identity
from albert_tf.training import run_loop
from albert_tf.training.options import RaceOptions

PREDICT_RESULTS_FILE = "predict_results.txt"


def _check_options(options: RaceOptions, config) -> None:
  if options.task_name.lower() != "race":
    raise race_data.RaceDataError(f"--task_name={options.task_name}: run_race only knows the "
                                  "task race.")
  fine_tuning.check_starting_weights(options, race_data.RaceDataError)
  if options.max_seq_length > config.max_position_embeddings:
    raise race_data.RaceDataError(f"--max_seq_length={options.max_seq_length} exceeds the model's "
                                  f"max_position_embeddings={config.max_position_embeddings}: pass "
                                  f"--max_seq_length<={config.max_position_embeddings}")


def build_task(options: RaceOptions) -> tuple[race.RaceTask, dict]:
  """Reads the RACE files of the splits the options use, caches their features, builds the task.

  Returns:
    (task, {split: the example ids of its questions}).
  """
  config = hub_encoder.encoder_config(options.albert_config_file, options.albert_hub_module_handle)
  _check_options(options, config)
  vocabulary = fine_tuning.vocabulary_entry(options)
  tokenizer = tokenization.FullTokenizer(vocab_file=options.vocab_file,
                                         do_lower_case=options.do_lower_case,
                                         spm_model_file=options.spm_model_file)
  # Before the feature cache in output_dir is touched.
  run_identity.check_run_directory(
      options.output_dir,
      run_identity.RunIdentity(config, label_list=list(race_data.LABELS), vocabulary=vocabulary))
  settings = race_data.FeatureSettings(max_seq_length=options.max_seq_length,
                                       max_qa_length=options.max_qa_length)
  explicit = {
      "train": options.train_file,
      "eval": options.eval_file,
      "predict": options.predict_file
  }
  wanted = {"train": options.do_train, "eval": options.do_eval, "predict": options.do_predict}
  files, counts, levels, ids = {}, {}, {}, {}
  for split in (name for name, used in wanted.items() if used):
    examples = race_data.read_race_examples(options.data_dir, split,
                                            use_spm=bool(options.spm_model_file),
                                            do_lower_case=options.do_lower_case,
                                            high_only=options.high_only,
                                            middle_only=options.middle_only)
    path = explicit[split] or race_data.record_path(options.cached_dir or options.output_dir, split)
    files[split], counts[split] = race_data.cached_race_features(path, examples, tokenizer,
                                                                 settings,
                                                                 vocabulary["fingerprint"])
    levels[split] = [example.level for example in examples]
    ids[split] = [example.example_id for example in examples]
  task = race.RaceTask(config, record_files=files, num_examples=counts, levels=levels,
                       max_seq_length=options.max_seq_length, dropout_rate=options.dropout_prob,
                       seed=0 if options.seed is None else options.seed,
                       hub_module_handle=options.albert_hub_module_handle, vocabulary=vocabulary)
  return task, ids


def predict(training_run: run_loop.TrainingRun, options: RaceOptions, ids: list[str]) -> dict:
  """Scores the test split with the best checkpoint: predict_results.txt and the predictions."""
  task = training_run.task
  path, collected = fine_tuning.predict_with_trained(training_run, options, len(ids),
                                                     f"{len(ids)} test questions")
  results = race.race_metrics(collected, task.levels["predict"])
  results["global_step"] = int(training_run.trainer.global_step.numpy())
  results_file = os.path.join(options.output_dir, PREDICT_RESULTS_FILE)
  write_text_atomically(
      results_file, "***** Predict results *****\n" + evaluation.format_eval_results(results) +
      f"checkpoint = {path}\n")
  classifier_outputs.write_predictions(options.output_dir, ids, task.predictions(collected),
                                       task.label_list, is_regression=False)
  logging.info("Test accuracy %.4f: wrote %s and the predictions.", results["eval_accuracy"],
               results_file)
  return results


def run(options: RaceOptions, strategy: tf.distribute.Strategy | None = None) -> None:
  """Trains, evaluates and predicts as `options` say.

  Raises:
    RaceDataError, AlbertConfigError, CheckpointMismatchError: bad inputs.
    NoTrainedCheckpointError: --do_predict without a fine-tuned checkpoint.
    trainer.NonFiniteLossError, run_loop.EvalTimeoutError: as for every task.
  """
  fine_tuning.check_trained_checkpoint(options)
  task, ids = build_task(options)
  with precision.policy_scope(options.mixed_precision):
    training_run = run_loop.run(task, options, strategy)
    if options.do_predict:
      predict(training_run, options, ids["predict"])
