r"""ALBERT pretraining (MLM + SOP) on tf.distribute: TPU, GPUs, several workers or the CPU.

Every flag of the original run_pretraining.py keeps its name and default; the TPUEstimator-era flags
map onto the new ones (see docs/training.md). Restarting the same command resumes from the newest
checkpoint in --output_dir, data position included.

  python -m albert_tf.run_pretraining --albert_config_file=configs/albert_base_v2.json \
    --input_file='records/train-*' --output_dir=runs/base --train_batch_size=4096 \
    --num_train_steps=125000 --distribution_strategy=tpu --tpu=my-tpu
"""

import os
import sys

from absl import app
from absl import flags

from albert_tf import run_flags

FLAGS = flags.FLAGS

# The original flags (reference §2.2), same names and defaults.
flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the model to train.")
flags.DEFINE_string("input_file", None, "TFRecord files: a glob or a comma-separated list of globs. "
                    "Used for training and evaluation, like the original.")
flags.DEFINE_string("output_dir", None, "Checkpoints, eval_results.txt, TensorBoard events and "
                    "albert_config.json go here; a rerun resumes from here.")
flags.DEFINE_string("init_checkpoint", None, "Warm start from an original TF1 checkpoint or an "
                    "albert-tf one (ignored when --output_dir already has a checkpoint).")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length; must match the records.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per record; must match the "
                     "records.")
flags.DEFINE_bool("do_train", True, "Whether to train.")
flags.DEFINE_bool("do_eval", False, "Whether to evaluate: after each checkpoint when training, "
                  "else every checkpoint of --output_dir as it appears.")
flags.DEFINE_integer("train_batch_size", 4096, "Global training batch (all replicas).")
flags.DEFINE_integer("eval_batch_size", 64, "Global evaluation batch.")
flags.DEFINE_enum("optimizer", "lamb", ["adamw", "lamb"], "The optimizer.")
flags.DEFINE_float("learning_rate", 0.00176, "Peak learning rate.")
flags.DEFINE_float("poly_power", 1.0, "Power of the polynomial decay.")
flags.DEFINE_integer("num_train_steps", 125000, "Training steps.")
flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
flags.DEFINE_integer("start_warmup_step", 0, "Step at which the warmup starts.")
flags.DEFINE_integer("save_checkpoints_steps", 5000, "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("init_from_group0", False, "Initialise every layer group from group_0 of "
                  "--init_checkpoint.")
flags.DEFINE_integer("masked_lm_budget", 0, "Must be 0: on-the-fly masking is not implemented (it "
                     "was not implemented in the original either).")

run_flags.define_runtime_flags()


UserError = run_flags.UserError


def _check_flags() -> None:
  """Validates the pretraining flags (the shared ones are checked by run_flags.resolve_runtime)."""
  if FLAGS.masked_lm_budget > 0:
    raise UserError("--masked_lm_budget > 0 (on-the-fly masking) is not supported: it was not "
                    "implemented in the original either; generate masked records with "
                    "create_pretraining_data and leave --masked_lm_budget=0.")
  for name in ("albert_config_file", "input_file", "output_dir"):
    if not FLAGS[name].value:
      raise UserError(f"--{name} is required.")
  if not (FLAGS.do_train or FLAGS.do_eval):
    raise UserError("At least one of --do_train or --do_eval must be true.")
  run_flags.check_positive("train_batch_size", "eval_batch_size", "num_train_steps",
                           "save_checkpoints_steps", "keep_checkpoint_max", "max_eval_steps",
                           "max_seq_length", "max_predictions_per_seq")


def main(argv):
  del argv  # Unused.
  try:
    _check_flags()
    _run(run_flags.resolve_runtime())
  except _user_errors() as error:
    sys.exit(f"albert-run-pretraining: error: {error}")


def _user_errors() -> tuple:
  # Imported late: TensorFlow must not initialise before --num_cpu_devices is applied.
  from albert_tf import checkpoints  # pylint: disable=g-import-not-at-top
  from albert_tf import config  # pylint: disable=g-import-not-at-top
  from albert_tf.training import input_pipeline  # pylint: disable=g-import-not-at-top
  from albert_tf.training import pretraining_run  # pylint: disable=g-import-not-at-top
  from albert_tf.training import strategy  # pylint: disable=g-import-not-at-top
  from albert_tf.training import trainer  # pylint: disable=g-import-not-at-top
  return (UserError, config.AlbertConfigError, input_pipeline.InputDataError,
          strategy.StrategyError, checkpoints.CheckpointNotFoundError,
          checkpoints.CheckpointMismatchError, trainer.NonFiniteLossError,
          pretraining_run.EvalTimeoutError, FileNotFoundError)


def _run(runtime: dict) -> None:
  """Builds everything from the flags and trains and/or evaluates."""
  strategy = run_flags.build_strategy(runtime, "train_batch_size", "eval_batch_size")
  from albert_tf.training import pretraining_run  # pylint: disable=g-import-not-at-top
  options = pretraining_run.RunOptions(
      albert_config_file=FLAGS.albert_config_file, input_file=FLAGS.input_file,
      output_dir=FLAGS.output_dir, init_checkpoint=FLAGS.init_checkpoint,
      init_from_group0=FLAGS.init_from_group0, max_seq_length=FLAGS.max_seq_length,
      max_predictions_per_seq=FLAGS.max_predictions_per_seq, do_train=FLAGS.do_train,
      do_eval=FLAGS.do_eval, train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size, optimizer=FLAGS.optimizer,
      learning_rate=FLAGS.learning_rate, poly_power=FLAGS.poly_power,
      num_train_steps=FLAGS.num_train_steps, num_warmup_steps=FLAGS.num_warmup_steps,
      start_warmup_step=FLAGS.start_warmup_step,
      save_checkpoints_steps=FLAGS.save_checkpoints_steps,
      keep_checkpoint_max=FLAGS.keep_checkpoint_max, max_eval_steps=FLAGS.max_eval_steps,
      **run_flags.loop_options(runtime))
  pretraining_run.run(options, strategy)


def run():
  """Console-script entry point (albert-run-pretraining)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  app.run(main)


if __name__ == "__main__":
  run()
