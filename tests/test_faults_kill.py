"""The trainer and the data tool SIGKILLed at seeded random points: each rerun of the same command
completes and ends where an uninterrupted run ends.

The trainer's kill points are progress events (a step logged, a checkpoint saved, an evaluation
logged) of a 12-step run checkpointing every 2 steps, drawn by a seeded RNG; the signal lands while
the process goes on past the line it just printed (saving, evaluating, writing events), so no
sleeps are needed. The data tool's kill points are seeded fractions of the CPU time of its
uninterrupted run (main process and workers, polled) and the start of its shard-writing phase (the
first shard's temporary file appears); the summary file's commit order is checked here too.
"""

import contextlib
import errno
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from albert_tf import checkpoints
from albert_tf import output_lock
from albert_tf.training import evaluation
from data_prep import pipeline
from data_prep import stats as stats_lib
from data_prep.corpus_files import CorpusError
from tests import test_train_support as support
from tests import text_fixtures
from tests.test_faults_outputs import _snapshot
from tests.test_train_loop import checkpoint_values

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 12
EVENT = re.compile(rf"step \d+/{STEPS}:|Saved \S*model\.ckpt-\d+\.|Eval at step \d+:")
EVENTS_PER_RUN = 3 * STEPS // 2  # a step line, a save and an evaluation every 2 steps
# Two kill points (the suite's time budget), the last event left out (the process may exit before
# the signal lands); seed 8 draws a checkpoint save and an evaluation (runs with seed 2026's
# [4, 9, 11] passed too).
KILL_EVENTS = sorted(random.Random(8).sample(range(1, EVENTS_PER_RUN), 2))  # [8, 12]


def arguments(data, output_dir):
  settings = support.run_settings(data, output_dir, num_train_steps=STEPS, do_eval=True,
                                  max_eval_steps=2)
  return [f"--{name}={value}" for name, value in settings.items()]


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


@pytest.fixture(name="straight", scope="module")
def fixture_straight(data, tmp_path_factory):
  """The uninterrupted run of the same command."""
  output_dir = tmp_path_factory.mktemp("straight")
  support.run_cli_in_process(arguments(data, output_dir))
  return output_dir


def kill_at_event(command, event):
  """Runs `command` and SIGKILLs it as soon as it reports its `event`-th progress event."""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env.pop("TF_CONFIG", None)
  process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, cwd=ROOT)
  seen, lines = 0, []
  for line in process.stdout:
    lines.append(line)
    seen += bool(EVENT.search(line))
    if seen == event:
      process.send_signal(signal.SIGKILL)
      break
  process.stdout.close()
  assert process.wait(timeout=120) == -signal.SIGKILL, "".join(lines[-20:])


def files_of(directory):
  """Relative paths, with TensorBoard event files (named by time and pid) reduced to their dir."""
  names = set()
  for root, _, files in os.walk(directory):
    for name in files:
      path = os.path.relpath(os.path.join(root, name), directory)
      names.add(os.path.join(os.path.dirname(path), "events") if ".tfevents." in name else path)
  return names


@pytest.mark.parametrize("event", KILL_EVENTS)
def test_killed_trainer_reruns_to_the_uninterrupted_result(data, straight, tmp_path, event):
  command = [sys.executable, "-m", "albert_tf.run_pretraining"] + arguments(data, tmp_path)
  kill_at_event(command, event)
  support.run_cli_in_process(command[3:])  # the same command, to completion (exit 0)

  final = str(tmp_path / f"model.ckpt-{STEPS}")
  assert checkpoints.recorded_step(final) == STEPS
  assert not [name for name in files_of(tmp_path) if ".tmp-" in name]  # no half-written files
  assert not (tmp_path / output_lock.DIRECTORY_LOCK).exists()  # the dead run's lock was taken over
  assert files_of(tmp_path) == files_of(straight)
  # Deterministic on CPU: the resumed run's weights and optimizer slots are the uninterrupted ones.
  expected = checkpoint_values(str(straight / f"model.ckpt-{STEPS}"))
  resumed = checkpoint_values(final)
  assert resumed.keys() == expected.keys()
  for name, value in expected.items():
    np.testing.assert_array_equal(resumed[name], value, err_msg=name)

  # Evaluations: each one the uninterrupted run's (an evaluation cut off by the kill is not
  # repeated), the last one present, and model.ckpt-best the best of those in eval_results.txt.
  results = evaluation.read_eval_results(str(tmp_path))
  straight_results = {r["global_step"]: r for r in evaluation.read_eval_results(str(straight))}
  steps = [r["global_step"] for r in results]
  assert steps == sorted(set(steps)) and steps[-1] == STEPS
  for result in results:
    assert result == straight_results[result["global_step"]]
  metric = "masked_lm_accuracy"
  best = max(results, key=lambda r: r[metric])  # the first of equal scores, as EvalResults
  assert checkpoints.recorded_step(str(tmp_path / "model.ckpt-best")) == best["global_step"]


