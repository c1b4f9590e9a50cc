"""albert-export --tflite: raw-text TFLite models equal to FullTokenizer + the Keras model."""

import os
import re

from ai_edge_litert import interpreter as litert
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import interpreter as tf_lite_interpreter
from tensorflow.lite.python import schema_py_generated as schema_fb
from tensorflow.lite.tools import flatbuffer_utils
from tensorflow_text import tflite_registrar
import tf_keras

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf import save_original_checkpoint
from albert_tf import tokenization
from albert_tf.export import exporter
from albert_tf.export import tflite_exporter
from albert_tf.export import tflite_tokenizers
from albert_tf.layers import shared_encoder
from tests import text_fixtures

SEQ_LENGTH = 16
TOP_K = 3
LONG_TEXT = ("word " * 20000)[:100000]
ENGLISH = [
    "The capital of France is Paris.", "", "In 1990, 2,000 people and 3,5 cats, 12,", "   \t ",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
    "Ünïcödé ÉCOLE café naïve", LONG_TEXT
]
CHINESE = [
    "北京是中国的首都。",
    "我在Paris住了3年, 很喜欢café!",
    "今天天气很好，我们去公园散步吧。",
    "",
    "ALBERT是一个轻量级的BERT模型。",
    "他说：“你好！”（笑）﹐好吗？",
]
FULL_WIDTH = [
    "１２月３１日，ＡＢＣ和ｃｐ、ＣＰ与１９９８年。",  # full-width letters and digits
    "看……好",  # "…": three "." tokens to the fast normalizer (NFKC)
    "赵默笙   悄悄，江苏水利  刘",  # runs of spaces
    "ＡＢ１２ｃ Ⅱ型①",  # compatibility letters and digits
]
MASK_TEXTS = [
    "the capital of [MASK] is [MASK].", "", "[MASK]", "no mask at all",
    "long " * 20 + "[MASK] beyond the limit", "[MASK][MASK]x[MASK]", LONG_TEXT + "[MASK]"
]


def _tiny_config(vocab_size):
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=vocab_size)
  return AlbertConfig.from_dict(values)


def _interpreter(path, runtime=litert):
  model = runtime.InterpreterWithCustomOps(custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS,
                                           model_path=path)
  return model


@pytest.fixture(scope="module")
def tflite(tmp_path_factory):
  """A tiny random ALBERT with the SentencePiece fixture vocab, written as float32 TFLite."""
  root = tmp_path_factory.mktemp("tflite")
  spm_model_file = text_fixtures.build_sentencepiece_model(root)
  config = _tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  rng = np.random.default_rng(0)
  for variable in pretrainer.variables:  # Larger than the init scale, so differences show.
    variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
  tokenizer = tflite_exporter.create_tflite_tokenizer(spm_model_file, None, True)
  paths = tflite_exporter.write_tflite(pretrainer, tokenizer, str(root), SEQ_LENGTH, TOP_K)
  return {
      "root": root,
      "paths": paths,
      "pretrainer": pretrainer,
      "tokenizer": tokenization.FullTokenizer(spm_model_file=spm_model_file),
      "spm_model_file": spm_model_file,
  }


def _packed(rows, full):
  """[CLS] ids [SEP] for each row, truncated as the export, padded to the longest row."""
  rows = [[full.cls_id] + list(row)[:SEQ_LENGTH - 2] + [full.sep_id] for row in rows]
  longest = max(len(row) for row in rows)
  ids = np.array([row + [full.pad_id] * (longest - len(row)) for row in rows], np.int32)
  mask = np.array([[1] * len(row) + [0] * (longest - len(row)) for row in rows], np.int32)
  return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}


def _keras(pretrainer, inputs, positions):
  outputs = pretrainer({**inputs, "masked_lm_positions": positions}, training=False)
  return {key: value.numpy() for key, value in outputs.items()}


def test_files_and_signatures(tflite):
  assert [os.path.basename(p) for p in tflite["paths"]] == ["model.tflite"]
  model = _interpreter(tflite["paths"][0])
  signatures = model.get_signature_list()
  assert signatures["encode_text"] == {
      "inputs": ["text"],
      "outputs": ["input_mask", "input_word_ids", "pooled_output", "sequence_output"]
  }
  assert sorted(signatures["fill_mask_text"]["outputs"]) == [
      "mask_positions", "top_k_ids", "top_k_probabilities", "top_k_tokens"
  ]


