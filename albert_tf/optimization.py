"""The original ALBERT optimizers (LAMB, AdamW) and learning-rate schedule on tf-models-official.

The original `create_optimizer` (reference/original_albert.md §8) differs from the stock
`official.modeling.optimization` classes in three ways, each handled by a thin subclass here:

* no bias correction of Adam's moments (official LAMB and Keras Adam always correct);
* warmup is a hard switch: `lr = peak * (step - start_warmup_step) / warmup_steps` while that ratio
  is below one, then the polynomial decay of the *absolute* step (official `LinearWarmup` instead
  ramps to the decayed value and has no start offset);
* LayerNorm parameters and every bias are excluded from weight decay and from LAMB's trust ratio.

Gradient clipping is done by the train step (albert_tf.training), not by the optimizer, so that the
clipped norm can be logged and the clipping point relative to the cross-replica reduction is
explicit.
"""

from typing import Any, Mapping, Sequence

from official.modeling.optimization import lamb
from official.modeling.optimization import legacy_adamw
import tensorflow as tf
import tf_keras

# re.search patterns of the original (LayerNorm, layer_norm, bias). Our Keras variable names carry
# the layer names of docs/architecture.md: every LayerNormalization layer is called `layer_norm` or
# `*_layer_norm` (variables `.../layer_norm/gamma:0`), every bias ends in `bias` (`.../bias:0`,
# `output_bias:0`), so the original patterns select exactly the same parameters.
EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")

OPTIMIZER_NAMES = ("lamb", "adamw")

# Both classes override `_prepare_local`, the hook where legacy Keras optimizers (and the tf-models
# ones built on them) compute the per-device coefficients of an update; no public method exposes
# those coefficients, and overriding the hook keeps the tf-models update rules whole instead of
# copying them.


def _disable_bias_correction(coefficients: dict[str, Any], var_dtype: tf.DType) -> None:
  # Both update rules divide by (1 - beta_power); a zero power makes that division the identity.
  zero = tf.zeros([], var_dtype)
  coefficients["beta_1_power"] = zero
  coefficients["beta_2_power"] = zero


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertLamb(lamb.LAMB):
  """LAMB with the original ALBERT update rule (no bias correction unless asked for).

  Per variable: `m = b1*m + (1-b1)*g`, `v = b2*v + (1-b2)*g^2`, `u = m / (sqrt(v) + eps) + wd*w`,
  `r = |w| / |u|` (1 when either norm is 0 or the variable is excluded), `w -= r * lr * u`.

  Example:
    >>> opt = AlbertLamb(learning_rate=1e-3, weight_decay_rate=0.01,
    ...                  exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY))
    >>> opt.bias_correction  # the original's update
    False

  Args:
    bias_correction: divide m and v by (1 - beta^t) like the LAMB paper; the original does not.
    **kwargs: passed to `official.modeling.optimization.lamb.LAMB`.
  """

  def __init__(self, *, bias_correction: bool = False, name: str = "LAMB", **kwargs):
    super().__init__(name=name, **kwargs)
    self.bias_correction = bias_correction

  def _prepare_local(self, var_device, var_dtype, apply_state):
    super()._prepare_local(var_device, var_dtype, apply_state)
    if not self.bias_correction:
      _disable_bias_correction(apply_state[(var_device, var_dtype)], var_dtype)

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(bias_correction=self.bias_correction,
                  exclude_from_weight_decay=self.exclude_from_weight_decay,
                  exclude_from_layer_adaptation=self.exclude_from_layer_adaptation)
    return config


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class AlbertAdamWeightDecay(legacy_adamw.AdamWeightDecay):
  """AdamW with the original ALBERT/BERT update rule (no bias correction unless asked for).

  Per variable: `m`, `v` as Adam, `w -= lr * (m / (sqrt(v) + eps) + wd*w)` with the decay term
  skipped for excluded variables. Clipping is left to the caller (`gradient_clip_norm` is 0).

  Example:
    >>> opt = AlbertAdamWeightDecay(learning_rate=1e-4, weight_decay_rate=0.01, epsilon=1e-6,
    ...                             exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY))
    >>> opt.gradient_clip_norm  # clipping is the trainer's
    0.0

  Args:
    bias_correction: scale the step by sqrt(1 - b2^t) / (1 - b1^t) like Keras Adam.
    exclude_from_weight_decay: re.search patterns of variable names without weight decay.
    **kwargs: passed to `official.modeling.optimization.legacy_adamw.AdamWeightDecay`.
  """

  def __init__(self, *, bias_correction: bool = False,
               exclude_from_weight_decay: Sequence[str] | None = None,
               name: str = "AdamWeightDecay", **kwargs):
    kwargs.setdefault("gradient_clip_norm", 0.0)
    super().__init__(name=name, exclude_from_weight_decay=exclude_from_weight_decay, **kwargs)
    self.bias_correction = bias_correction
    # Kept for get_config: the base class stores it only in a private attribute.
    self.exclude_from_weight_decay = exclude_from_weight_decay

  def _prepare_local(self, var_device, var_dtype, apply_state):
    super()._prepare_local(var_device, var_dtype, apply_state)
    if not self.bias_correction:
      coefficients = apply_state[(var_device, var_dtype)]
      _disable_bias_correction(coefficients, var_dtype)
      coefficients["lr"] = coefficients["lr_t"]

  def get_config(self) -> dict[str, Any]:
    config = super().get_config()
    config.update(bias_correction=self.bias_correction, gradient_clip_norm=self.gradient_clip_norm,
                  exclude_from_weight_decay=self.exclude_from_weight_decay)
    return config


