"""AlbertModel and AlbertPretrainer: numerics against the NumPy oracle, modes, dtypes, losses."""

import numpy as np
import numpy_albert  # tests/, on sys.path under pytest's default import mode
import pytest
import tensorflow as tf
import tf_keras

from albert_tf.config import AlbertConfig
from albert_tf.models import pretraining_objectives
from albert_tf.models.albert_model import AlbertModel
from albert_tf.models.albert_pretrainer import AlbertPretrainer

TINY = {
    "vocab_size": 23,
    "embedding_size": 6,
    "hidden_size": 8,
    "num_hidden_layers": 3,
    "num_hidden_groups": 1,
    "inner_group_num": 1,
    "num_attention_heads": 2,
    "intermediate_size": 10,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}


def _config(**overrides):
  return AlbertConfig.from_dict(dict(TINY, **overrides))


def _inputs(config, batch=3, seq=7, predictions=4, seed=0):
  rng = np.random.default_rng(seed)
  mask = np.ones((batch, seq), np.int32)
  mask[1, seq - 3:] = 0
  mask[-1, 2:] = 0
  return {
      "input_word_ids": tf.constant(rng.integers(0, config.vocab_size, (batch, seq)), tf.int32),
      "input_mask": tf.constant(mask),
      "input_type_ids": tf.constant(rng.integers(0, 2, (batch, seq)), tf.int32),
      "masked_lm_positions": tf.constant(rng.integers(0, seq, (batch, predictions)), tf.int32),
  }


def _assign_original_weights(pretrainer, weights):
  """Sets the weights through the attribute paths of docs/architecture.md, spelled out here."""

  def dense(layer, scope):
    layer.kernel.assign(weights[scope + "/kernel"])
    layer.bias.assign(weights[scope + "/bias"])

  def layer_norm(layer, scope):
    layer.gamma.assign(weights[scope + "/gamma"])
    layer.beta.assign(weights[scope + "/beta"])

  model = pretrainer.albert
  model.embeddings.word_embeddings.assign(weights["bert/embeddings/word_embeddings"])
  model.embeddings.token_type_embeddings.assign(weights["bert/embeddings/token_type_embeddings"])
  model.embeddings.position_embeddings.assign(weights["bert/embeddings/position_embeddings"])
  layer_norm(model.embeddings.layer_norm, "bert/embeddings/LayerNorm")
  if model.embedding_projection is not None:
    dense(model.embedding_projection, "bert/encoder/embedding_hidden_mapping_in")
  for g, blocks in enumerate(model.encoder.groups):
    for k, block in enumerate(blocks):
      scope = f"bert/encoder/transformer/group_{g}/inner_group_{k}"
      dense(block.query, f"{scope}/attention_1/self/query")
      dense(block.key, f"{scope}/attention_1/self/key")
      dense(block.value, f"{scope}/attention_1/self/value")
      dense(block.attention_output, f"{scope}/attention_1/output/dense")
      layer_norm(block.attention_layer_norm, f"{scope}/LayerNorm")
      dense(block.intermediate, f"{scope}/ffn_1/intermediate/dense")
      dense(block.output_dense, f"{scope}/ffn_1/intermediate/output/dense")
      layer_norm(block.output_layer_norm, f"{scope}/LayerNorm_1")
  dense(model.pooler, "bert/pooler/dense")
  dense(pretrainer.masked_lm.transform, "cls/predictions/transform/dense")
  layer_norm(pretrainer.masked_lm.layer_norm, "cls/predictions/transform/LayerNorm")
  pretrainer.masked_lm.output_bias.assign(weights["cls/predictions/output_bias"])
  pretrainer.sentence_order.output_weights.assign(weights["cls/seq_relationship/output_weights"])
  pretrainer.sentence_order.output_bias.assign(weights["cls/seq_relationship/output_bias"])


def _pretrainer_with_random_weights(config, seed=0):
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  weights = numpy_albert.random_original_weights(config.to_dict(), np.random.default_rng(seed))
  _assign_original_weights(pretrainer, weights)
  return pretrainer, weights


