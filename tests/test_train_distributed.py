"""Distribution and fault tests on CPU, in subprocesses: mirrored == one device (global clipping)
and == a one-device reference (per-replica clipping), multi-worker
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
  return [sys.executable, "-m", "albert_tf.run_pretraining"
         ] + [f"--{k}={v}" for k, v in values.items()]


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
  result = subprocess.run([
      sys.executable, "-c", MIRRORED_SCRIPT,
      json.dumps({
          "output_dir": str(tmp_path),
          "options": options
      })
  ], env=environment(), capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  difference = float(re.search(r"MAX_WEIGHT_DIFF (\S+)", result.stdout).group(1))
  # Same global batch, same global-batch loss and clipping: only float summation order differs.
  assert difference < 1e-5


PER_REPLICA_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
import tf_keras
from albert_tf.training import strategy as strategy_lib
strategy_lib.split_cpu(2)
from albert_tf import optimization
from albert_tf.config import AlbertConfig
from albert_tf.models import pretraining_objectives
from albert_tf.models.albert_pretrainer import AlbertPretrainer
from albert_tf.tasks import pretraining
from albert_tf.training import input_pipeline
from albert_tf.training import trainer as trainer_lib

args = json.loads(sys.argv[1])
tf_keras.utils.set_random_seed(0)
config = AlbertConfig.from_json_file(args["config"])
GLOBAL_BATCH, HALF, CLIP, CHECK_AFTER = 8, 4, args["clip_norm"], (1, 3)
TASK = pretraining.PretrainingTask(config, input_pipeline.resolve_input_files(args["input_file"]),
                                   max_seq_length=16, max_predictions_per_seq=3)
batches = list(TASK.dataset("train", GLOBAL_BATCH).take(CHECK_AFTER[-1]).as_numpy_iterator())


def build(strategy):
  with strategy.scope():
    pretrainer = AlbertPretrainer(config)
    pretrainer.build()
    optimizer = optimization.create_optimizer(0.01, 10, 0)  # LAMB, no warmup: lr 0.01 at step 0
  return pretrainer, optimizer


def state(pretrainer, optimizer):
  variables = trainer_lib.unique_variables(pretrainer.trainable_variables)
  values = {v.name: v.numpy() for v in variables}
  for slot in ("m", "v"):
    values.update({f"{v.name}/{slot}": optimizer.get_slot(v, slot).numpy() for v in variables})
  return values


def max_difference(first, second):
  assert first.keys() == second.keys()
  return max(float(np.max(np.abs(first[k] - second[k]))) for k in first)


def reference(initial, clip_each_half):
  # One device. The trainer gives replica k rows [k*HALF, (k+1)*HALF) of each global batch
  # (tf.split in Trainer._next_batch).
  pretrainer, optimizer = build(tf.distribute.get_strategy())
  pretrainer.set_weights(initial)
  variables = trainer_lib.unique_variables(pretrainer.trainable_variables)
  norms, states = [], {}
  for step, batch in enumerate(batches, start=1):
    half_gradients = []
    for rows in (slice(0, HALF), slice(HALF, GLOBAL_BATCH)):
      features = {name: tf.constant(value[rows]) for name, value in batch.items()}
      with tf.GradientTape() as tape:
        loss = pretraining_objectives.compute_pretraining_losses(
            features, pretrainer(features, training=True))["loss"]
      gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
      norms.append(float(tf.linalg.global_norm(gradients)))
      if clip_each_half:
        gradients, _ = tf.clip_by_global_norm(gradients, CLIP)
      half_gradients.append(gradients)
    mean = [(first + second) / 2 for first, second in zip(*half_gradients)]
    if not clip_each_half:
      mean, _ = tf.clip_by_global_norm(mean, CLIP)
    optimizer.apply_gradients(zip(mean, variables))
    if step in CHECK_AFTER:
      states[step] = state(pretrainer, optimizer)
  return states, norms


initial = build(tf.distribute.get_strategy())[0].get_weights()
expected, norms = reference(initial, clip_each_half=True)
mirrored = strategy_lib.build_strategy("mirrored")
results = {"replicas": mirrored.num_replicas_in_sync, "half_norms": norms}
final = {}
# name: (gradient_clipping, jit_compile); under XLA the replica step (and its clipping) compiles.
RUNS = {"per_replica": ("per_replica", False), "global": ("global", False),
        "per_replica_xla": ("per_replica", True)}
for name, (mode, jit_compile) in RUNS.items():
  pretrainer, optimizer = build(mirrored)
  pretrainer.set_weights(initial)
  trainer = trainer_lib.Trainer(mirrored, TASK, pretrainer, optimizer,
                                global_batch_size=GLOBAL_BATCH, clip_norm=CLIP,
                                gradient_clipping=mode, jit_compile=jit_compile)
  iterator = iter(tf.data.Dataset.from_tensor_slices(
      {key: np.stack([batch[key] for batch in batches]) for key in batches[0]}))
  done = 0
  for step in CHECK_AFTER:
    trainer.train(iterator, step - done)
    done = step
    results[f"{name}_difference_after_{step}"] = max_difference(expected[step],
                                                                state(pretrainer, optimizer))
  final[name] = state(pretrainer, optimizer)
  results[f"{name}_replica_spread"] = max(
      float(np.max(np.abs(first.numpy() - second.numpy()))) for variable in pretrainer.weights
      for first, second in [mirrored.experimental_local_results(variable)])
results["global_mode_difference"] = max_difference(final["per_replica"], final["global"])
results["clip_after_mean_difference"] = max_difference(
    final["per_replica"], reference(initial, clip_each_half=False)[0][CHECK_AFTER[-1]])
print("RESULT", json.dumps(results))
"""


