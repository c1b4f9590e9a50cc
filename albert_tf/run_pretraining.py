r"""ALBERT pretraining (MLM + SOP) on tf.distribute: TPU, GPUs, several workers or the CPU.

Every flag of the original run_pretraining.py keeps its name and default; the TPUEstimator-era flags
map onto the new ones (see docs/training.md). Restarting the same command resumes from the newest
checkpoint in --output_dir, data position included.

  python -m albert_tf.run_pretraining --albert_config_file=configs/albert_base_v2.json \
    --input_file='records/train-*' --output_dir=runs/base --train_batch_size=4096 \
    --num_train_steps=125000 --distribution_strategy=tpu --tpu=my-tpu
"""

from absl import flags

from albert_tf import run_flags
from albert_tf.training import options

FLAGS = flags.FLAGS

_ERROR_PREFIX = "albert-run-pretraining: error: "
_DEFAULT = options.defaults(options.RunOptions)

# The original flags (reference §2.2), same names, types and defaults.
flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the model to train.")
flags.DEFINE_string(
    "input_file", None, "TFRecord files: a glob or a comma-separated list of "
    "globs. Used for training and evaluation, like the original.")
flags.DEFINE_string(
    "output_dir", None, "Checkpoints, eval_results.txt, TensorBoard events and "
    "albert_config.json go here; a rerun resumes from here.")
flags.DEFINE_string(
    "init_checkpoint", _DEFAULT["init_checkpoint"], "Warm start from an original "
    "TF1 checkpoint or an albert-tf one (ignored when --output_dir already has a "
    "checkpoint).")
flags.DEFINE_integer("max_seq_length", _DEFAULT["max_seq_length"], "Sequence length; must match "
                     "the records.", lower_bound=1)
flags.DEFINE_integer("max_predictions_per_seq", _DEFAULT["max_predictions_per_seq"], "Masked "
                     "positions per record; must match the records.", lower_bound=1)
flags.DEFINE_bool("do_train", _DEFAULT["do_train"], "Whether to train.")
flags.DEFINE_bool(
    "do_eval", _DEFAULT["do_eval"], "Whether to evaluate: after each checkpoint when "
    "training, else every checkpoint of --output_dir as it appears.")
flags.DEFINE_integer("train_batch_size", _DEFAULT["train_batch_size"], "Global training batch (all "
                     "replicas).", lower_bound=1)
flags.DEFINE_integer("eval_batch_size", _DEFAULT["eval_batch_size"], "Global evaluation batch.",
                     lower_bound=1)
flags.DEFINE_enum("optimizer", _DEFAULT["optimizer"], ["adamw", "lamb"], "The optimizer.")
flags.DEFINE_float("learning_rate", _DEFAULT["learning_rate"], "Peak learning rate.")
flags.DEFINE_float("poly_power", _DEFAULT["poly_power"], "Power of the polynomial decay.",
                   lower_bound=0)
flags.DEFINE_integer("num_train_steps", _DEFAULT["num_train_steps"], "Training steps.",
                     lower_bound=1)
flags.DEFINE_integer("num_warmup_steps", _DEFAULT["num_warmup_steps"], "Linear warmup steps.",
                     lower_bound=0)
flags.DEFINE_integer("start_warmup_step", _DEFAULT["start_warmup_step"], "Step at which the warmup "
                     "starts.", lower_bound=0)
flags.DEFINE_integer("save_checkpoints_steps", _DEFAULT["save_checkpoints_steps"], "Steps between "
                     "checkpoints.", lower_bound=1)
flags.DEFINE_integer("keep_checkpoint_max", _DEFAULT["keep_checkpoint_max"], "Checkpoints kept.",
                     lower_bound=1)
flags.DEFINE_integer("max_eval_steps", _DEFAULT["max_eval_steps"], "Evaluation batches.",
                     lower_bound=1)
flags.DEFINE_bool("init_from_group0", _DEFAULT["init_from_group0"], "Initialise every layer group "
                  "from group_0 of --init_checkpoint.")
flags.DEFINE_float(
    "masked_lm_budget", _DEFAULT["masked_lm_budget"], "If > 0, mask on the fly as "
    "--dynamic_masking does, predicting this fraction of each sequence's tokens (the data tool's "
    "masked_lm_prob; the original reserved the flag and never implemented it).", lower_bound=0,
    upper_bound=1)
# New flag.
flags.DEFINE_bool(
    "dynamic_masking", _DEFAULT["dynamic_masking"], "The records are unmasked "
    "(create_pretraining_data --dynamic_masking): mask each example anew every time it is read, "
    "with the masking settings of the stats file next to the records.")

run_flags.define_runtime_flags()

flags.mark_flags_as_required(["albert_config_file", "input_file", "output_dir"])
run_flags.register_one_of(["do_train", "do_eval"], "at least one of --do_train or --do_eval must "
                          "be true.")
run_flags.register_positive("learning_rate")
run_flags.register_finite("poly_power")
run_flags.register_finite("masked_lm_budget")


def main(argv):
  del argv  # Unused.
  run_flags.exit_on_user_error(lambda: _run(run_flags.resolve_runtime()), _ERROR_PREFIX,
                               _user_errors)


def _user_errors() -> tuple:
  from albert_tf.training import input_pipeline  # pylint: disable=g-import-not-at-top
  return run_flags.training_user_errors() + (input_pipeline.InputDataError,)


def _run(runtime: dict) -> None:
  """Builds everything from the flags and trains and/or evaluates."""
  strategy = run_flags.build_strategy(runtime, "train_batch_size", "eval_batch_size")
  from albert_tf.training import pretraining_run  # pylint: disable=g-import-not-at-top
  pretraining_run.run(run_flags.build_options(options.RunOptions, runtime), strategy)


def run():
  """Console-script entry point (albert-run-pretraining)."""
  run_flags.run_command(main, _ERROR_PREFIX)


if __name__ == "__main__":
  run()
