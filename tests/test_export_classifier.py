"""Classifier export: classify_text, serving_default and serialized_example equal Keras + NumPy."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
import tf_keras

from albert_tf import AlbertConfig
from albert_tf import checkpoints
from albert_tf import tokenization
from albert_tf.export import classifier_exporter
from albert_tf.export import exporter
from albert_tf.models.albert_classifier import AlbertClassifier
from tests import text_fixtures
from tests.test_export_savedmodel import SENTENCEPIECE_TEXT_OPS
from tests.test_export_savedmodel import WORDPIECE_TEXT_OPS
from tests.test_export_savedmodel import pack

SEQ_LENGTH = 16
STEP = 42
THRESHOLD = 0.25
LABELS = ["negative", "neutral", "positive"]
TEXTS = [
    "The capital of France is Paris.", "",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
    "Café, 1990, naïve!"
]
TEXTS_B = ["It is big.", "x", "a b c d e f g h i j k l m n o p q r s t u v w", ""]
ZH_TEXTS = ["北京是中国的首都。", "我在Paris住了3年, 很喜欢café!", "", "今天天气很好" * 5]
ZH_TEXTS_B = ["上海", "", "很喜欢", "天气"]
CLASSIFIER_SIGNATURES = {
    "serving_default": ({"input_word_ids", "input_mask",
                         "input_type_ids"}, {"logits", "probabilities"}),
    "serialized_example": ({"input"}, {"probabilities", "predictions", "threshold"}),
    "classify_text": ({"text"}, {"probabilities", "label_ids", "labels"}),
    "classify_text_pair": ({"text", "text_b"}, {"probabilities", "label_ids", "labels"}),
}
REGRESSION_SIGNATURES = {
    "serving_default": ({"input_word_ids", "input_mask", "input_type_ids"}, {"predictions"}),
    "serialized_example": ({"input"}, {"probabilities", "predictions"}),
    "classify_text": ({"text"}, {"predictions"}),
    "classify_text_pair": ({"text", "text_b"}, {"predictions"}),
}


def _tiny_config(vocab_size, **overrides):
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=vocab_size, **overrides)
  return AlbertConfig.from_dict(values)


def _random_classifier(config, num_labels, seed):
  classifier = AlbertClassifier(config, num_labels=num_labels)
  classifier.build()
  rng = np.random.default_rng(seed)
  for variable in classifier.variables:  # Larger than the init scale, so differences show.
    variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
  return classifier


def _spread_head(classifier, batches):
  """A head that tells these inputs apart: a random model's pooled outputs barely differ."""
  pooled = np.concatenate([classifier(inputs)["pooled_output"].numpy() for inputs in batches])
  weights = np.random.default_rng(2).normal(0, 10, classifier.classifier.output_weights.shape)
  classifier.classifier.output_weights.assign(weights.astype(np.float32))
  classifier.classifier.output_bias.assign((-pooled.mean(0) @ weights.T).astype(np.float32))


