"""Runs that cannot clobber each other or themselves: one writer per output, resume never restarts.

A second writer (create_pretraining_data, training, export) stops in one line naming the first; a
dead process's lock is taken over; a run whose newest checkpoint is gone or truncated resumes from
the newest readable one; a run whose checkpoints are all unreadable refuses to start afresh.
"""

import hashlib
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf import output_lock
from albert_tf.export import exporter
from albert_tf.training import checkpointing
from albert_tf.training import pretraining_run
from tests import test_train_support as support
from tests import text_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Takes the lock of argv[1] (a file output; a directory with argv[2] == "dir"), says so on stdout
# and holds it until stdin closes.
_HOLDER = """
import sys
from albert_tf import output_lock
lock = output_lock.lock_directory if sys.argv[2:] == ["dir"] else output_lock.lock_output
with lock(sys.argv[1]):
  print("locked", flush=True)
  sys.stdin.read()
"""


class Holder:
  """A process holding the lock of an output until the block ends."""

  def __init__(self, output, directory=False):
    self.process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(output)] + (["dir"] if directory else []), cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

  def __enter__(self):
    assert self.process.stdout.readline() == "locked\n"
    return self.process.pid

  def __exit__(self, *unused):
    self.process.stdin.close()
    assert self.process.wait() == 0
    self.process.stdout.close()


def dead_pid():
  process = subprocess.Popen([sys.executable, "-c", ""])
  process.wait()  # reaped: the pid no longer names a process
  return process.pid


def checksums(directory):
  return {
      os.path.relpath(os.path.join(root, name), directory):
          hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
      for root, _, names in os.walk(directory) for name in names
  }


def test_second_create_pretraining_data_on_one_output_file_names_the_first(tmp_path):
  model = text_fixtures.build_sentencepiece_model(tmp_path / "spm")
  corpus = tmp_path / "corpus.txt"
  corpus.write_text("The first sentence here.\nAnother one follows.\n", encoding="utf-8")
  output = tmp_path / "out" / "train-{shard}.tfrecord"
  with Holder(output) as pid:
    result = subprocess.run([
        sys.executable, "-m", "data_prep.create_pretraining_data", f"--input_file={corpus}",
        f"--output_file={output}", f"--spm_model_file={model}", "--max_seq_length=32",
        "--max_predictions_per_seq=5", "--dupe_factor=1"
    ], cwd=ROOT, capture_output=True, text=True, check=False)
    lock_file = tmp_path / "out" / ".train-{shard}.tfrecord.lock"
    assert os.listdir(tmp_path / "out") == [lock_file.name]  # nothing else written
    started = json.loads(lock_file.read_text())["started"]
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert errors == [
      f"error: {output} is being written by process {pid} on host {socket.gethostname()} since "
      f"{started} ({shlex.join(['-c', str(output)])}): wait for it to finish, or write elsewhere."
  ]
  # The holder released its lock and removed the directory it had made for it.
  assert not (tmp_path / "out").exists()


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def options(data, output_dir, **overrides):
  settings = dict(num_train_steps=6, save_checkpoints_steps=2, steps_per_loop=2, log_steps=2)
  settings.update(overrides)
  return pretraining_run.RunOptions(**support.run_settings(data, output_dir, **settings))


def test_second_training_run_on_one_output_dir_names_the_first(data, tmp_path):
  with Holder(tmp_path, directory=True) as pid:
    with pytest.raises(output_lock.OutputLockError, match=f"process {pid} on host "):
      pretraining_run.run(options(data, tmp_path))
    assert os.listdir(tmp_path) == [output_lock.DIRECTORY_LOCK]  # nothing of the run written


def test_second_export_to_one_version_names_the_first(tmp_path):
  version = tmp_path / "export" / "3"
  with Holder(version) as pid:
    with pytest.raises(exporter.ExportError, match=f"{version} is being written by process {pid}"):
      exporter.write_atomically(str(version), overwrite=True, write=os.makedirs)
  assert not version.exists()


def write_lock(path, **holder):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(dict(command="albert-run-pretraining", started="then", **holder)))


