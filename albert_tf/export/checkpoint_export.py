"""Clean TF1-named checkpoints from ours or original ones (what export_checkpoints runs)."""

import os
from typing import Optional

from albert_tf import checkpoints
from albert_tf import file_io
from albert_tf.config import AlbertConfig
from albert_tf.models.albert_pretrainer import AlbertPretrainer


class ExportCheckpointError(ValueError):
  """A user error; the message names the flag or file and the fix."""


def export_checkpoint(*, export_path: str, albert_directory: Optional[str] = None,
                      checkpoint_name: str = checkpoints.BEST_CHECKPOINT_NAME,
                      albert_config_file: Optional[str] = None,
                      init_checkpoint: Optional[str] = None) -> str:
  """Loads a checkpoint (ours or original) and writes it back with the original names.

  Returns:
    The prefix written.

  Raises:
    ExportCheckpointError: missing flags, a checkpoint that is absent or does not match, or an
      --export_path that is the checkpoint read.
    AlbertConfigError: the config file is invalid.
  """
  if not export_path:
    raise ExportCheckpointError("--export_path is required")
  if not albert_config_file:
    if not albert_directory:
      raise ExportCheckpointError("pass --albert_directory, or --albert_config_file and "
                                  "--init_checkpoint")
    albert_config_file = os.path.join(albert_directory, "albert_config.json")
  source_flag = "--init_checkpoint"
  if not init_checkpoint:
    if not albert_directory:
      raise ExportCheckpointError("pass --init_checkpoint, or --albert_directory")
    init_checkpoint = os.path.join(albert_directory, checkpoint_name)
    source_flag = "--albert_directory/--checkpoint_name"
  try:
    init_checkpoint = checkpoints.resolve_checkpoint_prefix(init_checkpoint)
    # A slim export over the training checkpoint it reads would lose its slots and step for good.
    file_io.check_outputs_spare_inputs([("--export_path", export_path)],
                                       [(source_flag, init_checkpoint)])
  except (checkpoints.CheckpointError, file_io.OutputOverlapError) as error:
    raise ExportCheckpointError(" ".join(str(error).split())) from error
  pretrainer = AlbertPretrainer(AlbertConfig.from_json_file(albert_config_file))
  try:
    checkpoints.load_checkpoint(pretrainer, init_checkpoint)
  except checkpoints.CheckpointError as error:  # not found, unreadable, or not matching
    raise ExportCheckpointError(" ".join(str(error).split())) from error
  try:
    return checkpoints.save_original_checkpoint(pretrainer, export_path, global_step=0)
  except ValueError as error:
    raise ExportCheckpointError(str(error)) from error