def _write_run(run_dir, classifier, labels):
  """A run's output_dir: model.ckpt-best at STEP, an older model.ckpt-3, label_list.txt."""
  optimizer = tf_keras.optimizers.legacy.Adam()
  optimizer.iterations.assign(3)
  checkpoint = checkpoints.training_checkpoint(classifier, optimizer)
  manager = tf.train.CheckpointManager(checkpoint, str(run_dir), 2, checkpoint_name="model.ckpt")
  manager.save(checkpoint_number=3)
  optimizer.iterations.assign(STEP)
  checkpoint.write(str(run_dir / "model.ckpt-best"))
  (run_dir / "label_list.txt").write_text("".join(f"{label}\n" for label in labels))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """SentencePiece 3-way classifier via a run directory; WordPiece regression via the object."""
  root = tmp_path_factory.mktemp("export_classifier")
  spm_model_file = text_fixtures.build_sentencepiece_model(root)
  config = _tiny_config(text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  config_file = str(root / "config.json")  # Not albert_config.json: the asset is renamed.
  config.to_json_file(config_file)
  classifier = _random_classifier(config, len(LABELS), seed=0)
  sentencepiece = tokenization.FullTokenizer(spm_model_file=spm_model_file)
  _spread_head(classifier, [_packed(sentencepiece, TEXTS), _packed(sentencepiece, TEXTS, TEXTS_B)])
  run_dir = root / "run"
  _write_run(run_dir, classifier, LABELS)
  classifier_path = classifier_exporter.export_classifier_from_checkpoint(
      albert_config_file=config_file, init_checkpoint=str(run_dir),
      export_dir=str(root / "classifier"), spm_model_file=spm_model_file, max_seq_length=SEQ_LENGTH,
      threshold=THRESHOLD)

  vocab_file = text_fixtures.build_wordpiece_vocab(root)
  wordpiece = tokenization.FullTokenizer(vocab_file=vocab_file)
  regressor = _random_classifier(_tiny_config(len(wordpiece.inv_vocab), hidden_act="relu"), 1,
                                 seed=1)
  regression_path = classifier_exporter.export_classifier(
      regressor, export_dir=str(root / "regression"),
      text_tokenizer=exporter.create_text_tokenizer(None, vocab_file,
                                                    True), max_seq_length=SEQ_LENGTH, labels=[],
      is_regression=True, threshold=float("nan"), version=None)
  return {
      "root": root,
      "run_dir": run_dir,
      "config_file": config_file,
      "spm_model_file": spm_model_file,
      "classifier": {
          "path": classifier_path,
          "model": classifier,
          "tokenizer": sentencepiece,
          "texts": (TEXTS, TEXTS_B)
      },
      "regression": {
          "path": regression_path,
          "model": regressor,
          "tokenizer": wordpiece,
          "texts": (ZH_TEXTS, ZH_TEXTS_B)
      },
  }


def _packed(tokenizer, texts, texts_b=None):
  rows = [
      pack(tokenizer.encode(a), None if texts_b is None else tokenizer.encode(b), tokenizer)
      for a, b in zip(texts, texts_b or texts)
  ]
  ids, mask, types = (np.array(column, np.int32) for column in zip(*rows))
  return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def _serialized_examples(inputs):
  examples = []
  for ids, mask, types in zip(inputs["input_word_ids"], inputs["input_mask"],
                              inputs["input_type_ids"]):
    features = {
        name: tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
        for name, values in (("input_ids", ids), ("input_mask", mask), ("segment_ids", types))
    }
    examples.append(
        tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
  return np.array(examples, object)


def _signature_inputs(export):
  texts, texts_b = export["texts"]
  pair = _packed(export["tokenizer"], texts, texts_b)
  return {
      "serving_default": pair,
      "serialized_example": {
          "input": _serialized_examples(pair)
      },
      "classify_text": {
          "text": np.array(texts, object)
      },
      "classify_text_pair": {
          "text": np.array(texts, object),
          "text_b": np.array(texts_b, object)
      },
  }


_FRESH_PROCESS_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  Registers the tensorflow-text ops.
    inputs_file, outputs_file = sys.argv[1:3]
    paths = dict(argument.split("=", 1) for argument in sys.argv[3:])
    inputs = np.load(inputs_file, allow_pickle=True)
    calls = {}
    for key in inputs.files:
      export, signature, name = key.split("/")
      value = inputs[key]
      calls.setdefault((export, signature), {})[name] = tf.constant(
          value.tolist() if value.dtype == object else value)
    loaded = {export: tf.saved_model.load(path) for export, path in paths.items()}
    results = {}
    for (export, signature), args in calls.items():
      for name, value in loaded[export].signatures[signature](**args).items():
        results[f"{export}/{signature}/{name}"] = value.numpy()
    np.savez(outputs_file, **results)
    ours = ("albert_tf", "tf_keras", "tensorflow_hub")
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ours)))
""")


@pytest.fixture(scope="module")
def served(exports):
  """Every signature of both exports, run in a process importing only TF and tensorflow_text."""
  root = exports["root"]
  inputs = {
      f"{export}/{signature}/{name}": value for export in ("classifier", "regression")
      for signature, args in _signature_inputs(exports[export]).items()
      for name, value in args.items()
  }
  np.savez(root / "inputs.npz", **inputs)
  script = root / "serve.py"
  script.write_text(_FRESH_PROCESS_SCRIPT)
  env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
  result = subprocess.run(
      [sys.executable,
       str(script),
       str(root / "inputs.npz"),
       str(root / "outputs.npz")] +
      [f"{export}={exports[export]['path']}" for export in ("classifier", "regression")], cwd=root,
      env=env, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(result.stdout.strip().splitlines()[-1]) == []
  outputs = {}
  with np.load(root / "outputs.npz", allow_pickle=True) as data:
    for key in data.files:
      export, signature, name = key.split("/")
      outputs.setdefault(export, {}).setdefault(signature, {})[name] = data[key]
  return outputs


def _numpy_logits(classifier, inputs):
  """Keras pooled output, then the head in NumPy; checks Keras' logits against it."""
  outputs = classifier(inputs, training=False)
  weights, bias = (
      v.numpy() for v in (classifier.classifier.output_weights, classifier.classifier.output_bias))
  logits = outputs["pooled_output"].numpy() @ weights.T + bias
  np.testing.assert_allclose(outputs["logits"].numpy(), logits, rtol=0, atol=1e-5)
  return logits


