"""albert_tf.optimization against a NumPy transcription of the original create_optimizer."""

import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf import optimization

PEAK, TRAIN_STEPS, WARMUP = 0.01, 100, 10
EXCLUDED = ("LayerNorm", "layer_norm", "bias")


def reference_lr(step, peak=PEAK, train_steps=TRAIN_STEPS, warmup=WARMUP, start=0, power=1.0):
  decayed = peak * (1.0 - min(step, train_steps) / train_steps)**power
  s = step - start
  if warmup and s < warmup:
    return peak * s / warmup
  return decayed


def reference_update(kind, name, w, g, m, v, lr, wd=0.01, b1=0.9, b2=0.999, eps=1e-6):
  """One original AdamWeightDecayOptimizer / LAMBOptimizer step for one variable (§8.3, §8.4)."""
  m = b1 * m + (1 - b1) * g
  v = b2 * v + (1 - b2) * g * g
  u = m / (np.sqrt(v) + eps)
  excluded = any(re.search(p, name) for p in EXCLUDED)
  if not excluded:
    u = u + wd * w
  ratio = 1.0
  if kind == "lamb" and not excluded:
    w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(u)
    ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
  return w - ratio * lr * u, m, v


@pytest.mark.parametrize("step,start,power", [(0, 0, 1.0), (1, 0, 1.0), (9, 0, 1.0), (10, 0, 1.0),
                                              (55, 0, 2.0), (100, 0, 1.0), (250, 0, 1.0),
                                              (3, 5, 1.0), (12, 5, 1.0), (15, 5, 0.5)])
def test_schedule_matches_original_formula(step, start, power):
  schedule = optimization.WarmupPolynomialDecay(PEAK, TRAIN_STEPS, WARMUP, start_warmup_step=start,
                                                power=power)
  expected = reference_lr(step, start=start, power=power)
  np.testing.assert_allclose(float(schedule(tf.constant(step, tf.int64))), expected, rtol=1e-6,
                             atol=1e-9)


def test_schedule_hard_switch_and_negative_lr_before_start():
  schedule = optimization.WarmupPolynomialDecay(1.0, 100, 10, start_warmup_step=5)
  assert float(schedule(0)) == pytest.approx(-0.5)  # the original's documented quirk
  assert float(schedule(14)) == pytest.approx(0.9)
  assert float(schedule(15)) == pytest.approx(0.85)  # decayed(15): no blend with the warmup
  no_warmup = optimization.WarmupPolynomialDecay(1.0, 100, 0)
  assert float(no_warmup(0)) == pytest.approx(1.0)


def test_schedule_config_round_trip():
  schedule = optimization.WarmupPolynomialDecay(0.1, 50, 5, start_warmup_step=2, power=2.0)
  clone = optimization.WarmupPolynomialDecay.from_config(schedule.get_config())
  assert clone.get_config() == schedule.get_config()


def _variables(rng):
  shapes = {
      "dense/kernel": (4, 3),
      "dense/bias": (3,),
      "layer_norm/gamma": (3,),
      "attention_layer_norm/beta": (3,),
      "word_embeddings": (6, 3),
      "output_bias": (6,)
  }
  return {
      name: tf.Variable(rng.normal(size=shape).astype(np.float32), name=name)
      for name, shape in shapes.items()
  }


@pytest.mark.parametrize("kind", ["lamb", "adamw"])
def test_steps_match_numpy_reference(kind):
  rng = np.random.default_rng(0)
  variables = _variables(rng)
  optimizer = optimization.create_optimizer(PEAK, TRAIN_STEPS, WARMUP, optimizer=kind)
  state = {name: (var.numpy(), 0.0, 0.0) for name, var in variables.items()}
  for step in range(4):
    grads = {name: rng.normal(size=var.shape).astype(np.float32) for name, var in variables.items()}
    optimizer.apply_gradients([(tf.constant(grads[n]), v) for n, v in variables.items()])
    lr = reference_lr(step)
    for name in variables:
      w, m, v = state[name]
      state[name] = reference_update(kind, name, w, grads[name], m, v, lr)
  # Step 0 has lr 0, so three real updates are compared.
  for name, var in variables.items():
    np.testing.assert_allclose(var.numpy(), state[name][0], rtol=2e-5, atol=2e-6, err_msg=name)
  assert int(optimizer.iterations) == 4


@pytest.mark.parametrize("kind", ["lamb", "adamw"])
def test_bias_correction_is_opt_in(kind):
  var = tf.Variable([1.0, -2.0], name="kernel")
  optimizer = optimization.create_optimizer(0.1, 100, 0, optimizer=kind, weight_decay_rate=0.0,
                                            bias_correction=True)
  optimizer.apply_gradients([(tf.constant([0.5, 0.25]), var)])
  # With bias correction the first Adam step is lr * sign(g) (up to eps); LAMB rescales by |w|/|u|.
  direction = np.array([1.0, 1.0])
  if kind == "lamb":
    direction *= np.linalg.norm([1.0, -2.0]) / np.linalg.norm(direction)
  np.testing.assert_allclose(var.numpy(), np.array([1.0, -2.0]) - 0.1 * direction, rtol=1e-4)


def test_optimizer_config_round_trip():
  for kind in ("lamb", "adamw"):
    optimizer = optimization.create_optimizer(0.1, 100, 10, optimizer=kind)
    config = optimizer.get_config()
    clone = type(optimizer).from_config(config)
    assert clone.get_config()["bias_correction"] is False
    assert clone.get_config()["exclude_from_weight_decay"] == list(EXCLUDED)


def test_unknown_optimizer_is_rejected():
  with pytest.raises(ValueError, match="Unknown optimizer 'sgd'"):
    optimization.create_optimizer(0.1, 100, 10, optimizer="sgd")


def test_registered_for_serialization():
  assert tf_keras.utils.get_registered_object("AlbertTF>AlbertLamb") is optimization.AlbertLamb


def test_exclusions_select_exactly_layer_norms_and_biases_of_the_pretrainer():
  from albert_tf import AlbertConfig  # pylint: disable=g-import-not-at-top
  from albert_tf import AlbertPretrainer  # pylint: disable=g-import-not-at-top
  from tests import test_train_support as support  # pylint: disable=g-import-not-at-top
  config = AlbertConfig.from_dict({
      **support.TINY_CONFIG, "num_hidden_groups": 2,
      "inner_group_num": 2
  })
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  expected = set()
  for module in pretrainer.submodules:
    if isinstance(module, tf_keras.layers.LayerNormalization):
      expected |= {module.gamma.ref(), module.beta.ref()}
    bias = getattr(module, "bias", None)
    if isinstance(bias, tf.Variable):
      expected.add(bias.ref())
  expected |= {pretrainer.masked_lm.output_bias.ref(), pretrainer.sentence_order.output_bias.ref()}
  optimizer = optimization.create_optimizer(0.1, 10, 1)
  excluded = {
      v.ref() for v in pretrainer.trainable_variables if not optimizer._do_use_weight_decay(v.name)
  }  # pylint: disable=protected-access
  trust_ratio_skipped = {
      v.ref() for v in pretrainer.trainable_variables if not optimizer._do_layer_adaptation(v.name)
  }  # pylint: disable=protected-access
  assert excluded == expected == trust_ratio_skipped
  decayed = {v.name for v in pretrainer.trainable_variables if v.ref() not in excluded}
  assert "albert/embeddings/word_embeddings:0" in decayed
  assert "sentence_order/output_weights:0" in decayed
  assert len(excluded) == 2 * (1 + 4 * 2 + 1) + 1 + 4 * 6 + 1 + 1 + 1 + 1
