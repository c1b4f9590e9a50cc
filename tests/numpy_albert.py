"""An independent NumPy ALBERT forward pass, written from the formulas of the original release.

This is the test oracle for the Keras model and for checkpoint loading. It reads weights by their
original TF1 variable names (reference/original_albert.md §7.3) and computes in float64, so the
float32 model can be compared against it with a tight tolerance. It deliberately shares no code with
`albert_tf`: names are spelled out here, not taken from the package's name table.

`brightmart_forward` does the same for brightmart/albert_zh's own layout (reference/albert_zh.md
§4).

Example:

    weights = random_original_weights(config, np.random.default_rng(0))
    out = albert_forward(weights, config, input_ids, input_mask, token_type_ids,
                         masked_lm_positions=positions)
    out["sequence_output"], out["pooled_output"], out["mlm_logits"], out["sop_logits"]
"""

from typing import Mapping, Optional

import numpy as np

LAYER_NORM_EPSILON = 1e-12
ATTENTION_MASK_VALUE = -10000.0


def gelu(x: np.ndarray) -> np.ndarray:
  """The original's "gelu": the tanh approximation, with np.sqrt(2/np.pi) and x**3."""
  return 0.5 * x * (1.0 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def relu(x: np.ndarray) -> np.ndarray:
  return np.maximum(x, 0.0)


_ACTIVATIONS = {
    "gelu": gelu,
    "relu": relu,
    "tanh": np.tanh,
    "linear": lambda x: x,
}


def activation(name: Optional[str]):
  """Returns the activation function the original maps `hidden_act` to."""
  return _ACTIVATIONS[(name or "linear").lower()]


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
  """LayerNorm over the last axis with the biased variance and epsilon 1e-12."""
  mean = x.mean(axis=-1, keepdims=True)
  variance = ((x - mean)**2).mean(axis=-1, keepdims=True)
  return (x - mean) / np.sqrt(variance + LAYER_NORM_EPSILON) * gamma + beta


def softmax(x: np.ndarray) -> np.ndarray:
  shifted = x - x.max(axis=-1, keepdims=True)
  exp = np.exp(shifted)
  return exp / exp.sum(axis=-1, keepdims=True)


def group_of_layer(layer: int, num_layers: int, num_groups: int) -> int:
  """Group index of layer `layer`: int(l / L * G) in Python float arithmetic, as the original."""
  return int(layer / num_layers * num_groups)


def _dense(weights: Mapping[str, np.ndarray], scope: str, x: np.ndarray) -> np.ndarray:
  return x @ weights[scope + "/kernel"] + weights[scope + "/bias"]


def _layer_norm_scope(weights: Mapping[str, np.ndarray], scope: str, x: np.ndarray) -> np.ndarray:
  return layer_norm(x, weights[scope + "/gamma"], weights[scope + "/beta"])


# Scopes inside one transformer block, relative to the block's scope.
GOOGLE_BLOCK_NAMES = {
    "self": "attention_1/self",
    "attention_output": "attention_1/output/dense",
    "attention_norm": "LayerNorm",
    "intermediate": "ffn_1/intermediate/dense",
    "output": "ffn_1/intermediate/output/dense",
    "output_norm": "LayerNorm_1",
}
BRIGHTMART_BLOCK_NAMES = {
    "self": "attention/self",
    "attention_output": "attention/output/dense",
    "attention_norm": "attention/output/LayerNorm",
    "intermediate": "intermediate/dense",
    "output": "output/dense",
    "output_norm": "output/LayerNorm",
}


def _attention(weights, scope, names, h, input_mask, num_heads):
  batch, seq, hidden = h.shape
  head_size = hidden // num_heads

  def heads(name):
    projected = _dense(weights, f"{scope}/{names['self']}/{name}", h)
    return projected.reshape(batch, seq, num_heads, head_size).transpose(0, 2, 1, 3)

  query, key, value = heads("query"), heads("key"), heads("value")
  scores = query @ key.transpose(0, 1, 3, 2) * (1.0 / np.sqrt(head_size))
  # The mask covers key positions only and is added after scaling.
  scores = scores + (1.0 - input_mask[:, None, None, :]) * ATTENTION_MASK_VALUE
  context = softmax(scores) @ value
  context = context.transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
  return _dense(weights, f"{scope}/{names['attention_output']}", context)


def _block(weights, scope, names, h, input_mask, num_heads, act):
  """A post-LN block: LN(attention(h) + h), then LN(FFN(a) + a)."""
  attention = _layer_norm_scope(weights, f"{scope}/{names['attention_norm']}",
                                _attention(weights, scope, names, h, input_mask, num_heads) + h)
  intermediate = act(_dense(weights, f"{scope}/{names['intermediate']}", attention))
  output = _dense(weights, f"{scope}/{names['output']}", intermediate)
  return _layer_norm_scope(weights, f"{scope}/{names['output_norm']}", output + attention)


def _as_float64(weights: Mapping[str, np.ndarray]) -> dict:
  return {name: np.asarray(value, np.float64) for name, value in weights.items()}


def _default_inputs(input_ids, input_mask, token_type_ids):
  input_ids = np.asarray(input_ids)
  input_mask = (np.ones(input_ids.shape) if input_mask is None else np.asarray(
      input_mask, np.float64))
  token_type_ids = (np.zeros(input_ids.shape, np.int64)
                    if token_type_ids is None else np.asarray(token_type_ids))
  return input_ids, input_mask, token_type_ids


def masked_lm_logits(weights: Mapping[str, np.ndarray], config: Mapping[str, object],
                     sequence_output: np.ndarray, masked_lm_positions: np.ndarray) -> np.ndarray:
  """The MLM head (`cls/predictions`) alone, in float64, for either layout.

  Google's transform output (width E) is scored by `word_embeddings`ᵀ; brightmart's (width H) by
  `word_embeddings_2`ᵀ then `word_embeddings`ᵀ.

  Args:
    weights: {original TF1 variable name: array}.
    config: the original albert_config.json fields (a dict).
    sequence_output: [B, T, H].
    masked_lm_positions: int [B, P].

  Returns:
    [B, P, V] logits.
  """
  weights = _as_float64(weights)
  act = activation(config.get("hidden_act", "gelu"))
  sequence_output = np.asarray(sequence_output, np.float64)
  positions = np.asarray(masked_lm_positions)
  gathered = sequence_output[np.arange(sequence_output.shape[0])[:, None], positions]
  transformed = _layer_norm_scope(weights, "cls/predictions/transform/LayerNorm",
                                  act(_dense(weights, "cls/predictions/transform/dense", gathered)))
  if "bert/embeddings/word_embeddings_2" in weights:
    transformed = transformed @ weights["bert/embeddings/word_embeddings_2"].T
  return (transformed @ weights["bert/embeddings/word_embeddings"].T +
          weights["cls/predictions/output_bias"])


def _encoder_and_heads(weights, config, embedding_output, hidden, input_mask, masked_lm_positions,
                       block_scopes, block_names):
  """Runs the blocks, the pooler and (when asked) the heads; shared by both layouts."""
  act = activation(config.get("hidden_act", "gelu"))
  num_heads = int(config["num_attention_heads"])
  encoder_outputs = []
  for scope in block_scopes:
    hidden = _block(weights, scope, block_names, hidden, input_mask, num_heads, act)
    encoder_outputs.append(hidden)
  sequence_output = hidden
  pooled_output = np.tanh(_dense(weights, "bert/pooler/dense", sequence_output[:, 0]))
  outputs = {
      "embedding_output": embedding_output,
      "encoder_outputs": encoder_outputs,
      "sequence_output": sequence_output,
      "pooled_output": pooled_output,
  }
  if masked_lm_positions is not None and "cls/predictions/output_bias" in weights:
    outputs["mlm_logits"] = masked_lm_logits(weights, config, sequence_output, masked_lm_positions)
    outputs["sop_logits"] = (pooled_output @ weights["cls/seq_relationship/output_weights"].T +
                             weights["cls/seq_relationship/output_bias"])
  return outputs


def albert_forward(weights: Mapping[str, np.ndarray], config: Mapping[str, object],
                   input_ids: np.ndarray, input_mask: Optional[np.ndarray] = None,
                   token_type_ids: Optional[np.ndarray] = None,
                   masked_lm_positions: Optional[np.ndarray] = None) -> dict:
  """Runs the original ALBERT (Google layout) forward pass in float64.

  Args:
    weights: {original TF1 variable name: array}, without any `module/` prefix.
    config: the original albert_config.json fields (a dict).
    input_ids: int [B, T].
    input_mask: int [B, T] of 0/1; all ones when None.
    token_type_ids: int [B, T]; zeros when None.
    masked_lm_positions: int [B, P]; when given (and the `cls/` weights are present) the MLM and
      SOP logits are computed too.

  Returns:
    A dict with `embedding_output` [B,T,E], `encoder_outputs` (L*K arrays [B,T,H]),
    `sequence_output` [B,T,H], `pooled_output` [B,H] and, when heads are computed,
    `mlm_logits` [B,P,V] and `sop_logits` [B,2].
  """
  weights = _as_float64(weights)
  input_ids, input_mask, token_type_ids = _default_inputs(input_ids, input_mask, token_type_ids)
  num_layers = int(config["num_hidden_layers"])
  num_groups = int(config.get("num_hidden_groups", 1))
  inner_group_num = int(config.get("inner_group_num", 1))

  embeddings = (weights["bert/embeddings/word_embeddings"][input_ids] +
                weights["bert/embeddings/token_type_embeddings"][token_type_ids] +
                weights["bert/embeddings/position_embeddings"][:input_ids.shape[1]][None])
  embedding_output = _layer_norm_scope(weights, "bert/embeddings/LayerNorm", embeddings)
  hidden = embedding_output
  if "bert/encoder/embedding_hidden_mapping_in/kernel" in weights:
    hidden = _dense(weights, "bert/encoder/embedding_hidden_mapping_in", hidden)
  block_scopes = [
      f"bert/encoder/transformer/group_{group_of_layer(layer, num_layers, num_groups)}/"
      f"inner_group_{inner}" for layer in range(num_layers) for inner in range(inner_group_num)
  ]
  return _encoder_and_heads(weights, config, embedding_output, hidden, input_mask,
                            masked_lm_positions, block_scopes, GOOGLE_BLOCK_NAMES)


def brightmart_forward(weights: Mapping[str, np.ndarray], config: Mapping[str, object],
                       input_ids: np.ndarray, input_mask: Optional[np.ndarray] = None,
                       token_type_ids: Optional[np.ndarray] = None,
                       masked_lm_positions: Optional[np.ndarray] = None) -> dict:
  """Runs brightmart/albert_zh's own layout (reference/albert_zh.md §4) in float64.

  The word lookup is projected by `word_embeddings_2` (no bias) before the H-wide type and position
  embeddings and the H-wide LayerNorm; one `layer_shared` block runs L times; the MLM transform is
  H->H and its output is scored by `word_embeddings_2`ᵀ then `word_embeddings`ᵀ. Arguments and
  outputs as `albert_forward` (`embedding_output` is [B,T,H]).
  """
  weights = _as_float64(weights)
  input_ids, input_mask, token_type_ids = _default_inputs(input_ids, input_mask, token_type_ids)
  projection = weights["bert/embeddings/word_embeddings_2"]
  embeddings = (weights["bert/embeddings/word_embeddings"][input_ids] @ projection +
                weights["bert/embeddings/token_type_embeddings"][token_type_ids] +
                weights["bert/embeddings/position_embeddings"][:input_ids.shape[1]][None])
  embedding_output = _layer_norm_scope(weights, "bert/embeddings/LayerNorm", embeddings)
  block_scopes = ["bert/encoder/layer_shared"] * int(config["num_hidden_layers"])
  return _encoder_and_heads(weights, config, embedding_output, embedding_output, input_mask,
                            masked_lm_positions, block_scopes, BRIGHTMART_BLOCK_NAMES)


def original_shapes(config: Mapping[str, object], include_heads: bool = True) -> dict:
  """Lists {original TF1 name: shape} for a Google-layout config, spelled out independently."""
  vocab = int(config["vocab_size"])
  emb = int(config["embedding_size"])
  hidden = int(config["hidden_size"])
  inter = int(config["intermediate_size"])
  shapes = {
      "bert/embeddings/word_embeddings": (vocab, emb),
      "bert/embeddings/token_type_embeddings": (int(config["type_vocab_size"]), emb),
      "bert/embeddings/position_embeddings": (int(config["max_position_embeddings"]), emb),
      "bert/embeddings/LayerNorm/gamma": (emb,),
      "bert/embeddings/LayerNorm/beta": (emb,),
  }
  if emb != hidden:
    shapes["bert/encoder/embedding_hidden_mapping_in/kernel"] = (emb, hidden)
    shapes["bert/encoder/embedding_hidden_mapping_in/bias"] = (hidden,)
  num_layers = int(config["num_hidden_layers"])
  num_groups = int(config.get("num_hidden_groups", 1))
  # The original creates a group's variables only when some layer enters it.
  groups = sorted({group_of_layer(layer, num_layers, num_groups) for layer in range(num_layers)})
  for group in groups:
    for inner in range(int(config.get("inner_group_num", 1))):
      scope = f"bert/encoder/transformer/group_{group}/inner_group_{inner}"
      for name in ("query", "key", "value"):
        shapes[f"{scope}/attention_1/self/{name}/kernel"] = (hidden, hidden)
        shapes[f"{scope}/attention_1/self/{name}/bias"] = (hidden,)
      shapes[f"{scope}/attention_1/output/dense/kernel"] = (hidden, hidden)
      shapes[f"{scope}/attention_1/output/dense/bias"] = (hidden,)
      shapes[f"{scope}/ffn_1/intermediate/dense/kernel"] = (hidden, inter)
      shapes[f"{scope}/ffn_1/intermediate/dense/bias"] = (inter,)
      shapes[f"{scope}/ffn_1/intermediate/output/dense/kernel"] = (inter, hidden)
      shapes[f"{scope}/ffn_1/intermediate/output/dense/bias"] = (hidden,)
      for norm in ("LayerNorm", "LayerNorm_1"):
        shapes[f"{scope}/{norm}/gamma"] = (hidden,)
        shapes[f"{scope}/{norm}/beta"] = (hidden,)
  shapes["bert/pooler/dense/kernel"] = (hidden, hidden)
  shapes["bert/pooler/dense/bias"] = (hidden,)
  if include_heads:
    shapes.update({
        "cls/predictions/transform/dense/kernel": (hidden, emb),
        "cls/predictions/transform/dense/bias": (emb,),
        "cls/predictions/transform/LayerNorm/gamma": (emb,),
        "cls/predictions/transform/LayerNorm/beta": (emb,),
        "cls/predictions/output_bias": (vocab,),
        "cls/seq_relationship/output_weights": (2, hidden),
        "cls/seq_relationship/output_bias": (2,),
    })
  return shapes


def random_weights(shapes: Mapping[str, tuple], rng: np.random.Generator,
                   scale: float = 0.2) -> dict:
  """Random float32 arrays for {name: shape}; LayerNorm gammas are centred on 1.

  Biases and LayerNorm parameters are random too (not zeros/ones), so a weight loaded into the wrong
  place changes the outputs. `scale` is large enough to make the activations non-linear.
  """
  weights = {}
  for name, shape in shapes.items():
    value = rng.normal(0.0, scale, size=shape)
    if name.endswith("/gamma"):
      value = 1.0 + value
    weights[name] = value.astype(np.float32)
  return weights


def random_original_weights(config: Mapping[str, object], rng: np.random.Generator,
                            include_heads: bool = True) -> dict:
  """Random float32 weights under the original (Google layout) names."""
  return random_weights(original_shapes(config, include_heads), rng)


def classifier_shapes(config: Mapping[str, object], num_labels: int) -> dict:
  """{name: shape} of run_classifier's head: root-scope output_weights [C, H], output_bias [C]."""
  return {
      "output_weights": (num_labels, int(config["hidden_size"])),
      "output_bias": (num_labels,),
  }


def classifier_logits(weights: Mapping[str, np.ndarray], pooled_output: np.ndarray) -> np.ndarray:
  """run_classifier's head at inference (no dropout): pooled · output_weightsᵀ + output_bias."""
  weights = _as_float64(weights)
  return (np.asarray(pooled_output, np.float64) @ weights["output_weights"].T +
          weights["output_bias"])


def classifier_probabilities(weights: Mapping[str, np.ndarray], config: Mapping[str, object],
                             input_ids: np.ndarray, input_mask: np.ndarray,
                             token_type_ids: np.ndarray) -> np.ndarray:
  """The original's `probabilities` for a classification task: softmax over the head's logits.

  Args:
    weights: backbone and head weights under their original names.
    config: the original albert_config.json fields (a dict).
    input_ids, input_mask, token_type_ids: int [B, T].

  Returns:
    [B, C] probabilities in float64.
  """
  pooled = albert_forward(weights, config, input_ids, input_mask, token_type_ids)["pooled_output"]
  return softmax(classifier_logits(weights, pooled))


# --- SQuAD heads (squad_utils.create_v1_model and create_v2_model), at inference ----------------


def log_softmax(x: np.ndarray) -> np.ndarray:
  shifted = x - x.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def squad_v1_shapes(config: Mapping[str, object]) -> dict:
  """{name: shape} of run_squad_v1's head: cls/squad/output_weights [2, H], output_bias [2]."""
  return {
      "cls/squad/output_weights": (2, int(config["hidden_size"])),
      "cls/squad/output_bias": (2,)
  }


def squad_v1_logits(weights: Mapping[str, np.ndarray],
                    sequence_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """create_v1_model: [B*T, H] · output_weightsᵀ + output_bias, unstacked; nothing is masked."""
  weights = _as_float64(weights)
  batch, length, hidden = sequence_output.shape
  matrix = np.asarray(sequence_output, np.float64).reshape(batch * length, hidden)
  logits = matrix @ weights["cls/squad/output_weights"].T + weights["cls/squad/output_bias"]
  logits = logits.reshape(batch, length, 2).transpose(2, 0, 1)
  return logits[0], logits[1]


def squad_v2_shapes(config: Mapping[str, object]) -> dict:
  """{name: shape} of run_squad_v2's head (root scopes start_logits, end_logits, answer_class)."""
  hidden = int(config["hidden_size"])
  return {
      "start_logits/dense/kernel": (hidden, 1),
      "start_logits/dense/bias": (1,),
      "end_logits/dense_0/kernel": (2 * hidden, hidden),
      "end_logits/dense_0/bias": (hidden,),
      "end_logits/LayerNorm/gamma": (hidden,),
      "end_logits/LayerNorm/beta": (hidden,),
      "end_logits/dense_1/kernel": (hidden, 1),
      "end_logits/dense_1/bias": (1,),
      "answer_class/dense_0/kernel": (2 * hidden, hidden),
      "answer_class/dense_0/bias": (hidden,),
      "answer_class/dense_1/kernel": (hidden, 1),
  }


def _squad_v2_end_logits(weights, output, start_features):
  """The end network on concat([H_t, H_start]) for [..., H] inputs: tanh dense, LayerNorm, dense."""
  end = np.tanh(_dense(weights, "end_logits/dense_0", np.concatenate([output, start_features], -1)))
  end = _layer_norm_scope(weights, "end_logits/LayerNorm", end)
  return _dense(weights, "end_logits/dense_1", end)[..., 0]


def _top_k(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
  index = np.argsort(-x, axis=-1, kind="stable")[..., :k]
  return np.take_along_axis(x, index, -1), index


def squad_v2_outputs(weights: Mapping[str, np.ndarray], sequence_output: np.ndarray,
                     p_mask: np.ndarray, start_positions: Optional[np.ndarray] = None,
                     start_n_top: int = 5, end_n_top: int = 5) -> dict:
  """create_v2_model in float64 without dropout, literally (one-hot einsums, concat, time-major).

  Returns start_log_probs [B,T] and cls_logits [B]; end_log_probs [B,T] from the gold
  start_positions when given (the training branch); and the inference branch's
  start_top_log_probs/start_top_index [B,k1], end_top_log_probs/end_top_index [B,k1*k2].
  """
  weights = _as_float64(weights)
  output = np.asarray(sequence_output, np.float64).transpose(1, 0, 2)  # [T, B, H]
  length, batch, _ = output.shape
  p_mask = np.asarray(p_mask, np.float64)
  start_logits = _dense(weights, "start_logits/dense", output)[..., 0].T  # [B, T]
  start_logits_masked = start_logits * (1 - p_mask) - 1e30 * p_mask
  outputs = {"start_log_probs": log_softmax(start_logits_masked)}
  if start_positions is not None:
    start_index = np.eye(length)[np.asarray(start_positions).reshape(-1)]  # [B, T]
    start_features = np.einsum("lbh,bl->bh", output, start_index)
    start_features = np.tile(start_features[None], [length, 1, 1])
    end_logits = _squad_v2_end_logits(weights, output, start_features).T
    outputs["end_log_probs"] = log_softmax(end_logits * (1 - p_mask) - 1e30 * p_mask)
  start_top_log_probs, start_top_index = _top_k(outputs["start_log_probs"], start_n_top)
  start_index = np.eye(length)[start_top_index]  # [B, k1, T]
  start_features = np.tile(np.einsum("lbh,bkl->bkh", output, start_index)[None], [length, 1, 1, 1])
  end_input = np.tile(output[:, :, None], [1, 1, start_n_top, 1])
  end_logits = _squad_v2_end_logits(weights, end_input, start_features)  # [T, B, k1]
  end_logits = end_logits.reshape(length, -1, start_n_top).transpose(1, 2, 0)
  end_log_probs = log_softmax(end_logits * (1 - p_mask[:, None]) - 1e30 * p_mask[:, None])
  end_top_log_probs, end_top_index = _top_k(end_log_probs, end_n_top)
  outputs.update(start_top_log_probs=start_top_log_probs, start_top_index=start_top_index,
                 end_top_log_probs=end_top_log_probs.reshape(-1, start_n_top * end_n_top),
                 end_top_index=end_top_index.reshape(-1, start_n_top * end_n_top))
  cls_feature = np.einsum("lbh,bl->bh", output, np.eye(length)[np.zeros(batch, int)])
  start_feature = np.einsum("lbh,bl->bh", output, softmax(start_logits_masked))
  answer = np.tanh(
      _dense(weights, "answer_class/dense_0", np.concatenate([start_feature, cls_feature], -1)))
  outputs["cls_logits"] = (answer @ weights["answer_class/dense_1/kernel"])[:, 0]
  return outputs


def multiple_choice_logits(weights: Mapping[str, np.ndarray], config: Mapping[str, object],
                           input_ids: np.ndarray, input_mask: np.ndarray,
                           token_type_ids: np.ndarray) -> np.ndarray:
  """run_race's logits (race_utils.create_model at inference): every option's sequence through
  the backbone, pooled · output_weightsᵀ + output_bias with output_weights [1, H], as [B, C].

  Args:
    weights: backbone and head weights under their original names.
    config: the original albert_config.json fields (a dict).
    input_ids, input_mask, token_type_ids: int [B, C, T].

  Returns:
    [B, C] logits in float64.
  """
  batch, choices, length = np.shape(input_ids)
  flat = [np.reshape(x, (batch * choices, length)) for x in (input_ids, input_mask, token_type_ids)]
  pooled = albert_forward(weights, config, *flat)["pooled_output"]
  return classifier_logits(weights, pooled).reshape(batch, choices)
