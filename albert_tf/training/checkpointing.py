"""Training checkpoints: model + optimizer + step in output_dir, data position per worker.

Files: `output_dir/model.ckpt-<step>.{index,data-*}` hold `tf.train.Checkpoint(model=pretrainer,
optimizer=optimizer)` (the optimizer carries the step as `iterations`, so the schedule resumes too);
`output_dir/input_pipeline/worker-<k>/ckpt-<step>.*` hold each worker's tf.data iterator, so a
restarted run reads on from where it stopped. Under MultiWorkerMirroredStrategy every worker takes
part in saving; only the chief writes to output_dir, the others to a scratch directory they delete.
"""

import os
import re

from absl import logging
import tensorflow as tf

CHECKPOINT_NAME = "model.ckpt"
BEST_CHECKPOINT_PREFIX = CHECKPOINT_NAME + "-best"
_STEP_PATTERN = re.compile(r"-(\d+)$")


def checkpoint_step(path: str) -> int:
  """The step encoded in a checkpoint prefix such as `dir/model.ckpt-500`."""
  match = _STEP_PATTERN.search(path)
  if not match:
    raise ValueError(f"{path} is not a model.ckpt-<step> checkpoint prefix.")
  return int(match.group(1))


class TrainingCheckpoints:
  """Saves and restores a run's state at matching steps.

  Example:

  >>> checkpoints = TrainingCheckpoints(output_dir, pretrainer, optimizer, iterator,
  ...                                   keep_checkpoint_max=5)
  >>> step = checkpoints.restore_latest()   # 0 for a fresh run
  >>> checkpoints.save(step=1000)

  Args:
    output_dir: the run's directory.
    model: the AlbertPretrainer (saved as `model`, what albert_tf.load_checkpoint reads).
    optimizer: the optimizer (slots and `iterations`).
    iterator: this worker's tf.data iterator, or None when the data position is not kept.
    keep_checkpoint_max: model checkpoints kept (older ones are deleted).
    is_chief: whether this worker owns output_dir.
    worker_index: this worker's index (names its data-position directory).
  """

  def __init__(self, output_dir: str, model: tf.Module, optimizer: tf.Module,
               iterator: tf.data.Iterator | None, keep_checkpoint_max: int = 5,
               is_chief: bool = True, worker_index: int = 0):
    self.output_dir = output_dir
    self._is_chief = is_chief
    self._write_dir = output_dir if is_chief else os.path.join(output_dir,
                                                               f".worker-{worker_index}-scratch")
    self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    self._manager = tf.train.CheckpointManager(self.checkpoint, self._write_dir,
                                               max_to_keep=keep_checkpoint_max,
                                               checkpoint_name=CHECKPOINT_NAME)
    self._input_manager = None
    if iterator is not None:
      input_dir = os.path.join(output_dir, "input_pipeline", f"worker-{worker_index}")
      self._input_manager = tf.train.CheckpointManager(
          tf.train.Checkpoint(iterator=iterator), input_dir, max_to_keep=keep_checkpoint_max)

  @property
  def latest(self) -> str | None:
    """The newest model checkpoint prefix in output_dir, if any."""
    return tf.train.latest_checkpoint(self.output_dir)

  def restore_latest(self) -> int:
    """Restores the newest checkpoint of output_dir (and the matching data position).

    Returns:
      The restored step, or 0 when output_dir holds no checkpoint.
    """
    latest = self.latest
    if latest is None:
      return 0
    step = checkpoint_step(latest)
    self.checkpoint.restore(latest).assert_existing_objects_matched()
    logging.info("Resumed from %s (step %d).", latest, step)
    if self._input_manager is not None:
      input_checkpoint = os.path.join(self._input_manager.directory, f"ckpt-{step}")
      if tf.io.gfile.exists(input_checkpoint + ".index"):
        self._input_manager.checkpoint.restore(input_checkpoint).assert_consumed()
      else:
        logging.warning("No data position saved for step %d in %s: reading the input from its "
                        "start.", step, self._input_manager.directory)
    return step

  def save(self, step: int) -> str:
    """Writes the model checkpoint and this worker's data position at `step`."""
    path = self._manager.save(checkpoint_number=step)
    if self._input_manager is not None:
      self._input_manager.save(checkpoint_number=step)
    if not self._is_chief:
      tf.io.gfile.rmtree(self._write_dir)
    logging.info("Saved %s.", path)
    return path

  def keep_as_best(self, path: str) -> None:
    """Copies the checkpoint files of `path` to model.ckpt-best.* (via temporary names)."""
    # Data files first: the index is what makes a checkpoint prefix loadable.
    for source in sorted(tf.io.gfile.glob(path + ".*")):
      suffix = source[len(path):]
      target = os.path.join(self.output_dir, BEST_CHECKPOINT_PREFIX + suffix)
      tf.io.gfile.copy(source, target + ".tmp", overwrite=True)
      tf.io.gfile.rename(target + ".tmp", target, overwrite=True)
    logging.info("Kept %s as %s.", path, BEST_CHECKPOINT_PREFIX)
