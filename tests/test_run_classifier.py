"""run_classifier end to end on tiny generated files: GLUE layouts (MRPC, CoLA, STS-B), a Chinese
task with WordPiece, an original fine-tuned checkpoint predicted alone, resume after a crash, the
one-line errors of bad input and bad flags.

Runs call `classifier_run.run` in-process (fast); the command line runs in subprocesses only for its
exit status and its error lines (run_classifier and run_pretraining define flags of the same names,
so they cannot be imported into one process).
"""

import functools
import json
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf import tokenization
from albert_tf.config import AlbertConfig
from albert_tf.export import exporter
from albert_tf.models.albert_classifier import AlbertClassifier
from albert_tf.tasks import classification
from albert_tf.training import checkpointing
from albert_tf.training import classifier_run
from tests import classifier_fixtures as fixtures
from tests import numpy_albert
from tests import text_fixtures
from tests import tf1_checkpoint_fixtures
from tests.test_run_classifier_learns import assert_best_files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ERROR_PREFIX = "albert-run-classifier: error: "
KNOWN_TASKS = ("afqmc, cmnli, cola, csl, generic, iflytek, lcqmc, mismnli, mnli, mrpc, qnli, qqp, "
               "rte, sst-2, sts-b, tnews, wnli")
MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
STSB_COLUMNS = [
    "index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
    "sentence2"
]
MNLI_TEST_HEADER = [
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"
]


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory) -> dict:
  return fixtures.build_workspace(tmp_path_factory.mktemp("workspace"))


def run_task(workspace, data_dir, output_dir, task_name, **settings):
  """Fine-tunes the pretrained checkpoint for 40 steps, evaluating at 20 and 40, then predicts."""
  settings = {
      "albert_config_file": workspace["config"],
      "spm_model_file": workspace["spm"],
      "init_checkpoint": workspace["checkpoint"],
      "do_train": True,
      "do_eval": True,
      "do_predict": True,
      "num_train_steps": 40,
      "save_checkpoints_steps": 20,
      "steps_per_loop": 20,
      "log_steps": 20,
      "num_warmup_steps": 4,
      "train_batch_size": 16,
      "learning_rate": 2e-3,
      "max_seq_length": 32,
      **settings
  }
  classifier_run.run(
      fixtures.options(data_dir=str(data_dir), output_dir=str(output_dir), task_name=task_name,
                       **settings))
  return output_dir


def pair_rows(rng, count):
  """(sentence a, sentence b, label): label 1 when b is about the kitchen, alternately 0 and 1."""
  rows = []
  for index in range(count):
    topic_a = rng.choice(sorted(fixtures.TOPIC_WORDS))
    topic_b = ("school", "kitchen")[index % 2]
    rows.append((fixtures.sentence(rng, [rng.choice(fixtures.TOPIC_WORDS[topic_a])],
                                   length=rng.randint(2, 6)),
                 fixtures.sentence(rng, [rng.choice(fixtures.TOPIC_WORDS[topic_b])],
                                   length=rng.randint(2, 6)), index % 2))
  return rows


def best_block(output_dir, metric) -> dict:
  blocks = fixtures.read_eval_blocks(output_dir)
  step = assert_best_files(output_dir, metric)
  return next(block for block in blocks if block["global_step"] == step)


