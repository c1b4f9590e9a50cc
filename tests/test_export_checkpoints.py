"""albert-export-checkpoints: a clean TF1-named checkpoint that loads back to identical outputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from albert_tf import AlbertConfig
from albert_tf import AlbertPretrainer
from albert_tf import load_checkpoint
from albert_tf.checkpoint_names import original_variable_shapes
from albert_tf.export.checkpoint_export import ExportCheckpointError
from albert_tf.export.checkpoint_export import export_checkpoint

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _inputs():
  rng = np.random.default_rng(0)
  return {
      "input_word_ids": tf.constant(rng.integers(0, 99, [2, 10]), tf.int32),
      "input_mask": tf.constant([[1] * 10, [1] * 6 + [0] * 4], tf.int32),
      "input_type_ids": tf.constant([[0] * 5 + [1] * 5] * 2, tf.int32),
      "masked_lm_positions": tf.constant([[1, 3], [2, 5]], tf.int32),
  }


@pytest.fixture(scope="module")
def training_directory(tmp_path_factory):
  """Like a run_pretraining output_dir: config, object-based model.ckpt-best with Adam slots."""
  directory = tmp_path_factory.mktemp("run")
  config = AlbertConfig.from_preset("albert_tiny_grouped_test")
  config.to_json_file(str(directory / "albert_config.json"))
  pretrainer = AlbertPretrainer(config)
  optimizer = tf_keras.optimizers.Adam(1e-3)
  with tf.GradientTape() as tape:
    outputs = pretrainer(_inputs(), training=True)
    loss = tf.reduce_sum(outputs["mlm_logits"]**2) + tf.reduce_sum(outputs["sop_logits"]**2)
  variables = pretrainer.trainable_variables
  optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
  tf.train.Checkpoint(model=pretrainer,
                      optimizer=optimizer).write(str(directory / "model.ckpt-best"))
  return directory, config, pretrainer


def test_cli_writes_clean_original_checkpoint(training_directory, tmp_path):
  directory, config, pretrainer = training_directory
  export_path = str(tmp_path / "clean" / "model.ckpt-best")
  result = subprocess.run([
      sys.executable, "-m", "albert_tf.export_checkpoints", f"--albert_directory={directory}",
      f"--export_path={export_path}"
  ], env={
      **os.environ, "PYTHONPATH": REPO_ROOT
  }, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]

  written = dict(tf.train.list_variables(export_path))
  expected = {name: list(shape) for name, shape in original_variable_shapes(config).items()}
  assert written == {**expected, "global_step": []}
  assert any(name.startswith("cls/predictions/") for name in written)
  assert "cls/seq_relationship/output_weights" in written
  assert tf.train.load_checkpoint(export_path).get_tensor("global_step") == 0

  reloaded = AlbertPretrainer(config)
  load_checkpoint(reloaded, export_path)
  expected_outputs = pretrainer(_inputs(), training=False)
  got_outputs = reloaded(_inputs(), training=False)
  for key in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits"):
    np.testing.assert_array_equal(got_outputs[key].numpy(), expected_outputs[key].numpy())


def test_config_and_checkpoint_flags_instead_of_directory(training_directory, tmp_path):
  directory, config, _ = training_directory
  prefix = export_checkpoint(export_path=str(tmp_path / "model.ckpt"),
                             albert_config_file=str(directory / "albert_config.json"),
                             init_checkpoint=str(directory))
  assert set(dict(
      tf.train.list_variables(prefix))) == set(original_variable_shapes(config)) | {"global_step"}


def test_missing_checkpoint_is_one_line(training_directory, tmp_path):
  directory, _, _ = training_directory
  with pytest.raises(ExportCheckpointError) as error:
    export_checkpoint(export_path=str(tmp_path / "model.ckpt"), albert_directory=str(directory),
                      checkpoint_name="model.ckpt-404")
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith(f"checkpoint {directory / 'model.ckpt-404'} does not exist")
  assert not list(tmp_path.glob("model.ckpt*"))


def test_missing_flags():
  with pytest.raises(ExportCheckpointError, match="^--export_path is required$"):
    export_checkpoint(export_path=None, albert_directory="x")
  with pytest.raises(ExportCheckpointError, match="^pass --albert_directory, or"):
    export_checkpoint(export_path="out/model.ckpt")
