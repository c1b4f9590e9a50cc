"""A run directory's identity (issue 13.3): a run of another config, labels or vocabulary into an
existing --output_dir fails in one line before anything is written; the same run resumes."""

import hashlib
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys

import pytest

from albert_tf.config import AlbertConfig
from albert_tf.training import classifier_run
from albert_tf.training import pretraining_run
from albert_tf.training import run_identity
from albert_tf.training.options import RunOptions
from data_prep import stats
from data_prep.pretraining_data_config import PretrainingDataConfig
from tests import classifier_fixtures
from tests import test_train_support as support
from tests import text_fixtures

REPO = pathlib.Path(__file__).resolve().parents[1]


def write_vocab(path: pathlib.Path, words: str) -> str:
  path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words.split()]) + "\n")
  return str(path)


def write_stats(records_dir: str, vocab_file: str) -> dict:
  """Writes the stats file create_pretraining_data leaves next to the records (shards, vocabulary).
  """
  entry = stats.vocabulary(PretrainingDataConfig("corpus.txt", "unused", vocab_file=vocab_file))
  shards = {os.path.join(records_dir, f"train-{index:05d}.tfrecord"): 48 for index in range(2)}
  pathlib.Path(records_dir, "train.stats.json").write_text(
      json.dumps({
          "shards": shards,
          run_identity.VOCABULARY_KEY: entry
      }))
  return entry


def snapshot(directory) -> dict[str, str]:
  """{relative path: sha256} of every file under `directory`."""
  return {
      str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
      for path in sorted(pathlib.Path(directory).rglob("*"))
      if path.is_file()
  }


def options(records_dir: str, config_file: str, output_dir, **overrides) -> RunOptions:
  settings = support.run_settings((records_dir, config_file), output_dir, num_train_steps=2)
  return RunOptions(**{**settings, "do_train": True, **overrides})


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory):
  """Records with stats of vocabulary A, the same records with stats of vocabulary B, a 2-step run
  on the first, and another config."""
  root = tmp_path_factory.mktemp("identity")
  records, other_records = str(root / "records"), str(root / "other_records")
  os.makedirs(records)
  os.makedirs(other_records)
  config = support.write_run_inputs(records)[1]
  support.write_records(other_records, num_files=2, per_file=48, seq_length=16, max_predictions=3)
  entry = write_stats(records, write_vocab(root / "vocab_a.txt", "alpha beta"))
  other_entry = write_stats(other_records, write_vocab(root / "vocab_b.txt", "gamma delta"))
  other_config = str(root / "other" / "albert_config.json")
  os.makedirs(os.path.dirname(other_config))
  support.write_config(os.path.dirname(other_config), hidden_size=32, num_hidden_layers=3)
  run_dir = root / "run"
  pretraining_run.run(options(records, config, run_dir))
  return dict(root=root, records=records, other_records=other_records, config=config,
              other_config=other_config, run=run_dir, entry=entry, other_entry=other_entry)


@pytest.fixture(name="run_copy")
def fixture_run_copy(workspace, tmp_path):
  copy = tmp_path / "run"
  shutil.copytree(workspace["run"], copy)
  return copy


def test_stats_vocabulary_is_the_fingerprint_of_file_bytes_and_casing(tmp_path):
  vocab = write_vocab(tmp_path / "vocab.txt", "alpha")
  entry = stats.vocabulary(
      PretrainingDataConfig("c.txt", "o", vocab_file=vocab, do_lower_case=False))
  expected = hashlib.sha256(b"wordpiece\n" + pathlib.Path(vocab).read_bytes() +
                            b"\ndo_lower_case=False").hexdigest()
  assert entry == {"file": vocab, "do_lower_case": False, "fingerprint": expected}


def test_the_run_records_the_vocabulary_of_its_records(workspace):
  info = json.loads((workspace["run"] / run_identity.RUN_INFO_FILE).read_text())
  assert info == {"vocabulary": workspace["entry"]}


def test_pretraining_with_another_config_changes_nothing(workspace, run_copy):
  before = snapshot(run_copy)
  with pytest.raises(run_identity.RunIdentityError) as raised:
    pretraining_run.run(options(workspace["records"], workspace["other_config"], run_copy))
  assert str(raised.value) == (
      f"--output_dir={run_copy} holds a run of another model: hidden_size 16 -> 32, "
      f"num_hidden_layers 2 -> 3 ({run_copy}/albert_config.json); use a new --output_dir or the "
      "run's config")
  assert snapshot(run_copy) == before and "model.ckpt-2.index" in before