@pytest.mark.parametrize("groups,inner", [(1, 1), (2, 2)])
@pytest.mark.parametrize("hidden_act", ["gelu", "relu"])
@pytest.mark.parametrize("embedding_size", [6, 8])
def test_matches_the_numpy_oracle(groups, inner, hidden_act, embedding_size):
  config = _config(num_hidden_groups=groups, inner_group_num=inner, hidden_act=hidden_act,
                   embedding_size=embedding_size)
  pretrainer, weights = _pretrainer_with_random_weights(config)
  assert (pretrainer.albert.embedding_projection is None) == (embedding_size == 8)
  inputs = _inputs(config)
  out = pretrainer(inputs, training=False)
  backbone = pretrainer.albert(inputs, training=False)
  ref = numpy_albert.albert_forward(weights, config.to_dict(), inputs["input_word_ids"].numpy(),
                                    inputs["input_mask"].numpy(), inputs["input_type_ids"].numpy(),
                                    inputs["masked_lm_positions"].numpy())
  for key in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits"):
    np.testing.assert_allclose(out[key].numpy(), ref[key], atol=1e-5, err_msg=key)
  np.testing.assert_allclose(backbone["embedding_output"].numpy(), ref["embedding_output"],
                             atol=1e-5)
  assert len(backbone["encoder_outputs"]) == len(ref["encoder_outputs"]) == 3 * inner
  for got, want in zip(backbone["encoder_outputs"], ref["encoder_outputs"]):
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def test_output_shapes_and_optional_inputs():
  config = _config(num_hidden_groups=3, inner_group_num=2)
  model = AlbertModel(config)
  inputs = _inputs(config, batch=2, seq=5)
  out = model(inputs)
  assert out["sequence_output"].shape == (2, 5, 8)
  assert out["pooled_output"].shape == (2, 8)
  assert out["embedding_output"].shape == (2, 5, 6)
  assert [t.shape for t in out["encoder_outputs"]] == [(2, 5, 8)] * 6
  ids = inputs["input_word_ids"]
  explicit = model({
      "input_word_ids": ids,
      "input_mask": tf.ones_like(ids),
      "input_type_ids": tf.zeros_like(ids)
  })
  implicit = model({"input_word_ids": ids})
  np.testing.assert_allclose(implicit["sequence_output"].numpy(),
                             explicit["sequence_output"].numpy(), atol=1e-6)
  with pytest.raises(ValueError, match="input_word_ids"):
    model(ids)
  with pytest.raises(ValueError, match="masked_lm_positions"):
    AlbertPretrainer(config)({"input_word_ids": ids})


@pytest.mark.parametrize("seq", [1, 16])
def test_any_length_up_to_max_position_embeddings(seq):
  config = _config()
  out = AlbertPretrainer(config)(_inputs(config, batch=2, seq=seq, predictions=1))
  assert out["sequence_output"].shape == (2, seq, 8)
  assert out["mlm_logits"].shape == (2, 1, 23)


def test_longer_than_max_position_embeddings_is_a_clear_error():
  with pytest.raises(ValueError, match=r"exceeds max_position_embeddings \(16\)"):
    AlbertModel(_config())({"input_word_ids": tf.zeros([1, 17], tf.int32)})


def test_variables_are_unique_and_the_table_is_tied():
  pretrainer = AlbertPretrainer(_config())
  pretrainer.build()
  variables = pretrainer.trainable_variables
  assert len({id(v) for v in variables}) == len(variables)
  assert sum(v is pretrainer.albert.get_embedding_table() for v in variables) == 1
  assert pretrainer.albert.get_embedding_table() is pretrainer.albert.embeddings.word_embeddings


def test_tf_function_and_xla_match_eager():
  config = _config(num_hidden_groups=2, inner_group_num=2)
  pretrainer, _ = _pretrainer_with_random_weights(config)
  inputs = _inputs(config)
  eager = pretrainer(inputs, training=False)
  graph = tf.function(lambda x: pretrainer(x, training=False))(inputs)
  xla = tf.function(lambda x: pretrainer(x, training=False), jit_compile=True)(inputs)
  for key in ("mlm_logits", "sop_logits", "sequence_output", "pooled_output"):
    np.testing.assert_allclose(graph[key].numpy(), eager[key].numpy(), atol=1e-5)
    np.testing.assert_allclose(xla[key].numpy(), eager[key].numpy(), atol=1e-4)