# The data tool: albert-create-pretraining-data, local engine, 2 workers, 4 shards, ~75 KB of text
# (about 4 s, of which the shard writing takes 0.05 s).
DATA_COMMAND = [
    sys.executable, "-m", "data_prep.create_pretraining_data", "--input_file=corpus.txt",
    "--spm_model_file=spm.model", "--output_file=out/r-{shard}.tfrecord", "--num_output_shards=4",
    "--max_seq_length=128", "--dupe_factor=4", "--num_workers=2", "--block_bytes=2000"
]
DATA_SHARDS = [f"r-0000{i}-of-00004.tfrecord" for i in range(4)]
# Kill points: seeded fractions of the uninterrupted run's CPU time, one in each half of the run,
# and one in the shard writing phase ("write").
_DATA_RNG = random.Random(11)
DATA_KILL_POINTS = [round(_DATA_RNG.uniform(*half), 2) for half in ((0.1, 0.45), (0.5, 0.9))
                   ] + ["write"]


def _data_env():
  return dict(os.environ, PYTHONPATH=ROOT)


@pytest.fixture(name="data_inputs", scope="module")
def fixture_data_inputs(tmp_path_factory):
  """A directory with corpus.txt and spm.model; each run copies it and runs there (relative
  paths, so that every run's summary names the same files)."""
  directory = tmp_path_factory.mktemp("data_inputs")
  model = text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))
  shutil.copy(model, directory / "spm.model")
  with open(text_fixtures.ENGLISH_CORPUS, "rb") as reader:
    (directory / "corpus.txt").write_bytes(reader.read() * 20)
  return directory


@pytest.fixture(name="data_straight", scope="module")
def fixture_data_straight(data_inputs, tmp_path_factory):
  """The uninterrupted run: its directory and its CPU seconds (main process and workers)."""
  directory = tmp_path_factory.mktemp("data_straight")
  shutil.copytree(data_inputs, directory, dirs_exist_ok=True)
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  subprocess.run(DATA_COMMAND, cwd=directory, env=_data_env(), check=True, capture_output=True,
                 timeout=300)
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  return directory, seconds


def _cpu_seconds(pid):
  """CPU seconds of a process and its live descendants so far (0 when it is gone)."""
  total = 0.0
  with contextlib.suppress(psutil.Error):
    process = psutil.Process(pid)
    for member in [process] + process.children(recursive=True):
      with contextlib.suppress(psutil.Error):
        times = member.cpu_times()
        total += times.user + times.system
  return total


