"""The training step and loop on tf.distribute, for any Task.

One call of `train(num_steps)` runs `num_steps` steps inside a single tf.function (a `tf.range`
loop around `strategy.run`), the TF2 form of TPUEstimator's iterations_per_loop.

Every step is the same sequence, in one function (`_update`): the task's loss on the replica's
batch -> gradients (unscaled under float16 loss scaling) -> aggregation over the replicas ->
exactly one `apply_gradients`. Where that sequence runs is the only choice:
* `update_in_compiled_step=True` (a TPU, or XLA on one replica): the whole sequence, all-reduces and
  the optimizer update included, is one compiled program, so LAMB's per-variable norms and moment
  updates fuse into a few kernels.
* otherwise (MirroredStrategy / MultiWorkerMirroredStrategy, whose cross-device reductions XLA
  cannot compile here): with `jit_compile` only the forward/backward pass is compiled, and the
  aggregation and update run after it in the same replica function.

Clipping (reference §8.2, §8.5):
* `gradient_clipping="per_replica"` (default, the original on TPU): each replica computes the
  original loss on its own examples, clips its gradient to global norm `clip_norm`, and the update
  uses the mean of the replicas' clipped gradients (the original sums them; LAMB/Adam are scale
  invariant up to epsilon, and the mean keeps the single-device magnitude).
* `gradient_clipping="global"`: each replica's loss is its share of the global batch's loss (the
  task normalises by the all-reduced batch statistics), the shares' gradients are summed, and the
  global gradient is clipped: the original single-device algorithm, independent of the number of
  replicas.
With one replica both are exactly the original.

Gradient accumulation (`gradient_accumulation_steps=N`, for batches that do not fit in memory at
once): a step still consumes one batch and applies one update. The replica's batch is cut into N
micro-batches run one after another in a `tf.while_loop` (parallel_iterations=1, so one
micro-batch's activations live at a time); each micro-batch's loss is normalised by the statistics
of the whole batch (all-reduced under global clipping), so the sum of their gradients is the
gradient of the whole batch's loss. The sum is then aggregated, clipped and applied exactly as
without accumulation: with dropout off, N micro-batches give the weights of one batch.

A trainable variable the loss does not use (its gradient is None when the step is traced, e.g. the
pooler under a SQuAD head) is left out of clipping and the update, as the original optimizers skip
it: no step, no weight decay, no slots.
"""

import time
from typing import Any, Mapping

import numpy as np
import tensorflow as tf
import tf_keras

from albert_tf.tasks import task as task_lib
from albert_tf.training import strategy as strategy_lib

CLIPPING_MODES = ("per_replica", "global")


class NonFiniteLossError(RuntimeError):
  """Training produced a NaN or Inf loss."""


def unique_variables(variables: list[tf.Variable]) -> list[tf.Variable]:
  """Drops repeated variables (a tied table listed twice would be updated twice), keeping order."""
  seen, unique = set(), []
  for variable in variables:
    if variable.ref() not in seen:
      seen.add(variable.ref())
      unique.append(variable)
  return unique


def learning_rate(optimizer: tf_keras.optimizers.legacy.Optimizer) -> float:
  """The learning rate the optimizer's next step uses."""
  inner = optimizer
  if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
    inner = optimizer.inner_optimizer
  schedule = inner.learning_rate
  if isinstance(schedule, tf_keras.optimizers.schedules.LearningRateSchedule):
    return float(schedule(inner.iterations))
  return float(tf.convert_to_tensor(schedule))


def check_accumulation(global_batch_size: int, num_replicas: int, accumulation_steps: int) -> None:
  """Checks that each replica's batch splits into `accumulation_steps` equal micro-batches.

  Raises:
    ValueError: one line naming the flags and the fix.
  """
  if accumulation_steps < 1:
    raise ValueError(f"--gradient_accumulation_steps={accumulation_steps}: use 1 (no "
                     "accumulation) or more.")
  if global_batch_size % (num_replicas * accumulation_steps):
    raise ValueError(
        f"--train_batch_size={global_batch_size} does not split into {num_replicas} replica(s) x "
        f"--gradient_accumulation_steps={accumulation_steps} equal micro-batches: use a batch "
        f"that is a multiple of {num_replicas * accumulation_steps}.")


