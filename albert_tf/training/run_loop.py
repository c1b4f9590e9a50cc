"""One training run of any Task: optimizer, resume, train, checkpoint, evaluate, keep the best.

`TrainingRun(task, options, strategy)` is what every entry point (run_pretraining, run_classifier,
and the span and multiple-choice tasks) drives. Outputs in `output_dir` (docs/architecture.md): the
task's run files (albert_config.json, ...), model.ckpt-<step>.*, model.ckpt-best.*,
eval_results.txt (plus best_trial.txt for fine-tuning tasks), input_pipeline/ (data positions) and
TensorBoard events under train/ and eval/.
"""

import contextlib
import os
import time
from typing import Any, Callable, Iterator

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf import optimization
from albert_tf import output_lock
from albert_tf import precision
from albert_tf.tasks import task as task_lib
from albert_tf.training import checkpointing
from albert_tf.training import evaluation
from albert_tf.training import run_identity
from albert_tf.training import strategy as strategy_lib
from albert_tf.training import trainer as trainer_lib
from albert_tf.training.options import LoopOptions

_EVAL_POLL_SECS = 1.0  # how often --do_eval alone looks for a new checkpoint


class EvalTimeoutError(RuntimeError):
  """--do_eval alone waited --eval_timeout_secs for a checkpoint that did not come."""


def _num_workers(strategy: tf.distribute.Strategy) -> int:
  return strategy.num_replicas_in_sync // strategy_lib.local_replica_count(strategy)


def _build_optimizer(options: LoopOptions) -> tf_keras.optimizers.legacy.Optimizer:
  optimizer = optimization.create_optimizer(options.learning_rate, options.num_train_steps,
                                            options.num_warmup_steps, optimizer=options.optimizer,
                                            poly_power=options.poly_power,
                                            start_warmup_step=options.start_warmup_step,
                                            bias_correction=options.bias_correction)
  if options.mixed_precision == "float16":
    optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
  return optimizer