def kill_data_run_when(directory, reached):
  """Starts DATA_COMMAND in `directory` and SIGKILLs it with its workers (its process group) as
  soon as `reached(process)`; polls every millisecond, at most 120 s."""
  process = subprocess.Popen(DATA_COMMAND, cwd=directory, env=_data_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
  deadline = time.monotonic() + 120
  try:
    while not reached(process):
      assert process.poll() is None, "the run ended before its kill point"
      assert time.monotonic() < deadline, "the kill point was not reached in 120 s"
      time.sleep(0.001)
  finally:
    with contextlib.suppress(ProcessLookupError):
      os.killpg(process.pid, signal.SIGKILL)
  assert process.wait(timeout=60) == -signal.SIGKILL


def _summary_without_timings(directory):
  with open(directory / "out" / "r.stats.json", encoding="utf-8") as reader:
    summary = json.load(reader)
  return {key: value for key, value in summary.items() if key not in stats_lib.TIMING_KEYS}


@pytest.mark.parametrize("point", DATA_KILL_POINTS)
def test_killed_data_tool_reruns_to_the_uninterrupted_output(data_inputs, data_straight, tmp_path,
                                                             point):
  straight, cpu_seconds = data_straight
  shutil.copytree(data_inputs, tmp_path, dirs_exist_ok=True)
  out = tmp_path / "out"
  if point == "write":
    first_temporary = out / (DATA_SHARDS[0] + ".incomplete")
    kill_data_run_when(tmp_path, lambda process: first_temporary.exists())
  else:
    kill_data_run_when(tmp_path, lambda process: _cpu_seconds(process.pid) >= point * cpu_seconds)
  left = set(os.listdir(out)) if out.exists() else set()
  # The summary is renamed last: a summary under its final name means every shard is final.
  assert "r.stats.json" not in left or set(DATA_SHARDS) <= left
  if point == "write":  # killed while writing: temporaries left for the rerun to replace
    assert DATA_SHARDS[0] + ".incomplete" in left and not set(DATA_SHARDS) & left

  rerun = subprocess.run(DATA_COMMAND, cwd=tmp_path, env=_data_env(), capture_output=True,
                         text=True, timeout=300, check=False)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  # The same files (no temporary, spill directory or lock file left), byte for byte.
  assert sorted(os.listdir(out)) == sorted(os.listdir(
      straight / "out")) == sorted(DATA_SHARDS + ["r.stats.json"])
  for name in DATA_SHARDS:
    assert (out / name).read_bytes() == (straight / "out" / name).read_bytes(), name
  assert _summary_without_timings(tmp_path) == _summary_without_timings(straight)


def test_missing_stats_directory_is_one_line_and_writes_nothing(data_inputs, tmp_path):
  shutil.copytree(data_inputs, tmp_path, dirs_exist_ok=True)
  before = _snapshot(tmp_path)
  result = subprocess.run(DATA_COMMAND + ["--stats_file=missing/r.stats.json"], cwd=tmp_path,
                          env=_data_env(), capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "error: --stats_file missing/r.stats.json: missing does not exist; create the directory or "
      "give another --stats_file (without it the summary goes next to the shards).")
  assert _snapshot(tmp_path) == before  # no shard, no temporary file


def test_a_summary_that_cannot_be_written_leaves_no_shard_renamed(data_inputs, tmp_path,
                                                                  monkeypatch):
  """The summary is written before any shard is renamed: when that fails (here a full disk), the
  shards of an earlier run stay as they were and no temporary file is left."""
  config = pipeline.PretrainingDataConfig(input_file=str(data_inputs / "corpus.txt"),
                                          output_file=str(tmp_path / "r-{shard}.tfrecord"),
                                          num_output_shards=2,
                                          spm_model_file=str(data_inputs / "spm.model"),
                                          max_seq_length=32, max_predictions_per_seq=5,
                                          dupe_factor=1, random_seed=1, num_workers=0)
  pipeline.create_pretraining_data(config)
  before = _snapshot(tmp_path)

  def full_disk(result, path):
    with open(path, "w", encoding="utf-8") as writer:
      writer.write("{")  # a partial file, then the disk is full
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

  monkeypatch.setattr(stats_lib, "write_summary", full_disk)
  with pytest.raises(CorpusError) as error:
    pipeline.create_pretraining_data(
        pipeline.PretrainingDataConfig(**{
            **config.__dict__, "random_seed": 2
        }))
  assert str(error.value) == (
      f"--stats_file {tmp_path}/r.stats.json cannot be written (No space left on device): no "
      "shard was renamed to its final name; fix the path or give another --stats_file, then "
      "rerun.")
  assert _snapshot(tmp_path) == before