class Trainer:
  """Runs a task's training steps, evaluations and predictions under a tf.distribute strategy.

  Build the model and optimizer inside `strategy.scope()` first.

  Example:
    with strategy.scope():
      model = task.build_model()
      optimizer = albert_tf.optimization.create_optimizer(1e-4, num_train_steps=1000,
                                                          num_warmup_steps=100)
    trainer = Trainer(strategy, task, model, optimizer, global_batch_size=64, jit_compile=True)
    logs = trainer.train(iter(task.dataset("train", 64)), num_steps=100)
    # logs: {"loss": ..., the task's metrics, "learning_rate": ..., "gradient_norm": ...,
    #        "examples_per_second": ...}

  Args:
    strategy: the tf.distribute strategy the model was built under.
    task: the Task (loss, metrics, eval outputs).
    model: the task's model (`task.build_model()`).
    optimizer: a legacy tf_keras optimizer (e.g. from albert_tf.optimization.create_optimizer),
      wrapped in a LossScaleOptimizer for float16.
    global_batch_size: examples per step over all replicas (for examples/s).
    jit_compile: compile with XLA (see the module docstring for what is compiled).
    clip_norm: global-norm clipping threshold (the original's 1.0).
    gradient_clipping: one of CLIPPING_MODES (see the module docstring).
    distributed_input: the iterators passed to train/evaluate come from
      `strategy.distribute_datasets_from_function` (per-replica batches); otherwise they are local
      iterators of per-worker batches that the trainer splits between this worker's replicas.
    update_in_compiled_step: run the aggregation and update inside the compiled step (default: on a
      TPU, or with jit_compile on one replica). True needs a strategy whose all-reduce compiles.
    gradient_accumulation_steps: N micro-batches per step (see the module docstring); each
      replica's batch (global_batch_size / replicas) must divide by N.

  Raises:
    ValueError: an unknown gradient_clipping, or a gradient_accumulation_steps below 1 or not
      dividing the replica's batch.
  """

  def __init__(self, strategy: tf.distribute.Strategy, task: task_lib.Task, model: tf_keras.Model,
               optimizer: tf_keras.optimizers.legacy.Optimizer, *, global_batch_size: int,
               jit_compile: bool = False, clip_norm: float = 1.0,
               gradient_clipping: str = "per_replica", distributed_input: bool = False,
               update_in_compiled_step: bool | None = None, gradient_accumulation_steps: int = 1):
    if gradient_clipping not in CLIPPING_MODES:
      raise ValueError(f"gradient_clipping={gradient_clipping!r}: use one of "
                       f"{', '.join(CLIPPING_MODES)}.")
    check_accumulation(global_batch_size, strategy.num_replicas_in_sync,
                       gradient_accumulation_steps)
    self.gradient_accumulation_steps = gradient_accumulation_steps
    self.strategy = strategy
    self.task = task
    self.model = model
    self.optimizer = optimizer
    self.clip_norm = clip_norm
    self.global_batch_size = global_batch_size
    self._distributed_input = distributed_input
    self._num_replicas = strategy.num_replicas_in_sync
    self._local_replicas = strategy_lib.local_replica_count(strategy)
    self._global_clipping = gradient_clipping == "global"
    self._loss_scaling = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
    if update_in_compiled_step is None:
      update_in_compiled_step = (isinstance(strategy, tf.distribute.TPUStrategy) or
                                 (jit_compile and self._num_replicas == 1))
    self.update_in_compiled_step = update_in_compiled_step
    compile_update = jit_compile and update_in_compiled_step
    compile_gradients = jit_compile and not update_in_compiled_step
    self._update_fn = tf.function(self._update,
                                  jit_compile=True) if compile_update else self._update
    self._gradients_fn = (tf.function(self._gradients, jit_compile=True)
                          if compile_gradients else self._gradients)
    with strategy.scope():
      self.train_metrics = task.build_metrics()
      self.eval_metrics = task.build_metrics()
      self.train_loss = tf_keras.metrics.Mean("loss")
      self.eval_loss = tf_keras.metrics.Mean("loss")
      self.gradient_norm = tf_keras.metrics.Mean("gradient_norm")
    # Written by the host loop only, so a plain (non-distributed) variable.
    self.nonfinite_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self._train_loop = tf.function(self._train_loop_fn)
    self._eval_batch = tf.function(self._eval_batch_fn)

  @property
  def global_step(self) -> tf.Variable:
    """The number of updates applied so far (the optimizer's `iterations`)."""
    return self.optimizer.iterations

  @property
  def trainable_variables(self) -> list[tf.Variable]:
    """The model's trainable variables, each once (a tied table is listed once)."""
    return unique_variables(self.model.trainable_variables)

  # Replica-side computation.

  def _gradients(self, features: task_lib.Features,
                 statistics: Mapping[str, tf.Tensor]) -> tuple[dict, Any, list[tf.Tensor]]:
    """The task's losses, the model outputs and the (unscaled, dense) local gradients."""
    variables = self.trainable_variables
    with tf.GradientTape() as tape:
      outputs = self.model(features, training=True)
      losses = self.task.compute_losses(features, outputs, statistics)
      loss = losses["loss"]
      if self._loss_scaling:
        loss = self.optimizer.get_scaled_loss(loss)
    # Dense gradients: the embedding table's lookup part arrives as IndexedSlices, and a tied
    # output layer makes the table's gradient dense anyway. None: the loss does not use the
    # variable (known when tracing), which the update then skips.
    gradients = [
        None if g is None else tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)
    ]
    if self._loss_scaling:
      gradients = self.optimizer.get_unscaled_gradients(gradients)
    return losses, outputs, gradients

  def _aggregate(self, gradients: list[tf.Tensor]) -> tuple[list[tf.Tensor], tf.Tensor]:
    """All-reduces and clips the replicas' gradients as `gradient_clipping` says."""
    context = tf.distribute.get_replica_context()
    if self._global_clipping:
      gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
      return tf.clip_by_global_norm(gradients, self.clip_norm)
    gradients, norm = tf.clip_by_global_norm(gradients, self.clip_norm)
    if self._num_replicas > 1:
      gradients = context.all_reduce(tf.distribute.ReduceOp.MEAN, gradients)
    return gradients, norm

  def _accumulated_gradients(self, features: task_lib.Features,
                             statistics: Mapping[str, tf.Tensor]) -> tuple[dict, list]:
    """The summed losses and gradients (None where unused) of N micro-batches, one after another.

    The train metrics are updated per micro-batch here (the micro-batches' outputs are not kept).
    """
    steps = self.gradient_accumulation_steps

    def micro_batches(tensor: tf.Tensor) -> tf.Tensor:  # [b, ...] -> [N, b / N, ...]
      return tf.reshape(tensor, tf.concat([[steps, -1], tf.shape(tensor)[1:]], axis=0))

    split = tf.nest.map_structure(micro_batches, features)

    def micro_step(index):
      micro = tf.nest.map_structure(lambda tensor: tensor[index], split)
      losses, outputs, gradients = self._gradients_fn(micro, statistics)
      self.train_metrics.update_state(micro, outputs)
      return {name: tf.cast(loss, tf.float32) for name, loss in losses.items()}, gradients

    # The first micro-batch outside the loop gives the loss names and which variables have a
    # gradient; parallel_iterations=1 keeps the others from overlapping, so one micro-batch's
    # activations are alive at a time.
    losses, gradients = micro_step(tf.constant(0))
    used = [gradient is not None for gradient in gradients]

    def body(index, loss_sums, gradient_sums):
      losses, gradients = micro_step(index)
      gradients = [gradient for gradient, keep in zip(gradients, used) if keep]
      return (index + 1, {
          name: loss_sums[name] + losses[name] for name in loss_sums
      }, [total + gradient for total, gradient in zip(gradient_sums, gradients)])

    _, losses, sums = tf.while_loop(
        lambda index, *_: index < steps, body,
        (tf.constant(1), losses, [g for g in gradients if g is not None]), parallel_iterations=1)
    sums = iter(sums)
    return losses, [next(sums) if keep else None for keep in used]

  def _update(self, features: task_lib.Features) -> tuple[dict, Any, tf.Tensor]:
    """One training step on this replica's batch: loss, gradients, aggregation, one update.

    Returns the outputs of the model on the batch, or None with gradient accumulation (whose
    micro-batches updated the train metrics themselves).
    """
    statistics = self.task.batch_statistics(features)
    if self._global_clipping:
      statistics = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                                  statistics)
    if self.gradient_accumulation_steps == 1:
      losses, outputs, gradients = self._gradients_fn(features, statistics)
    else:
      outputs = None
      losses, gradients = self._accumulated_gradients(features, statistics)
    # The original optimizers skip a variable whose gradient is None (no step, decay or slots).
    used = [(gradient, variable)
            for gradient, variable in zip(gradients, self.trainable_variables)
            if gradient is not None]
    gradients, norm = self._aggregate([gradient for gradient, _ in used])
    self.optimizer.apply_gradients(zip(gradients, [variable for _, variable in used]),
                                   experimental_aggregate_gradients=False)
    return losses, outputs, norm

  def _train_step(self, features: task_lib.Features) -> tf.Tensor:
    losses, outputs, norm = self._update_fn(features)
    loss = losses["loss"]
    if self._global_clipping:  # each replica's loss is its share: report the global batch's
      loss *= self._num_replicas
    if outputs is not None:  # else the micro-batches did
      self.train_metrics.update_state(features, outputs)
    self.train_loss.update_state(loss)
    self.gradient_norm.update_state(norm)
    return loss

  def _eval_step(self, features: task_lib.Features) -> dict[str, tf.Tensor]:
    outputs = self.model(features, training=False)
    losses = self.task.compute_losses(features, outputs, self.task.batch_statistics(features))
    self.eval_metrics.update_state(features, outputs)
    self.eval_loss.update_state(losses["loss"])
    return self.task.eval_outputs(features, outputs)

  # Host-side loops.

  def _next_batch(self, iterator: Any) -> Any:
    batch = next(iterator)
    if self._distributed_input:
      return batch
    local_replicas = self._local_replicas
    if local_replicas == 1 and self._num_replicas == 1:
      return batch

    def replica_slice(context: tf.distribute.experimental.ValueContext) -> Any:
      index = context.replica_id_in_sync_group % local_replicas
      return tf.nest.map_structure(lambda t: tf.split(t, local_replicas, axis=0)[index], batch)

    return self.strategy.experimental_distribute_values_from_function(replica_slice)

  def _train_loop_fn(self, iterator: Any, num_steps: tf.Tensor) -> None:
    for _ in tf.range(num_steps):
      step = self.optimizer.iterations.read_value()
      per_replica_loss = self.strategy.run(self._train_step, args=(self._next_batch(iterator),))
      loss = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica_loss, axis=None)
      if not tf.math.is_finite(loss):
        self.nonfinite_step.assign(step)
        break

  def _eval_batch_fn(self, iterator: Any) -> Any:
    return self.strategy.run(self._eval_step, args=(self._next_batch(iterator),))

  def train(self, iterator: Any, num_steps: int) -> dict[str, float]:
    """Runs `num_steps` training steps in one tf.function call.

    Args:
      iterator: see `distributed_input`.
      num_steps: steps to run.

    Returns:
      Means over these steps: loss, gradient_norm and the task's metrics; plus learning_rate (the
      next step's) and examples_per_second.

    Raises:
      NonFiniteLossError: the loss became NaN or Inf (the message names the step).
    """
    for metric in (self.train_metrics, self.train_loss, self.gradient_norm):
      metric.reset_state()
    start_step = int(self.global_step.numpy())
    start = time.perf_counter()
    self._train_loop(iterator, tf.constant(num_steps, tf.int32))
    bad_step = int(self.nonfinite_step.read_value().numpy())
    if bad_step >= 0:
      raise NonFiniteLossError(f"the loss became NaN or Inf at step {bad_step}")
    elapsed = time.perf_counter() - start
    steps_done = int(self.global_step.numpy()) - start_step
    logs = self._results(self.train_metrics, self.train_loss)
    logs["gradient_norm"] = float(self.gradient_norm.result())
    logs["learning_rate"] = learning_rate(self.optimizer)
    logs["examples_per_second"] = steps_done * self.global_batch_size / max(elapsed, 1e-9)
    return logs

  def evaluate(self, iterator: Any, num_steps: int) -> dict[str, float]:
    """Runs `num_steps` evaluation batches.

    Returns:
      The task's eval metrics (`task.reduce_eval` of the in-graph metrics and the collected
      `task.eval_outputs`), loss, and global_step.
    """
    for metric in (self.eval_metrics, self.eval_loss):
      metric.reset_state()
    collected = self._collect(iterator, num_steps)
    logs = self.task.reduce_eval(self._results(self.eval_metrics, self.eval_loss), collected)
    logs["global_step"] = int(self.global_step.numpy())
    return logs

  def predict(self, iterator: Any, num_steps: int) -> dict[str, np.ndarray]:
    """Runs `num_steps` batches and returns the task's eval outputs, concatenated in input order."""
    return self._collect(iterator, num_steps)

  def _collect(self, iterator: Any, num_steps: int) -> dict[str, np.ndarray]:
    batches: dict[str, list[np.ndarray]] = {}
    for _ in range(num_steps):
      outputs = self._eval_batch(iterator)
      for name, value in outputs.items():
        local = self.strategy.experimental_local_results(value)
        batches.setdefault(name, []).extend(np.asarray(part) for part in local)
    return {name: np.concatenate(parts) for name, parts in batches.items()}

  @staticmethod
  def _results(metrics: task_lib.TaskMetrics, loss: tf_keras.metrics.Mean) -> dict[str, float]:
    logs = {name: float(value) for name, value in metrics.result().items()}
    logs["loss"] = float(loss.result())
    return logs
