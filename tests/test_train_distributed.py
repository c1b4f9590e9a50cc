"""Distribution and fault tests on CPU, in subprocesses: mirrored == one device, multi-worker
train/checkpoint/resume, SIGKILL then resume, TPU requested without a TPU."""

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from tests import test_train_support as support

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def environment(**extra):
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env.pop("TF_CONFIG", None)
  env.update(extra)
  return env


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def cli(data, output_dir, **overrides):
  values = support.run_settings(data, output_dir, **overrides)
  return [sys.executable, "-m", "albert_tf.run_pretraining"] + [f"--{k}={v}" for k, v in
                                                               values.items()]


MIRRORED_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
from albert_tf.training import strategy as strategy_lib
strategy_lib.split_cpu(2)
from albert_tf.training import pretraining_run
from tests.test_train_loop import checkpoint_values

args = json.loads(sys.argv[1])
results = {}
for name, strategy in [("one", tf.distribute.OneDeviceStrategy("CPU:0")),
                       ("mirrored", strategy_lib.build_strategy("mirrored"))]:
  assert strategy.num_replicas_in_sync == (2 if name == "mirrored" else 1)
  out = args["output_dir"] + "/" + name
  pretraining_run.run(pretraining_run.RunOptions(output_dir=out, **args["options"]), strategy)
  results[name] = checkpoint_values(out + "/model.ckpt-4")
diffs = [float(np.max(np.abs(results["one"][k] - results["mirrored"][k]))) for k in results["one"]
         if k.startswith("model/") and "OPTIMIZER_SLOT" not in k]
print("MAX_WEIGHT_DIFF", max(diffs))
"""


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_equals_one_device(data, tmp_path):
  options = support.run_settings(data, tmp_path, save_checkpoints_steps=4, log_steps=4,
                                 steps_per_loop=4, gradient_clipping="global")
  del options["output_dir"]
  result = subprocess.run(
      [sys.executable, "-c", MIRRORED_SCRIPT,
       json.dumps({"output_dir": str(tmp_path), "options": options})],
      env=environment(), capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  difference = float(re.search(r"MAX_WEIGHT_DIFF (\S+)", result.stdout).group(1))
  # Same global batch, same global-batch loss and clipping: only float summation order differs.
  assert difference < 1e-5


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


MULTI_WORKER_SCRIPT = """
import json, sys
from absl import logging
from albert_tf.training import pretraining_run
from albert_tf.training import strategy as strategy_lib

logging.set_verbosity(logging.INFO)

args = json.loads(sys.argv[1])
strategy = strategy_lib.build_strategy("auto")  # TF_CONFIG with two workers: multi-worker
import tensorflow as tf
print("STRATEGY", isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
      strategy.num_replicas_in_sync, flush=True)
for steps in (4, 6):  # a run, then the same run extended: a restart that must resume
  pretraining_run.run(pretraining_run.RunOptions(num_train_steps=steps, **args))
"""


@pytest.mark.slow
def test_multi_worker_mirrored_trains_checkpoints_and_resumes(data, tmp_path):
  options = support.run_settings(data, tmp_path)
  del options["num_train_steps"]  # the script runs to 4, then resumes to 6
  cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
  workers = [subprocess.Popen(
      [sys.executable, "-c", MULTI_WORKER_SCRIPT, json.dumps(options)],
      env=environment(TF_CONFIG=json.dumps({"cluster": cluster,
                                            "task": {"type": "worker", "index": index}})),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO) for index in range(2)]
  try:
    outputs = [worker.communicate(timeout=400)[0] for worker in workers]
  finally:  # a hung collective must not outlive the test and hold the next tests' CPU
    for worker in workers:
      worker.kill()
  for worker, output in zip(workers, outputs):
    assert worker.returncode == 0, output[-3000:]
    assert "STRATEGY True 2" in output
    assert re.search(r"Resumed from \S*model\.ckpt-4 \(step 4\)", output), output[-3000:]
  assert sorted(p.name for p in tmp_path.glob("model.ckpt-*.index")) == [
      "model.ckpt-2.index", "model.ckpt-4.index", "model.ckpt-6.index"]
  for worker in range(2):
    assert (tmp_path / "input_pipeline" / f"worker-{worker}" / "ckpt-6.index").exists()
  assert not list(tmp_path.glob(".worker-*"))  # the non-chief's scratch copy is removed


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_resumes_and_completes(data, tmp_path, caplog):
  command = cli(data, tmp_path, num_train_steps=60, save_checkpoints_steps=4, log_steps=4,
                steps_per_loop=4)
  trainer = subprocess.Popen(command, env=environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=REPO)
  for line in trainer.stdout:  # kill as soon as the second checkpoint is reported
    if re.search(r"Saved \S*model\.ckpt-8\b", line):
      trainer.send_signal(signal.SIGKILL)
      break
  trainer.wait(timeout=60)
  assert trainer.returncode == -signal.SIGKILL
  with caplog.at_level(logging.INFO):
    support.run_cli_in_process(command[3:])  # the same command line, run through the CLI's main()
  resumed = re.search(r"Resumed from \S*model\.ckpt-(\d+) \(step (\d+)\)", caplog.text)
  assert resumed and int(resumed.group(1)) >= 8
  assert (tmp_path / "model.ckpt-60.index").exists()


def test_tpu_requested_without_tpu_fails_fast_with_one_line(data, tmp_path):
  result = subprocess.run(cli(data, tmp_path, distribution_strategy="tpu"), env=environment(),
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
  assert result.returncode == 1
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith("albert-run-pretraining: error: --distribution_strategy=tpu but no "
                              "TPU was found")
  assert not (tmp_path / "model.ckpt-2.index").exists()
