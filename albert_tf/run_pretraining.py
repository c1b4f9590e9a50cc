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
from absl import logging

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
flags.DEFINE_integer("iterations_per_loop", 1000, "Alias of --steps_per_loop (the TPUEstimator name).")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("use_tpu", False, "Alias: --distribution_strategy=tpu.")
flags.DEFINE_bool("init_from_group0", False, "Initialise every layer group from group_0 of "
                  "--init_checkpoint.")
flags.DEFINE_string("tpu_name", None, "Alias of --tpu.")
flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU (when --tpu is a name).")
flags.DEFINE_string("gcp_project", None, "GCP project of the TPU (when --tpu is a name).")
flags.DEFINE_string("master", None, "Alias of --tpu (a grpc:// address).")
flags.DEFINE_integer("num_tpu_cores", 8, "Accepted for compatibility: the TPU strategy uses every "
                     "core of the TPU it connects to.")
flags.DEFINE_integer("masked_lm_budget", 0, "Must be 0: on-the-fly masking is not implemented (it "
                     "was not implemented in the original either).")

# New flags.
flags.DEFINE_enum("distribution_strategy", "auto", ["auto", "tpu", "mirrored", "multi_worker_mirrored",
                                                     "one_device"],
                  "auto: TPU when --tpu or a TPU environment is present, multi-worker when TF_CONFIG "
                  "names several workers, else all visible GPUs, else the CPU.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all visible).")
flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices (to try "
                     "mirrored training without accelerators).")
flags.DEFINE_enum("mixed_precision", "none", ["none", "bfloat16", "float16"],
                  "Compute dtype; variables, logits and losses stay float32. float16 uses dynamic "
                  "loss scaling.")
flags.DEFINE_integer("steps_per_loop", None, "Steps run inside one tf.function call (default: "
                     "--iterations_per_loop).")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA (what TPUs do anyway).")
flags.DEFINE_integer("log_steps", 100, "Steps between progress lines and TensorBoard summaries.")
flags.DEFINE_integer("seed", None, "Seed of the initialisation, dropout and data order (data order "
                     "uses 0 when unset).")
flags.DEFINE_enum("gradient_clipping", "per_replica", ["per_replica", "global"],
                  "per_replica: clip each replica's gradient at 1.0 then average (the original on "
                  "TPU); global: clip the global-batch gradient (the original on one device).")
flags.DEFINE_bool("bias_correction", False, "Correct Adam's moments for their zero start (the "
                  "original does not).")
flags.DEFINE_bool("checkpoint_input_pipeline", True, "Save each worker's data position with the "
                  "checkpoints so a resumed run continues the data stream; when false the input "
                  "goes through distribute_datasets_from_function and restarts its shuffle.")
flags.DEFINE_integer("eval_timeout_secs", 3600, "With --do_eval and no --do_train: fail (exit 1) "
                     "when no new checkpoint appears in --output_dir for this many seconds.")


class UserError(ValueError):
  """A flag or input problem the user can fix; printed as one line."""


def _resolve_aliases() -> dict:
  """Maps the original's TPUEstimator flags onto the new ones and validates flag values."""
  if FLAGS.masked_lm_budget > 0:
    raise UserError("--masked_lm_budget > 0 (on-the-fly masking) is not supported: it was not "
                    "implemented in the original either; generate masked records with "
                    "create_pretraining_data and leave --masked_lm_budget=0.")
  for name in ("albert_config_file", "input_file", "output_dir"):
    if not FLAGS[name].value:
      raise UserError(f"--{name} is required.")
  if not (FLAGS.do_train or FLAGS.do_eval):
    raise UserError("At least one of --do_train or --do_eval must be true.")
  for name in ("train_batch_size", "eval_batch_size", "num_train_steps", "save_checkpoints_steps",
               "keep_checkpoint_max", "max_eval_steps", "log_steps", "num_cpu_devices",
               "max_seq_length", "max_predictions_per_seq"):
    if FLAGS[name].value < 1:
      raise UserError(f"--{name}={FLAGS[name].value} must be a positive integer.")
  steps_per_loop = FLAGS.steps_per_loop or FLAGS.iterations_per_loop
  if steps_per_loop < 1:
    raise UserError(f"--steps_per_loop={steps_per_loop} must be a positive integer.")
  tpu = FLAGS.tpu or FLAGS.tpu_name or FLAGS.master
  strategy = FLAGS.distribution_strategy
  if FLAGS.use_tpu:
    if strategy not in ("auto", "tpu"):
      raise UserError(f"--use_tpu contradicts --distribution_strategy={strategy}.")
    strategy = "tpu"
  return {"tpu": tpu, "distribution_strategy": strategy, "steps_per_loop": steps_per_loop}


def _check_divisible(batch_flag: str, batch_size: int, num_replicas: int) -> None:
  if batch_size % num_replicas:
    raise UserError(f"--{batch_flag}={batch_size} is not divisible by the {num_replicas} replicas: "
                    f"use a multiple of {num_replicas}.")


def main(argv):
  del argv  # Unused.
  try:
    _run(**_resolve_aliases())
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


def _run(tpu, distribution_strategy, steps_per_loop):
  """Builds everything from the flags and trains and/or evaluates."""
  from albert_tf.training import pretraining_run  # pylint: disable=g-import-not-at-top
  from albert_tf.training import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  strategy_lib.split_cpu(FLAGS.num_cpu_devices)
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
      steps_per_loop=steps_per_loop, log_steps=FLAGS.log_steps, jit_compile=FLAGS.jit_compile,
      mixed_precision=FLAGS.mixed_precision, seed=FLAGS.seed,
      gradient_clipping=FLAGS.gradient_clipping, bias_correction=FLAGS.bias_correction,
      checkpoint_input_pipeline=FLAGS.checkpoint_input_pipeline,
      eval_timeout_secs=FLAGS.eval_timeout_secs)
  strategy = strategy_lib.build_strategy(distribution_strategy, tpu=tpu, num_gpus=FLAGS.num_gpus,
                                         tpu_zone=FLAGS.tpu_zone, gcp_project=FLAGS.gcp_project)
  for batch_flag in ("train_batch_size", "eval_batch_size"):
    _check_divisible(batch_flag, FLAGS[batch_flag].value, strategy.num_replicas_in_sync)
  pretraining_run.run(options, strategy)


def run():
  """Console-script entry point (albert-run-pretraining)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  app.run(main)


if __name__ == "__main__":
  run()
