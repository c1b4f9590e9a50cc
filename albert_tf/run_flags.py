"""Flags that every training entry point shares: the original TPUEstimator flags and the runtime
flags albert-tf adds (strategy, mixed precision, XLA, seed, clipping, data position).

`define_runtime_flags()` is called once by each entry point at import (run_pretraining,
run_classifier, ...), `define_finetuning_flags()` by the fine-tuning ones; `resolve_runtime()` maps
the original TPUEstimator flags onto the new ones, `build_strategy()` builds the strategy they name
and `build_options()` the run's options. Flag defaults come from the options dataclasses
(albert_tf.training.options); flag checks are absl bounds and validators, run when the flags are
parsed. The float checks (`register_finite`, `register_positive`, `register_dropout`) are every
command line's, the data tools' included: each float flag refuses NaN and inf, which absl's parser
reads and its bounds let through.
"""

import dataclasses
import math
import os
import sys
from typing import Any, Callable, TypeVar

from absl import flags

from albert_tf import command_line
from albert_tf.training import options as options_lib

FLAGS = flags.FLAGS

_Options = TypeVar("_Options", bound=options_lib.LoopOptions)

# The largest --seed: NumPy's and Keras' seeds are unsigned 32-bit integers.
MAX_SEED = 2**32 - 1


class UserError(ValueError):
  """A flag or input problem the user can fix; printed as one line."""


def define_runtime_flags() -> None:
  """Defines the shared flags on absl's global FLAGS, with their validators."""
  default = options_lib.defaults(options_lib.LoopOptions)
  # The original's TPUEstimator flags (reference §2.2, finetuning.md §1), same names and defaults.
  flags.DEFINE_integer("iterations_per_loop", default["steps_per_loop"],
                       "Alias of --steps_per_loop (the TPUEstimator name).", lower_bound=1)
  flags.DEFINE_bool("use_tpu", False, "Alias: --distribution_strategy=tpu.")
  flags.DEFINE_string("tpu_name", None, "Alias of --tpu.")
  flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU (when --tpu is a name).")
  flags.DEFINE_string("gcp_project", None, "GCP project of the TPU (when --tpu is a name).")
  flags.DEFINE_string("master", None, "Alias of --tpu (a grpc:// address).")
  flags.DEFINE_integer(
      "num_tpu_cores", 8, "Accepted for compatibility: the TPU strategy uses "
      "every core of the TPU it connects to.", lower_bound=1)
  # New flags.
  flags.DEFINE_enum(
      "distribution_strategy", "auto",
      ["auto", "tpu", "mirrored", "multi_worker_mirrored", "one_device"],
      "auto: TPU when --tpu or a TPU environment is present, multi-worker when "
      "TF_CONFIG names several workers, else all visible GPUs, else the CPU.")
  flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
  flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all visible).", lower_bound=0)
  flags.DEFINE_integer(
      "num_cpu_devices", 1, "Split the CPU into this many logical devices (to "
      "try mirrored training without accelerators).", lower_bound=1)
  flags.DEFINE_enum(
      "mixed_precision", default["mixed_precision"], ["none", "bfloat16", "float16"],
      "Compute dtype; variables, logits and losses stay float32. float16 uses "
      "dynamic loss scaling.")
  flags.DEFINE_integer("steps_per_loop", None, "Steps run inside one tf.function call (default: "
                       "--iterations_per_loop).", lower_bound=1)
  flags.DEFINE_bool("jit_compile", default["jit_compile"], "Compile the train step with XLA (what "
                    "TPUs do anyway).")
  flags.DEFINE_integer("log_steps", default["log_steps"], "Steps between progress lines and "
                       "TensorBoard summaries.", lower_bound=1)
  flags.DEFINE_integer(
      "seed", default["seed"], "Seed of the initialisation, dropout and data "
      "order (data order uses 0 when unset).", lower_bound=0, upper_bound=MAX_SEED)
  flags.DEFINE_enum(
      "gradient_clipping", default["gradient_clipping"], ["per_replica", "global"],
      "per_replica: clip each replica's gradient at 1.0 then average (the original "
      "on TPU); global: clip the global-batch gradient (the original on one device).")
  flags.DEFINE_integer(
      "gradient_accumulation_steps", default["gradient_accumulation_steps"], "Split each "
      "replica's batch into this many micro-batches run one after another, summing their "
      "gradients into one update: the same step in less memory (the batch must divide).",
      lower_bound=1)
  flags.DEFINE_bool("bias_correction", default["bias_correction"], "Correct Adam's moments for "
                    "their zero start (the original does not).")
  flags.DEFINE_bool(
      "checkpoint_input_pipeline", default["checkpoint_input_pipeline"], "Save each "
      "worker's data position with the checkpoints so a resumed run continues the "
      "data stream; when false the input goes through "
      "distribute_datasets_from_function and restarts its shuffle.")
  flags.DEFINE_integer(
      "eval_timeout_secs", default["eval_timeout_secs"], "With --do_eval and no "
      "--do_train: fail (exit 1) when no new checkpoint appears in --output_dir "
      "for this many seconds.", lower_bound=0)
  flags.register_multi_flags_validator(
      ["use_tpu", "distribution_strategy"],
      lambda values: not values["use_tpu"] or values["distribution_strategy"] in ("auto", "tpu"),
      "--use_tpu means --distribution_strategy=tpu: drop one of them.")