def test_lock_of_a_dead_process_is_taken_over_and_released(tmp_path, caplog):
  lock_file = tmp_path / output_lock.DIRECTORY_LOCK
  pid = dead_pid()
  write_lock(lock_file, host=socket.gethostname(), pid=pid)
  with caplog.at_level(logging.WARNING, logger="absl"):
    with output_lock.lock_directory(str(tmp_path)):
      assert json.loads(lock_file.read_text())["pid"] == os.getpid()
  assert f"Taking over the lock {lock_file} of process {pid}, which is no longer running" in (
      caplog.text)
  assert not lock_file.exists()


# Tries the lock of directory argv[1]: prints "locked" and holds it until stdin closes, or prints
# "refused" and exits.
_CONTENDER = """
import sys
from albert_tf import output_lock
try:
  with output_lock.lock_directory(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
except output_lock.OutputLockError:
  print("refused", flush=True)
"""


def test_of_processes_taking_over_one_dead_lock_at_once_exactly_one_wins(tmp_path):
  lock_file = tmp_path / output_lock.DIRECTORY_LOCK
  write_lock(lock_file, host=socket.gethostname(), pid=dead_pid())
  contenders = [
      subprocess.Popen(
          [sys.executable, "-c", _CONTENDER, str(tmp_path)], cwd=ROOT, stdin=subprocess.PIPE,
          stdout=subprocess.PIPE, text=True) for _ in range(4)
  ]
  # The winner holds the lock until its stdin closes, so every other contender meets it.
  answers = [contender.stdout.readline() for contender in contenders]
  for contender in contenders:
    contender.stdin.close()
    assert contender.wait() == 0
    contender.stdout.close()
  assert sorted(answers) == ["locked\n"] + ["refused\n"] * 3
  assert not lock_file.exists()


def test_lock_of_another_host_is_refused_with_the_fix(tmp_path):
  lock_file = tmp_path / ".data.tfrecord.lock"
  write_lock(lock_file, host="tpu-vm-7", pid=dead_pid())
  with pytest.raises(output_lock.OutputLockError) as raised:
    with output_lock.lock_output(str(tmp_path / "data.tfrecord")):
      pass
  assert str(raised.value).endswith(f"if that job is dead, delete {lock_file}.")
  assert "on host tpu-vm-7 since then (albert-run-pretraining)" in str(raised.value)
  assert lock_file.exists()  # not ours to remove


def test_lock_is_released_when_the_block_raises(tmp_path):
  with pytest.raises(KeyError):
    with output_lock.lock_output(str(tmp_path / "out.tfrecord")):
      raise KeyError("failed")
  assert os.listdir(tmp_path) == []


def test_directories_the_lock_made_are_removed_when_nothing_was_written(tmp_path):
  with pytest.raises(KeyError):
    with output_lock.lock_output(str(tmp_path / "new" / "deeper" / "out.tfrecord")):
      raise KeyError("refused before writing")
  assert os.listdir(tmp_path) == []
  with output_lock.lock_output(str(tmp_path / "kept" / "out.tfrecord")):
    (tmp_path / "kept" / "out.tfrecord").write_bytes(b"written")
  assert os.listdir(tmp_path / "kept") == ["out.tfrecord"]


def test_remote_output_is_not_locked(caplog):
  with caplog.at_level(logging.INFO, logger="absl"):
    with output_lock.lock_directory("gs://bucket/run"):
      pass
  assert "Not locking gs://bucket/run: a remote file system has no atomic exclusive create" in (
      caplog.text)


def test_unwritable_output_is_one_line(tmp_path):
  (tmp_path / "file").write_text("")
  with pytest.raises(output_lock.OutputLockError, match="cannot write .*file/run: .*fix the path"):
    with output_lock.lock_directory(str(tmp_path / "file" / "run")):
      pass


@pytest.fixture(name="trained", scope="module")
def fixture_trained(data, tmp_path_factory):
  """A 6-step run with checkpoints 2, 4 and 6, and the values of its checkpoint 6."""
  output_dir = tmp_path_factory.mktemp("trained")
  pretraining_run.run(options(data, output_dir))
  prefix = str(output_dir / "model.ckpt-6")
  reader = tf.train.load_checkpoint(prefix)
  return output_dir, {
      name: reader.get_tensor(name)
      for name in reader.get_variable_to_shape_map()
      if name.startswith(("model/", "optimizer/"))
  }


