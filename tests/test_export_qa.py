"""QA export: `answer_question` answers as the Python path (squad_data + squad_postprocess).

Tiny random-weight models (weights larger than the init scale, so that spans differ) on generated
SQuAD-format questions, a long context (many windows) and an empty one. Served answers are
compared with the Python answers after lower-casing and collapsing whitespace (the served text is
rebuilt from lower-cased pieces; the Python text is cut from the original characters).
"""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
import tf_keras

from albert_tf import AlbertConfig
from albert_tf import checkpoints
from albert_tf.export import exporter
from albert_tf.export import qa_exporter
from albert_tf.export import qa_serving_module
from albert_tf.models.albert_squad_v1 import AlbertSquadV1
from albert_tf.models.albert_squad_v2 import AlbertSquadV2
from albert_tf.tasks import squad_data
from albert_tf.tasks import squad_postprocess
from tests import squad_fixtures
from tests import text_fixtures
from tests.test_export_savedmodel import SENTENCEPIECE_TEXT_OPS
from tests.test_export_savedmodel import WORDPIECE_TEXT_OPS

SETTINGS = squad_data.FeatureSettings(max_seq_length=32, doc_stride=7, max_query_length=8)
N_BEST_SIZE = 6
MAX_ANSWER_LENGTH = 5
TOP_N = 3
STEP = 17
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _examples():
  data = squad_fixtures.make_squad_data(random.Random(5), 12, version_2=False)
  examples = [
      squad_data.SquadExample(qa["id"], qa["question"], paragraph["context"])
      for article in data["data"]
      for paragraph in article["paragraphs"]
      for qa in paragraph["qas"]
  ]
  with open(text_fixtures.ENGLISH_CORPUS, encoding="utf-8") as f:
    long_context = " ".join(f.read().split()[:150])
  examples.append(squad_data.SquadExample("long", "Who opened the bakery?", long_context))
  examples.append(squad_data.SquadExample("empty", "Who opened the bakery?", ""))
  return examples


def _random_weights(model, seed):
  model.build()
  rng = np.random.default_rng(seed)
  for variable in model.variables:
    variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
  return model


def _python_predictions(model, features, examples, version_2):
  inputs = {
      "input_word_ids": tf.constant([f.input_ids for f in features], tf.int32),
      "input_mask": tf.constant([f.input_mask for f in features], tf.int32),
      "input_type_ids": tf.constant([f.segment_ids for f in features], tf.int32),
  }
  if not version_2:
    outputs = {k: v.numpy() for k, v in model(inputs, training=False).items()}
    results = [
        squad_postprocess.RawResultV1(f.unique_id, [float(x)
                                                    for x in outputs["start_logits"][i]],
                                      [float(x)
                                       for x in outputs["end_logits"][i]])
        for i, f in enumerate(features)
    ]
    accumulator = squad_postprocess.SpanAccumulator(examples, features)
    accumulator.add_v1(results, N_BEST_SIZE, MAX_ANSWER_LENGTH)
    return squad_postprocess.finish_v1(accumulator, N_BEST_SIZE), accumulator
  inputs["p_mask"] = tf.constant([squad_data.p_mask(f) for f in features], tf.float32)
  outputs = {k: v.numpy() for k, v in model(inputs, training=False).items()}
  results = [
      squad_postprocess.RawResultV2(f.unique_id,
                                    [float(x) for x in outputs["start_top_log_probs"][i]],
                                    [int(x) for x in outputs["start_top_index"][i]],
                                    [float(x) for x in outputs["end_top_log_probs"][i]],
                                    [int(x) for x in outputs["end_top_index"][i]],
                                    float(outputs["cls_logits"][i])) for i, f in enumerate(features)
  ]
  accumulator = squad_postprocess.SpanAccumulator(examples, features)
  accumulator.add_v2(results, MAX_ANSWER_LENGTH, TOP_N, TOP_N)
  return squad_postprocess.finish_v2(accumulator, N_BEST_SIZE), accumulator


