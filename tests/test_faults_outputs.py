"""Faults: an output that is, or resolves to, an input (or another output) stops every CLI in one
line with exit 1, before anything is written.

Each case runs the command line as a user would, on real files, and compares every file under the
test directory (names and SHA-256) before and after.
"""

import hashlib
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf import file_io
from tests import text_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CPD_FLAGS = ("--max_seq_length=32", "--max_predictions_per_seq=5", "--dupe_factor=1",
              "--num_workers=1")


def _snapshot(directory):
  """{relative path: SHA-256 (or link target)} of everything under `directory`."""
  found = {}
  for parent, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(parent, name)
      if os.path.islink(path):
        found[os.path.relpath(path, directory)] = "-> " + os.readlink(path)
      else:
        with open(path, "rb") as reader:
          found[os.path.relpath(path, directory)] = hashlib.sha256(reader.read()).hexdigest()
  return found


def _run(module, args, cwd):
  return subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, env={
      **os.environ, "PYTHONPATH": ROOT
  }, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _assert_refused(process, prefix, expected):
  """Exit 1 and exactly one error line, `prefix` + `expected`."""
  stderr = process.communicate(timeout=300)[1]
  assert process.returncode == 1, stderr[-3000:]
  assert "Traceback" not in stderr
  assert [line for line in stderr.splitlines() if line.startswith(prefix)] == [prefix + expected]


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
  return text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))


@pytest.fixture(name="corpus_dir")
def fixture_corpus_dir(tmp_path):
  """tmp_path with data/c.txt (a corpus), link -> data, alias.txt -> data/c.txt."""
  (tmp_path / "data").mkdir()
  with open(text_fixtures.ENGLISH_CORPUS, encoding="utf-8") as reader:
    (tmp_path / "data" / "c.txt").write_text(reader.read(), encoding="utf-8")
  os.symlink("data", tmp_path / "link")
  os.symlink(os.path.join("data", "c.txt"), tmp_path / "alias.txt")
  return tmp_path


@pytest.mark.parametrize("flags, expected", [
    (["--input_file=data/c.txt", "--output_file=data/c.txt"],
     "--output_file data/c.txt would overwrite --input_file data/c.txt, which the run reads: give "
     "--output_file another path."),
    (["--input_file=data/*.txt", "--output_file=alias.txt"],
     "--output_file alias.txt would overwrite --input_file data/c.txt, which the run reads: give "
     "--output_file another path."),
    (["--input_file=link/c.txt", "--output_file=./data/../data/c.txt"
     ], "--output_file ./data/../data/c.txt would overwrite --input_file link/c.txt, which the run "
     "reads: give --output_file another path."),
    (["--input_file=data/c.txt", "--output_file=o.tfrecord", "--stats_file=o.tfrecord"
     ], "--output_file o.tfrecord and --stats_file o.tfrecord write to the same place: give "
     "--stats_file another path."),
    (["--input_file=data/c.txt", "--output_file=o.tfrecord", "--stats_file=link/c.txt"],
     "--stats_file link/c.txt would overwrite --input_file data/c.txt, which the run reads: give "
     "--stats_file another path."),
    (["--input_file=data/*", "--output_file=link/r-{shard}.tfrecord", "--num_output_shards=2"],
     "--output_file link/r-00000-of-00002.tfrecord matches --input_file data/*, so a rerun would "
     "read it as input: give --output_file a path outside it."),
])
def test_create_pretraining_data_spares_inputs(corpus_dir, spm_model, flags, expected):
  before = _snapshot(corpus_dir)
  process = _run("data_prep.create_pretraining_data",
                 [*flags, f"--spm_model_file={spm_model}", *_CPD_FLAGS], corpus_dir)
  _assert_refused(process, "error: ", expected)
  assert _snapshot(corpus_dir) == before


def test_create_pretraining_data_spares_its_vocabulary(corpus_dir, spm_model):
  process = _run("data_prep.create_pretraining_data", [
      "--input_file=data/c.txt", f"--output_file={spm_model}", f"--spm_model_file={spm_model}",
      *_CPD_FLAGS
  ], corpus_dir)
  _assert_refused(
      process, "error: ", f"--output_file {spm_model} would overwrite --spm_model_file "
      f"{spm_model}, which the run reads: give --output_file another path.")