def predicted_labels(output_dir, count) -> np.ndarray:
  probabilities = np.array(fixtures.read_tsv_rows(output_dir / "test_results.tsv"), np.float64)
  assert probabilities.shape == (count, 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
  return probabilities.argmax(axis=1)


def assert_submission(output_dir, indexes, predictions):
  assert fixtures.read_tsv_rows(
      output_dir /
      "submit_results.tsv") == ([["index", "prediction"]] +
                                [[str(i), str(p)] for i, p in zip(indexes, predictions)])


# --- GLUE layouts and a Chinese task, end to end --------------------------------------------------
# Each test file holds the dev rows again, so the predictions of model.ckpt-best give the dev
# metrics of its step by hand. Dev and test have 12 rows: the last batch of 8 is padded.


def test_mrpc(workspace, tmp_path):
  rng = random.Random(2)
  train, dev = pair_rows(rng, 64), pair_rows(rng, 12)
  data = tmp_path / "glue" / "MRPC"
  fixtures.write_tsv(data / "train.tsv", MRPC_HEADER,
                     [(label, 2 * i, 2 * i + 1, a, b) for i, (a, b, label) in enumerate(train)])
  fixtures.write_tsv(data / "dev.tsv", MRPC_HEADER,
                     [(label, 2 * i, 2 * i + 1, a, b) for i, (a, b, label) in enumerate(dev)])
  indexes = [1000 + i for i in range(len(dev))]
  fixtures.write_tsv(data / "test.tsv", ["index"] + MRPC_HEADER[1:],
                     [(index, 0, 0, a, b) for index, (a, b, _) in zip(indexes, dev)])
  output_dir = run_task(workspace, tmp_path / "glue", tmp_path / "out", "MRPC")

  block = best_block(output_dir, "eval_accuracy")
  assert sorted(block) == ["best", "eval_accuracy", "eval_loss", "f1", "global_step", "loss"]
  labels = np.array([label for _, _, label in dev])
  predicted = predicted_labels(output_dir, len(dev))
  tp = np.sum((predicted == 1) & (labels == 1))
  fp = np.sum((predicted == 1) & (labels == 0))
  fn = np.sum((predicted == 0) & (labels == 1))
  assert block["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
                                      abs=1e-6)
  assert block["eval_accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-6)
  assert_submission(output_dir, indexes, predicted)
  assert (output_dir / "label_list.txt").read_text() == "0\n1\n"


def test_hub_encoder_run_exports_the_model_it_predicts_with(workspace, tmp_path):
  """--albert_hub_module_handle with no config file (the export's asset gives it) and --export_dir;
  a rerun of the finished command exports the same version again instead of failing."""
  config = AlbertConfig.from_json_file(workspace["config"])
  pretrainer = exporter.load_pretrainer(config, workspace["checkpoint"], "float32")
  with exporter.staged_config_asset(config) as config_asset:
    handle = exporter.export_encoder(pretrainer, str(tmp_path / "encoder"),
                                     assets={"albert_config.json": config_asset})
  rng = random.Random(5)
  train, dev = pair_rows(rng, 32), pair_rows(rng, 12)
  data = tmp_path / "glue" / "MRPC"
  fixtures.write_tsv(data / "train.tsv", MRPC_HEADER,
                     [(label, 0, 0, a, b) for a, b, label in train])
  fixtures.write_tsv(data / "dev.tsv", MRPC_HEADER, [(label, 0, 0, a, b) for a, b, label in dev])
  fixtures.write_tsv(data / "test.tsv", ["index"] + MRPC_HEADER[1:],
                     [(i, 0, 0, a, b) for i, (a, b, _) in enumerate(dev)])
  serving = tmp_path / "serving"
  for _ in range(2):
    output_dir = run_task(workspace, tmp_path / "glue", tmp_path / "out", "MRPC",
                          albert_config_file="", init_checkpoint=None,
                          albert_hub_module_handle=handle, export_dir=str(serving),
                          num_train_steps=10, save_checkpoints_steps=10, steps_per_loop=10,
                          log_steps=10)
  assert os.listdir(serving) == ["10"]
  classify = tf.saved_model.load(str(serving / "10")).signatures["classify_text_pair"]
  served = classify(text=tf.constant([a for a, _, _ in dev]),
                    text_b=tf.constant([b for _, b, _ in dev]))["probabilities"].numpy()
  predicted = np.array(fixtures.read_tsv_rows(output_dir / "test_results.tsv"), np.float64)
  np.testing.assert_allclose(served, predicted, rtol=0, atol=1e-5)


def test_cola_is_kept_best_by_matthews_correlation(workspace, tmp_path):
  rng = random.Random(3)
  rows = [(text, int(topic == "kitchen")) for text, topic in fixtures.topic_rows(rng, 60)]
  train, dev = rows[:48], rows[48:]
  data = tmp_path / "glue" / "CoLA"
  # The original's CoLA files: train and dev without header (source, label, mark, sentence).
  fixtures.write_tsv(data / "train.tsv", None,
                     [("gj04", label, "" if label else "*", text) for text, label in train])
  fixtures.write_tsv(data / "dev.tsv", None,
                     [("gj04", label, "" if label else "*", text) for text, label in dev])
  fixtures.write_tsv(data / "test.tsv", ["index", "sentence"],
                     [(index, text) for index, (text, _) in enumerate(dev)])
  output_dir = run_task(workspace, tmp_path / "glue", tmp_path / "out", "cola")

  block = best_block(output_dir, "matthew_corr")
  assert sorted(block) == [
      "best", "eval_accuracy", "eval_loss", "global_step", "loss", "matthew_corr"
  ]
  labels = np.array([label for _, label in dev])
  predicted = predicted_labels(output_dir, len(dev))
  tp = np.sum((predicted == 1) & (labels == 1))
  tn = np.sum((predicted == 0) & (labels == 0))
  fp = np.sum((predicted == 1) & (labels == 0))
  fn = np.sum((predicted == 0) & (labels == 1))
  denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
  assert block["matthew_corr"] == pytest.approx(
      (tp * tn - fp * fn) / denominator if denominator else 0.0, abs=1e-6)
  assert_submission(output_dir, range(len(dev)), predicted)


def test_stsb_regression(workspace, tmp_path):
  rng = random.Random(4)
  rows = fixtures.score_rows(rng, 60)
  train, dev = rows[:48], rows[48:]
  data = tmp_path / "glue" / "STS-B"

  def lines(rows, offset, with_score=True):
    return [(offset + i, "main-news", "2012", "2012test", f"{i:04d}", "none", "none", text,
             "the tea", *([f"{score:.3f}"] if with_score else []))
            for i, (text, score) in enumerate(rows)]

  fixtures.write_tsv(data / "train.tsv", STSB_COLUMNS + ["score"], lines(train, 0))
  fixtures.write_tsv(data / "dev.tsv", STSB_COLUMNS + ["score"], lines(dev, 0))
  fixtures.write_tsv(data / "test.tsv", STSB_COLUMNS, lines(dev, 500, with_score=False))
  output_dir = run_task(workspace, tmp_path / "glue", tmp_path / "out", "sts-b")

  block = best_block(output_dir, "pearson")
  assert sorted(block) == ["MSE", "best", "eval_loss", "global_step", "loss", "pearson", "spearman"]
  test_results = fixtures.read_tsv_rows(output_dir / "test_results.tsv")
  scores = np.array(test_results, np.float64)[:, 0]
  assert np.array(test_results).shape == (len(dev), 1)
  truth = np.array([float(f"{score:.3f}") for _, score in dev])
  assert block["pearson"] == pytest.approx(np.corrcoef(scores, truth)[0, 1], abs=1e-5)
  assert block["MSE"] == pytest.approx(np.mean((scores - truth)**2), rel=1e-5)
  assert_submission(output_dir, range(500, 500 + len(dev)), [row[0] for row in test_results])
  assert not os.path.exists(output_dir / "label_list.txt")


def test_lcqmc_with_a_wordpiece_vocab_keeps_the_first_of_equal_evaluations(workspace, tmp_path):
  rng = random.Random(5)
  rows = [(fixtures.chinese_text(rng, rng.randint(4, 10)), fixtures.chinese_text(rng, 6), label)
          for label in [rng.randint(0, 1) for _ in range(28)] + [1] * 7 + [0] * 5]
  train, dev = rows[:28], rows[28:]
  header = ["text_a", "text_b", "label"]  # albert_zh skips the first line of each file
  fixtures.write_tsv(tmp_path / "lcqmc" / "train.txt", header, train)
  fixtures.write_tsv(tmp_path / "lcqmc" / "dev.txt", header, dev)
  fixtures.write_tsv(tmp_path / "lcqmc" / "test.txt", header, dev)
  # Learning rate 0: both evaluations see the same weights and tie. The original keeps the first
  # (its `>`); a tie at 7/12 or 5/12 also catches a comparison of the new value with the one read
  # back from eval_results.txt at float32 precision, which is smaller.
  output_dir = run_task(workspace, tmp_path / "lcqmc", tmp_path / "out", "lcqmc",
                        albert_config_file=workspace["zh_config"], spm_model_file=None,
                        vocab_file=workspace["vocab"], init_checkpoint=None, learning_rate=0.0)

  first, second = fixtures.read_eval_blocks(output_dir)
  assert first["eval_accuracy"] == second["eval_accuracy"]
  assert first["eval_loss"] == second["eval_loss"]
  assert assert_best_files(output_dir, "eval_accuracy") == 20
  assert sorted(first) == ["best", "eval_accuracy", "eval_loss", "global_step", "loss"]
  labels = np.array([label for _, _, label in dev])
  predicted = predicted_labels(output_dir, len(dev))
  assert first["eval_accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-6)
  # albert_zh's guids: "<split>-<line index>", the skipped first line being index 0.
  assert_submission(output_dir, [f"test-{i}" for i in range(1, len(dev) + 1)], predicted)


# --- An original fine-tuned checkpoint, predicted without training --------------------------------


def features(tokenizer, pairs, seq_length):
  """[CLS] a [SEP] b [SEP] ids, mask and segment ids, computed here (no truncation needed)."""
  cls_id, sep_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
  ids, mask, segments = (np.zeros((len(pairs), seq_length), np.int32) for _ in range(3))
  for row, (a, b) in enumerate(pairs):
    first = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(a))
    second = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(b))
    tokens = [cls_id, *first, sep_id, *second, sep_id]
    assert len(tokens) <= seq_length
    ids[row, :len(tokens)] = tokens
    mask[row, :len(tokens)] = 1
    segments[row, len(first) + 2:len(tokens)] = 1
  return ids, mask, segments


@pytest.fixture(name="mnli_checkpoint", scope="module")
def fixture_mnli_checkpoint(workspace) -> tuple:
  """An original run_classifier checkpoint for MNLI's 3 labels (random weights, AdamW slots)."""
  with open(workspace["config"], encoding="utf-8") as f:
    config = json.load(f)
  shapes = {
      **numpy_albert.original_shapes(config, include_heads=False),
      **numpy_albert.classifier_shapes(config, 3)
  }
  weights = numpy_albert.random_weights(shapes, np.random.default_rng(6))
  prefix = tf1_checkpoint_fixtures.write_tf1_checkpoint(
      os.path.join(workspace["root"], "mnli", "model.ckpt-best"), weights, optimizer_slots=True,
      global_step=1200)
  return prefix, weights, config


def test_original_fine_tuned_checkpoint_predicts_the_original_probabilities(
    workspace, mnli_checkpoint, tmp_path):
  prefix, weights, config = mnli_checkpoint
  rng = random.Random(7)
  pairs = [(a, b) for a, b, _ in pair_rows(rng, 11)]
  indexes = [f"{i}" for i in range(len(pairs))]
  fixtures.write_tsv(
      tmp_path / "glue" / "MNLI" / "test_matched.tsv", MNLI_TEST_HEADER,
      [(index, 0, 0, "fiction", "", "", "", "", a, b) for index, (a, b) in zip(indexes, pairs)])
  output_dir = tmp_path / "out"
  output_dir.mkdir()  # empty: predict falls back to the fine-tuned --init_checkpoint
  classifier_run.run(
      fixtures.options(data_dir=str(tmp_path / "glue"), output_dir=str(output_dir),
                       task_name="mnli", albert_config_file=workspace["config"],
                       spm_model_file=workspace["spm"], init_checkpoint=prefix, do_train=False,
                       do_predict=True, max_seq_length=48))

  tokenizer = tokenization.FullTokenizer(vocab_file=None, spm_model_file=workspace["spm"])
  expected = numpy_albert.classifier_probabilities(weights, config, *features(tokenizer, pairs, 48))
  actual = np.array(fixtures.read_tsv_rows(output_dir / "test_results.tsv"), np.float64)
  assert actual.shape == (len(pairs), 3)
  np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5)
  labels = ["contradiction", "entailment", "neutral"]
  assert_submission(output_dir, indexes, [labels[i] for i in expected.argmax(axis=1)])
  assert not tf.io.gfile.glob(str(output_dir / "model.ckpt-*"))  # nothing was trained