def _write_run(run_dir, model):
  optimizer = tf_keras.optimizers.legacy.Adam()
  optimizer.iterations.assign(STEP)
  checkpoints.training_checkpoint(model, optimizer).write(str(run_dir / "model.ckpt-best"))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """v1 exported from a run directory, v2 from the model object; both answered in-process."""
  root = tmp_path_factory.mktemp("export_qa")
  spm_model_file = text_fixtures.build_sentencepiece_model(root)
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  config = AlbertConfig.from_dict(values)
  config_file = str(root / "config.json")
  config.to_json_file(config_file)
  examples = _examples()
  tokenizer = squad_data.make_tokenizer(spm_model_file, None, True)
  features = []
  squad_data.convert_examples_to_features(examples, tokenizer, SETTINGS, False, features.append)
  settings = dict(max_seq_length=SETTINGS.max_seq_length, doc_stride=SETTINGS.doc_stride,
                  max_query_length=SETTINGS.max_query_length, n_best_size=N_BEST_SIZE,
                  max_answer_length=MAX_ANSWER_LENGTH)

  v1 = _random_weights(AlbertSquadV1(config), seed=0)
  v1_predictions, v1_accumulator = _python_predictions(v1, features, examples, False)
  _write_run(root / "run", v1)
  v1_path = qa_exporter.export_squad_from_checkpoint(albert_config_file=config_file,
                                                     init_checkpoint=str(root / "run"),
                                                     export_dir=str(root / "v1"), version_2=False,
                                                     spm_model_file=spm_model_file, **settings)

  v2 = _random_weights(AlbertSquadV2(config, start_n_top=TOP_N, end_n_top=TOP_N), seed=1)
  v2_predictions, v2_accumulator = _python_predictions(v2, features, examples, True)
  odds = sorted(v2_predictions.null_odds[e.qas_id] for e in examples if e.paragraph_text)
  threshold = (odds[len(odds) // 2 - 1] + odds[len(odds) // 2]) / 2
  v2_path = qa_exporter.export_fine_tuned(v2, config, str(root / "run" / "model.ckpt-best"),
                                          export_dir=str(root / "v2"),
                                          spm_model_file=spm_model_file, vocab_file=None,
                                          do_lower_case=True, version_2=True,
                                          null_score_diff_threshold=threshold, version=3,
                                          **settings)
  questions = tf.constant([e.question_text for e in examples])
  contexts = tf.constant([e.paragraph_text for e in examples])
  served = {}
  for name, path in (("v1", v1_path), ("v2", v2_path)):
    signature = tf.saved_model.load(path).signatures["answer_question"]
    outputs = signature(question=questions, context=contexts)
    served[name] = {key: value.numpy() for key, value in outputs.items()}
    # A batch without any window (the model runs on zero rows).
    outputs = signature(question=tf.constant(["Who?", ""]), context=tf.constant(["", ""]))
    served[f"{name}_no_window"] = {key: value.numpy() for key, value in outputs.items()}
  return {
      "root": root,
      "spm_model_file": spm_model_file,
      "examples": examples,
      "features": features,
      "paths": {
          "v1": v1_path,
          "v2": v2_path
      },
      "python": {
          "v1": v1_predictions,
          "v2": v2_predictions
      },
      "accumulators": {
          "v1": v1_accumulator,
          "v2": v2_accumulator
      },
      "threshold": threshold,
      "served": served,
  }


def _folded(text):
  return " ".join(text.lower().split())


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_served_answers_equal_the_python_post_processing(exports, version):
  python = exports["python"][version]
  served = exports["served"][version]
  answered = [e.qas_id for e in exports["examples"] if e.qas_id != "empty"]
  best = (python.best_answers if version == "v1" else python.answers())
  got = dict(
      zip([e.qas_id for e in exports["examples"]], [
          text.decode() for text in served["best_non_null_answer" if version == "v2" else "answer"]
      ]))
  assert {qid: got[qid] for qid in answered} == {qid: _folded(best[qid]) for qid in answered}
  assert len({got[qid] for qid in answered}) > 3  # Random weights, yet not one answer for all.
  scores = dict(zip([e.qas_id for e in exports["examples"]], served["score"]))
  for qid in answered:
    entry = python.nbest[qid][0]
    assert scores[qid] == pytest.approx(entry["start_log_prob"] + entry["end_log_prob"], abs=1e-4)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_answers_come_from_later_windows_too(exports, version):
  accumulator = exports["accumulators"][version]
  assert len(accumulator.features_of[len(exports["examples"]) - 2]) > 20  # The long context.
  windows = [
      accumulator.features_of[index][accumulator.ranked_spans(
          index)[0].feature_index].doc_span_index for index in range(len(exports["examples"]) - 1)
  ]
  assert len(set(windows)) > 2  # Spans from several windows, not only the first.


def test_v2_no_answer_decision_equals_python_at_the_same_threshold(exports):
  python = exports["python"]["v2"]
  served = exports["served"]["v2"]
  ids = [e.qas_id for e in exports["examples"]]
  null = dict(zip(ids, served["null_score_diff"]))
  impossible = dict(zip(ids, served["is_impossible"]))
  answers = dict(zip(ids, (text.decode() for text in served["answer"])))
  expected = python.answers(exports["threshold"])
  for qid in ids:
    assert null[qid] == pytest.approx(python.null_odds[qid], abs=1e-5)
    assert impossible[qid] == (python.null_odds[qid] >= exports["threshold"])
    assert answers[qid] == _folded(expected[qid])
  assert 0 < sum(impossible.values()) < len(ids)


def test_empty_context_gives_no_answer(exports):
  index = [e.qas_id for e in exports["examples"]].index("empty")
  v1, v2 = exports["served"]["v1"], exports["served"]["v2"]
  assert v1["answer"][index] == b"" and v1["score"][index] == np.float32(-1e6)
  assert v2["answer"][index] == b"" and v2["is_impossible"][index]
  assert v2["null_score_diff"][index] == np.float32(1e6)  # The original's value without windows.
  assert exports["python"]["v1"].best_answers["empty"] == "empty"  # The original's placeholder.
  for version in ("v1", "v2"):
    outputs = exports["served"][f"{version}_no_window"]
    assert outputs["answer"].tolist() == [b"", b""]
    assert outputs["score"].tolist() == [-1e6, -1e6]
  assert exports["served"]["v2_no_window"]["is_impossible"].tolist() == [True, True]


def _meta_graph(path):
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    saved_model.ParseFromString(f.read())
  return saved_model.meta_graphs[0]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_signature_graph_ops_and_assets(exports, version):
  path = exports["paths"][version]
  assert os.path.basename(path) == ("17" if version == "v1" else "3")
  meta_graph = _meta_graph(path)
  outputs = {"answer", "score"}
  if version == "v2":
    outputs |= {"is_impossible", "null_score_diff", "best_non_null_answer"}
  assert {
      name: (set(signature.inputs), set(signature.outputs))
      for name, signature in meta_graph.signature_def.items()
      if name != "__saved_model_init_op"
  } == {
      "answer_question": ({"question", "context"}, outputs)
  }
  ops = {node.op for node in meta_graph.graph_def.node}
  for function in meta_graph.graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
  assert {op for op in ops if not hasattr(tf.raw_ops, op)} == SENTENCEPIECE_TEXT_OPS
  assert sorted(os.listdir(os.path.join(path,
                                        "assets"))) == ["albert_config.json", "fixture_spm.model"]


def test_bad_settings_and_checkpoint_without_head(exports, tmp_path):
  config = AlbertConfig.from_preset("albert_tiny_test")
  with pytest.raises(exporter.ExportError, match="--max_query_length=40 must be between 1 and"):
    qa_exporter.check_settings(32, 7, 40, 20, 30, config)
  with pytest.raises(exporter.ExportError, match="--doc_stride=0 must be at least 1"):
    qa_exporter.check_settings(32, 0, 8, 20, 30, config)


_FRESH_PROCESS_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the tokenizer ops)
questions, contexts = json.loads(sys.argv[2])
outputs = tf.saved_model.load(sys.argv[1]).signatures["answer_question"](
    question=tf.constant(questions), context=tf.constant(contexts))
print(json.dumps([answer.decode() for answer in outputs["answer"].numpy()]))
ours = ("albert_tf", "tf_keras", "tensorflow_hub")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ours)))
"""


@pytest.mark.slow
def test_cli_export_answers_in_a_process_with_only_tensorflow(exports):
  root = exports["root"]
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.export_savedmodel", "--task=squad_v1",
      f"--init_checkpoint={root / 'run'}", f"--albert_config_file={root / 'config.json'}",
      f"--spm_model_file={exports['spm_model_file']}", f"--export_dir={root / 'cli'}",
      f"--max_seq_length={SETTINGS.max_seq_length}", f"--doc_stride={SETTINGS.doc_stride}",
      f"--max_query_length={SETTINGS.max_query_length}", f"--n_best_size={N_BEST_SIZE}",
      f"--max_answer_length={MAX_ANSWER_LENGTH}"
  ], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == f"Exported {root / 'cli' / str(STEP)}"
  script = root / "answer.py"
  script.write_text(_FRESH_PROCESS_SCRIPT)
  examples = exports["examples"]
  texts = json.dumps([[e.question_text for e in examples], [e.paragraph_text for e in examples]])
  env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
  result = subprocess.run(
      [sys.executable, str(script),
       str(root / "cli" / str(STEP)), texts], cwd=root, env=env, capture_output=True, text=True,
      timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  answers, modules = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
  assert answers == [text.decode() for text in exports["served"]["v1"]["answer"]]
  assert modules == []


def test_detokenize_sentencepiece_and_wordpiece(exports, tmp_path):
  sentencepiece = exporter.create_text_tokenizer(exports["spm_model_file"], None, True)
  wordpiece = exporter.create_text_tokenizer(None, text_fixtures.build_wordpiece_vocab(tmp_path),
                                             True)
  pieces = tf.ragged.constant([["▁the", "▁ba", "ker", "▁1990", ","], [], ["▁"]])
  assert qa_serving_module.detokenize(
      pieces, sentencepiece).numpy().tolist() == [b"the baker 1990,", b"", b""]
  chinese = ["北", "京", "，", "是", "b12", "号"]
  tokens = tf.ragged.constant([chinese, ["café", "##s", ",", "u", "."]])
  assert [text.decode() for text in qa_serving_module.detokenize(tokens, wordpiece).numpy()
         ] == ["北京，是b12号", "cafés , u ."]


@pytest.mark.slow
def test_wordpiece_chinese_v2_answers_equal_the_python_post_processing(tmp_path):
  vocab_file = text_fixtures.build_wordpiece_vocab(tmp_path)
  tokenizer = squad_data.make_tokenizer(None, vocab_file, True)
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(vocab_size=len(tokenizer.inv_vocab))
  config = AlbertConfig.from_dict(values)
  data = squad_fixtures.make_squad_data(random.Random(6), 12, version_2=True, language="zh")
  examples = [
      squad_data.SquadExample(qa["id"], qa["question"], paragraph["context"])
      for article in data["data"]
      for paragraph in article["paragraphs"]
      for qa in paragraph["qas"]
  ]
  features = []
  squad_data.convert_examples_to_features(examples, tokenizer, SETTINGS, False, features.append)
  model = _random_weights(AlbertSquadV2(config, start_n_top=TOP_N, end_n_top=TOP_N), seed=2)
  python, _ = _python_predictions(model, features, examples, True)
  path = qa_exporter.export_fine_tuned(model, config, "unused", export_dir=str(tmp_path / "zh"),
                                       spm_model_file=None, vocab_file=vocab_file,
                                       do_lower_case=True, max_seq_length=SETTINGS.max_seq_length,
                                       doc_stride=SETTINGS.doc_stride,
                                       max_query_length=SETTINGS.max_query_length,
                                       n_best_size=N_BEST_SIZE, max_answer_length=MAX_ANSWER_LENGTH,
                                       version_2=True, null_score_diff_threshold=0.0, version=1)
  outputs = tf.saved_model.load(path).signatures["answer_question"](question=tf.constant([
      e.question_text for e in examples
  ]), context=tf.constant([e.paragraph_text for e in examples]))
  best = [text.decode() for text in outputs["best_non_null_answer"].numpy()]
  # Chinese text has no spaces: the rebuilt answer equals the cut one, lower-cased ("a60号").
  assert best == [python.best_answers[e.qas_id].lower() for e in examples]
  assert len(set(best)) > 3
  assert outputs["is_impossible"].numpy().tolist() == [
      python.null_odds[e.qas_id] >= 0.0 for e in examples
  ]
  ops = {node.op for node in _meta_graph(path).graph_def.node}
  for function in _meta_graph(path).graph_def.library.function:
    ops.update(node.op for node in function.node_def)
  assert {op for op in ops if not hasattr(tf.raw_ops, op)} == WORDPIECE_TEXT_OPS