@pytest.mark.parametrize("runtime", [litert, tf_lite_interpreter], ids=["litert", "tf.lite"])
def test_encode_text_equals_python_tokenizer_and_keras(tflite, runtime):
  full = tflite["tokenizer"]
  encode = _interpreter(tflite["paths"][0], runtime).get_signature_runner("encode_text")
  got = encode(text=np.array(ENGLISH + CHINESE, object))
  expected_inputs = _packed([full.encode(text) for text in ENGLISH + CHINESE], full)
  np.testing.assert_array_equal(got["input_word_ids"], expected_inputs["input_word_ids"])
  np.testing.assert_array_equal(got["input_mask"], expected_inputs["input_mask"])
  assert got["input_word_ids"].shape[1] == SEQ_LENGTH  # the longest rows were truncated
  expected = _keras(tflite["pretrainer"], expected_inputs,
                    np.zeros([len(got["input_mask"]), 1], np.int32))
  np.testing.assert_allclose(got["pooled_output"], expected["pooled_output"], rtol=0, atol=1e-5)
  np.testing.assert_allclose(got["sequence_output"], expected["sequence_output"], rtol=0, atol=1e-5)
  # A short batch runs at its own length.
  short = encode(text=np.array(["paris", ""], object))
  assert short["sequence_output"].shape == (2, 2 + len(full.encode("paris")), 32)


def _expected_fill_mask(full, texts):
  rows = []
  for text in texts:
    parts = [full.encode(part) for part in text.split("[MASK]")]
    rows.append(sum((part + [full.mask_id] for part in parts[:-1]), []) + parts[-1])
  inputs = _packed(rows, full)
  positions = [np.flatnonzero(row == full.mask_id).tolist() for row in inputs["input_word_ids"]]
  width = max(1, max(len(p) for p in positions))
  return inputs, np.array([p + [-1] * (width - len(p)) for p in positions], np.int32)


def test_fill_mask_text_equals_keras_top_k(tflite):
  full = tflite["tokenizer"]
  fill = _interpreter(tflite["paths"][0]).get_signature_runner("fill_mask_text")
  got = fill(text=np.array(MASK_TEXTS, object))
  inputs, positions = _expected_fill_mask(full, MASK_TEXTS)
  np.testing.assert_array_equal(got["mask_positions"], positions)
  assert [int((p >= 0).sum()) for p in positions] == [2, 0, 1, 0, 0, 3, 0]
  logits = _keras(tflite["pretrainer"], inputs, np.maximum(positions, 0))["mlm_logits"]
  probabilities = tf.nn.softmax(logits).numpy()
  for row, columns in enumerate(positions):
    for column, position in enumerate(columns):
      if position < 0:
        continue
      expected_ids = np.argsort(-probabilities[row, column], kind="stable")[:TOP_K]
      np.testing.assert_array_equal(got["top_k_ids"][row, column], expected_ids)
      np.testing.assert_allclose(got["top_k_probabilities"][row, column],
                                 probabilities[row, column, expected_ids], rtol=0, atol=1e-5)
      assert [t.decode() for t in got["top_k_tokens"][row, column]
             ] == full.convert_ids_to_tokens(expected_ids)


def test_every_signature_takes_empty_and_100k_character_text(tflite):
  model = _interpreter(tflite["paths"][0])
  encoded = model.get_signature_runner("encode_text")(text=np.array(["", LONG_TEXT], object))
  assert encoded["sequence_output"].shape == (2, SEQ_LENGTH, 32)
  assert encoded["input_mask"].sum(axis=1).tolist() == [2, SEQ_LENGTH]
  filled = model.get_signature_runner("fill_mask_text")(text=np.array(["", LONG_TEXT], object))
  assert filled["mask_positions"].tolist() == [[-1], [-1]]
  assert np.isfinite(filled["top_k_probabilities"]).all()


def test_wordpiece_tokenizer_equals_python_on_chinese_and_english(tmp_path):
  vocab_file = text_fixtures.build_wordpiece_vocab(tmp_path)
  full = tokenization.FullTokenizer(vocab_file=vocab_file)
  tokenizer = tflite_tokenizers.TfliteWordPieceTokenizer(vocab_file)
  texts = CHINESE + ENGLISH[:-1] + FULL_WIDTH
  ids, lengths = tokenizer.tokenize(tf.constant(texts), 1000)
  got = [row[:length].tolist() for row, length in zip(ids.numpy(), lengths.numpy())]
  assert got == [full.encode(text) for text in texts]