def _softmax(logits):
  shifted = np.exp(logits - logits.max(-1, keepdims=True))
  return shifted / shifted.sum(-1, keepdims=True)


def _assert_close(got, expected):
  # 1e-5 per unit of the largest value: float32 rounding grows with the values, and the SavedModel's
  # graph (oneDNN fusions) rounds differently from Keras eager (1.05e-5 on logits up to 3.04 on an
  # AMD Zen 4 host; within 1e-5 with TF_ENABLE_ONEDNN_OPTS=0).
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("signature,pair", [("classify_text", False), ("classify_text_pair", True)])
def test_classify_text_equals_python_tokenizer_keras_and_numpy(exports, served, signature, pair):
  export = exports["classifier"]
  texts, texts_b = export["texts"]
  inputs = _packed(export["tokenizer"], texts, texts_b if pair else None)
  assert inputs["input_mask"][2].all()  # The long text fills max_seq_length.
  probabilities = _softmax(_numpy_logits(export["model"], inputs))
  got = served["classifier"][signature]
  assert got["probabilities"].shape == (len(texts), len(LABELS))
  _assert_close(got["probabilities"], probabilities)
  np.testing.assert_array_equal(got["label_ids"], probabilities.argmax(-1))
  assert got["label_ids"].dtype == np.int32
  assert [label.decode() for label in got["labels"]
         ] == [LABELS[i] for i in probabilities.argmax(-1)]
  assert len(set(got["labels"])) > 1  # The random head does not answer one label for all.


def test_id_and_example_signatures_equal_keras(exports, served):
  export = exports["classifier"]
  inputs = _signature_inputs(export)["serving_default"]
  logits = _numpy_logits(export["model"], inputs)
  got = served["classifier"]
  _assert_close(got["serving_default"]["logits"], logits)
  _assert_close(got["serving_default"]["probabilities"], _softmax(logits))
  _assert_close(got["serialized_example"]["probabilities"], _softmax(logits))
  np.testing.assert_array_equal(got["serialized_example"]["predictions"], logits.argmax(-1))
  assert got["serialized_example"]["threshold"].shape == ()
  assert got["serialized_example"]["threshold"] == np.float32(THRESHOLD)


def test_wordpiece_regression_equals_keras(exports, served):
  export = exports["regression"]
  texts, texts_b = export["texts"]
  got = served["regression"]
  for signature, second in (("classify_text", None), ("classify_text_pair", texts_b)):
    scores = _numpy_logits(export["model"], _packed(export["tokenizer"], texts, second))[:, 0]
    assert got[signature]["predictions"].shape == (len(texts),)
    _assert_close(got[signature]["predictions"], scores)
  scores = _numpy_logits(export["model"], _packed(export["tokenizer"], texts, texts_b))
  _assert_close(got["serving_default"]["predictions"], scores[:, 0])
  _assert_close(got["serialized_example"]["probabilities"], scores)  # The original's [B, 1].
  _assert_close(got["serialized_example"]["predictions"], scores[:, 0])


@pytest.mark.parametrize(
    "export,signatures,text_ops",
    [
        # Classification never turns ids back into pieces.
        ("classifier", CLASSIFIER_SIGNATURES,
         SENTENCEPIECE_TEXT_OPS - {"SentencepieceIdToStringOp"}),
        ("regression", REGRESSION_SIGNATURES, WORDPIECE_TEXT_OPS)
    ])
def test_signatures_and_graph_ops(exports, export, signatures, text_ops):
  meta_graph = _meta_graph(exports[export]["path"])
  assert {
      name: (set(signature.inputs), set(signature.outputs))
      for name, signature in meta_graph.signature_def.items()
      if name != "__saved_model_init_op"
  } == signatures
  ops = {node.op for node in meta_graph.graph_def.node}
  for function in meta_graph.graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
  assert {op for op in ops if not hasattr(tf.raw_ops, op)} == text_ops


def _meta_graph(path):
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    saved_model.ParseFromString(f.read())
  return saved_model.meta_graphs[0]


def test_version_best_checkpoint_and_assets(exports):
  path = exports["classifier"]["path"]
  assert os.path.basename(path) == str(STEP)  # model.ckpt-best's step, not the latest (3).
  assert sorted(os.listdir(os.path.join(path,
                                        "assets"))) == ["albert_config.json", "fixture_spm.model"]
  assert os.path.basename(exports["regression"]["path"]) == "1"


def test_labels_that_do_not_fit_the_classifier(exports, tmp_path):
  for labels, is_regression, message in (
      (["a", "b"], False, "the classifier has num_labels=3 but the 2 labels need 2"),
      ([], True, "the classifier has num_labels=3 but a regression task needs 1")):
    with pytest.raises(exporter.ExportError) as error:
      classifier_exporter.export_classifier(exports["classifier"]["model"],
                                            export_dir=str(tmp_path), text_tokenizer=None,
                                            max_seq_length=SEQ_LENGTH, labels=labels,
                                            is_regression=is_regression, threshold=None, version=3)
    assert str(error.value).startswith(message)
  assert not os.listdir(tmp_path)