class TrainingRun:
  """The objects of one run of `task`, built under the strategy, and its train/eval loops.

  Example:

    run = TrainingRun(task, LoopOptions(output_dir="runs/x", num_train_steps=1000), strategy)
    run.train()                    # resumes from output_dir's newest checkpoint
    run.evaluate_checkpoints()     # --do_eval alone

  Args:
    task: the Task to train.
    options: the run's settings.
    strategy: the strategy to build under (mixed-precision policy already set).
  """

  def __init__(self, task: task_lib.Task, options: LoopOptions, strategy: tf.distribute.Strategy):
    self.task = task
    self.options = options
    self.strategy = strategy
    self.is_chief = strategy_lib.is_chief(strategy)
    self.worker = strategy_lib.worker_index(strategy)
    self.num_workers = _num_workers(strategy)
    # Every worker checks (it only reads), so that none goes on to wait for a chief that stopped.
    identity = task.identity()
    run_identity.check_run_directory(options.output_dir, identity)
    if self.is_chief:
      tf.io.gfile.makedirs(options.output_dir)
      task.write_run_files(options.output_dir)
      run_identity.record_run_info(options.output_dir, identity)
    with strategy.scope():
      self.model = task.build_model()
      self.optimizer = _build_optimizer(options)
    self.trainer = trainer_lib.Trainer(
        strategy, task, self.model, self.optimizer, global_batch_size=options.train_batch_size,
        jit_compile=options.jit_compile, gradient_clipping=options.gradient_clipping,
        distributed_input=not options.checkpoint_input_pipeline,
        gradient_accumulation_steps=options.gradient_accumulation_steps)
    self.train_iterator = self.iterator("train", options.train_batch_size) if options.do_train \
        else None
    self.checkpoints = checkpointing.TrainingCheckpoints(
        options.output_dir, self.model, self.optimizer,
        self.train_iterator if options.checkpoint_input_pipeline else None,
        keep_checkpoint_max=options.keep_checkpoint_max, is_chief=self.is_chief,
        worker_index=self.worker)
    if options.do_train:
      # Asked now, so that a run refusing unrestorable checkpoints has written no events file.
      logging.info("Training from %s.", self.checkpoints.resume_point or "a fresh start")
    self.results = evaluation.EvalResults(options.output_dir, task.best_metric,
                                          task.eval_results_format)
    # An evaluation-only run must not add an empty events file to the training run's train/.
    self.writers = {
        name: (tf.summary.create_file_writer(os.path.join(options.output_dir, name))
               if self.is_chief else tf.summary.create_noop_writer()
              ) for name in (("train", "eval") if options.do_train else ("eval",))
    }

  def iterator(self, split: str, global_batch_size: int) -> Iterator[Any]:
    """An iterator over `split`: per-worker batches, or per-replica ones when the data position is
    not checkpointed (see Trainer's `distributed_input`)."""
    if not self.options.checkpoint_input_pipeline:
      return iter(
          self.strategy.distribute_datasets_from_function(lambda context: self.task.dataset(
              split, context.get_per_replica_batch_size(global_batch_size), context.
              input_pipeline_id, context.num_input_pipelines)))
    return iter(
        self.task.dataset(split, global_batch_size // self.num_workers, self.worker,
                          self.num_workers))

  def write_summaries(self, name: str, logs: dict, step: int) -> None:
    with self.writers[name].as_default(step=step):
      for key, value in logs.items():
        if key != "global_step":
          tf.summary.scalar(key, value)
    self.writers[name].flush()

  def evaluate(self, checkpoint_path: str) -> dict[str, float]:
    """Evaluates the current weights (those of `checkpoint_path`) and records the results."""
    batch_size = self.options.eval_batch_size
    results = self.trainer.evaluate(self.iterator("eval", batch_size),
                                    self.task.num_eval_steps(batch_size))
    logging.info("Eval at step %d: %s", results["global_step"],
                 evaluation.format_eval_results(results).strip().replace("\n", ", "))
    self.write_summaries("eval", results, results["global_step"])
    if self.is_chief:
      # model.ckpt-best first: a kill between the two then loses only the eval line (the rerun
      # evaluates that checkpoint again), never leaves eval_results.txt naming a best step that
      # model.ckpt-best does not hold.
      if self.results.improves(results):
        self.checkpoints.keep_as_best(checkpoint_path)
      self.results.append(results)
    return results

  def next_stop(self, step: int) -> int:
    """The next step at which the host must act (log, checkpoint or finish)."""
    options = self.options
    candidates = [options.num_train_steps]
    for every in (options.steps_per_loop, options.log_steps, options.save_checkpoints_steps):
      candidates.append((step // every + 1) * every)
    return min(candidates)

  def train(self) -> None:
    """Trains to num_train_steps from output_dir's newest checkpoint (or a fresh start)."""
    options = self.options
    step = self.checkpoints.restore_latest()
    if step == 0 and options.init_checkpoint:
      self.task.initialize(self.model, options.init_checkpoint)
    if step >= options.num_train_steps:
      logging.info("Already trained to step %d (--%s=%d).", step, options.train_steps_flag,
                   options.num_train_steps)
    progress = Progress(options.num_train_steps, step)
    while step < options.num_train_steps:
      stop = self.next_stop(step)
      logs = self._train_steps(stop - step)
      step = stop
      if step % options.log_steps == 0 or step == options.num_train_steps:
        progress.log(step, logs, self.task.progress_line(logs))
        self.write_summaries("train", logs, step)
      if step % options.save_checkpoints_steps == 0 or step == options.num_train_steps:
        path = self.checkpoints.save(step)
        if options.do_eval:
          self.evaluate(path)

  def _train_steps(self, num_steps: int) -> dict[str, float]:
    try:
      return self.trainer.train(self.train_iterator, num_steps)
    except trainer_lib.NonFiniteLossError as error:
      raise trainer_lib.NonFiniteLossError(
          f"{error}; stopped without saving. The last good checkpoint is "
          f"{self.checkpoints.latest or 'none (no checkpoint was written yet)'}: rerun to resume "
          "from it, e.g. with a lower --learning_rate.") from None

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
    step = self.results.last_step()  # the last checkpoint step handled
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
              f"{step if step >= 0 else 'none'}, --{options.train_steps_flag}="
              f"{options.num_train_steps}): "
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


class Progress:
  """Progress lines: step, the task's metrics, learning rate, examples/s and time left.

  Args:
    total_steps: the run's last step.
    start_step: the step the run (re)started from.
    write: where lines go (absl logging, which `albert_tf` entry points echo to the console).
  """

  def __init__(self, total_steps: int, start_step: int, write: Callable[..., None] = logging.info):
    self.total_steps = total_steps
    self.start_step = start_step
    self.start = time.monotonic()
    self.write = write

  def log(self, step: int, logs: dict[str, float], metrics: str) -> None:
    elapsed = time.monotonic() - self.start
    done = step - self.start_step
    left = elapsed / done * (self.total_steps - step) if done > 0 else 0.0
    self.write("step %d/%d: %s lr=%.3g grad_norm=%.3f examples/s=%.1f time left %s", step,
               self.total_steps, metrics, logs["learning_rate"], logs["gradient_norm"],
               logs["examples_per_second"], _duration(left))


def _duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f"{hours}:{minutes:02d}:{seconds:02d}"


def run(task: task_lib.Task, options: LoopOptions,
        strategy: tf.distribute.Strategy | None = None) -> TrainingRun:
  """Trains and/or evaluates `task` as `options` say, under the options' mixed-precision policy.

  Args:
    task: the task.
    options: the run's settings.
    strategy: the distribution strategy (default: strategy.build_strategy("auto")).

  Returns:
    The TrainingRun (its model holds the final weights).

  Raises:
    output_lock.OutputLockError: another process trains into output_dir.
    run_identity.RunIdentityError: output_dir holds a run of another model, labels or vocabulary
      (nothing was written).
    checkpointing.UnrestorableRunError: output_dir holds checkpoints, none of them readable.
    trainer.NonFiniteLossError: the loss became NaN/Inf (nothing was saved for that loop).
    EvalTimeoutError: --do_eval alone found no new checkpoint for eval_timeout_secs.
  """
  strategy = strategy or strategy_lib.build_strategy("auto")
  with precision.policy_scope(options.mixed_precision), _output_lock(options, strategy):
    if options.seed is not None:
      tf_keras.utils.set_random_seed(options.seed)
    training_run = TrainingRun(task, options, strategy)
    if options.do_train:
      training_run.train()
    elif options.do_eval:
      training_run.evaluate_checkpoints()
  return training_run


def _output_lock(options: LoopOptions,
                 strategy: tf.distribute.Strategy) -> contextlib.AbstractContextManager[None]:
  """The lock of output_dir for a training run's chief; none for the others.

  Only the chief writes output_dir. An evaluation-only run (--do_eval alone) takes no lock: it is
  meant to run beside the training job on the same output_dir, reading its checkpoints and writing
  only eval_results.txt and eval/ events.
  """
  if options.do_train and strategy_lib.is_chief(strategy):
    return output_lock.lock_directory(options.output_dir)
  return contextlib.nullcontext()
