"""The machine's refusals and broken environments are one line and exit 1 (issue 13, point 8).

A read-only file system, a full disk, a quota, too many open files and a permission denied reach
every command line through `albert_tf.command_line.run`, as Python's OSError or as TensorFlow's
file errors; a malformed TF_CONFIG and a corrupt --init_checkpoint are refused before training.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest

from albert_tf import command_line
from albert_tf.training import strategy
from tests import test_train_support as support

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "albert-test: error: "


def run_main_raising(raise_statement: str, imports: str = "") -> subprocess.CompletedProcess:
  """Runs a command line (command_line.run) whose main executes `raise_statement`."""
  script = textwrap.dedent(f"""
      import errno
      {imports}
      from albert_tf import command_line

      def main(argv):
        {raise_statement}

      command_line.run(main, {PREFIX!r})
      """)
  return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                        timeout=120, check=False, env={
                            **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"
                        })


@pytest.mark.parametrize("code,fix", [
    (errno.EROFS, "write to a directory on a writable file system"),
    (errno.ENOSPC, "free disk space or write to another disk, then rerun (finished work is kept)"),
    (errno.EMFILE, "raise the open-file limit (ulimit -n) or use fewer workers, then rerun"),
    (errno.EACCES, "check the path's permissions or write elsewhere"),
])
def test_system_refusal_is_one_line_naming_the_file_and_the_fix(code, fix):
  result = run_main_raising(f"raise OSError({code}, 'x', '/data/out/train-00000.tfrecord')")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      f"{PREFIX}{os.strerror(code)} (/data/out/train-00000.tfrecord): {fix}")
  assert "Traceback" not in result.stderr


def test_tensorflow_file_error_is_one_line():
  result = run_main_raising(
      "raise tf.errors.ResourceExhaustedError(None, None, "
      "'/out/model.ckpt-6.data-00000-of-00001.tempstate1; No space left on device')",
      imports="import tensorflow as tf")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      f"{PREFIX}/out/model.ckpt-6.data-00000-of-00001.tempstate1; No space left on device: "
      "free disk space or write to another disk, then rerun (finished work is kept)")
  assert "Traceback" not in result.stderr


def test_other_errors_keep_their_traceback():
  result = run_main_raising("raise OSError(errno.EIO, 'Input/output error', '/data/x')")
  assert result.returncode == 1
  assert "Traceback" in result.stderr
  assert not any(line.startswith(PREFIX) for line in result.stderr.splitlines())


def test_system_error_line_ignores_unrelated_errors():
  assert command_line.system_error_line(ValueError("bad value")) is None
  assert command_line.system_error_line(FileNotFoundError(errno.ENOENT, "x", "/a")) is None


@pytest.mark.parametrize("value,message", [
    ('{"cluster": {"worker": ["a:1"]', "TF_CONFIG is not JSON (Expecting"),
    ('["a:1", "b:2"]', 'TF_CONFIG must be a JSON object whose "cluster" maps job names'),
    ('{"cluster": {"worker": "a:1,b:2"}}', 'TF_CONFIG must be a JSON object whose "cluster"'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "ps", "index": 0}}',
     'TF_CONFIG\'s "task" ({"type": "ps", "index": 0}) must name a job of its cluster (worker)'),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": "0"}}',
     "and an integer index"),
])
def test_malformed_tf_config_is_refused(monkeypatch, value, message):
  monkeypatch.setenv("TF_CONFIG", value)
  with pytest.raises(strategy.StrategyError) as raised:
    strategy.tf_config()
  assert message in str(raised.value)
  assert str(raised.value).endswith("or unset it")
  assert "\n" not in str(raised.value)


def test_well_formed_tf_config_is_read(monkeypatch):
  config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
  monkeypatch.setenv("TF_CONFIG", json.dumps(config))
  assert strategy.tf_config() == config
  monkeypatch.setenv("TF_CONFIG", " ")
  assert strategy.tf_config() == {}


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def run_pretraining(data, output_dir, environment=None, **overrides) -> subprocess.CompletedProcess:
  settings = support.run_settings(data, output_dir, **overrides)
  return subprocess.run([
      sys.executable, "-m", "albert_tf.run_pretraining",
      *(f"--{k}={v}" for k, v in settings.items())
  ], cwd=REPO, capture_output=True, text=True, timeout=300, check=False, env={
      **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
      **(environment or {})
  })


@pytest.mark.slow
def test_training_cli_refuses_malformed_tf_config_before_writing(data, tmp_path):
  result = run_pretraining(data, tmp_path / "out", environment={"TF_CONFIG": "{cluster: 1}"})
  assert result.returncode == 1
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith("albert-run-pretraining: error: TF_CONFIG is not JSON (")
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_training_cli_refuses_corrupt_init_checkpoint_in_one_line(data, tmp_path):
  first = run_pretraining(data, tmp_path / "first", num_train_steps=2)
  assert first.returncode == 0, first.stderr
  prefix = tmp_path / "first" / "model.ckpt-2"
  data_file = prefix.with_name(prefix.name + ".data-00000-of-00001")
  data_file.write_bytes(data_file.read_bytes()[:100])  # a copy cut short
  result = run_pretraining(data, tmp_path / "second", init_checkpoint=prefix)
  assert result.returncode == 1
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith(
      f"albert-run-pretraining: error: checkpoint {prefix} cannot be read (")
  assert last_line.endswith("its files are incomplete or corrupt; copy or export it again")
  assert "Traceback" not in result.stderr
