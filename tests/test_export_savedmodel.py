"""albert-export: a servable SavedModel whose signatures equal the Keras model and FullTokenizer."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf import save_original_checkpoint
from albert_tf import tokenization
from albert_tf.export import exporter
from tests import text_fixtures
from tests.test_text_preprocessing import _truncate_seq_pair

SEQ_LENGTH = 16
TOP_K = 3
STEP = 77
LONG_TEXT = ("word " * 20000)[:100000]  # every text signature takes 100k characters
TEXTS = [
    "The capital of France is Paris.", "", "北京是中国的首都。我在Paris住了3年, 很喜欢café!",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
    "   \t ", LONG_TEXT
]
TEXTS_B = ["It is big.", "x", "", "a b c d e f g h i j k l m n o p q r s t u v w", "y", LONG_TEXT]
MASK_TEXTS = [
    "the capital of [MASK] is [MASK].", "", "[MASK]", "no mask at all",
    "long " * 20 + "[MASK] beyond the limit", LONG_TEXT + "[MASK]"
]
# tensorflow-text ops the SentencePiece export may use (all present in TF Text 2.12, the version
# official TF Serving images embed); everything else must be a core TensorFlow op.
SENTENCEPIECE_TEXT_OPS = {
    "NormalizeUTF8", "SentencepieceOp", "SentencepieceTokenizeOp", "SentencepieceStringToIdOp",
    "SentencepieceIdToStringOp"
}
WORDPIECE_TEXT_OPS = {"NormalizeUTF8", "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets"}


def _tiny_config(vocab_size, **overrides):
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=vocab_size, **overrides)
  return AlbertConfig.from_dict(values)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
  """A tiny random ALBERT saved as an original TF1 checkpoint at step 77, exported with SP vocab."""
  root = tmp_path_factory.mktemp("export")
  spm_model_file = text_fixtures.build_sentencepiece_model(root)
  config = _tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  config_file = str(root / "albert_config.json")
  config.to_json_file(config_file)
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  rng = np.random.default_rng(0)
  for variable in pretrainer.variables:  # Larger than the init scale, so differences show.
    variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
  checkpoint = save_original_checkpoint(pretrainer, str(root / "ckpt" / f"model.ckpt-{STEP}"),
                                        global_step=STEP)
  path = exporter.export_savedmodel(albert_config_file=config_file, init_checkpoint=checkpoint,
                                    export_dir=str(root / "serving"), spm_model_file=spm_model_file,
                                    max_seq_length=SEQ_LENGTH, top_k=TOP_K,
                                    encoder_export_dir=str(root / "encoder"))
  return {
      "root": root,
      "path": path,
      "config_file": config_file,
      "checkpoint": checkpoint,
      "spm_model_file": spm_model_file,
      "pretrainer": pretrainer,
      "config": config,
      "tokenizer": tokenization.FullTokenizer(spm_model_file=spm_model_file),
  }


def _id_inputs():
  rng = np.random.default_rng(1)
  ids = rng.integers(5, text_fixtures.SENTENCEPIECE_VOCAB_SIZE, [2, SEQ_LENGTH]).astype(np.int32)
  mask = np.ones([2, SEQ_LENGTH], np.int32)
  mask[1, 9:] = 0
  types = np.zeros([2, SEQ_LENGTH], np.int32)
  types[:, 5:] = 1
  return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def _signature_inputs():
  ids = _id_inputs()
  return {
      "serving_default": ids,
      "mlm": {
          **ids, "masked_lm_positions": np.array([[1, 4, 15], [0, 2, 8]], np.int32)
      },
      "sop": ids,
      "encode_text": {
          "text": np.array(TEXTS, object)
      },
      "encode_text_pair": {
          "text": np.array(TEXTS, object),
          "text_b": np.array(TEXTS_B, object)
      },
      "fill_mask_text": {
          "text": np.array(MASK_TEXTS, object)
      },
  }


_FRESH_PROCESS_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  Registers the tensorflow-text ops.
    export_dir, inputs_file, outputs_file = sys.argv[1:]
    loaded = tf.saved_model.load(export_dir)
    inputs = np.load(inputs_file, allow_pickle=True)
    outputs = {}
    for key in inputs.files:
      signature, name = key.split("/")
      outputs.setdefault(signature, {})[name] = tf.constant(inputs[key].tolist()
          if inputs[key].dtype == object else inputs[key])
    results = {}
    for signature, args in outputs.items():
      for name, value in loaded.signatures[signature](**args).items():
        results[signature + "/" + name] = value.numpy()
    np.savez(outputs_file, **results)
    ours = ("albert_tf", "tf_keras")
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ours)))
""")