def steps_of(output_dir):
  return sorted(
      checkpointing.checkpoint_step(path[:-len(".index")])
      for path in tf.io.gfile.glob(os.path.join(output_dir, "model.ckpt-[0-9]*.index")))


def test_deleted_newest_checkpoint_resumes_from_the_one_before(trained, data, tmp_path, caplog):
  source, values_at_6 = trained
  output_dir = tmp_path / "run"
  shutil.copytree(source, output_dir)
  for path in tf.io.gfile.glob(str(output_dir / "model.ckpt-6.*")):
    os.remove(path)
  before = checksums(output_dir)
  with caplog.at_level(logging.INFO, logger="absl"):
    pretraining_run.run(options(data, output_dir))
  assert f"Cannot resume from {output_dir}/model.ckpt-6: its .index file is missing." in caplog.text
  assert f"Resuming from {output_dir}/model.ckpt-4, the newest readable checkpoint" in caplog.text
  assert steps_of(output_dir) == [2, 4, 6]
  after = checksums(output_dir)
  for name in before:
    if name.startswith(("model.ckpt-2", "model.ckpt-4")):
      assert after[name] == before[name], name
  assert checkpoints.recorded_step(str(output_dir / "model.ckpt-6")) == 6
  reader = tf.train.load_checkpoint(str(output_dir / "model.ckpt-6"))
  for name, value in values_at_6.items():  # rebuilt exactly as the uninterrupted run had it
    assert (reader.get_tensor(name) == value).all(), name


def test_truncated_newest_checkpoint_is_skipped(trained, data, tmp_path, caplog):
  source, _ = trained
  output_dir = tmp_path / "run"
  shutil.copytree(source, output_dir)
  (data_file,) = tf.io.gfile.glob(str(output_dir / "model.ckpt-6.data-*"))
  with open(data_file, "r+b") as handle:
    handle.truncate(os.path.getsize(data_file) // 2)
  with caplog.at_level(logging.INFO,
                       logger="absl"):  # to step 4 only: resuming there is all that is left to do
    pretraining_run.run(options(data, output_dir, num_train_steps=4))
  assert f"Cannot resume from {output_dir}/model.ckpt-6: Read less bytes than requested." in (
      caplog.text)
  assert f"Resumed from {output_dir}/model.ckpt-4 (step 4)." in caplog.text
  assert "Already trained to step 4" in caplog.text


def test_run_with_no_restorable_checkpoint_refuses_a_fresh_start(trained, data, tmp_path):
  source, _ = trained
  output_dir = tmp_path / "run"
  shutil.copytree(source, output_dir)
  for path in tf.io.gfile.glob(str(output_dir / "model.ckpt-*.index")):
    os.remove(path)  # the data files stay
  before = checksums(output_dir)
  with pytest.raises(checkpointing.UnrestorableRunError) as raised:
    pretraining_run.run(options(data, output_dir))
  assert str(raised.value) == (
      f"{output_dir} holds checkpoint files (model.ckpt-2.data-00000-of-00001, "
      "model.ckpt-4.data-00000-of-00001, model.ckpt-6.data-00000-of-00001) but none can be "
      "restored (model.ckpt-6: its .index file is missing; model.ckpt-4: its .index file is "
      "missing; model.ckpt-2: its .index file is missing); a fresh start would overwrite them: "
      "move them away to start afresh, or pass a new --output_dir.")
  assert checksums(output_dir) == before


def test_export_removes_the_temporary_directory_a_killed_export_left(tmp_path, caplog):
  export_dir = tmp_path / "export"
  stale = export_dir / f".tmp-3-{'a' * 32}"  # what atomic_directory leaves when killed
  others = [export_dir / f".tmp-30-{'b' * 32}", export_dir / ".tmp-3-mine", export_dir / "2"]
  for directory in [stale, *others]:
    (directory / "variables").mkdir(parents=True)
  with caplog.at_level(logging.INFO, logger="absl"):
    exporter.write_atomically(str(export_dir / "3"), overwrite=False, write=os.makedirs)
  assert sorted(os.listdir(export_dir)) == sorted(["3", *(other.name for other in others)])
  assert f"Removed {stale}, left by an export that was killed." in caplog.text