# --- Resume ---------------------------------------------------------------------------------------


class Interrupted(Exception):
  """Stands for a crash right after a checkpoint was written."""


def test_a_crashed_run_resumes_to_the_uninterrupted_result(workspace, tmp_path, monkeypatch):
  # Dropout draws are not part of a checkpoint (Keras keeps its dropout generators out of them), so
  # a resumed run draws other masks than an uninterrupted one: this test turns dropout off, the
  # head's included, to compare weights, slots and step exactly.
  config = fixtures.write_config(tmp_path, vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE,
                                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  monkeypatch.setattr(classification, "AlbertClassifier",
                      functools.partial(AlbertClassifier, dropout_rate=0.0))
  rows = fixtures.topic_rows(random.Random(8), 60)
  fixtures.write_tsv(tmp_path / "data" / "train.tsv", ["text_a", "label"], rows[:48])
  fixtures.write_tsv(tmp_path / "data" / "dev.tsv", ["text_a", "label"], rows[48:])

  def run(output_dir):
    # 20 steps of 8 from 48 rows: the data stream reshuffles twice, once after the crash at 10.
    classifier_run.run(
        fixtures.options(data_dir=str(tmp_path / "data"), output_dir=str(output_dir),
                         task_name="generic", albert_config_file=config,
                         spm_model_file=workspace["spm"], init_checkpoint=workspace["checkpoint"],
                         do_train=True, do_eval=True, num_train_steps=20, num_warmup_steps=4,
                         save_checkpoints_steps=10, steps_per_loop=10, log_steps=10))

  run(tmp_path / "straight")
  save = checkpointing.TrainingCheckpoints.save

  def save_then_crash(self, step):
    save(self, step)
    raise Interrupted

  with monkeypatch.context() as patch:
    patch.setattr(checkpointing.TrainingCheckpoints, "save", save_then_crash)
    with pytest.raises(Interrupted):
      run(tmp_path / "resumed")
  assert tf.train.latest_checkpoint(str(tmp_path / "resumed")).endswith("model.ckpt-10")
  run(tmp_path / "resumed")  # the same command again

  straight = tf.train.load_checkpoint(str(tmp_path / "straight" / "model.ckpt-20"))
  resumed = tf.train.load_checkpoint(str(tmp_path / "resumed" / "model.ckpt-20"))
  names = sorted(name for name in straight.get_variable_to_shape_map()
                 if name.startswith(("model/", "optimizer/")))
  assert names == sorted(name for name in resumed.get_variable_to_shape_map()
                         if name.startswith(("model/", "optimizer/")))
  assert any("OPTIMIZER_SLOT" in name for name in names)
  for name in names:
    np.testing.assert_allclose(resumed.get_tensor(name), straight.get_tensor(name), rtol=1e-6,
                               atol=1e-7, err_msg=name)
  assert checkpoints.recorded_step(str(tmp_path / "resumed" / "model.ckpt-20")) == 20
  straight_blocks = fixtures.read_eval_blocks(tmp_path / "straight")
  assert [block["global_step"] for block in straight_blocks] == [10, 20]
  final = fixtures.read_eval_blocks(tmp_path / "resumed")[-1]
  assert final["global_step"] == 20
  assert final["eval_loss"] == pytest.approx(straight_blocks[-1]["eval_loss"], rel=1e-5)


# --- Bad input: one line naming the problem, exit status 1 ---------------------------------------


def error_line(result: subprocess.CompletedProcess) -> str:
  """The error the command printed: its last stderr line, with no traceback before it."""
  assert result.returncode == 1, result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  return result.stderr.strip().split("\n")[-1]


# Calls run_classifier.main once per argument list in one process (one TensorFlow start): prints
# what each exit but the last carried (the message that sys.exit prints before exiting with status
# 1), then lets the last one end the process as the command line does.
MAIN_BATCH = """
import json, sys
from absl import flags
from albert_tf import run_classifier
*batch, last = json.loads(sys.argv[1])
codes = []
for argv in batch:
  flags.FLAGS.unparse_flags()
  flags.FLAGS(["run_classifier", *argv])
  try:
    run_classifier.main([])
    codes.append(None)
  except SystemExit as exit:
    codes.append(exit.code)
print("CODES", json.dumps(codes), flush=True)
flags.FLAGS.unparse_flags()
flags.FLAGS(["run_classifier", *last])
run_classifier.main([])
"""


@pytest.fixture(name="bad_inputs", scope="module")
def fixture_bad_inputs(workspace, tmp_path_factory) -> dict:
  """MRPC data dirs: good files, a short train row (line 4), an unknown dev label (line 5)."""
  root = tmp_path_factory.mktemp("bad_inputs")
  rows = [(label, 2 * i, 2 * i + 1, a, b)
          for i, (a, b, label) in enumerate(pair_rows(random.Random(9), 8))]
  for name, train, dev in (("good", rows, rows), ("short_row", rows[:2] + [rows[2][:4]], rows),
                           ("bad_label", rows, rows[:3] + [("7", *rows[3][1:])])):
    fixtures.write_tsv(root / name / "MRPC" / "train.tsv", MRPC_HEADER, train)
    fixtures.write_tsv(root / name / "MRPC" / "dev.tsv", MRPC_HEADER, dev)
    fixtures.write_tsv(root / name / "MRPC" / "test.tsv", ["index"] + MRPC_HEADER[1:],
                       [(i, *row[1:]) for i, row in enumerate(rows)])
  return root


def argv(workspace, root, name, *, data="good", task="mrpc", vocab=True, actions=("--do_train",),
         extra=()):
  """run_classifier's arguments for a 2-step run of `task` on root/`data` into root/`name`."""
  return [
      f"--task_name={task}", f"--data_dir={root / data}", f"--output_dir={root / name}",
      f"--albert_config_file={workspace['config']}", "--max_seq_length=16",
      *([f"--spm_model_file={workspace['spm']}"] if vocab else []), *actions,
      "--train_batch_size=4", "--eval_batch_size=4", "--predict_batch_size=4", "--train_step=2",
      "--save_checkpoints_steps=2", "--iterations_per_loop=2", *extra
  ]


def test_unknown_task_name_lists_the_known_ones(workspace, bad_inputs):
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.run_classifier",
      *argv(workspace, bad_inputs, "unknown", task="mrcp")
  ], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert error_line(result) == (f"{ERROR_PREFIX}unknown --task_name='mrcp': use one of "
                                f"{KNOWN_TASKS} (generic reads your own tsv/csv/jsonl).")


