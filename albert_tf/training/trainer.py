"""The pretraining step and loop on tf.distribute.

One call of `train(num_steps)` runs `num_steps` steps inside a single tf.function (a `tf.range`
loop around `strategy.run`), the TF2 form of TPUEstimator's iterations_per_loop. With
`jit_compile=True` the per-replica step is compiled by XLA; on one replica (and on TPU) that includes
the optimizer update, which makes LAMB's per-variable norms and moment updates a few fused kernels.
Under MirroredStrategy/MultiWorkerMirroredStrategy the forward/backward pass is compiled and the
update runs outside XLA, because cross-device reductions cannot be compiled there.

Loss and clipping (reference §8.2, §8.5):
* `gradient_clipping="per_replica"` (default, the original on TPU): each replica computes the
  original loss on its own examples, clips its gradient to global norm `clip_norm`, and the update
  uses the mean of the replicas' clipped gradients (the original sums them; LAMB/Adam are scale
  invariant up to epsilon, and the mean keeps the single-device magnitude).
* `gradient_clipping="global"`: each replica's loss is normalised by the global batch's masked-LM
  weight sum and batch size, the gradients are summed, and the global gradient is clipped: the
  original single-device algorithm, independent of the number of replicas.
With one replica both are exactly the original.
"""

import time
from typing import Any, Callable, Mapping

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf.models import pretraining_objectives
from albert_tf.training import strategy as strategy_lib

CLIPPING_MODES = ("per_replica", "global")
_MLM_WEIGHT_EPSILON = 1e-5  # the original's masked-LM denominator guard


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


def _learning_rate(optimizer: tf_keras.optimizers.legacy.Optimizer) -> tf.Tensor:
  inner = getattr(optimizer, "inner_optimizer", optimizer)
  schedule = inner._get_hyper("learning_rate")  # pylint: disable=protected-access
  if callable(schedule):
    return schedule(inner.iterations)
  return tf.convert_to_tensor(schedule)


