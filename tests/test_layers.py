"""The Keras layers, each checked against NumPy formulas written here from the original's math."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf import brightmart
from albert_tf.layers import activations
from albert_tf.layers import embeddings
from albert_tf.layers import masked_lm_head
from albert_tf.layers import sentence_order_head
from albert_tf.layers import shared_encoder
from albert_tf.layers import transformer_block

EPS = 1e-12


def _layer_norm(x, gamma, beta):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean)**2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + EPS) * gamma + beta


def _randomize(layer, seed=0):
  """Random values for every weight (biases and LN too), so misplaced weights change outputs."""
  rng = np.random.default_rng(seed)
  for weight in layer.weights:
    weight.assign(rng.normal(0.0, 0.3, weight.shape).astype(np.float32))


def test_gelu_is_the_tanh_approximation():
  x = np.linspace(-5, 5, 101).astype(np.float32)
  expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
  np.testing.assert_allclose(activations.gelu_tanh(tf.constant(x)).numpy(), expected, atol=1e-6)
  assert activations.get_activation("GELU") is activations.gelu_tanh
  assert activations.get_activation("") is None
  assert activations.get_activation("linear") is None
  with pytest.raises(ValueError, match="hidden_act 'swish' is not supported"):
    activations.get_activation("swish")


def test_embeddings_match_the_formula_and_slice_positions():
  layer = embeddings.AlbertEmbeddings(vocab_size=13, embedding_size=6, max_position_embeddings=9,
                                      type_vocab_size=3)
  layer.build()
  _randomize(layer)
  rng = np.random.default_rng(1)
  ids = rng.integers(0, 13, (2, 5))
  types = rng.integers(0, 3, (2, 5))
  out = layer(tf.constant(ids, tf.int32), tf.constant(types, tf.int32)).numpy()
  word, token_type, position = (layer.word_embeddings.numpy(), layer.token_type_embeddings.numpy(),
                                layer.position_embeddings.numpy())
  expected = _layer_norm(word[ids] + token_type[types] + position[:5][None],
                         layer.layer_norm.gamma.numpy(), layer.layer_norm.beta.numpy())
  np.testing.assert_allclose(out, expected, atol=1e-5)
  assert out.shape == (2, 5, 6)
  without_types = layer(tf.constant(ids, tf.int32)).numpy()
  np.testing.assert_allclose(
      without_types,
      _layer_norm(word[ids] + token_type[0] + position[:5][None], layer.layer_norm.gamma.numpy(),
                  layer.layer_norm.beta.numpy()), atol=1e-5)


def test_embeddings_reject_sequences_longer_than_the_position_table():
  layer = embeddings.AlbertEmbeddings(vocab_size=13, embedding_size=6, max_position_embeddings=4)
  with pytest.raises(ValueError, match=r"exceeds max_position_embeddings \(4\).*got 5"):
    layer(tf.zeros([1, 5], tf.int32))

  @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32)])
  def dynamic(ids):
    return layer(ids)

  assert dynamic(tf.zeros([1, 4], tf.int32)).shape == (1, 4, 6)
  with pytest.raises(tf.errors.InvalidArgumentError, match="exceeds max_position_embeddings"):
    dynamic(tf.zeros([1, 5], tf.int32))


def test_brightmart_embeddings_reject_sequences_longer_than_the_position_table():
  layer = brightmart.BrightmartEmbeddings(hidden_size=8, vocab_size=13, embedding_size=6,
                                          max_position_embeddings=4)
  assert layer(tf.zeros([1, 4], tf.int32)).shape == (1, 4, 8)
  with pytest.raises(ValueError, match=r"exceeds max_position_embeddings \(4\).*got 5"):
    layer(tf.zeros([1, 5], tf.int32))


def _numpy_block(block, x, mask):
  """The original attention_ffn_block in NumPy (float64), reading the block's Keras weights."""
  w = {
      v.name.split("/")[-2] + "/" + v.name.split("/")[-1][:-2]: v.numpy().astype(np.float64)
      for v in block.weights
  }
  batch, seq, hidden = x.shape
  heads, size = block.num_attention_heads, block.head_size

  def dense(name, inputs):
    return inputs @ w[name + "/kernel"] + w[name + "/bias"]

  def split(t):
    return t.reshape(batch, seq, heads, size).transpose(0, 2, 1, 3)

  q, k, v = (split(dense(name, x)) for name in ("query", "key", "value"))
  scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(size))
  scores += (1.0 - mask[:, None, None, :]) * -10000.0
  probs = np.exp(scores - scores.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
  a = _layer_norm(
      dense("attention_output", context) + x, w["attention_layer_norm/gamma"],
      w["attention_layer_norm/beta"])
  f = np.maximum(dense("intermediate", a), 0.0)
  return _layer_norm(
      dense("output_dense", f) + a, w["output_layer_norm/gamma"], w["output_layer_norm/beta"])


# Two rows of 5 tokens, the second with 2 padding positions.
_BLOCK_MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.int32)


