"""The create_pretraining_data command line: one-line errors for bad input, invalid UTF-8 handling,
and atomic output when the process is killed."""

import glob
import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests import text_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, **popen_kwargs):
  return subprocess.run([sys.executable, "-m", "data_prep.create_pretraining_data", *args],
                        cwd=ROOT, capture_output=True, text=True, **popen_kwargs)


def assert_one_line_error(result, *fragments):
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, result.stderr
  for fragment in fragments:
    assert fragment in errors[0]


def _common(sp_model, out):
  return [
      f"--spm_model_file={sp_model}", f"--output_file={out}/r-{{shard}}.tfrecord",
      "--num_output_shards=2", "--max_seq_length=64", "--max_predictions_per_seq=10",
      "--dupe_factor=2", "--num_workers=1"
  ]


def test_input_pattern_matching_nothing(sp_model, tmp_path):
  result = run_cli(f"--input_file={tmp_path}/missing-*.txt", *_common(sp_model, tmp_path))
  assert_one_line_error(result, "missing-*.txt", "matches no file")
  assert os.listdir(tmp_path) == []


def test_empty_corpus(sp_model, tmp_path):
  corpus = tmp_path / "empty.txt"
  corpus.write_text("\n  \n\t\n", encoding="utf-8")
  result = run_cli(f"--input_file={corpus}", *_common(sp_model, tmp_path))
  assert_one_line_error(result, "empty")
  assert sorted(os.listdir(tmp_path)) == ["empty.txt"]  # no shard, no temporary file left


def test_vocab_without_special_tokens(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\nthe\nharbour\n", encoding="utf-8")
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}", f"--vocab_file={vocab}",
                   f"--output_file={tmp_path}/r.tfrecord")
  assert_one_line_error(result, "[CLS]", "[SEP]", "[MASK]")
  assert not os.path.exists(tmp_path / "r.tfrecord")


def test_max_seq_length_too_small(sp_model, tmp_path):
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}", *_common(sp_model, tmp_path),
                   "--max_seq_length=4")
  assert_one_line_error(result, "--max_seq_length=4")


def test_max_predictions_larger_than_possible(sp_model, tmp_path):
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}", *_common(sp_model, tmp_path),
                   "--max_predictions_per_seq=62")
  assert_one_line_error(result, "--max_predictions_per_seq=62", "1 to 61")


def test_missing_vocab_flags(tmp_path):
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}",
                   f"--output_file={tmp_path}/r.tfrecord")
  assert_one_line_error(result, "--spm_model_file", "--vocab_file")


def test_missing_required_flag():
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}")
  assert result.stderr.strip() == ("error: flag --output_file=None: Flag --output_file must have a "
                                   "value other than None.")
  assert result.returncode == 1


def test_invalid_utf8_is_replaced_counted_and_reported(sp_model, tmp_path):
  corpus = tmp_path / "corpus.txt"
  good = open(text_fixtures.ENGLISH_CORPUS, "rb").read()
  corpus.write_bytes(b"Broken \xff\xfe bytes in a line.\nAnother \xc3 one.\n" + good)
  out = tmp_path / "out"
  result = run_cli(f"--input_file={corpus}", *_common(sp_model, out))
  assert result.returncode == 0, result.stderr
  summary = json.loads((out / "r.stats.json").read_text())
  assert summary["replaced_invalid_utf8_bytes"] == 3
  assert "replaced 3 invalid UTF-8 bytes" in result.stderr


@pytest.mark.slow
def test_killed_run_leaves_no_final_file_and_rerun_completes(sp_model, tmp_path):
  corpus = tmp_path / "big.txt"
  text = open(text_fixtures.ENGLISH_CORPUS, "rb").read()
  corpus.write_bytes(text * 25)
  out = tmp_path / "out"
  args = [
      sys.executable, "-m", "data_prep.create_pretraining_data", f"--input_file={corpus}",
      f"--spm_model_file={sp_model}", f"--output_file={out}/r-{{shard}}.tfrecord",
      "--num_output_shards=2", "--max_seq_length=128", "--dupe_factor=10", "--num_workers=1",
      "--block_bytes=2000"
  ]
  process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  spill = out / "r-00000-of-00002.tfrecord.spill.incomplete" / "shard-00000"
  # Wait (without sleeping) until records are being spilled (every 4 MB), then kill mid-run.
  while process.poll() is None and not (spill.exists() and spill.stat().st_size > 0):
    pass
  assert process.poll() is None, "the run finished before it could be killed; make it longer"
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert glob.glob(str(out / "r-*.tfrecord")) == []
  assert not os.path.exists(out / "r.stats.json")

  rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
  assert rerun.returncode == 0, rerun.stderr
  assert sorted(os.listdir(out)) == [
      "r-00000-of-00002.tfrecord", "r-00001-of-00002.tfrecord", "r.stats.json"
  ]
  fresh = tmp_path / "fresh"
  subprocess.run([a.replace(str(out), str(fresh)) for a in args], cwd=ROOT, check=True,
                 capture_output=True)
  for name in ("r-00000-of-00002.tfrecord", "r-00001-of-00002.tfrecord"):
    assert (out / name).read_bytes() == (fresh / name).read_bytes()


@pytest.mark.slow
def test_killed_worker_fails_the_run_in_one_line_instead_of_hanging(sp_model, tmp_path):
  corpus = tmp_path / "big.txt"
  corpus.write_bytes(open(text_fixtures.ENGLISH_CORPUS, "rb").read() * 25)
  out = tmp_path / "out"
  process = subprocess.Popen([
      sys.executable, "-m", "data_prep.create_pretraining_data", f"--input_file={corpus}",
      f"--spm_model_file={sp_model}", f"--output_file={out}/r-{{shard}}.tfrecord",
      "--num_output_shards=2", "--max_seq_length=128", "--dupe_factor=10", "--num_workers=2",
      "--block_bytes=2000"
  ], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  spill = out / "r-00000-of-00002.tfrecord.spill.incomplete" / "shard-00000"
  # Wait (without sleeping) until the workers' records are being spilled, then kill one worker,
  # as the out-of-memory killer would.
  while process.poll() is None and not (spill.exists() and spill.stat().st_size > 0):
    pass
  workers = [
      child for child in psutil.Process(process.pid).children()
      if "spawn_main" in " ".join(child.cmdline())
  ]
  assert process.poll() is None and len(workers) == 2, "the run ended before a worker was killed"
  workers[0].send_signal(signal.SIGKILL)
  _, stderr = process.communicate(timeout=120)  # a hang fails here
  assert process.returncode == 1
  assert stderr.strip().splitlines()[-1] == (
      "error: a data worker process died (killed by a signal, e.g. the out-of-memory killer): no "
      "output was written under its final name; rerun, with fewer --num_workers or a smaller "
      "--block_bytes if memory is short")
  assert glob.glob(str(out / "r-*.tfrecord")) == []
  assert not os.path.exists(out / "r.stats.json")