def define_finetuning_flags(default: dict[str, Any], *, original_step_flags: bool = True,
                            eval_batch: bool = True,
                            keep_checkpoint_flag: str = "keep_checkpoint_max",
                            train_batch_help: str = "Global training batch (all replicas).",
                            learning_rate_help: str = "Peak learning rate of AdamW.",
                            save_checkpoints_help: str = "Steps between checkpoints (and "
                            "evaluations).", optimizer_help: str = "The optimizer.") -> None:
  """Defines the flags run_classifier, run_race and run_squad_v1/v2 share, with their checks.

  Each keeps its original's name, default and help: the arguments say where they differ.

  Args:
    default: the defaults of the command's options (options.defaults(ClassifierOptions), ...).
    original_step_flags: define the original's --train_step and --warmup_step (run_classifier,
      run_race; run_squad has --num_train_epochs and its own step flags).
    eval_batch: define --eval_batch_size (run_squad evaluates with --predict_batch_size).
    keep_checkpoint_flag: the name of the kept-checkpoints flag (run_race: num_keep_checkpoint).
    train_batch_help: --train_batch_size's help.
    learning_rate_help: --learning_rate's help.
    save_checkpoints_help: --save_checkpoints_steps's help.
    optimizer_help: --optimizer's help.
  """
  flags.DEFINE_integer("train_batch_size", default["train_batch_size"], train_batch_help,
                       lower_bound=1)
  if eval_batch:
    flags.DEFINE_integer("eval_batch_size", default["eval_batch_size"], "Global evaluation batch.",
                         lower_bound=1)
  flags.DEFINE_integer("predict_batch_size", default["predict_batch_size"], "Global prediction "
                       "batch.", lower_bound=1)
  flags.DEFINE_float("learning_rate", default["learning_rate"], learning_rate_help)
  register_positive("learning_rate")
  if original_step_flags:
    flags.DEFINE_integer("train_step", default["num_train_steps"], "Training steps.", lower_bound=1)
    flags.DEFINE_integer("warmup_step", default["num_warmup_steps"], "Linear warmup steps.",
                         lower_bound=0)
  flags.DEFINE_integer("save_checkpoints_steps", default["save_checkpoints_steps"],
                       save_checkpoints_help, lower_bound=1)
  flags.DEFINE_integer(keep_checkpoint_flag, default["keep_checkpoint_max"], "Checkpoints kept "
                       "(model.ckpt-best is kept apart).", lower_bound=1)
  flags.DEFINE_enum("optimizer", default["optimizer"], ["adamw", "lamb"], optimizer_help)


