"""Flags that every training entry point shares: the original TPUEstimator flags and the runtime
flags albert-tf adds (strategy, mixed precision, XLA, seed, clipping, data position).

`define_runtime_flags()` is called once by each entry point at import (run_pretraining,
run_classifier, ...); `resolve_runtime()` maps the original TPUEstimator flags onto the new ones and
`build_strategy()` builds the strategy they name.
"""

from typing import Any

from absl import flags

FLAGS = flags.FLAGS


class UserError(ValueError):
  """A flag or input problem the user can fix; printed as one line."""


def define_runtime_flags() -> None:
  """Defines the shared flags on absl's global FLAGS."""
  # The original's TPUEstimator flags (reference §2.2, finetuning.md §1), same names and defaults.
  flags.DEFINE_integer("iterations_per_loop", 1000,
                       "Alias of --steps_per_loop (the TPUEstimator name).")
  flags.DEFINE_bool("use_tpu", False, "Alias: --distribution_strategy=tpu.")
  flags.DEFINE_string("tpu_name", None, "Alias of --tpu.")
  flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU (when --tpu is a name).")
  flags.DEFINE_string("gcp_project", None, "GCP project of the TPU (when --tpu is a name).")
  flags.DEFINE_string("master", None, "Alias of --tpu (a grpc:// address).")
  flags.DEFINE_integer("num_tpu_cores", 8, "Accepted for compatibility: the TPU strategy uses "
                       "every core of the TPU it connects to.")
  # New flags.
  flags.DEFINE_enum("distribution_strategy", "auto",
                    ["auto", "tpu", "mirrored", "multi_worker_mirrored", "one_device"],
                    "auto: TPU when --tpu or a TPU environment is present, multi-worker when "
                    "TF_CONFIG names several workers, else all visible GPUs, else the CPU.")
  flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
  flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all visible).")
  flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices (to "
                       "try mirrored training without accelerators).")
  flags.DEFINE_enum("mixed_precision", "none", ["none", "bfloat16", "float16"],
                    "Compute dtype; variables, logits and losses stay float32. float16 uses "
                    "dynamic loss scaling.")
  flags.DEFINE_integer("steps_per_loop", None, "Steps run inside one tf.function call (default: "
                       "--iterations_per_loop).")
  flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA (what TPUs do anyway).")
  flags.DEFINE_integer("log_steps", 100, "Steps between progress lines and TensorBoard summaries.")
  flags.DEFINE_integer("seed", None, "Seed of the initialisation, dropout and data order (data "
                       "order uses 0 when unset).")
  flags.DEFINE_enum("gradient_clipping", "per_replica", ["per_replica", "global"],
                    "per_replica: clip each replica's gradient at 1.0 then average (the original "
                    "on TPU); global: clip the global-batch gradient (the original on one device).")
  flags.DEFINE_bool("bias_correction", False, "Correct Adam's moments for their zero start (the "
                    "original does not).")
  flags.DEFINE_bool("checkpoint_input_pipeline", True, "Save each worker's data position with the "
                    "checkpoints so a resumed run continues the data stream; when false the input "
                    "goes through distribute_datasets_from_function and restarts its shuffle.")
  flags.DEFINE_integer("eval_timeout_secs", 3600, "With --do_eval and no --do_train: fail (exit "
                       "1) when no new checkpoint appears in --output_dir for this many seconds.")


def check_positive(*names: str) -> None:
  """Raises UserError for the first of the integer flags `names` below 1."""
  for name in names:
    if FLAGS[name].value is not None and FLAGS[name].value < 1:
      raise UserError(f"--{name}={FLAGS[name].value} must be a positive integer.")


def resolve_runtime() -> dict[str, Any]:
  """Maps the original's TPUEstimator flags onto the new ones.

  Returns:
    {"tpu", "distribution_strategy", "steps_per_loop"}.
  """
  check_positive("num_cpu_devices", "log_steps")
  steps_per_loop = FLAGS.steps_per_loop or FLAGS.iterations_per_loop
  if steps_per_loop < 1:
    raise UserError(f"--steps_per_loop={steps_per_loop} must be a positive integer.")
  strategy = FLAGS.distribution_strategy
  if FLAGS.use_tpu:
    if strategy not in ("auto", "tpu"):
      raise UserError(f"--use_tpu contradicts --distribution_strategy={strategy}.")
    strategy = "tpu"
  return {"tpu": FLAGS.tpu or FLAGS.tpu_name or FLAGS.master, "distribution_strategy": strategy,
          "steps_per_loop": steps_per_loop}


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
  return strategy


def loop_options(runtime: dict[str, Any]) -> dict[str, Any]:
  """The run_loop.LoopOptions fields that come from the shared flags."""
  return {"steps_per_loop": runtime["steps_per_loop"], "log_steps": FLAGS.log_steps,
          "jit_compile": FLAGS.jit_compile, "mixed_precision": FLAGS.mixed_precision,
          "seed": FLAGS.seed, "gradient_clipping": FLAGS.gradient_clipping,
          "bias_correction": FLAGS.bias_correction,
          "checkpoint_input_pipeline": FLAGS.checkpoint_input_pipeline,
          "eval_timeout_secs": FLAGS.eval_timeout_secs}
