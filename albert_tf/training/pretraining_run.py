"""One pretraining run: build model, optimizer and data, resume, train, checkpoint, evaluate.

`run(options, strategy)` is what `albert_tf.run_pretraining` calls after parsing flags; tests call it
directly. Outputs in `output_dir` (docs/architecture.md): albert_config.json, model.ckpt-<step>.*,
model.ckpt-best.*, eval_results.txt, TensorBoard events under train/ and eval/.
"""

import dataclasses
import os
import time

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints as checkpoint_loading
from albert_tf import optimization
from albert_tf.config import AlbertConfig
from albert_tf.models.albert_pretrainer import AlbertPretrainer
from albert_tf.training import checkpointing
from albert_tf.training import evaluation
from albert_tf.training import input_pipeline
from albert_tf.training import strategy as strategy_lib
from albert_tf.training import trainer as trainer_lib

_POLICIES = {"none": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
_EVAL_POLL_SECS = 1.0  # how often --do_eval alone looks for a new checkpoint


class EvalTimeoutError(RuntimeError):
  """--do_eval alone waited --eval_timeout_secs for a checkpoint that did not come."""


@dataclasses.dataclass
class RunOptions:
  """The run's settings; field names and defaults are the run_pretraining flags'."""
  albert_config_file: str
  input_file: str
  output_dir: str
  init_checkpoint: str | None = None
  init_from_group0: bool = False
  max_seq_length: int = 512
  max_predictions_per_seq: int = 20
  do_train: bool = True
  do_eval: bool = False
  train_batch_size: int = 4096
  eval_batch_size: int = 64
  optimizer: str = "lamb"
  learning_rate: float = 0.00176
  poly_power: float = 1.0
  num_train_steps: int = 125000
  num_warmup_steps: int = 3125
  start_warmup_step: int = 0
  save_checkpoints_steps: int = 5000
  keep_checkpoint_max: int = 5
  max_eval_steps: int = 100
  steps_per_loop: int = 1000
  log_steps: int = 100
  jit_compile: bool = False
  mixed_precision: str = "none"
  seed: int | None = None
  gradient_clipping: str = "per_replica"
  bias_correction: bool = False
  checkpoint_input_pipeline: bool = True
  eval_timeout_secs: int = 3600


def _num_workers(strategy: tf.distribute.Strategy) -> int:
  return strategy.num_replicas_in_sync // strategy_lib.local_replica_count(strategy)


class _Run:
  """The objects of one run, built under the strategy."""

  def __init__(self, options: RunOptions, strategy: tf.distribute.Strategy):
    self.options = options
    self.strategy = strategy
    self.is_chief = strategy_lib.is_chief(strategy)
    self.worker = strategy_lib.worker_index(strategy)
    self.num_workers = _num_workers(strategy)
    self.config = AlbertConfig.from_json_file(options.albert_config_file)
    self.files = input_pipeline.resolve_input_files(options.input_file)
    input_pipeline.check_record_lengths(self.files, options.max_seq_length,
                                        options.max_predictions_per_seq)
    if self.is_chief:
      tf.io.gfile.makedirs(options.output_dir)
      self.config.to_json_file(os.path.join(options.output_dir, "albert_config.json"))
    with strategy.scope():
      self.pretrainer = AlbertPretrainer(self.config)
      self.pretrainer.build()
      optimizer = optimization.create_optimizer(
          options.learning_rate, options.num_train_steps, options.num_warmup_steps,
          optimizer=options.optimizer, poly_power=options.poly_power,
          start_warmup_step=options.start_warmup_step, bias_correction=options.bias_correction)
      if options.mixed_precision == "float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
      self.optimizer = optimizer
    self.trainer = trainer_lib.PretrainingTrainer(
        strategy, self.pretrainer, self.optimizer, global_batch_size=options.train_batch_size,
        jit_compile=options.jit_compile, gradient_clipping=options.gradient_clipping,
        distributed_input=not options.checkpoint_input_pipeline)
    self.train_iterator = self._iterator(options.train_batch_size, is_training=True)
    self.checkpoints = checkpointing.TrainingCheckpoints(
        options.output_dir, self.pretrainer, self.optimizer,
        self.train_iterator if options.checkpoint_input_pipeline else None,
        keep_checkpoint_max=options.keep_checkpoint_max, is_chief=self.is_chief,
        worker_index=self.worker)
    # An evaluation-only run must not add an empty events file to the training run's train/.
    self.writers = {
        name: (tf.summary.create_file_writer(os.path.join(options.output_dir, name))
               if self.is_chief else tf.summary.create_noop_writer())
        for name in (("train", "eval") if options.do_train else ("eval",))}

  def _iterator(self, global_batch_size: int, is_training: bool):
    options = self.options
    seed = 0 if options.seed is None else options.seed

    def dataset(pipeline_id: int, num_pipelines: int, batch_size: int) -> tf.data.Dataset:
      return input_pipeline.pretraining_dataset(
          self.files, batch_size, options.max_seq_length, options.max_predictions_per_seq,
          is_training=is_training, input_pipeline_id=pipeline_id,
          num_input_pipelines=num_pipelines, seed=seed)

    if not options.checkpoint_input_pipeline:
      return iter(self.strategy.distribute_datasets_from_function(
          lambda context: dataset(context.input_pipeline_id, context.num_input_pipelines,
                                  context.get_per_replica_batch_size(global_batch_size))))
    return iter(dataset(self.worker, self.num_workers, global_batch_size // self.num_workers))

  def write_summaries(self, name: str, logs: dict, step: int) -> None:
    with self.writers[name].as_default(step=step):
      for key, value in logs.items():
        if key != "global_step":
          tf.summary.scalar(key, value)
    self.writers[name].flush()

  def evaluate(self, checkpoint_path: str) -> None:
    """Evaluates the current weights (those of `checkpoint_path`) and records the results."""
    options = self.options
    results = self.trainer.evaluate(self._iterator(options.eval_batch_size, is_training=False),
                                    options.max_eval_steps)
    logging.info("Eval at step %d: %s", results["global_step"],
                 evaluation.format_eval_results(results).strip().replace("\n", ", "))
    self.write_summaries("eval", results, results["global_step"])
    if self.is_chief and evaluation.append_eval_results(options.output_dir, results):
      self.checkpoints.keep_as_best(checkpoint_path)

  def next_stop(self, step: int) -> int:
    """The next step at which the host must act (log, checkpoint or finish)."""
    options = self.options
    candidates = [options.num_train_steps]
    for every in (options.steps_per_loop, options.log_steps, options.save_checkpoints_steps):
      candidates.append((step // every + 1) * every)
    return min(candidates)

  def train(self) -> None:
    options = self.options
    step = self.checkpoints.restore_latest()
    if step == 0 and options.init_checkpoint:
      report = checkpoint_loading.load_checkpoint(self.pretrainer, options.init_checkpoint,
                                                  init_from_group0=options.init_from_group0)
      logging.info("Initialised from %s: %s", options.init_checkpoint, report)
    if step >= options.num_train_steps:
      logging.info("Already trained to step %d (--num_train_steps=%d).", step,
                   options.num_train_steps)
    while step < options.num_train_steps:
      stop = self.next_stop(step)
      try:
        logs = self.trainer.train(self.train_iterator, stop - step)
      except trainer_lib.NonFiniteLossError as error:
        raise trainer_lib.NonFiniteLossError(
            f"{error}; stopped without saving. The last good checkpoint is "
            f"{self.checkpoints.latest or 'none (no checkpoint was written yet)'}: rerun to resume "
            "from it, e.g. with a lower --learning_rate.") from None
      step = stop
      if step % options.log_steps == 0 or step == options.num_train_steps:
        trainer_lib.log_progress(step, options.num_train_steps, logs)
        self.write_summaries("train", logs, step)
      if step % options.save_checkpoints_steps == 0 or step == options.num_train_steps:
        path = self.checkpoints.save(step)
        if options.do_eval:
          self.evaluate(path)

  def _checkpoints_after(self, step: int) -> list[str]:
    """output_dir's checkpoints (those its `checkpoint` file lists) past `step`, oldest first."""
    state = tf.train.get_checkpoint_state(self.options.output_dir)
    paths = state.all_model_checkpoint_paths if state else []
    return sorted((path for path in paths if checkpointing.checkpoint_step(path) > step),
                  key=checkpointing.checkpoint_step)

  def evaluate_checkpoints(self) -> None:
    """--do_eval alone: evaluates every checkpoint of output_dir in step order, as they appear.

    Checkpoints already there are evaluated first (oldest first), then new ones as training writes
    them; it returns once a checkpoint at num_train_steps or later has been evaluated. Steps that
    eval_results.txt already holds are not evaluated again, so a restarted evaluation job goes on
    where it stopped (move eval_results.txt away to evaluate everything again).

    Raises:
      EvalTimeoutError: no new checkpoint appeared for eval_timeout_secs.
    """
    options = self.options
    step = max((int(results["global_step"]) for results in
                evaluation.read_eval_results(options.output_dir) if "global_step" in results),
               default=-1)  # the last checkpoint step handled
    if step >= 0:
      logging.info("%s already holds step %d: evaluating the checkpoints after it.",
                   evaluation.EVAL_RESULTS_FILE, step)
    deadline = time.monotonic() + options.eval_timeout_secs
    while step < options.num_train_steps:
      pending = self._checkpoints_after(step)
      if not pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
          raise EvalTimeoutError(
              f"no new checkpoint in {options.output_dir} for --eval_timeout_secs="
              f"{options.eval_timeout_secs} (last evaluated step: "
              f"{step if step >= 0 else 'none'}, --num_train_steps={options.num_train_steps}): "
              "train into this --output_dir (--do_train) or raise --eval_timeout_secs.")
        time.sleep(min(_EVAL_POLL_SECS, remaining))
        continue
      path = pending[0]
      step = checkpointing.checkpoint_step(path)
      try:
        self.checkpoints.checkpoint.restore(path).expect_partial()
      except tf.errors.NotFoundError:
        logging.warning("%s was deleted (--keep_checkpoint_max) before it could be evaluated.",
                        path)
        continue
      self.evaluate(path)
      deadline = time.monotonic() + options.eval_timeout_secs


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
  strategy = strategy or strategy_lib.build_strategy("auto")
  previous_policy = tf_keras.mixed_precision.global_policy()
  tf_keras.mixed_precision.set_global_policy(_POLICIES[options.mixed_precision])
  try:
    if options.seed is not None:
      tf_keras.utils.set_random_seed(options.seed)
    pretraining = _Run(options, strategy)
    if options.do_train:
      pretraining.train()
    elif options.do_eval:
      pretraining.evaluate_checkpoints()
  finally:
    tf_keras.mixed_precision.set_global_policy(previous_policy)