def test_dropout_only_when_training():
  config = _config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
  model = AlbertModel(config)
  inputs = _inputs(config)
  inference = [model(inputs, training=False)["sequence_output"].numpy() for _ in range(2)]
  default = model(inputs)["sequence_output"].numpy()
  np.testing.assert_array_equal(inference[0], inference[1])
  np.testing.assert_array_equal(inference[0], default)
  tf.random.set_seed(1)
  training = [model(inputs, training=True)["sequence_output"].numpy() for _ in range(2)]
  assert np.abs(training[0] - inference[0]).max() > 1e-2
  assert np.abs(training[0] - training[1]).max() > 1e-2


def test_mixed_bfloat16_is_finite_and_close_to_float32():
  config = _config(num_hidden_groups=2, inner_group_num=2)
  reference, weights = _pretrainer_with_random_weights(config)
  inputs = _inputs(config)
  expected = reference(inputs, training=False)
  tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    pretrainer = AlbertPretrainer(config)
    pretrainer.build()
    _assign_original_weights(pretrainer, weights)
    out = pretrainer(inputs, training=False)
    block = pretrainer.albert.encoder.groups[0][0]
    assert block.compute_dtype == "bfloat16" and block.query.kernel.dtype == tf.float32
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  # The residual stream (block outputs) stays float32; the pooler computes in bfloat16.
  assert out["sequence_output"].dtype == tf.float32
  assert out["pooled_output"].dtype == tf.bfloat16
  assert out["mlm_logits"].dtype == out["sop_logits"].dtype == tf.float32
  for key in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits"):
    got = tf.cast(out[key], tf.float32).numpy()
    want = expected[key].numpy()
    assert np.isfinite(got).all(), key
    # bfloat16 keeps 8 bits of mantissa: a few 1e-2 after 6 blocks of unit-scale activations.
    assert np.abs(got - want).max() < 0.1 * max(1.0, np.abs(want).max()), key
  losses = pretraining_objectives.compute_pretraining_losses(_features(config, inputs), out)
  assert all(loss.dtype == tf.float32 for loss in losses.values())


def test_get_config_round_trip():
  config = _config(num_hidden_groups=3, inner_group_num=2, custom_key="kept")
  for cls in (AlbertModel, AlbertPretrainer):
    model = cls(config)
    restored = cls.from_config(model.get_config())
    assert restored.config == config
    assert restored.get_config() == model.get_config()
  assert AlbertModel(config.to_dict()).config == config


def _features(config, inputs, seed=1):
  rng = np.random.default_rng(seed)
  shape = inputs["masked_lm_positions"].shape
  weights = np.ones(shape, np.float32)
  weights[0, -2:] = 0.0
  return {
      "masked_lm_ids": tf.constant(rng.integers(0, config.vocab_size, shape), tf.int32),
      "masked_lm_weights": tf.constant(weights),
      "next_sentence_labels": tf.constant(rng.integers(0, 2, (shape[0], 1)), tf.int32),
  }