def test_bad_inputs_are_one_line_errors(workspace, bad_inputs, mnli_checkpoint):
  root = bad_inputs

  def mrpc(data, name):
    return os.path.join(root, data, "MRPC", name)

  cases = {
      "missing_file": (argv(workspace, root, "missing_file", task="rte"),
                       f"{root / 'good' / 'RTE' / 'train.tsv'} not found: pass --data_dir=<the "
                       "GLUE root>, which holds RTE/{train.tsv,dev.tsv,test.tsv} (the original "
                       "layout)."),
      "short_row": (argv(workspace, root, "short_row", data="short_row"),
                    f"{mrpc('short_row', 'train.tsv')}:4: 4 tab-separated columns, but MRPC train "
                    "rows have at least 5; fix or remove the line."),
      "bad_label": (argv(workspace, root, "bad_label", data="bad_label",
                         actions=("--do_train", "--do_eval")),
                    f"{mrpc('bad_label', 'dev.tsv')}:5: label '7' is not one of mrpc's labels "
                    "['0', '1']; fix the line or give the full label list."),
      "num_labels": (argv(workspace, root, "num_labels",
                          extra=(f"--init_checkpoint={mnli_checkpoint[0]}",)),
                     f"checkpoint {mnli_checkpoint[0]} does not fit the task: output_weights is "
                     "[3,32] (num_labels=3) but the task has 2 labels: use a checkpoint fine-tuned "
                     "for this task, or a pretraining checkpoint"),
      "max_seq_length": (argv(workspace, root, "max_seq_length", extra=("--max_seq_length=65",)),
                         f"--max_seq_length=65 exceeds the model's max_position_embeddings=64 "
                         f"({workspace['config']}): pass --max_seq_length<=64"),
      "no_vocabulary": (argv(workspace, root, "no_vocabulary", vocab=False),
                        "no vocabulary: pass --spm_model_file (SentencePiece, English) or "
                        "--vocab_file (WordPiece, Chinese)"),
      "untrained": (argv(workspace, root, "untrained", actions=("--do_predict",)),
                    f"no fine-tuned checkpoint in --output_dir={root / 'untrained'} "
                    "(model.ckpt-best or model.ckpt-<step>): train first (--do_train), or pass "
                    "--init_checkpoint=<a fine-tuned checkpoint>"),
  }
  result = subprocess.run(
      [sys.executable, "-c", MAIN_BATCH,
       json.dumps([case[0] for case in cases.values()])], cwd=REPO, capture_output=True, text=True,
      timeout=300, check=False)
  assert error_line(result) == ERROR_PREFIX + cases["untrained"][1]
  codes = json.loads(result.stdout.split("CODES ")[-1])
  assert dict(zip(cases, codes)) == {
      name: ERROR_PREFIX + case[1] for name, case in list(cases.items())[:-1]
  }