@pytest.mark.slow
def test_per_replica_clipping_on_two_cpu_devices_equals_one_device_reference(data):
  clip_norm = 0.1
  result = subprocess.run([
      sys.executable, "-c", PER_REPLICA_SCRIPT,
      json.dumps({
          "config": data[1],
          "input_file": os.path.join(data[0], "train-*"),
          "clip_norm": clip_norm
      })
  ], env=environment(), capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads(re.search(r"^RESULT (.*)$", result.stdout, re.MULTILINE).group(1))
  assert results["replicas"] == 2
  # Clipping is active on both halves at all 3 steps, so skipping it would change the update.
  assert len(results["half_norms"]) == 6 and min(results["half_norms"]) > 5 * clip_norm
  # Weights and LAMB slots after 1 and 3 steps, graph and XLA replica step: only float summation
  # order differs (measured <= 1.6e-7).
  for name in ("per_replica", "per_replica_xla"):
    for step in (1, 3):
      assert results[f"{name}_difference_after_{step}"] < 1e-5, (name, step)
  for name in ("per_replica", "global", "per_replica_xla"):
    assert results[f"{name}_replica_spread"] == 0.0, name
  # The alternatives differ by far more than the tolerance: the test tells the algorithms apart.
  assert results["global_mode_difference"] > 1e-3
  assert results["clip_after_mean_difference"] > 1e-3


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
pretraining_run.run(pretraining_run.RunOptions(**args), strategy)
"""


def run_two_workers(options: dict, log_dir) -> list[str]:
  """Runs MULTI_WORKER_SCRIPT as workers 0 and 1 of a fresh cluster; returns their logs."""
  cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
  # Logs go to files, not pipes: reading one worker's pipe to its end while the other's fills up
  # would block that worker on a write, and its peer in the next collective.
  logs = [log_dir / f"worker-{index}-{options['num_train_steps']}.log" for index in range(2)]
  workers = []
  for index, log in enumerate(logs):
    with open(log, "w") as log_file:
      workers.append(
          subprocess.Popen([sys.executable, "-c", MULTI_WORKER_SCRIPT,
                            json.dumps(options)], env=environment(TF_CONFIG=json.dumps({
                                "cluster": cluster,
                                "task": {
                                    "type": "worker",
                                    "index": index
                                }
                            })), stdout=log_file, stderr=subprocess.STDOUT, text=True, cwd=REPO))
  try:
    for worker in workers:
      worker.wait(timeout=300)
  except subprocess.TimeoutExpired:
    pass  # a hang shows below as a killed worker (-9), with both logs
  finally:  # a hung collective must not outlive the test and hold the next tests' CPU
    for worker in workers:
      worker.kill()
      worker.wait()
  outputs = [log.read_text() for log in logs]
  # Every failed worker's log: when one worker dies the other's only says that its peer vanished.
  failures = [
      f"worker {index} exited with {worker.returncode}:\n{output[-3000:]}"
      for index, (worker, output) in enumerate(zip(workers, outputs))
      if worker.returncode
  ]
  assert not failures, "\n".join(failures)
  return outputs


@pytest.mark.slow
def test_multi_worker_mirrored_trains_checkpoints_and_resumes(data, tmp_path, tmp_path_factory):
  options = support.run_settings(data, tmp_path)
  log_dir = tmp_path_factory.mktemp("logs")
  # A run to step 4, then the same command extended to step 6 in new processes: a restart of the
  # whole cluster, which must resume (one MultiWorkerMirroredStrategy per process, as in real use).
  first = run_two_workers({**options, "num_train_steps": 4}, log_dir)
  resumed = run_two_workers({**options, "num_train_steps": 6}, log_dir)
  for output in first + resumed:
    assert "STRATEGY True 2" in output
  for output in resumed:
    assert re.search(r"Resumed from \S*model\.ckpt-4 \(step 4\)", output), output[-3000:]
  assert sorted(p.name for p in tmp_path.glob("model.ckpt-*.index")) == [
      "model.ckpt-2.index", "model.ckpt-4.index", "model.ckpt-6.index"
  ]
  for worker in range(2):
    assert (tmp_path / "input_pipeline" / f"worker-{worker}" / "ckpt-6.index").exists()
  assert not list(tmp_path.glob(".worker-*"))  # the non-chief's scratch copy is removed


def test_one_multi_worker_strategy_per_process():
  # A second MultiWorkerMirroredStrategy in one process breaks the workers' next collective.
  script = ("from albert_tf.training import strategy as s\n"
            "first = s.build_strategy('multi_worker_mirrored')\n"
            "print('SAME', first is s.build_strategy('multi_worker_mirrored'))\n")
  result = subprocess.run([sys.executable, "-c", script], env=environment(), capture_output=True,
                          text=True, timeout=120, cwd=REPO, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "SAME True" in result.stdout


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
  with caplog.at_level(logging.INFO, logger="absl"):
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