class PretrainingTrainer:
  """Runs ALBERT pretraining steps and evaluations under a tf.distribute strategy.

  Build the model and optimizer inside `strategy.scope()` first.

  Example:

  >>> trainer = PretrainingTrainer(strategy, pretrainer, optimizer, jit_compile=True)
  >>> trainer.train(iter(dataset), num_steps=100)
  {'loss': 9.8, 'masked_lm_accuracy': 0.01, ...}

  Args:
    strategy: the tf.distribute strategy the model was built under.
    pretrainer: an AlbertPretrainer.
    global_batch_size: examples per step over all replicas (for examples/s).
    optimizer: a legacy tf_keras optimizer (e.g. from albert_tf.optimization.create_optimizer),
      wrapped in a LossScaleOptimizer for float16.
    jit_compile: compile the replica step with XLA.
    clip_norm: global-norm clipping threshold (the original's 1.0).
    gradient_clipping: one of CLIPPING_MODES (see the module docstring).
    distributed_input: the iterators passed to train/evaluate come from
      `strategy.distribute_datasets_from_function` (per-replica batches); otherwise they are local
      iterators of per-worker batches that the trainer splits between this worker's replicas.
  """

  def __init__(self, strategy: tf.distribute.Strategy, pretrainer: tf_keras.Model,
               optimizer: tf_keras.optimizers.legacy.Optimizer, *, global_batch_size: int,
               jit_compile: bool = False,
               clip_norm: float = 1.0, gradient_clipping: str = "per_replica",
               distributed_input: bool = False):
    if gradient_clipping not in CLIPPING_MODES:
      raise ValueError(f"gradient_clipping={gradient_clipping!r}: use one of "
                       f"{', '.join(CLIPPING_MODES)}.")
    self.strategy = strategy
    self.pretrainer = pretrainer
    self.optimizer = optimizer
    self.clip_norm = clip_norm
    self.global_batch_size = global_batch_size
    self._distributed_input = distributed_input
    self._num_replicas = strategy.num_replicas_in_sync
    self._local_replicas = strategy_lib.local_replica_count(strategy)
    self._global_clipping = gradient_clipping == "global" and self._num_replicas > 1
    self._loss_scaling = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
    is_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    # XLA cannot compile cross-device merges, so only a lone replica (or a TPU, where the whole
    # replica step is one XLA program anyway) applies the update inside the compiled step.
    self._update_in_compiled_step = (not self._loss_scaling and
                                     (is_tpu or (jit_compile and self._num_replicas == 1)))
    self._local_step = (tf.function(self._forward_backward, jit_compile=True)
                        if jit_compile else self._forward_backward)
    with strategy.scope():
      self.train_metrics = pretraining_objectives.PretrainingMetrics()
      self.eval_metrics = pretraining_objectives.PretrainingMetrics()
      self.train_loss = tf_keras.metrics.Mean("loss")
      self.eval_loss = tf_keras.metrics.Mean("loss")
      self.gradient_norm = tf_keras.metrics.Mean("gradient_norm")
    # Written by the host loop only, so a plain (non-distributed) variable.
    self.nonfinite_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self._train_loop = tf.function(self._train_loop_fn)
    self._eval_loop = tf.function(self._eval_loop_fn)

  @property
  def global_step(self) -> tf.Variable:
    """The number of updates applied so far (the optimizer's `iterations`)."""
    return self.optimizer.iterations

  @property
  def trainable_variables(self) -> list[tf.Variable]:
    """The pretrainer's trainable variables, each once (the MLM output table is tied)."""
    return unique_variables(self.pretrainer.trainable_variables)

  # Replica-side computation.

  def _replica_loss(self, features: Mapping[str, tf.Tensor], losses: Mapping[str, tf.Tensor],
                    global_weight_sum: tf.Tensor | None) -> tf.Tensor:
    if global_weight_sum is None:
      return losses["loss"]
    local_weight_sum = tf.reduce_sum(tf.cast(features["masked_lm_weights"], tf.float32))
    local_batch = tf.cast(tf.shape(features["masked_lm_weights"])[0], tf.float32)
    global_batch = local_batch * self._num_replicas
    return (losses["masked_lm_loss"] * (local_weight_sum + _MLM_WEIGHT_EPSILON) /
            (global_weight_sum + _MLM_WEIGHT_EPSILON) +
            losses["sentence_order_loss"] * local_batch / global_batch)

  def _clip(self, gradients: list[tf.Tensor]) -> tuple[list[tf.Tensor], tf.Tensor]:
    return tf.clip_by_global_norm(gradients, self.clip_norm)

  def _forward_backward(self, features: Mapping[str, tf.Tensor],
                        global_weight_sum: tf.Tensor | None) -> tuple[Any, ...]:
    variables = self.trainable_variables
    with tf.GradientTape() as tape:
      outputs = self.pretrainer(features, training=True)
      losses = pretraining_objectives.compute_pretraining_losses(features, outputs)
      loss = self._replica_loss(features, losses, global_weight_sum)
      if self._loss_scaling:
        loss = self.optimizer.get_scaled_loss(loss)
    # Dense gradients: the embedding table's lookup part arrives as IndexedSlices, and the tied MLM
    # output layer makes the table's gradient dense anyway.
    gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    if self._loss_scaling:
      gradients = self.optimizer.get_unscaled_gradients(gradients)
    norm = tf.zeros([])
    if not self._global_clipping:
      gradients, norm = self._clip(gradients)
      # The optimizer sums over replicas; scaling by 1/R makes that the mean of clipped gradients.
      if self._num_replicas > 1:
        gradients = [g / self._num_replicas for g in gradients]
    if self._update_in_compiled_step:
      self.optimizer.apply_gradients(zip(gradients, variables))
    return losses, outputs, gradients, norm

  def _train_step(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
    context = tf.distribute.get_replica_context()
    global_weight_sum = None
    if self._global_clipping:
      global_weight_sum = context.all_reduce(
          tf.distribute.ReduceOp.SUM, tf.reduce_sum(tf.cast(features["masked_lm_weights"],
                                                            tf.float32)))
    losses, outputs, gradients, norm = self._local_step(features, global_weight_sum)
    variables = self.trainable_variables
    if self._global_clipping:
      gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
      gradients, norm = self._clip(gradients)
      self.optimizer.apply_gradients(zip(gradients, variables),
                                     experimental_aggregate_gradients=False)
    elif not self._update_in_compiled_step:
      self.optimizer.apply_gradients(zip(gradients, variables))
    self.train_metrics.update_state(features, outputs)
    self.train_loss.update_state(losses["loss"])
    self.gradient_norm.update_state(norm)
    return losses["loss"]

  def _eval_step(self, features: Mapping[str, tf.Tensor]) -> None:
    outputs = self.pretrainer(features, training=False)
    losses = pretraining_objectives.compute_pretraining_losses(features, outputs)
    self.eval_metrics.update_state(features, outputs)
    self.eval_loss.update_state(losses["loss"])

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
      return tf.nest.map_structure(
          lambda t: tf.split(t, local_replicas, axis=0)[index], batch)

    return self.strategy.experimental_distribute_values_from_function(replica_slice)

  def _train_loop_fn(self, iterator: Any, num_steps: tf.Tensor) -> None:
    for _ in tf.range(num_steps):
      step = self.optimizer.iterations.read_value()
      per_replica_loss = self.strategy.run(self._train_step, args=(self._next_batch(iterator),))
      loss = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica_loss, axis=None)
      if not tf.math.is_finite(loss):
        self.nonfinite_step.assign(step)
        break

  def _eval_loop_fn(self, iterator: Any, num_steps: tf.Tensor) -> None:
    for _ in tf.range(num_steps):
      self.strategy.run(self._eval_step, args=(self._next_batch(iterator),))

  def train(self, iterator: Any, num_steps: int) -> dict[str, float]:
    """Runs `num_steps` training steps in one tf.function call.

    Args:
      iterator: see `distributed_input`.
      num_steps: steps to run.

    Returns:
      Means over these steps: loss, masked_lm_accuracy, masked_lm_loss, sentence_order_accuracy,
      sentence_order_loss, gradient_norm; plus learning_rate (the next step's) and
      examples_per_second.

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
    logs["learning_rate"] = float(_learning_rate(self.optimizer))
    logs["examples_per_second"] = steps_done * self.global_batch_size / max(elapsed, 1e-9)
    return logs

  def evaluate(self, iterator: Any, num_steps: int) -> dict[str, float]:
    """Runs `num_steps` evaluation batches; returns the original's metrics plus global_step."""
    for metric in (self.eval_metrics, self.eval_loss):
      metric.reset_state()
    self._eval_loop(iterator, tf.constant(num_steps, tf.int32))
    logs = self._results(self.eval_metrics, self.eval_loss)
    logs["global_step"] = int(self.global_step.numpy())
    return logs

  @staticmethod
  def _results(metrics: Any, loss: tf_keras.metrics.Mean) -> dict[str, float]:
    logs = {name: float(value) for name, value in metrics.result().items()}
    logs["loss"] = float(loss.result())
    return logs


def log_progress(step: int, total_steps: int, logs: Mapping[str, float],
                 write: Callable[..., None] = logging.info) -> None:
  """One progress line: step, loss, accuracies, learning rate, examples/s."""
  write("step %d/%d: loss=%.4f masked_lm_accuracy=%.4f sentence_order_accuracy=%.4f lr=%.3g "
        "grad_norm=%.3f examples/s=%.1f", step, total_steps, logs["loss"],
        logs["masked_lm_accuracy"], logs["sentence_order_accuracy"], logs["learning_rate"],
        logs["gradient_norm"], logs["examples_per_second"])
