"""One pretraining run: the pretraining task on the one training loop (albert_tf.training.run_loop).

`run(options, strategy)` is what `albert_tf.run_pretraining` calls after parsing flags; tests call
it directly. Outputs in `output_dir` (docs/architecture.md): albert_config.json,
model.ckpt-<step>.*, model.ckpt-best.*, eval_results.txt, TensorBoard events under train/ and eval/.
"""

import dataclasses

from absl import logging
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.tasks import pretraining
from albert_tf.training import dynamic_masking
from albert_tf.training import input_pipeline
from albert_tf.training import record_validation
from albert_tf.training import run_loop
from albert_tf.training.options import RunOptions

EvalTimeoutError = run_loop.EvalTimeoutError


def build_task(options: RunOptions) -> pretraining.PretrainingTask:
  """The PretrainingTask of `options`, its input files resolved and their record lengths checked.

  With --dynamic_masking (or --masked_lm_budget > 0) the records must be unmasked ones and the
  masking settings come from the stats file next to them; --masked_lm_budget replaces their
  masked_lm_prob.
  """
  files = input_pipeline.resolve_input_files(options.input_file)
  dynamic = options.dynamic_masking or options.masked_lm_budget > 0
  input_pipeline.check_record_lengths(files, options.max_seq_length,
                                      options.max_predictions_per_seq, dynamic_masking=dynamic)
  config = AlbertConfig.from_json_file(options.albert_config_file)
  # Every file of the glob, by sample: a stray non-record file, a schema or id out of range.
  record_validation.validate_record_files(files, max_seq_length=options.max_seq_length,
                                          max_predictions_per_seq=options.max_predictions_per_seq,
                                          vocab_size=config.vocab_size, dynamic_masking=dynamic)
  masking = None
  if dynamic:
    try:
      masking, stats_path = dynamic_masking.records_masking(files)
    except dynamic_masking.MaskingSettingsError as error:
      raise input_pipeline.InputDataError(str(error) + ".") from None
    input_pipeline.check_masking_settings(masking, options.max_predictions_per_seq, stats_path)
    if options.masked_lm_budget > 0:
      masking = dataclasses.replace(masking, masked_lm_prob=options.masked_lm_budget)
    logging.info("Dynamic masking with %s (from %s)", masking, stats_path)
  return pretraining.PretrainingTask(config, files, max_seq_length=options.max_seq_length,
                                     max_predictions_per_seq=options.max_predictions_per_seq,
                                     max_eval_steps=options.max_eval_steps,
                                     seed=0 if options.seed is None else options.seed,
                                     init_from_group0=options.init_from_group0, masking=masking)


def run(options: RunOptions, strategy: tf.distribute.Strategy | None = None) -> None:
  """Trains and/or evaluates as `options` say.

  Args:
    options: the run's settings.
    strategy: the distribution strategy (default: strategy.build_strategy("auto")).

  Raises:
    input_pipeline.InputDataError, AlbertConfigError, CheckpointMismatchError: bad inputs.
    trainer.NonFiniteLossError: the loss became NaN/Inf (nothing was saved for that loop).
    EvalTimeoutError: --do_eval alone found no new checkpoint for eval_timeout_secs.
  """
  if not options.albert_config_file or not options.input_file:
    raise ValueError("RunOptions needs albert_config_file and input_file")
  task = build_task(options)
  try:
    run_loop.run(task, options, strategy)
  except tf.errors.DataLossError as error:  # a record file broken past the records sampled
    raise input_pipeline.InputDataError(
        record_validation.describe_data_loss(error, task.input_files)) from None