def register_finite(name: str, *, nan_means_unset: bool = False,
                    flag_values: flags.FlagValues = FLAGS) -> None:
  """Refuses NaN, inf and -inf for the float flag `name`.

  absl's float parser reads "nan" and "inf", and its lower_bound and upper_bound let NaN through
  (every comparison with NaN is false), so every float flag of every command line gets this check,
  or one of the checks below, which include it. Closed ranges stay absl's bounds (--help shows
  them); open ones are register_positive's and register_dropout's.

  Args:
    name: the flag.
    nan_means_unset: NaN is allowed as the flag's "not set" value (the original's
      --threshold_to_export).
    flag_values: where the flag is defined.
  """
  register_float(name, nan_means_unset=nan_means_unset, flag_values=flag_values)


def register_positive(name: str, flag_values: flags.FlagValues = FLAGS) -> None:
  """Validates that the float flag `name` is a finite number above 0 (a rate, a count)."""
  register_float(name, 0.0, low_open=True, flag_values=flag_values)


def register_dropout(name: str, flag_values: flags.FlagValues = FLAGS) -> None:
  """Validates that the float flag `name` is a dropout rate: in [0, 1) (1 drops everything)."""
  register_float(name, 0.0, 1.0, high_open=True, flag_values=flag_values)


def register_float(name: str, low: float = -math.inf, high: float = math.inf, *,
                   low_open: bool = False, high_open: bool = False, nan_means_unset: bool = False,
                   flag_values: flags.FlagValues = FLAGS) -> None:
  """Validates the float flag `name`: a finite number in [low, high], either side maybe open.

  Args:
    name: the flag.
    low: the smallest value allowed (-inf: none).
    high: the largest value allowed (inf: none).
    low_open: `low` itself is refused.
    high_open: `high` itself is refused.
    nan_means_unset: see register_finite.
    flag_values: where the flag is defined.
  """

  def check(value: float | None) -> bool:
    if value is None or (nan_means_unset and math.isnan(value)):
      return True
    if not math.isfinite(value):
      unset = " (or nan: not set)" if nan_means_unset else ""
      raise flags.ValidationError(f"--{name} must be a finite number{unset}.")
    if (value <= low if low_open else value < low) or (value >= high
                                                       if high_open else value > high):
      raise flags.ValidationError(
          f"--{name} must be {_interval_text(low, high, low_open, high_open)}.")
    return True

  flags.register_validator(name, check, flag_values=flag_values)


def _interval_text(low: float, high: float, low_open: bool, high_open: bool) -> str:
  """"above 0", "at most 1", "in [0, 1)", ... for the messages."""
  if math.isinf(high):
    return f"{'above' if low_open else 'at least'} {low:g}"
  if math.isinf(low):
    return f"{'below' if high_open else 'at most'} {high:g}"
  return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def register_one_of(names: list[str], message: str) -> None:
  """Validates that at least one of the flags `names` is set (true, or a non-empty value)."""
  flags.register_multi_flags_validator(names, lambda values: any(values.values()), message)


def resolve_runtime() -> dict[str, Any]:
  """Maps the original's TPUEstimator flags onto the new ones.

  Returns:
    {"tpu", "distribution_strategy", "steps_per_loop"}.
  """
  return {
      "tpu": FLAGS.tpu or FLAGS.tpu_name or FLAGS.master,
      "distribution_strategy": "tpu" if FLAGS.use_tpu else FLAGS.distribution_strategy,
      "steps_per_loop": FLAGS.steps_per_loop or FLAGS.iterations_per_loop
  }