# --- Flags (their types and defaults against the original's: tests/test_original_flags.py) ------


@pytest.mark.parametrize("drop,extra,expected", [
    ("--task_name", (), "flag --task_name=None: Flag --task_name must have a value other than "
     "None."),
    ("--albert_config_file", (), "flags albert_config_file=None, albert_hub_module_handle=None: "
     "--albert_config_file (or --albert_hub_module_handle) is required."),
    ("--do_train", (), "flags do_train=False, do_eval=False, do_predict=False, export_dir=None: at "
     "least one of --do_train, --do_eval, --do_predict or --export_dir must be given."),
    (None, ("--learning_rate=0",), "flag --learning_rate=0.0: --learning_rate must be above 0."),
    (None, ("--warmup_step=-1",), "flag --warmup_step=-1: -1 is not a non-negative integer"),
    (None, ("--train_batch_size=0",), "flag --train_batch_size=0: 0 is not a positive integer"),
])
def test_bad_flags_are_one_line_errors(tmp_path, drop, extra, expected):
  # Flags are checked before any file is read: the workspace's files need not exist.
  files = {"config": "albert_config.json", "spm": "30k-clean.model"}
  arguments = [
      argument for argument in argv(files, tmp_path, "out", extra=extra)
      if argument.split("=")[0] != drop
  ]
  result = subprocess.run([sys.executable, "-m", "albert_tf.run_classifier", *arguments], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.stderr.strip() == ERROR_PREFIX + expected
  assert result.returncode == 1
  assert not os.path.exists(tmp_path / "out")