@pytest.mark.parametrize("flags, expected", [
    (["--wordpiece", "--input_file=data/c.txt", "--model_prefix=data/c"],
     "--model_prefix data/c.txt would overwrite --input_file data/c.txt, which the run reads: give "
     "--model_prefix another path."),
    (["--wordpiece", "--input_file=data/c.txt", "--model_prefix=alias"],
     "--model_prefix alias.txt would overwrite --input_file data/c.txt, which the run reads: give "
     "--model_prefix another path."),
    (["--input_file=data/*", "--model_prefix=link/vocab"
     ], "--model_prefix link/vocab.model matches --input_file data/*, so a rerun would read it as "
     "input: give --model_prefix a path outside it."),
])
def test_build_vocab_spares_its_corpus(corpus_dir, flags, expected):
  before = _snapshot(corpus_dir)
  process = _run("data_prep.build_vocab", [*flags, "--vocab_size=100"], corpus_dir)
  _assert_refused(process, "error: ", expected)
  assert _snapshot(corpus_dir) == before


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, spm_model):
  """run/ (albert_config.json, model.ckpt-20, vocab.model) and the links link and 7 to it."""
  directory = tmp_path_factory.mktemp("faults") / "run"
  directory.mkdir()
  config = AlbertConfig.from_preset("albert_tiny_grouped_test")
  config.vocab_size = text_fixtures.SENTENCEPIECE_VOCAB_SIZE
  config.to_json_file(str(directory / "albert_config.json"))
  tf.train.Checkpoint(model=AlbertPretrainer(config)).write(str(directory / "model.ckpt-20"))
  with open(spm_model, "rb") as reader:
    (directory / "vocab.model").write_bytes(reader.read())
  os.symlink("run", directory.parent / "link")
  os.symlink("run", directory.parent / "7")
  return directory


def test_exports_spare_the_checkpoint_and_vocabulary_they_read(run_dir):
  base = run_dir.parent
  before = _snapshot(base)
  common = ["--albert_config_file=run/albert_config.json", "--spm_model_file=run/vocab.model"]
  processes = [
      _run("albert_tf.export_checkpoints", [
          "--albert_directory=run", "--checkpoint_name=model.ckpt-20",
          "--export_path=link/model.ckpt-20"
      ], base),
      # <export_dir>/<version> is 7, a link to the run directory.
      _run("albert_tf.export_savedmodel",
           [*common, "--init_checkpoint=run", "--export_dir=.", "--version=7", "--overwrite"],
           base),
      _run("albert_tf.export_savedmodel", [
          *common, "--init_checkpoint=run/model.ckpt-20", "--export_dir=serving",
          "--encoder_export_dir=link", "--overwrite"
      ], base),
  ]
  expected = [
      ("albert-export-checkpoints: error: ",
       "--export_path link/model.ckpt-20 would overwrite --albert_directory/--checkpoint_name "
       "run/model.ckpt-20, which the run reads: give --export_path another path."),
      ("albert-export: error: ", "--export_dir ./7 would overwrite --init_checkpoint "
       "run/model.ckpt-20, which the run reads: give --export_dir another path."),
      ("albert-export: error: ", "--encoder_export_dir link would overwrite --init_checkpoint "
       "run/model.ckpt-20, which the run reads: give --encoder_export_dir another path."),
  ]
  for process, (prefix, message) in zip(processes, expected):
    _assert_refused(process, prefix, message)
  assert _snapshot(base) == before


def test_remote_outputs_are_compared_normalised():
  with pytest.raises(file_io.OutputOverlapError) as error:
    file_io.check_outputs_spare_inputs([("--output_file", "gs://b/records//o.tfrecord"),
                                        ("--stats_file", "gs://b/records/./o.tfrecord")])
  assert str(error.value) == (
      "--output_file gs://b/records//o.tfrecord and --stats_file gs://b/records/./o.tfrecord "
      "write to the same place: give --stats_file another path.")