@tf_keras.utils.register_keras_serializable(package="AlbertTF")
class WarmupPolynomialDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
  """The original `create_optimizer` schedule: hard-switch linear warmup, then polynomial decay.

  `decayed = peak * (1 - min(step, decay_steps) / decay_steps) ** power` on the absolute step;
  while `s = step - start_warmup_step` is below `warmup_steps` (including negative `s`, as in the
  original), `lr = peak * s / warmup_steps` instead. So lr is 0 at step 0 and jumps from
  `peak * (W-1)/W` to `decayed(W)` at step W.

  Example:
    >>> schedule = WarmupPolynomialDecay(0.00176, decay_steps=125000, warmup_steps=3125)
    >>> float(schedule(0)), float(schedule(3125))  # 0.00176 * (1 - 3125/125000) at step 3125
    (0.0, 0.001716...)

  Args:
    peak_learning_rate: the learning rate the warmup aims at (the original's init_lr).
    decay_steps: steps to decay to zero (the original's num_train_steps).
    warmup_steps: warmup length; 0 disables warmup.
    start_warmup_step: step at which the warmup starts.
    power: power of the polynomial decay (the original's poly_power).
    name: name scope of the computation.
  """

  def __init__(self, peak_learning_rate: float, decay_steps: int, warmup_steps: int = 0,
               start_warmup_step: int = 0, power: float = 1.0, name: str = "WarmupPolynomialDecay"):
    super().__init__()
    self.peak_learning_rate = peak_learning_rate
    self.decay_steps = decay_steps
    self.warmup_steps = warmup_steps
    self.start_warmup_step = start_warmup_step
    self.power = power
    self.name = name
    self._decay = tf_keras.optimizers.schedules.PolynomialDecay(peak_learning_rate, decay_steps,
                                                                end_learning_rate=0.0, power=power,
                                                                cycle=False)

  def __call__(self, step):
    with tf.name_scope(self.name):
      decayed = tf.cast(self._decay(step), tf.float32)
      if not self.warmup_steps:
        return decayed
      warmup_progress = (tf.cast(step, tf.float32) - float(self.start_warmup_step)) / float(
          self.warmup_steps)
      return tf.where(warmup_progress < 1.0, self.peak_learning_rate * warmup_progress, decayed)

  def get_config(self) -> dict[str, Any]:
    return {
        "peak_learning_rate": self.peak_learning_rate,
        "decay_steps": self.decay_steps,
        "warmup_steps": self.warmup_steps,
        "start_warmup_step": self.start_warmup_step,
        "power": self.power,
        "name": self.name,
    }


def create_optimizer(
    learning_rate: float,
    num_train_steps: int,
    num_warmup_steps: int,
    optimizer: str = "lamb",
    poly_power: float = 1.0,
    start_warmup_step: int = 0,
    weight_decay_rate: float = 0.01,
    bias_correction: bool = False,
    exclude_from_weight_decay: Sequence[str] = EXCLUDE_FROM_WEIGHT_DECAY,
) -> tf_keras.optimizers.legacy.Optimizer:
  """Builds the original ALBERT optimizer: LAMB or AdamW with the warmup/decay schedule.

  Args:
    learning_rate: peak learning rate.
    num_train_steps: steps of the polynomial decay to zero.
    num_warmup_steps: linear warmup steps (hard switch).
    optimizer: "lamb" (the pretraining default) or "adamw".
    poly_power: power of the polynomial decay.
    start_warmup_step: step at which the warmup starts.
    weight_decay_rate: decoupled weight decay.
    bias_correction: correct Adam's moments for their zero initialisation (the original does not).
    exclude_from_weight_decay: re.search patterns of variable names excluded from weight decay and
      from LAMB's trust ratio.

  Returns:
    A legacy tf_keras optimizer with beta_1 0.9, beta_2 0.999 and epsilon 1e-6.

  Raises:
    ValueError: for an unknown optimizer name.
  """
  schedule = WarmupPolynomialDecay(learning_rate, num_train_steps, num_warmup_steps,
                                   start_warmup_step=start_warmup_step, power=poly_power)
  common: Mapping[str, Any] = dict(learning_rate=schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                                   weight_decay_rate=weight_decay_rate,
                                   exclude_from_weight_decay=list(exclude_from_weight_decay),
                                   bias_correction=bias_correction)
  if optimizer == "lamb":
    return AlbertLamb(**common)
  if optimizer == "adamw":
    return AlbertAdamWeightDecay(**common)
  raise ValueError(f"Unknown optimizer {optimizer!r}: use one of {', '.join(OPTIMIZER_NAMES)}.")