@pytest.mark.slow
def test_wordpiece_tflite_model_equals_python_tokenizer(tmp_path):
  """The TFLite WordPiece path: full-width letters and digits, "…", double spaces, as Python."""
  vocab_file = text_fixtures.build_wordpiece_vocab(tmp_path)
  with open(vocab_file, encoding="utf-8") as f:
    known = set(f.read().split("\n"))
  with open(vocab_file, "a", encoding="utf-8") as f:  # pieces with full-width characters
    for piece in ("１２", "１", "##２", "##３", "##１", "##９", "##８", "ｃｐ", "ａ", "##ｂ"):
      if piece not in known:
        f.write(piece + "\n")
  full = tokenization.FullTokenizer(vocab_file=vocab_file)
  pretrainer = AlbertPretrainer(_tiny_config(len(full.vocab)))
  pretrainer.build()
  tokenizer = tflite_exporter.create_tflite_tokenizer(None, vocab_file, True)
  paths = tflite_exporter.write_tflite(pretrainer, tokenizer, str(tmp_path), 64, TOP_K)
  texts = CHINESE + ENGLISH[:-2] + FULL_WIDTH
  encoded = _interpreter(paths[0]).get_signature_runner("encode_text")(text=np.array(texts, object))
  rows = [[full.cls_id] + full.encode(text)[:62] + [full.sep_id] for text in texts]
  got = [
      row[:length].tolist()
      for row, length in zip(encoded["input_word_ids"], encoded["input_mask"].sum(axis=1))
  ]
  assert got == rows
  assert full.convert_ids_to_tokens(full.encode("１２月ＡＢ")) == ["１２", "月", "ａ", "##ｂ"]


def test_sentencepiece_digit_comma_table_matches_python(tflite):
  tokenizer = tflite_tokenizers.TfliteSentencePieceTokenizer(tflite["spm_model_file"])
  full = tflite["tokenizer"]
  texts = ["1990, 2,000 and 3,5,", "a1, b22,c", "12,34,56,78,90,"]
  ids, lengths = tokenizer.tokenize(tf.constant(texts), 1000)
  got = [row[:length].tolist() for row, length in zip(ids.numpy(), lengths.numpy())]
  assert got == [full.encode(text) for text in texts]
  assert any(
      len(full.encode(t))
      != len(full.sp_model.EncodeAsIds(tokenization.preprocess_text(t, lower=True)))
      for t in texts)  # the rule applied


def _encode_text_operators(model):
  """(subgraph, operator, builtin code) of encode_text and of the WHILE loops it runs."""
  pending = [next(i for i, g in enumerate(model.subgraphs) if g.name == b"encode_text")]
  found = []
  while pending:
    graph = model.subgraphs[pending.pop()]
    for operator in graph.operators:
      code = model.operatorCodes[operator.opcodeIndex]
      builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
      found.append((graph, operator, builtin))
      if builtin == schema_fb.BuiltinOperator.WHILE:
        pending += [
            operator.builtinOptions.condSubgraphIndex, operator.builtinOptions.bodySubgraphIndex
        ]
  return found


def test_encoder_is_one_loop_over_h_wide_feed_forward_slices(tflite):
  model = flatbuffer_utils.read_model(tflite["paths"][0])
  codes = [code for _, _, code in _encode_text_operators(model)]
  config = tflite["pretrainer"].config
  assert config.num_hidden_layers == 2 and config.num_hidden_groups == 1
  # The L layers are one WHILE loop whose body holds the shared block once, so that XNNPACK
  # packs its weights once.
  assert codes.count(schema_fb.BuiltinOperator.WHILE) == 1
  # The export splits the feed-forward (I = 37) into H-wide (32) slices: [19, 18], one GELU each
  # (the tanh GELU written out was nine elementwise ops, about 4x the time of one GELU op under
  # XNNPACK); the pooler's tanh is the only TANH.
  assert (config.intermediate_size, config.hidden_size) == (37, 32)
  assert codes.count(schema_fb.BuiltinOperator.GELU) == 2
  assert codes.count(schema_fb.BuiltinOperator.TANH) == 1
  # q, k, v, attention output, then 2 slices x 2; plus the embedding projection and the pooler.
  assert codes.count(schema_fb.BuiltinOperator.FULLY_CONNECTED) == 8 + 2


def test_quantization_modes_explain_themselves():
  tflite_exporter.check_quantization("dynamic_int8")  # needs no representative sample
  with pytest.raises(tflite_exporter.TfliteExportError) as error:
    tflite_exporter.check_quantization("full_int8")
  assert str(error.value) == (
      "--tflite_quantization=full_int8 is not one of none, dynamic_int8 (full-integer int8 "
      "cannot calibrate the in-graph tokenizer ops; dynamic_int8 needs no representative sample)")