def _numpy_log_softmax(logits):
  shifted = logits - logits.max(-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _numpy_objectives(features, outputs):
  ids = features["masked_lm_ids"].numpy()
  weights = features["masked_lm_weights"].numpy().astype(np.float64)
  labels = features["next_sentence_labels"].numpy().reshape(-1)
  mlm_log_probs = _numpy_log_softmax(outputs["mlm_logits"].numpy().astype(np.float64))
  nll = -np.take_along_axis(mlm_log_probs, ids[..., None], -1)[..., 0]
  sop_log_probs = _numpy_log_softmax(outputs["sop_logits"].numpy().astype(np.float64))
  sop_nll = -sop_log_probs[np.arange(len(labels)), labels]
  mlm_correct = (mlm_log_probs.argmax(-1) == ids).astype(np.float64)
  return {
      "masked_lm_loss_for_training": (weights * nll).sum() / (weights.sum() + 1e-5),
      "masked_lm_loss_metric": (weights * nll).sum() / weights.sum(),
      "masked_lm_accuracy": (weights * mlm_correct).sum() / weights.sum(),
      "sentence_order_loss": sop_nll.mean(),
      "sentence_order_accuracy": (sop_log_probs.argmax(-1) == labels).mean(),
  }


def test_losses_are_the_original_formulas():
  config = _config()
  pretrainer, _ = _pretrainer_with_random_weights(config)
  inputs = _inputs(config)
  outputs = pretrainer(inputs, training=False)
  features = _features(config, inputs)
  losses = pretraining_objectives.compute_pretraining_losses(features, outputs)
  expected = _numpy_objectives(features, outputs)
  np.testing.assert_allclose(losses["masked_lm_loss"].numpy(),
                             expected["masked_lm_loss_for_training"], rtol=1e-5)
  np.testing.assert_allclose(losses["sentence_order_loss"].numpy(), expected["sentence_order_loss"],
                             rtol=1e-5)
  np.testing.assert_allclose(
      losses["loss"].numpy(),
      expected["masked_lm_loss_for_training"] + expected["sentence_order_loss"], rtol=1e-5)
  flat_labels = dict(features, next_sentence_labels=tf.reshape(features["next_sentence_labels"],
                                                               [-1]))
  np.testing.assert_allclose(
      pretraining_objectives.compute_pretraining_losses(flat_labels, outputs)["loss"].numpy(),
      losses["loss"].numpy(), rtol=1e-6)


def test_all_zero_weights_give_zero_mlm_loss():
  config = _config()
  outputs = AlbertPretrainer(config)(_inputs(config))
  features = dict(_features(config, _inputs(config)), masked_lm_weights=tf.zeros([3, 4],
                                                                                 tf.float32))
  losses = pretraining_objectives.compute_pretraining_losses(features, outputs)
  assert losses["masked_lm_loss"].numpy() == 0.0


def test_metrics_accumulate_like_the_original_metric_fn():
  config = _config()
  pretrainer, _ = _pretrainer_with_random_weights(config)
  metrics = pretraining_objectives.PretrainingMetrics()
  batches = []
  for seed in (0, 1):
    inputs = _inputs(config, seed=seed)
    batches.append((_features(config, inputs, seed=seed + 5), pretrainer(inputs)))
    metrics.update_state(*batches[-1])
  result = {name: value.numpy() for name, value in metrics.result().items()}
  assert sorted(result) == [
      "masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy", "sentence_order_loss"
  ]
  features = {key: tf.concat([b[0][key] for b in batches], 0) for key in batches[0][0]}
  names = ("mlm_logits", "sop_logits")
  outputs = {key: tf.concat([b[1][key] for b in batches], 0) for key in names}
  expected = _numpy_objectives(features, outputs)
  np.testing.assert_allclose(result["masked_lm_loss"], expected["masked_lm_loss_metric"], rtol=1e-5)
  np.testing.assert_allclose(result["masked_lm_accuracy"], expected["masked_lm_accuracy"],
                             rtol=1e-6)
  np.testing.assert_allclose(result["sentence_order_loss"], expected["sentence_order_loss"],
                             rtol=1e-5)
  np.testing.assert_allclose(result["sentence_order_accuracy"], expected["sentence_order_accuracy"],
                             rtol=1e-6)
  metrics.reset_state()
  assert metrics.result()["masked_lm_loss"].numpy() == 0.0


def test_loss_falls_when_training_a_tiny_pretrainer():
  config = _config(hidden_dropout_prob=0.1)
  # Python's, NumPy's and TF's seeds: Keras draws an unseeded dropout layer's seed from Python's
  # `random`, whose state depends on which tests ran before in this process.
  tf_keras.utils.set_random_seed(0)
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  inputs = _inputs(config, batch=4, seq=8)
  features = _features(config, inputs)
  optimizer = tf_keras.optimizers.Adam(0.01)

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      loss = pretraining_objectives.compute_pretraining_losses(features,
                                                               pretrainer(inputs,
                                                                          training=True))["loss"]
    variables = pretrainer.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  losses = [float(train_step()) for _ in range(30)]
  assert losses[-1] < 0.5 * losses[0]


def test_functional_use_and_keras_save_round_trip(tmp_path):
  model = AlbertModel(_config(num_hidden_groups=3, inner_group_num=2))
  inputs = {
      name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
      for name in ("input_word_ids", "input_mask", "input_type_ids")
  }
  classifier = tf_keras.Model(inputs, tf_keras.layers.Dense(3)(model(inputs)["pooled_output"]))
  batch = {key: value for key, value in _inputs(model.config).items() if key in inputs}
  path = str(tmp_path / "classifier.keras")
  classifier.save(path)
  restored = tf_keras.models.load_model(path)
  np.testing.assert_allclose(restored(batch).numpy(), classifier(batch).numpy(), atol=1e-6)
