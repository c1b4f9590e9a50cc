"""Training checkpoints: model + optimizer + step in output_dir, data position per worker.

Files: `output_dir/model.ckpt-<step>.{index,data-*}` hold `checkpoints.training_checkpoint`: the
model, the optimizer (its `iterations` is the step, so the schedule resumes too) and `global_step`;
`output_dir/input_pipeline/worker-<k>/ckpt-<step>.*` hold each worker's tf.data iterator, so a
restarted run reads on from where it stopped. Under MultiWorkerMirroredStrategy every worker takes
part in saving; only the chief writes to output_dir, the others to a scratch directory they delete.
"""

import functools
import os

from absl import logging
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf import file_io


class UnrestorableRunError(checkpoints.CheckpointError):
  """output_dir holds model checkpoints but none can be restored; the message is one line."""


def checkpoint_step(path: str) -> int:
  """The step encoded in a checkpoint prefix such as `dir/model.ckpt-500`."""
  step = checkpoints.step_in_name(path)
  if step is None:
    raise ValueError(f"{path} is not a {checkpoints.CHECKPOINT_NAME}-<step> checkpoint prefix.")
  return step


class TrainingCheckpoints:
  """Saves and restores a run's state at matching steps.

  Example:
    checkpoints = TrainingCheckpoints(output_dir, pretrainer, optimizer, iterator,
                                      keep_checkpoint_max=5)
    step = checkpoints.restore_latest()   # 0 for a fresh run
    path = checkpoints.save(step=1000)    # output_dir/model.ckpt-1000

  Args:
    output_dir: the run's directory.
    model: the task's model (saved as `model`, what albert_tf.load_checkpoint reads).
    optimizer: the optimizer (slots and `iterations`, also saved as `global_step`).
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
    self.checkpoint = checkpoints.training_checkpoint(model, optimizer)
    self._manager = tf.train.CheckpointManager(self.checkpoint, self._write_dir,
                                               max_to_keep=keep_checkpoint_max,
                                               checkpoint_name=checkpoints.CHECKPOINT_NAME)
    self._input_manager = None
    if iterator is not None:
      input_dir = os.path.join(output_dir, "input_pipeline", f"worker-{worker_index}")
      self._input_manager = tf.train.CheckpointManager(tf.train.Checkpoint(iterator=iterator),
                                                       input_dir, max_to_keep=keep_checkpoint_max)

  @property
  def latest(self) -> str | None:
    """The newest model checkpoint prefix in output_dir, if any."""
    return tf.train.latest_checkpoint(self.output_dir)

  @functools.cached_property
  def resume_point(self) -> str | None:
    """The newest readable checkpoint of output_dir, or None when it holds none (a fresh start).

    A newer checkpoint that is missing or unreadable (files deleted or truncated while the
    `checkpoint` file still lists it) is skipped with a warning saying why. A training run asks
    before it writes anything, so that a refusal leaves output_dir as it was.

    Raises:
      UnrestorableRunError: output_dir holds checkpoint files but none can be restored.
    """
    problems = []
    for prefix in self._numbered_prefixes():
      problem = _unreadable(prefix)
      if problem is None:
        if problems:
          logging.warning(
              "Resuming from %s, the newest readable checkpoint; the newer ones are unreadable "
              "(above) and will be written again.", prefix)
        return prefix
      logging.warning("Cannot resume from %s: %s.", prefix, problem)
      problems.append(f"{os.path.basename(prefix)}: {problem}")
    leftovers = tf.io.gfile.glob(os.path.join(self.output_dir, checkpoints.CHECKPOINT_NAME + "-*"))
    if leftovers:
      raise UnrestorableRunError(
          f"{self.output_dir} holds checkpoint files ({_summary(leftovers)}) but none can be "
          f"restored ({'; '.join(problems) or 'no .index file'}); a fresh start would overwrite "
          "them: move them away to start afresh, or pass a new --output_dir.")
    return None

  def restore_latest(self) -> int:
    """Restores `resume_point` (and the matching data position).

    Returns:
      The restored step, or 0 when output_dir holds no checkpoint.

    Raises:
      UnrestorableRunError: output_dir holds checkpoint files but none can be restored.
    """
    prefix = self.resume_point
    if prefix is None:
      return 0
    step = checkpoint_step(prefix)
    self.checkpoint.restore(prefix).assert_existing_objects_matched()
    logging.info("Resumed from %s (step %d).", prefix, step)
    self._restore_data_position(step)
    return step

  def _numbered_prefixes(self) -> list[str]:
    """The model checkpoints of output_dir (listed in `checkpoint` or present), newest first."""
    state = tf.train.get_checkpoint_state(self.output_dir)
    listed = state.all_model_checkpoint_paths if state else []
    present = [
        path[:-len(".index")] for path in tf.io.gfile.glob(
            os.path.join(self.output_dir, checkpoints.CHECKPOINT_NAME + "-*.index"))
    ]
    # Joined anew to output_dir: a run directory that was moved keeps old paths in `checkpoint`.
    names = {os.path.basename(path) for path in list(listed) + present}
    prefixes = [
        os.path.join(self.output_dir, name)
        for name in names
        if checkpoints.step_in_name(name) is not None
    ]
    return sorted(prefixes, key=checkpoint_step, reverse=True)

  def _restore_data_position(self, step: int) -> None:
    if self._input_manager is None:
      return
    input_checkpoint = os.path.join(self._input_manager.directory, f"ckpt-{step}")
    if tf.io.gfile.exists(input_checkpoint + ".index"):
      self._input_manager.checkpoint.restore(input_checkpoint).assert_consumed()
    else:
      logging.warning(
          "No data position saved for step %d in %s: reading the input from its "
          "start.", step, self._input_manager.directory)

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
    best = os.path.join(self.output_dir, checkpoints.BEST_CHECKPOINT_NAME)
    # Renamed into place once all are copied, the index (what makes a prefix loadable) last.
    with file_io.atomic_prefix(best) as temporary:
      for source in tf.io.gfile.glob(path + ".*"):
        file_io.copy_file(source, temporary + source[len(path):])
    logging.info("Kept %s as %s.", path, checkpoints.BEST_CHECKPOINT_NAME)


def _unreadable(prefix: str) -> str | None:
  """Why the checkpoint `prefix` cannot be restored, or None when all its tensors read.

  Every tensor is read before restoring: a restore that fails halfway would leave the model
  partly restored and slot restorations queued from the bad checkpoint.
  """
  if not tf.io.gfile.exists(prefix + ".index"):
    return "its .index file is missing"
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError, IndexError) as error:  # IndexError: a truncated file
    return str(error).strip().splitlines()[0]
  return None


def _summary(paths: list[str], shown: int = 4) -> str:
  names = sorted(os.path.basename(path) for path in paths)
  more = f" and {len(names) - shown} more" if len(names) > shown else ""
  return ", ".join(names[:shown]) + more