@pytest.mark.slow
def test_unconvertible_op_is_named_with_its_layer(tflite, monkeypatch):

  def old_bias(input_mask):  # the new_axis_mask StridedSlice TFLite cannot run
    mask = tf.cast(input_mask, tf.float32)
    return ((1.0 - mask) * shared_encoder.ATTENTION_MASK_VALUE)[:, tf.newaxis, tf.newaxis, :]

  monkeypatch.setattr(shared_encoder, "attention_bias_from_mask", old_bias)
  tokenizer = tflite_exporter.create_tflite_tokenizer(tflite["spm_model_file"], None, True)
  with pytest.raises(tflite_exporter.TfliteExportError) as error:
    tflite_exporter.write_tflite(tflite["pretrainer"], tokenizer, str(tflite["root"] / "bad"),
                                 SEQ_LENGTH, TOP_K)
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith("TFLite cannot run op StridedSlice (computing ")
  assert "encoder" in message


def test_tflite_flags_that_cannot_work_fail_before_the_export(tflite, tmp_path):
  config_file = str(tmp_path / "albert_config.json")
  _tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE).to_json_file(config_file)
  arguments = dict(albert_config_file=config_file, init_checkpoint=str(tmp_path / "none"),
                   export_dir=str(tmp_path / "out"), spm_model_file=tflite["spm_model_file"],
                   max_seq_length=SEQ_LENGTH, tflite=True)
  for overrides, message in (
      ({
          "dtype": "bfloat16"
      }, "--tflite converts float32 models (its int8 variant is "
       "--tflite_quantization=dynamic_int8), not --dtype=bfloat16: drop --dtype"),
      ({
          "text_signatures": False
      }, "--tflite exports the text signatures: drop "
       "--notext_signatures"),
      ({
          "tflite_quantization": "full_int8"
      }, "--tflite_quantization=full_int8 is not one of none, dynamic_int8 (full-integer int8 "
       "cannot calibrate the in-graph tokenizer ops; dynamic_int8 needs no representative "
       "sample)")):
    with pytest.raises(exporter.ExportError) as error:
      exporter.export_savedmodel(**{**arguments, **overrides})
    assert str(error.value) == message
  assert not os.path.exists(tmp_path / "out")