def _random_relu_block(intermediate_size):
  """A built H=12, N=3 block (relu) with random weights."""
  block = transformer_block.AlbertTransformerBlock(hidden_size=12, num_attention_heads=3,
                                                   intermediate_size=intermediate_size,
                                                   hidden_act="relu")
  block.build()
  _randomize(block)
  return block


def test_transformer_block_matches_the_formula_with_padding():
  block = _random_relu_block(intermediate_size=7)
  rng = np.random.default_rng(2)
  x = rng.normal(size=(2, 5, 12)).astype(np.float32)
  mask = _BLOCK_MASK
  out = block(tf.constant(x), shared_encoder.attention_bias_from_mask(tf.constant(mask))).numpy()
  np.testing.assert_allclose(out, _numpy_block(block, x.astype(np.float64), mask), atol=2e-5)
  # Masked keys have no influence on any position.
  x2 = x.copy()
  x2[1, 3:] = rng.normal(size=(2, 12))
  out2 = block(tf.constant(x2), shared_encoder.attention_bias_from_mask(tf.constant(mask))).numpy()
  np.testing.assert_allclose(out2[1, :3], out[1, :3], atol=1e-6)


def _matmul_count(block, x, bias):
  graph = tf.function(block).get_concrete_function(x, bias).graph
  return sum(op.type == "MatMul" for op in graph.get_operations())


def test_split_feed_forward_is_the_same_function_in_slices_at_most_h_wide():
  assert transformer_block.feed_forward_slices(3072, 768) == [768, 768, 768, 768]
  assert transformer_block.feed_forward_slices(37, 32) == [19, 18]
  assert transformer_block.feed_forward_slices(7, 12) == [7]
  block = _random_relu_block(intermediate_size=30)
  x = np.random.default_rng(3).normal(size=(2, 5, 12)).astype(np.float32)
  bias = shared_encoder.attention_bias_from_mask(tf.constant(_BLOCK_MASK))
  whole = block(tf.constant(x), bias).numpy()
  with transformer_block.split_feed_forward():
    split = block(tf.constant(x), bias).numpy()
    # q, k, v, attention output, then [10, 10, 10] slices in and out.
    assert _matmul_count(block, tf.constant(x), bias) == 4 + 3 * 2
  assert _matmul_count(block, tf.constant(x), bias) == 4 + 2  # the scope has ended
  np.testing.assert_allclose(split, whole, atol=1e-5)
  np.testing.assert_allclose(split, _numpy_block(block, x.astype(np.float64), _BLOCK_MASK),
                             atol=2e-5)


def test_transformer_block_kernels_have_the_original_shapes():
  block = transformer_block.AlbertTransformerBlock(hidden_size=12, num_attention_heads=3,
                                                   intermediate_size=7)
  block.build()
  shapes = {
      name: tuple(getattr(block, name).kernel.shape)
      for name in ("query", "key", "value", "attention_output", "intermediate", "output_dense")
  }
  assert shapes == {
      "query": (12, 12),
      "key": (12, 12),
      "value": (12, 12),
      "attention_output": (12, 12),
      "intermediate": (12, 7),
      "output_dense": (7, 12)
  }
  assert block.attention_layer_norm.epsilon == block.output_layer_norm.epsilon == 1e-12
  with pytest.raises(ValueError, match="divisible"):
    transformer_block.AlbertTransformerBlock(hidden_size=12, num_attention_heads=5,
                                             intermediate_size=7)


def test_attention_bias_is_minus_10000_on_masked_keys():
  bias = shared_encoder.attention_bias_from_mask(tf.constant([[1, 0, 1]])).numpy()
  assert bias.shape == (1, 1, 1, 3) and bias.dtype == np.float32
  np.testing.assert_array_equal(bias.reshape(-1), [0.0, -10000.0, 0.0])


def _encoder(layers, groups, inner):
  encoder = shared_encoder.AlbertSharedEncoder(num_hidden_layers=layers, hidden_size=8,
                                               num_attention_heads=2, intermediate_size=5,
                                               num_hidden_groups=groups, inner_group_num=inner)
  encoder.build()
  return encoder


def test_shared_encoder_creates_exactly_groups_times_inner_blocks():
  encoder = _encoder(layers=4, groups=2, inner=2)
  assert [len(blocks) for blocks in encoder.groups] == [2, 2]
  assert len(encoder.trainable_weights) == 2 * 2 * 16
  assert len({id(v) for v in encoder.trainable_weights}) == 2 * 2 * 16
  assert encoder.layer_to_group == [0, 0, 1, 1]
  assert encoder.blocks == [
      encoder.groups[0][0], encoder.groups[0][1], encoder.groups[1][0], encoder.groups[1][1]
  ]
  assert len(_encoder(layers=6, groups=1, inner=1).trainable_weights) == 16


