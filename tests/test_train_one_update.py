"""Exactly one optimizer update per step, on every update path the trainer has.

{one device, MirroredStrategy over 2 logical CPUs, the in-compiled-step update path that TPUs take
(forced on one CPU)} x {per_replica, global clipping} x {jit_compile on, off} x {no loss scaling,
float16 loss scaling}: after N steps `optimizer.iterations == N` and the weights equal a one-device
reference computed here from the loss formula, step by step, without the Trainer.

Loss scaling runs with float32 compute (the LossScaleOptimizer path is what is under test, and a
power-of-two scale is exact in float32), so the reference holds to float summation order.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from tests import test_train_support as support

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 3

SCRIPT = """
import itertools, json, sys
import numpy as np
import tensorflow as tf
import tf_keras
from albert_tf.training import strategy as strategy_lib
strategy_lib.split_cpu(2)
from albert_tf import optimization
from albert_tf.config import AlbertConfig
from albert_tf.models import pretraining_objectives
from albert_tf.tasks import pretraining
from albert_tf.training import input_pipeline
from albert_tf.training import trainer as trainer_lib

args = json.loads(sys.argv[1])
STEPS, BATCH, CLIP = args["steps"], 8, 0.1
tf_keras.utils.set_random_seed(0)
config = AlbertConfig.from_json_file(args["config"])
task = pretraining.PretrainingTask(config, input_pipeline.resolve_input_files(args["input_file"]),
                                   max_seq_length=16, max_predictions_per_seq=3)
batches = list(task.dataset("train", BATCH).take(STEPS).as_numpy_iterator())


def build(strategy, loss_scaling=False):
  with strategy.scope():
    model = task.build_model()
    optimizer = optimization.create_optimizer(0.01, 10, 0)  # LAMB, lr 0.01 from step 0
    if loss_scaling:
      optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
  return model, optimizer


def weights(model):
  return {v.name: v.numpy() for v in trainer_lib.unique_variables(model.trainable_variables)}


def reference(initial, parts):
  # One device, the formula: the gradient of the original loss on each of `parts` row blocks of
  # the global batch, clipped per block (parts=2: per_replica on 2 replicas) or, for one block,
  # the global batch's clipped gradient; the mean of the blocks; one LAMB step.
  model, optimizer = build(tf.distribute.get_strategy())
  model.set_weights(initial)
  variables = trainer_lib.unique_variables(model.trainable_variables)
  size = BATCH // parts
  for batch in batches:
    blocks = []
    for part in range(parts):
      features = {k: tf.constant(v[part * size:(part + 1) * size]) for k, v in batch.items()}
      with tf.GradientTape() as tape:
        loss = pretraining_objectives.compute_pretraining_losses(
            features, model(features, training=True))["loss"]
      gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
      blocks.append(tf.clip_by_global_norm(gradients, CLIP)[0])
    optimizer.apply_gradients(zip([sum(g) / parts for g in zip(*blocks)], variables))
  return weights(model)


initial = build(tf.distribute.get_strategy())[0].get_weights()
expected = {1: reference(initial, 1)}
if "mirrored" in args["paths"]:
  expected[2] = reference(initial, 2)
strategies = {"one_device": lambda: tf.distribute.OneDeviceStrategy("CPU:0"),
              "mirrored": lambda: strategy_lib.build_strategy("mirrored"),
              "compiled_update": lambda: tf.distribute.OneDeviceStrategy("CPU:0")}
results = []
for path, clipping, jit, scaling in itertools.product(args["paths"], ("per_replica", "global"),
                                                      (False, True), (False, True)):
  strategy = strategies[path]()
  model, optimizer = build(strategy, scaling)
  model.set_weights(initial)
  trainer = trainer_lib.Trainer(strategy, task, model, optimizer, global_batch_size=BATCH,
                                clip_norm=CLIP, gradient_clipping=clipping, jit_compile=jit,
                                update_in_compiled_step=path == "compiled_update")
  trainer.train(iter(tf.data.Dataset.from_tensor_slices(
      {k: np.stack([b[k] for b in batches]) for k in batches[0]})), STEPS)
  replicas = strategy.num_replicas_in_sync
  # per_replica on 2 replicas clips each half; everything else clips the global batch.
  reference_weights = expected[2 if clipping == "per_replica" and replicas == 2 else 1]
  got = weights(model)
  results.append({"path": path, "clipping": clipping, "jit": jit, "loss_scaling": scaling,
                  "replicas": replicas, "iterations": int(optimizer.iterations.numpy()),
                  "difference": max(float(np.max(np.abs(got[k] - reference_weights[k])))
                                    for k in got)})
separation = max((float(np.max(np.abs(expected[1][k] - expected[2][k]))) for k in expected[1]
                  if 2 in expected), default=0.0)
print("RESULT", json.dumps({"runs": results, "separation": separation}))
"""


@pytest.fixture(name="matrix", scope="module")
def fixture_matrix(tmp_path_factory):
  """Runs the combinations in two processes at once (mirrored / the single-device paths)."""
  directory, config = support.write_run_inputs(str(tmp_path_factory.mktemp("records")))
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  processes = [
      subprocess.Popen([
          sys.executable, "-c", SCRIPT,
          json.dumps({
              "config": config,
              "input_file": os.path.join(directory, "train-*"),
              "steps": STEPS,
              "paths": paths
          })
      ], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
      for paths in (["mirrored"], ["one_device", "compiled_update"])
  ]
  runs, separation = [], 0.0
  for process in processes:
    try:
      stdout, stderr = process.communicate(timeout=900)
    finally:
      process.kill()
    assert process.returncode == 0, stderr[-4000:]
    result = json.loads(re.search(r"^RESULT (.*)$", stdout, re.MULTILINE).group(1))
    runs += result["runs"]
    separation = max(separation, result["separation"])
  return {"runs": runs, "separation": separation}


@pytest.mark.slow
def test_every_combination_runs(matrix):
  combos = {(r["path"], r["clipping"], r["jit"], r["loss_scaling"]) for r in matrix["runs"]}
  assert len(combos) == 24
  assert {r["replicas"] for r in matrix["runs"] if r["path"] == "mirrored"} == {2}


@pytest.mark.slow
def test_exactly_one_update_per_step(matrix):
  assert [r for r in matrix["runs"] if r["iterations"] != STEPS] == []


@pytest.mark.slow
def test_weights_equal_the_one_device_reference(matrix):
  # Tolerance 1e-5: only float summation order differs (XLA fusion, the all-reduce). A second
  # update per step, or clipping in the wrong place, moves weights by far more (`separation`:
  # per-half vs global clipping differ by > 1e-3 here).
  assert matrix["separation"] > 1e-3
  assert [r for r in matrix["runs"] if r["difference"] > 1e-5] == []