def test_resolve_labels(tmp_path):
  resolve = classifier_exporter.resolve_labels
  assert resolve(None, 3, False, str(tmp_path)) == ["0", "1", "2"]
  assert resolve(["b", "a"], None, False, str(tmp_path)) == ["b", "a"]
  assert resolve(None, None, True, str(tmp_path)) == []
  (tmp_path / "label_list.txt").write_text("entailment\nnot_entailment\n\n")
  assert resolve(None, None, False, str(tmp_path)) == ["entailment", "not_entailment"]
  assert resolve(["x", "y", "z"], None, False, str(tmp_path)) == ["x", "y", "z"]
  assert resolve(None, None, True, str(tmp_path)) == []


@pytest.mark.parametrize("label_file,label_list,num_labels,is_regression,message", [
    (None, None, None, False, "no labels: {dir}/label_list.txt does not exist; pass --label_list "
     "(names in label-id order) or --num_labels"),
    ("a\nb\n", None, 3, False, "--num_labels=3 but {dir}/label_list.txt has 2 labels: pass "
     "matching values"),
    ("a\nb\na\n", None, None, False, "{dir}/label_list.txt lists a more than once: list each "
     "label once, in label-id order"),
    ("\n", None, None, False, "{dir}/label_list.txt names no label: list the task's labels "
     "(a regression run's has none: pass --is_regression)"),
    (None, ["a", "b", "a"], None, False, "--label_list lists a more than once: list each label "
     "once, in label-id order"),
    (None, ["a"], None, False, "--label_list has one label; a classifier needs two or more (for "
     "scores pass --is_regression)"),
    (None, ["a", "b"], None, True, "--is_regression exports one score: drop --label_list and "
     "--num_labels (or pass --num_labels=1)"),
    (None, None, 0, False, "--num_labels=0 must be at least 1"),
])
def test_label_errors(tmp_path, label_file, label_list, num_labels, is_regression, message):
  if label_file is not None:
    (tmp_path / "label_list.txt").write_text(label_file)
  with pytest.raises(exporter.ExportError) as error:
    classifier_exporter.resolve_labels(label_list, num_labels, is_regression, str(tmp_path))
  assert str(error.value) == message.format(dir=tmp_path)


def test_pretraining_checkpoint_has_no_head(exports, tmp_path):
  model = exports["classifier"]["model"]
  prefix = tf.train.Checkpoint(model=model.albert).write(str(tmp_path / "model.ckpt-1"))
  with pytest.raises(exporter.ExportError) as error:
    classifier_exporter.export_classifier_from_checkpoint(albert_config_file=exports["config_file"],
                                                          init_checkpoint=prefix,
                                                          export_dir=str(tmp_path / "out"),
                                                          spm_model_file=exports["spm_model_file"],
                                                          num_labels=3, max_seq_length=SEQ_LENGTH)
  assert "\n" not in str(error.value)
  assert not os.path.exists(tmp_path / "out")


def test_flags_of_the_other_task_are_refused(tmp_path):
  # A subprocess: albert-export's flags would clash with run_pretraining's in a pytest process.
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.export_savedmodel", "--task=classifier", "--top_k=3",
      f"--export_dir={tmp_path}"
  ], env={
      **os.environ, "PYTHONPATH": repo_root
  }, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      "albert-export: error: --top_k applies to --task=pretraining, not --task=classifier")


def test_cli_exports_a_run_directory(exports, tmp_path):
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.export_savedmodel", "--task=classifier",
      f"--albert_config_file={exports['config_file']}", f"--init_checkpoint={exports['run_dir']}",
      f"--export_dir={tmp_path}", f"--max_seq_length={SEQ_LENGTH}", "--notext_signatures",
      "--version=9", "--threshold_to_export=0.75"
  ], env={
      **os.environ, "PYTHONPATH": repo_root
  }, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().splitlines()[-1] == f"Exported {tmp_path / '9'}"
  loaded = tf.saved_model.load(str(tmp_path / "9"))
  assert set(loaded.signatures) == {"serving_default", "serialized_example"}
  inputs = _signature_inputs(exports["classifier"])
  got = loaded.signatures["serialized_example"](
      input=tf.constant(inputs["serialized_example"]["input"].tolist()))
  logits = _numpy_logits(exports["classifier"]["model"], inputs["serving_default"])
  _assert_close(got["probabilities"].numpy(), _softmax(logits))
  assert float(got["threshold"]) == 0.75