def _train_tiny_mlm(full, config, steps=400, batch_size=32):
  """A tiny ALBERT trained briefly on the English fixture corpus to predict one masked token."""
  with open(text_fixtures.ENGLISH_CORPUS, encoding="utf-8") as f:
    rows = [full.encode(line)[:SEQ_LENGTH - 2] for line in f if len(line.split()) > 3]
  inputs = _packed(rows, full)
  lengths = inputs["input_mask"].sum(axis=1)
  tf.random.set_seed(0)
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  optimizer = tf_keras.optimizers.Adam(1e-2)
  rng = np.random.default_rng(0)

  @tf.function
  def step(batch, positions, targets):
    with tf.GradientTape() as tape:
      logits = pretrainer({**batch, "masked_lm_positions": positions}, training=True)["mlm_logits"]
      loss = tf.reduce_mean(
          tf_keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
    variables = pretrainer.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  losses = []
  for _ in range(steps):
    index = rng.integers(0, len(rows), batch_size)
    positions = rng.integers(1, lengths[index] - 1)[:, np.newaxis].astype(np.int32)
    targets = np.take_along_axis(inputs["input_word_ids"][index], positions, axis=1)
    batch = {key: value[index].copy() for key, value in inputs.items()}
    np.put_along_axis(batch["input_word_ids"], positions, full.mask_id, axis=1)
    losses.append(float(step(batch, positions, targets)))
  assert np.mean(losses[-20:]) < 0.9 * np.mean(losses[:20])  # it learned
  return pretrainer, rows


def _fully_connected_weight_types(path):
  """{Keras layer: weight dtype} of the encode_text FULLY_CONNECTED ops of a TFLite file."""
  model = flatbuffer_utils.read_model(path)
  layers = ("embedding_projection", "query", "key", "value", "attention_output", "intermediate",
            "output_dense", "pooler")
  types = {}
  for graph, operator, code in _encode_text_operators(model):
    if code != schema_fb.BuiltinOperator.FULLY_CONNECTED:
      continue
    name = graph.tensors[operator.outputs[0]].name.decode()
    # The split feed-forward's ops are scoped intermediate_1/, output_dense_2/, ...
    layer = next(layer for layer in layers if re.search(f"/{layer}(_[0-9]+)?/", name))
    dtype = {0: "float32", 9: "int8"}[graph.tensors[operator.inputs[1]].type]
    assert types.setdefault(layer, dtype) == dtype  # the same in every application of the layer
  return types


@pytest.mark.slow
def test_dynamic_int8_keeps_pooled_cosine_and_mlm_top1_on_a_trained_model(tflite, tmp_path):
  full = tflite["tokenizer"]
  # I = 2H: the export's H-wide feed-forward slices are 32 x 32, as many weights as the converter's
  # dynamic-range quantizer needs (1024) to make a matrix int8.
  config = AlbertConfig.from_dict({
      **_tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE).to_dict(), "intermediate_size": 64
  })
  pretrainer, rows = _train_tiny_mlm(full, config)
  config_file = str(tmp_path / "albert_config.json")
  config.to_json_file(config_file)
  checkpoint = save_original_checkpoint(pretrainer, str(tmp_path / "ckpt" / "model.ckpt"))
  # The albert-export path: the SavedModel and both TFLite files in one version directory.
  path = exporter.export_savedmodel(albert_config_file=config_file, init_checkpoint=checkpoint,
                                    export_dir=str(tmp_path / "out"),
                                    spm_model_file=tflite["spm_model_file"],
                                    max_seq_length=SEQ_LENGTH, top_k=TOP_K, tflite=True,
                                    tflite_quantization="dynamic_int8")
  assert {"saved_model.pb", "model.tflite", "model_int8.tflite"} <= set(os.listdir(path))
  paths = [os.path.join(path, name) for name in ("model.tflite", "model_int8.tflite")]
  # The attention projections keep float32 weights; the feed-forward block's are int8.
  assert _fully_connected_weight_types(paths[1]) == {
      "embedding_projection": "float32",
      "query": "float32",
      "key": "float32",
      "value": "float32",
      "attention_output": "float32",
      "intermediate": "int8",
      "output_dense": "int8",
      "pooler": "int8"
  }
  assert os.path.getsize(paths[1]) < os.path.getsize(paths[0])  # mostly tokenizer data here
  with open(text_fixtures.ENGLISH_CORPUS, encoding="utf-8") as f:
    sentences = [line.strip() for line in f if len(line.split()) > 3][:200]
  masked = [" ".join(s.split()[:2] + ["[MASK]"] + s.split()[3:]) for s in sentences]
  results = []
  for model_path in paths:
    model = _interpreter(model_path)
    pooled = model.get_signature_runner("encode_text")(text=np.array(sentences, object))
    filled = model.get_signature_runner("fill_mask_text")(text=np.array(masked, object))
    results.append((pooled["pooled_output"], filled["top_k_ids"][:, 0, 0]))
  (pooled32, top32), (pooled8, top8) = results
  cosine = np.sum(pooled32 * pooled8,
                  -1) / (np.linalg.norm(pooled32, axis=-1) * np.linalg.norm(pooled8, axis=-1))
  assert cosine.min() >= 0.999
  assert np.mean(top32 == top8) >= 0.95
  # Empty and 100k-character text in every signature of the int8 model and the SavedModel.
  texts = np.array(["", LONG_TEXT, "x [MASK] " * 30000], object)
  int8 = _interpreter(paths[1])
  encoded = int8.get_signature_runner("encode_text")(text=texts)
  assert encoded["input_mask"].sum(axis=1).tolist() == [2, SEQ_LENGTH, SEQ_LENGTH]
  filled = int8.get_signature_runner("fill_mask_text")(text=texts)
  _, positions = _expected_fill_mask(full, list(texts))
  np.testing.assert_array_equal(filled["mask_positions"], positions)
  assert (positions >= 0).sum(axis=1).tolist()[:2] == [0, 0] and (positions[2] >= 0).sum() > 2
  signatures = tf.saved_model.load(path).signatures
  float32 = _interpreter(paths[0])
  for name, key in (("encode_text", "pooled_output"), ("fill_mask_text", "top_k_probabilities")):
    served = signatures[name](text=tf.constant(texts))[key].numpy()
    np.testing.assert_allclose(
        float32.get_signature_runner(name)(text=texts)[key], served, rtol=0, atol=1e-5)
  served = signatures["encode_text_pair"](text=tf.constant(texts), text_b=tf.constant(texts))
  assert served["input_mask"].numpy().sum(axis=1).tolist() == [3, SEQ_LENGTH, SEQ_LENGTH]