@pytest.fixture(scope="module")
def fresh_process_outputs(export):
  """Runs every signature in a process that imports only tensorflow and tensorflow_text."""
  root = export["root"]
  inputs = {
      f"{signature}/{name}": value for signature, args in _signature_inputs().items()
      for name, value in args.items()
  }
  np.savez(root / "inputs.npz", **inputs)
  script = root / "serve.py"
  script.write_text(_FRESH_PROCESS_SCRIPT)
  env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
  result = subprocess.run([
      sys.executable,
      str(script), export["path"],
      str(root / "inputs.npz"),
      str(root / "outputs.npz")
  ], cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []
  outputs = {}
  with np.load(root / "outputs.npz", allow_pickle=True) as data:
    for key in data.files:
      signature, name = key.split("/")
      outputs.setdefault(signature, {})[name] = data[key]
  return outputs


def _keras(export, inputs, positions=None):
  pretrainer = export["pretrainer"]
  if positions is None:
    positions = np.zeros([inputs["input_word_ids"].shape[0], 1], np.int32)
  outputs = pretrainer({**inputs, "masked_lm_positions": positions}, training=False)
  return {key: value.numpy() for key, value in outputs.items()}


def pack(segment_a, segment_b, special):
  """`[CLS] A [SEP] (B [SEP])` with the original truncation, padded to SEQ_LENGTH."""
  segment_a, segment_b = list(segment_a), None if segment_b is None else list(segment_b)
  if segment_b is None:
    segment_a = segment_a[:SEQ_LENGTH - 2]
    ids, types = [special.cls_id] + segment_a + [special.sep_id], [0] * (len(segment_a) + 2)
  else:
    _truncate_seq_pair(segment_a, segment_b, SEQ_LENGTH - 3)
    ids = [special.cls_id] + segment_a + [special.sep_id] + segment_b + [special.sep_id]
    types = [0] * (len(segment_a) + 2) + [1] * (len(segment_b) + 1)
  padding = SEQ_LENGTH - len(ids)
  return ids + [special.pad_id] * padding, [1] * len(ids) + [0] * padding, types + [0] * padding


def _packed_batch(rows):
  ids, mask, types = (np.array(column, np.int32) for column in zip(*rows))
  return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def _assert_close(got, expected):
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def _masked(sequence_output, input_mask):
  """The padded computation's sequence_output with padding positions 0, as the signatures give."""
  return sequence_output * input_mask[:, :, np.newaxis]


def test_id_signatures_equal_keras(export, fresh_process_outputs):
  inputs = _signature_inputs()
  expected = _keras(export, inputs["mlm"], inputs["mlm"]["masked_lm_positions"])
  got = fresh_process_outputs
  assert set(got["serving_default"]) == {"sequence_output", "pooled_output"}
  _assert_close(got["serving_default"]["sequence_output"],
                _masked(expected["sequence_output"], inputs["mlm"]["input_mask"]))
  _assert_close(got["serving_default"]["pooled_output"], expected["pooled_output"])
  assert got["mlm"]["mlm_logits"].shape == (2, 3, text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  _assert_close(got["mlm"]["mlm_logits"], expected["mlm_logits"])
  assert got["sop"]["sop_logits"].shape == (2, 2)
  _assert_close(got["sop"]["sop_logits"], expected["sop_logits"])


def test_encode_text_equals_python_tokenizer_and_keras(export, fresh_process_outputs):
  tokenizer = export["tokenizer"]
  for signature, texts_b in (("encode_text", None), ("encode_text_pair", TEXTS_B)):
    rows = [
        pack(tokenizer.encode(a), None if texts_b is None else tokenizer.encode(b), tokenizer)
        for a, b in zip(TEXTS, texts_b or TEXTS)
    ]
    expected_inputs = _packed_batch(rows)
    got = fresh_process_outputs[signature]
    for name, value in expected_inputs.items():
      np.testing.assert_array_equal(got[name], value, err_msg=f"{signature}/{name}")
    expected = _keras(export, expected_inputs)  # padded to SEQ_LENGTH; the export is not
    assert got["sequence_output"].shape == expected["sequence_output"].shape
    _assert_close(got["sequence_output"],
                  _masked(expected["sequence_output"], expected_inputs["input_mask"]))
    _assert_close(got["pooled_output"], expected["pooled_output"])
  # The long text was truncated, the empty and blank ones give [CLS] [SEP].
  ids = fresh_process_outputs["encode_text"]["input_word_ids"]
  assert ids[3, -1] == tokenizer.sep_id
  assert ids[1, :3].tolist() == ids[4, :3].tolist() == [tokenizer.cls_id, tokenizer.sep_id, 0]


def test_fill_mask_text_equals_keras_top_k(export, fresh_process_outputs):
  tokenizer = export["tokenizer"]
  rows, positions = [], []
  for text in MASK_TEXTS:
    parts = [tokenizer.encode(part) for part in text.split("[MASK]")]
    ids = sum((part + [tokenizer.mask_id] for part in parts[:-1]), []) + parts[-1]
    rows.append(pack(ids, None, tokenizer))
    positions.append([i for i, token in enumerate(rows[-1][0]) if token == tokenizer.mask_id])
  width = max(len(p) for p in positions)
  padded = np.array([p + [-1] * (width - len(p)) for p in positions], np.int32)
  got = fresh_process_outputs["fill_mask_text"]
  np.testing.assert_array_equal(got["mask_positions"], padded)
  # Two masks, none in the empty text, [CLS] [MASK] [SEP], none, and the last one truncated away.
  assert [len(p) for p in positions] == [2, 0, 1, 0, 0, 0] and positions[2] == [1]
  logits = _keras(export, _packed_batch(rows), np.maximum(padded, 0))["mlm_logits"]
  probabilities = np.exp(logits - logits.max(-1, keepdims=True))
  probabilities /= probabilities.sum(-1, keepdims=True)
  for row, columns in enumerate(positions):
    for column in range(len(columns)):
      expected_ids = np.argsort(-probabilities[row, column], kind="stable")[:TOP_K]
      np.testing.assert_array_equal(got["top_k_ids"][row, column], expected_ids)
      _assert_close(got["top_k_probabilities"][row, column], probabilities[row, column,
                                                                           expected_ids])
      assert [t.decode() for t in got["top_k_tokens"][row, column]
             ] == (tokenizer.convert_ids_to_tokens(expected_ids))


def _signature_defs(path):
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    saved_model.ParseFromString(f.read())
  return saved_model.meta_graphs[0]


def test_predict_requests_map_onto_signatures(export, fresh_process_outputs):
  signature_defs = _signature_defs(export["path"]).signature_def
  for signature, args in _signature_inputs().items():
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "albert"
    request.model_spec.signature_name = signature
    for name, value in args.items():
      request.inputs[name].CopyFrom(
          tf.make_tensor_proto(value.tolist() if value.dtype == object else value))
    signature_def = signature_defs[signature]
    assert set(request.inputs) == set(signature_def.inputs), signature
    for name, tensor in request.inputs.items():
      info = signature_def.inputs[name]
      assert tensor.dtype == info.dtype, (signature, name)
      expected_dims = [dim.size for dim in info.tensor_shape.dim]
      got_dims = [dim.size for dim in tensor.tensor_shape.dim]
      assert len(got_dims) == len(expected_dims)
      assert all(e in (-1, g) for e, g in zip(expected_dims, got_dims)), (signature, name)
    assert set(signature_def.outputs) == set(fresh_process_outputs[signature]), signature


def test_saved_model_cli_lists_every_signature(export):
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  result = subprocess.run([cli, "show", "--dir", export["path"], "--all"], capture_output=True,
                          text=True, timeout=300, check=True)
  for signature in _signature_inputs():
    assert f"signature_def['{signature}']:" in result.stdout
  for name in ("input_word_ids", "masked_lm_positions", "mlm_logits", "sop_logits", "text_b",
               "top_k_tokens", "pooled_output"):
    assert f"['{name}']" in result.stdout


def _graph_ops(path):
  meta_graph = _signature_defs(path)
  ops = {node.op for node in meta_graph.graph_def.node}
  for function in meta_graph.graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  return ops


def test_graph_uses_only_core_and_listed_tensorflow_text_ops(export):
  ops = _graph_ops(export["path"])
  assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
  assert {op for op in ops if not hasattr(tf.raw_ops, op)} == SENTENCEPIECE_TEXT_OPS


def test_assets_and_version(export):
  assert os.path.basename(export["path"]) == str(STEP)
  assets = sorted(os.listdir(os.path.join(export["path"], "assets")))
  assert assets == ["albert_config.json", "fixture_spm.model"]


def test_reusable_encoder_is_callable_and_trainable(export):
  encoder = tf.saved_model.load(str(export["root"] / "encoder"))
  inputs = {key: tf.constant(value) for key, value in _id_inputs().items()}
  outputs = encoder(inputs, training=False)
  expected = export["pretrainer"].albert(inputs, training=False)
  _assert_close(outputs["pooled_output"].numpy(), expected["pooled_output"].numpy())
  _assert_close(outputs["sequence_output"].numpy(), expected["sequence_output"].numpy())
  assert len(encoder.trainable_variables) == len(export["pretrainer"].albert.trainable_variables)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(encoder(inputs, training=True)["pooled_output"]**2)
  gradients = tape.gradient(loss, encoder.trainable_variables)
  assert all(g is not None for g in gradients)
  assert float(tf.linalg.global_norm(gradients)) > 0


def _export_error(export, **overrides):
  arguments = dict(albert_config_file=export["config_file"], init_checkpoint=export["checkpoint"],
                   export_dir=str(export["root"] / "errors"),
                   spm_model_file=export["spm_model_file"], max_seq_length=SEQ_LENGTH)
  arguments.update(overrides)
  with pytest.raises(exporter.ExportError) as error:
    exporter.export_savedmodel(**arguments)
  assert "\n" not in str(error.value)
  assert not os.path.exists(export["root"] / "errors" / str(STEP))
  return str(error.value)


def test_text_signatures_without_vocabulary(export):
  message = _export_error(export, spm_model_file=None)
  assert message.startswith("the text signatures (encode_text, fill_mask_text) need a vocabulary")


def test_vocabulary_size_disagrees_with_config(export, tmp_path):
  config_file = str(tmp_path / "config.json")
  _tiny_config(99).to_json_file(config_file)
  message = _export_error(export, albert_config_file=config_file)
  assert message == (f"vocabulary {export['spm_model_file']} has 300 tokens but the config says "
                     "vocab_size=99: pass the vocabulary the model was trained with")


def test_checkpoint_does_not_match_config(export, tmp_path):
  config_file = str(tmp_path / "config.json")
  _tiny_config(300, hidden_size=48, intermediate_size=40).to_json_file(config_file)
  message = _export_error(export, albert_config_file=config_file)
  assert message.startswith(f"checkpoint {export['checkpoint']} does not match the config")
  assert "hidden_size" in message or "[32" in message


def test_existing_version_needs_overwrite(export):
  message = _export_error(export, export_dir=os.path.dirname(export["path"]))
  assert message == f"{export['path']} already exists: pass another --version, or --overwrite"


def test_version_from_object_checkpoint_and_flag(export, tmp_path):
  checkpoint = tf.train.Checkpoint(model=export["pretrainer"])
  prefix = checkpoint.write(str(tmp_path / "model.ckpt-5"))
  assert exporter.serving_version(None, prefix) == 5
  assert exporter.serving_version(None, str(tmp_path)) == 5
  assert exporter.serving_version(12, prefix) == 12
  unnumbered = tf.train.Checkpoint(model=export["pretrainer"]).write(str(tmp_path / "other"))
  assert exporter.serving_version(None, unnumbered) == 1


def test_cli_defaults_max_seq_length_to_the_config_and_reports_one_line_errors(tmp_path):
  # Both runs stop at a user error before the checkpoint is read: it need not exist.
  config = _tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  assert config.max_position_embeddings == 64
  config_file = str(tmp_path / "albert_config.json")
  config.to_json_file(config_file)
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  command = [
      sys.executable, "-m", "albert_tf.export_savedmodel", f"--albert_config_file={config_file}",
      f"--init_checkpoint={tmp_path / 'model.ckpt-1'}", f"--export_dir={tmp_path / 'out'}"
  ]
  processes = [
      subprocess.Popen(command + extra, env={
          **os.environ, "PYTHONPATH": repo_root
      }, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
      for extra in ([], ["--max_seq_length=65"])
  ]
  default, too_long = [process.communicate(timeout=300)[1] for process in processes]
  default_code, too_long_code = [process.returncode for process in processes]
  # No --max_seq_length: 64 (not 128) and on to the next check, the missing vocabulary.
  assert default_code == 1
  assert (f"--max_seq_length=64 (the smaller of 128 and max_position_embeddings=64 of "
          f"{config_file})") in default
  assert default.strip().splitlines()[-1] == (
      "albert-export: error: the text signatures (encode_text, fill_mask_text) need a vocabulary: "
      "pass --spm_model_file or --vocab_file, or --notext_signatures for id inputs only")
  assert too_long_code == 1
  assert too_long.strip().splitlines()[-1].startswith(
      "albert-export: error: --max_seq_length=65 exceeds the config's max_position_embeddings=64")
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_wordpiece_export_tokenizes_like_python(tmp_path):
  vocab_file = text_fixtures.build_wordpiece_vocab(tmp_path)
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file)
  config = _tiny_config(len(tokenizer.inv_vocab), hidden_act="relu")
  config_file = str(tmp_path / "albert_config.json")
  config.to_json_file(config_file)
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()
  checkpoint = save_original_checkpoint(pretrainer, str(tmp_path / "ckpt" / "model.ckpt"))
  path = exporter.export_savedmodel(albert_config_file=config_file, init_checkpoint=checkpoint,
                                    export_dir=str(tmp_path / "serving"), vocab_file=vocab_file,
                                    max_seq_length=SEQ_LENGTH)
  assert os.path.basename(path) == "1"  # global_step 0: version 1.
  assert {op for op in _graph_ops(path) if not hasattr(tf.raw_ops, op)} == WORDPIECE_TEXT_OPS
  loaded = tf.saved_model.load(path)
  got = loaded.signatures["encode_text"](text=tf.constant(TEXTS))["input_word_ids"].numpy()
  expected = _packed_batch([pack(tokenizer.encode(text), None, tokenizer) for text in TEXTS])
  np.testing.assert_array_equal(got, expected["input_word_ids"])


class _ShapeRecorder:
  """Stands in for the pretrainer, recording the sequence length each encoder call gets."""

  def __init__(self, pretrainer):
    self.pretrainer = pretrainer
    self.lengths = []

  def albert(self, inputs, training):
    self.lengths.append(int(inputs["input_word_ids"].shape[1]))
    return self.pretrainer.albert(inputs, training=training)

  def __call__(self, inputs, training):
    self.lengths.append(int(inputs["input_word_ids"].shape[1]))
    return self.pretrainer(inputs, training=training)


def test_encoder_runs_on_the_longest_row_only(export):
  from albert_tf.export import serving_module  # pylint: disable=g-import-not-at-top
  from albert_tf.export.untracked import Untracked  # pylint: disable=g-import-not-at-top
  tokenizer = exporter.create_text_tokenizer(export["spm_model_file"], None, True)
  module = serving_module.AlbertServingModule(export["pretrainer"], tokenizer,
                                              max_seq_length=SEQ_LENGTH, top_k=TOP_K)
  recorder = _ShapeRecorder(export["pretrainer"])
  module._pretrainer = Untracked(recorder)  # pylint: disable=protected-access
  full = export["tokenizer"]
  texts = ["the capital", "of france is paris"]
  mask = np.zeros([2, SEQ_LENGTH], np.int32)
  mask[:, :4] = 1
  inputs = {**{key: tf.constant(value) for key, value in _id_inputs().items()}, "input_mask": mask}
  tf.config.run_functions_eagerly(True)  # Concrete shapes reach the recorder.
  try:
    outputs = module.encode_text(tf.constant(texts))
    module.fill_mask_text(tf.constant(["[MASK] is paris", "x"]))
    # The mlm signature keeps positions the MLM head reads, even past the last real token.
    module.serve_mlm(masked_lm_positions=tf.constant([[1], [6]]), **inputs)
    # TF Serving's padding of input_mask with ones: the whole width runs.
    module.serve(**{**inputs, "input_mask": tf.ones([2, SEQ_LENGTH], tf.int32)})
  finally:
    tf.config.run_functions_eagerly(False)
  longest = 2 + max(len(full.encode(text)) for text in texts)
  assert longest < SEQ_LENGTH
  assert recorder.lengths == [longest, 2 + len(full.encode(" is paris")) + 1, 7, SEQ_LENGTH]
  assert outputs["sequence_output"].shape == (2, SEQ_LENGTH, export["config"].hidden_size)