def build_strategy(runtime: dict[str, Any], *batch_flags: str) -> Any:
  """Builds the strategy `runtime` names and checks the batch flags divide over its replicas."""
  # Imported late: TensorFlow must not initialise before --num_cpu_devices is applied.
  from albert_tf.training import strategy as strategy_lib  # pylint: disable=g-import-not-at-top
  strategy_lib.split_cpu(FLAGS.num_cpu_devices)
  strategy = strategy_lib.build_strategy(runtime["distribution_strategy"], tpu=runtime["tpu"],
                                         num_gpus=FLAGS.num_gpus, tpu_zone=FLAGS.tpu_zone,
                                         gcp_project=FLAGS.gcp_project)
  replicas = strategy.num_replicas_in_sync
  for name in batch_flags:
    if FLAGS[name].value % replicas:
      raise UserError(f"--{name}={FLAGS[name].value} is not divisible by the {replicas} replicas: "
                      f"use a multiple of {replicas}.")
  if "train_batch_size" in batch_flags:
    from albert_tf.training import trainer  # pylint: disable=g-import-not-at-top
    try:
      trainer.check_accumulation(FLAGS.train_batch_size, replicas,
                                 FLAGS.gradient_accumulation_steps)
    except ValueError as error:
      raise UserError(str(error)) from None
  return strategy


def build_options(options_class: type[_Options], runtime: dict[str, Any],
                  flag_names: dict[str, str] | None = None, **values: Any) -> _Options:
  """An `options_class` from the flags named like its fields.

  Args:
    options_class: the options dataclass (a LoopOptions).
    runtime: what resolve_runtime() returned.
    flag_names: field -> flag name where they differ (run_classifier's train_step).
    **values: fields no flag gives.

  Returns:
    The options.
  """
  flag_names = flag_names or {}
  for field in dataclasses.fields(options_class):
    name = flag_names.get(field.name, field.name)
    if field.name not in values and name in FLAGS:
      values[field.name] = FLAGS[name].value
  values["steps_per_loop"] = runtime["steps_per_loop"]
  return options_class(**values)


def training_user_errors() -> tuple[type[Exception], ...]:
  """The errors of a user's input that every training command line prints as one line.

  Each command adds its own data errors (InputDataError, ClassifierDataError, SquadDataError, ...).
  Imported late: TensorFlow must not initialise before --num_cpu_devices is applied.
  """
  # pylint: disable=g-import-not-at-top
  from albert_tf import checkpoints
  from albert_tf import config
  from albert_tf import output_lock
  from albert_tf.export import exporter
  from albert_tf.models import hub_encoder
  from albert_tf.training import fine_tuning
  from albert_tf.training import run_identity
  from albert_tf.training import run_loop
  from albert_tf.training import strategy
  from albert_tf.training import trainer
  # pylint: enable=g-import-not-at-top
  return (UserError, config.AlbertConfigError, strategy.StrategyError, checkpoints.CheckpointError,
          exporter.ExportError, output_lock.OutputLockError, hub_encoder.HubEncoderError,
          fine_tuning.NoTrainedCheckpointError, trainer.NonFiniteLossError,
          run_loop.EvalTimeoutError, run_identity.RunIdentityError, FileNotFoundError)


def exit_on_user_error(body: Callable[[], None], error_prefix: str,
                       user_errors: Callable[[], tuple[type[Exception], ...]]) -> None:
  """Runs `body`; a user error exits with `error_prefix` and its message on one line, status 1.

  Args:
    body: the command's work.
    error_prefix: e.g. "albert-run-race: error: ".
    user_errors: returns the error classes the user can fix; called only when an error is raised,
      so that their modules (which import TensorFlow) load after the flags are parsed.
  """
  try:
    body()
  except user_errors() as error:
    sys.exit(error_prefix + " ".join(str(error).split()))


def run_command(main: Callable[[list[str]], None], error_prefix: str) -> None:
  """A training command's console-script entry point: TensorFlow's C++ info lines off unless the
  user set TF_CPP_MIN_LOG_LEVEL, then `command_line.run`."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  command_line.run(main, error_prefix)