def test_shared_encoder_applies_blocks_in_the_original_order():
  encoder = _encoder(layers=3, groups=2, inner=2)
  _randomize(encoder)
  assert encoder.layer_to_group == [0, 0, 1]
  x = tf.constant(np.random.default_rng(3).normal(size=(2, 4, 8)), tf.float32)
  mask = tf.constant([[1, 1, 1, 1], [1, 1, 0, 0]])
  outputs = encoder(x, mask)
  assert len(outputs) == 6
  bias = shared_encoder.attention_bias_from_mask(mask)
  hidden = x
  expected = []
  for group in (0, 0, 1):
    for inner in (0, 1):
      hidden = encoder.groups[group][inner](hidden, bias)
      expected.append(hidden)
  for got, want in zip(outputs, expected):
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_loop_layers_runs_each_group_as_one_while_loop_with_the_same_outputs():
  encoder = _encoder(layers=5, groups=2, inner=2)
  _randomize(encoder)
  assert encoder.layer_to_group == [0, 0, 0, 1, 1]
  x = tf.constant(np.random.default_rng(4).normal(size=(2, 4, 8)), tf.float32)
  mask = tf.constant([[1, 1, 1, 1], [1, 1, 0, 0]])
  unrolled = encoder(x, mask)
  with shared_encoder.loop_layers():
    looped = encoder(x, mask)
    graph = tf.function(encoder).get_concrete_function(x, mask).graph
  # One output per run of layers of one group: after layer 3 (block output 6) and layer 5.
  assert len(unrolled) == 10 and len(looped) == 2
  np.testing.assert_allclose(looped[0].numpy(), unrolled[5].numpy(), atol=1e-5)
  np.testing.assert_allclose(looped[1].numpy(), unrolled[9].numpy(), atol=1e-5)
  assert sum(op.type in ("While", "StatelessWhile") for op in graph.get_operations()) == 2
  assert len(encoder(x, mask)) == 10  # the scope has ended


def test_shared_encoder_rejects_impossible_grouping():
  with pytest.raises(ValueError, match="num_hidden_groups"):
    shared_encoder.AlbertSharedEncoder(num_hidden_layers=2, hidden_size=8, num_attention_heads=2,
                                       intermediate_size=5, num_hidden_groups=3)


def test_masked_lm_head_matches_the_formula_and_does_not_own_the_table():
  head = masked_lm_head.AlbertMaskedLMHead(vocab_size=11, embedding_size=4, hidden_act="gelu")
  head.build([None, None, 6])
  _randomize(head)
  rng = np.random.default_rng(4)
  table = tf.Variable(rng.normal(size=(11, 4)).astype(np.float32))
  sequence = rng.normal(size=(2, 5, 6)).astype(np.float32)
  positions = np.array([[0, 3, 3], [4, 1, 2]])
  logits = head(tf.constant(sequence), tf.constant(positions, tf.int32), table).numpy()
  gathered = sequence[np.arange(2)[:, None], positions]
  t = gathered @ head.transform.kernel.numpy() + head.transform.bias.numpy()
  t = 0.5 * t * (1 + np.tanh(np.sqrt(2 / np.pi) * (t + 0.044715 * t**3)))
  t = _layer_norm(t, head.layer_norm.gamma.numpy(), head.layer_norm.beta.numpy())
  expected = t @ table.numpy().T + head.output_bias.numpy()
  assert logits.shape == (2, 3, 11)
  np.testing.assert_allclose(logits, expected, atol=1e-5)
  assert all(w is not table for w in head.weights)
  assert sorted(w.shape.as_list() for w in head.weights) == [[4], [4], [4], [6, 4], [11]]


def test_sentence_order_head_uses_transposed_output_weights():
  head = sentence_order_head.AlbertSentenceOrderHead(hidden_size=6)
  head.build()
  _randomize(head)
  pooled = np.random.default_rng(5).normal(size=(3, 6)).astype(np.float32)
  assert head.output_weights.shape == (2, 6)
  np.testing.assert_allclose(
      head(tf.constant(pooled)).numpy(),
      pooled @ head.output_weights.numpy().T + head.output_bias.numpy(), atol=1e-6)


@pytest.mark.parametrize("layer", [
    embeddings.AlbertEmbeddings(vocab_size=13, embedding_size=6, max_position_embeddings=9,
                                type_vocab_size=3, hidden_dropout_prob=0.1, initializer_range=0.05,
                                name="emb"),
    transformer_block.AlbertTransformerBlock(
        hidden_size=12, num_attention_heads=3, intermediate_size=7, hidden_act="relu",
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.2, name="block"),
    shared_encoder.AlbertSharedEncoder(num_hidden_layers=4, hidden_size=8, num_attention_heads=2,
                                       intermediate_size=5, num_hidden_groups=2, inner_group_num=3,
                                       hidden_act="tanh", name="encoder"),
    masked_lm_head.AlbertMaskedLMHead(vocab_size=11, embedding_size=4, hidden_act="relu"),
    sentence_order_head.AlbertSentenceOrderHead(hidden_size=6, initializer_range=0.1),
], ids=lambda layer: type(layer).__name__)
def test_get_config_round_trip(layer):
  config = layer.get_config()
  restored = type(layer).from_config(config)
  assert restored.get_config() == config
  serialized = tf_keras.layers.serialize(layer)
  assert serialized["registered_name"] == f"AlbertTF>{type(layer).__name__}"
  assert tf_keras.layers.deserialize(serialized).get_config() == config
