"""One pretraining run: the pretraining task on the one training loop (albert_tf.training.run_loop).

`run(options, strategy)` is what `albert_tf.run_pretraining` calls after parsing flags; tests call
it directly. Outputs in `output_dir` (docs/architecture.md): albert_config.json,
model.ckpt-<step>.*, model.ckpt-best.*, eval_results.txt, TensorBoard events under train/ and eval/.
"""

import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.tasks import pretraining
from albert_tf.training import input_pipeline
from albert_tf.training import run_loop
from albert_tf.training.options import RunOptions

EvalTimeoutError = run_loop.EvalTimeoutError


def build_task(options: RunOptions) -> pretraining.PretrainingTask:
  """The PretrainingTask of `options`, its input files resolved and their record lengths checked."""
  files = input_pipeline.resolve_input_files(options.input_file)
  input_pipeline.check_record_lengths(files, options.max_seq_length,
                                      options.max_predictions_per_seq)
  return pretraining.PretrainingTask(AlbertConfig.from_json_file(options.albert_config_file), files,
                                     max_seq_length=options.max_seq_length,
                                     max_predictions_per_seq=options.max_predictions_per_seq,
                                     max_eval_steps=options.max_eval_steps,
                                     seed=0 if options.seed is None else options.seed,
                                     init_from_group0=options.init_from_group0)


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
  run_loop.run(build_task(options), options, strategy)