def test_pretraining_on_records_of_another_vocabulary_changes_nothing(workspace, run_copy):
  before = snapshot(run_copy)
  with pytest.raises(run_identity.RunIdentityError) as raised:
    pretraining_run.run(options(workspace["other_records"], workspace["config"], run_copy))
  old, new = workspace["entry"], workspace["other_entry"]
  assert str(raised.value) == (
      f"--output_dir={run_copy} holds a run of another vocabulary: {old['file']} "
      f"(do_lower_case=True, sha256 {old['fingerprint'][:12]}) -> {new['file']} "
      f"(do_lower_case=True, sha256 {new['fingerprint'][:12]}) ({run_copy}/run_info.json); use a "
      "new --output_dir or records made with the run's vocabulary")
  assert snapshot(run_copy) == before


def test_identical_rerun_resumes(workspace, run_copy):
  before = snapshot(run_copy)
  pretraining_run.run(
      options(workspace["records"], workspace["config"], run_copy, num_train_steps=4))
  after = snapshot(run_copy)
  # Resumed at step 2: checkpoint 2 is kept as it was, checkpoint 4 is new.
  for name in ("albert_config.json", "run_info.json", "model.ckpt-2.index"):
    assert after[name] == before[name]
  assert "model.ckpt-4.index" in after and "model.ckpt-4.index" not in before


def test_records_of_two_vocabularies_are_refused(workspace):
  files = [
      os.path.join(workspace[key], "train-00000.tfrecord") for key in ("records", "other_records")
  ]
  with pytest.raises(run_identity.RunIdentityError,
                     match="^the records were made with different vocabularies: "):
    run_identity.records_vocabulary(files)


def test_cli_with_another_config_exits_1_with_one_line(workspace, run_copy):
  before = snapshot(run_copy)
  settings = support.run_settings((workspace["records"], workspace["other_config"]), run_copy)
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.run_pretraining",
      *(f"--{k}={v}" for k, v in settings.items())
  ], cwd=REPO, capture_output=True, text=True, timeout=300, check=False, env={
      **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"
  })
  assert result.returncode == 1
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line == (
      f"albert-run-pretraining: error: --output_dir={run_copy} holds a run of another model: "
      f"hidden_size 16 -> 32, num_hidden_layers 2 -> 3 ({run_copy}/albert_config.json); use a new "
      "--output_dir or the run's config")
  assert "Traceback" not in result.stderr
  assert snapshot(run_copy) == before


def test_label_list_mismatch_names_both_lists(workspace, tmp_path):
  (tmp_path / "label_list.txt").write_text("negative\npositive\n")
  identity = run_identity.RunIdentity(AlbertConfig.from_json_file(workspace["config"]),
                                      label_list=["0", "1"])
  with pytest.raises(run_identity.RunIdentityError) as raised:
    run_identity.check_run_directory(str(tmp_path), identity)
  assert str(raised.value) == (
      f"--output_dir={tmp_path} holds a run of another label list: ['negative', 'positive'] -> "
      f"['0', '1'] ({tmp_path}/label_list.txt); use a new --output_dir or the run's labels")


def test_run_classifier_with_another_config_changes_nothing(tmp_path):
  spm = text_fixtures.build_sentencepiece_model(tmp_path)
  vocab_size = text_fixtures.SENTENCEPIECE_VOCAB_SIZE
  config = classifier_fixtures.write_config(tmp_path / "a", vocab_size=vocab_size)
  other = classifier_fixtures.write_config(tmp_path / "b", vocab_size=vocab_size, hidden_size=64)
  rows = classifier_fixtures.topic_rows(random.Random(0), 16)
  classifier_fixtures.write_tsv(
      tmp_path / "CoLA" / "train.tsv", None,
      [("gj04", int(topic == "kitchen"), "", text) for text, topic in rows])
  output_dir = tmp_path / "out"

  def run(config_file):
    classifier_run.run(
        classifier_fixtures.options(data_dir=str(tmp_path), output_dir=str(output_dir),
                                    task_name="cola", albert_config_file=config_file,
                                    spm_model_file=spm, do_train=True, num_train_steps=2))

  run(config)
  before = snapshot(output_dir)
  with pytest.raises(run_identity.RunIdentityError) as raised:
    run(other)
  assert str(raised.value).startswith(
      f"--output_dir={output_dir} holds a run of another model: hidden_size ")
  assert snapshot(output_dir) == before and "model.ckpt-2.index" in before


def test_export_warns_when_the_vocabulary_is_not_the_runs(workspace, tmp_path):
  other_vocab = write_vocab(tmp_path / "vocab.txt", "epsilon")
  message = run_identity.other_vocabulary_message(workspace["run"], spm_model_file=None,
                                                  vocab_file=str(other_vocab), do_lower_case=True)
  assert message == (
      f"--vocab_file={other_vocab} (--do_lower_case=True) is not the vocabulary the run trained "
      f"with ({workspace['entry']['file']}, do_lower_case=True, recorded in "
      f"{workspace['run']}/run_info.json): the text signatures will tokenize differently; pass the "
      "run's vocabulary.")
  assert run_identity.other_vocabulary_message(workspace["run"], spm_model_file=None,
                                               vocab_file=workspace["entry"]["file"],
                                               do_lower_case=True) is None
