r"""Writes a clean TF1-named checkpoint, like the original `export_checkpoints.py`.

    python -m albert_tf.export_checkpoints --albert_directory=run1 \
        --checkpoint_name=model.ckpt-best --export_path=clean/model.ckpt-best

The result holds the model, MLM and SOP variables under the original names, a fresh global_step=0
and no optimizer slots, so the original code and Hugging Face's converter read what we train.
`--albert_config_file`/`--init_checkpoint` name the config and checkpoint directly instead.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging

from albert_tf import checkpoints
from albert_tf.config import AlbertConfig
from albert_tf.config import AlbertConfigError
from albert_tf.models.albert_pretrainer import AlbertPretrainer

FLAGS = flags.FLAGS

flags.DEFINE_string("albert_directory", None, "Directory with albert_config.json and the "
                    "checkpoint (the original's layout; our training output_dir has it too).")
flags.DEFINE_string("checkpoint_name", "model.ckpt-best",
                    "Checkpoint name inside --albert_directory.")
flags.DEFINE_bool("do_lower_case", True, "Accepted for compatibility; unused (as in the original).")
flags.DEFINE_string("export_path", None,
                    "Prefix of the checkpoint to write, e.g. out/model.ckpt-best.")
flags.DEFINE_string("albert_config_file", None, "Config file (instead of "
                    "--albert_directory/albert_config.json).")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint prefix or directory (instead of "
                    "--albert_directory/--checkpoint_name).")


class ExportCheckpointError(ValueError):
  """A user error; the message names the flag or file and the fix."""


def export_checkpoint(*, export_path: str, albert_directory: str = None,
                      checkpoint_name: str = "model.ckpt-best", albert_config_file: str = None,
                      init_checkpoint: str = None) -> str:
  """Loads a checkpoint (ours or original) and writes it back with the original names.

  Returns:
    The prefix written.

  Raises:
    ExportCheckpointError: missing flags, or a checkpoint that is absent or does not match.
    AlbertConfigError: the config file is invalid.
  """
  if not export_path:
    raise ExportCheckpointError("--export_path is required")
  if not albert_config_file:
    if not albert_directory:
      raise ExportCheckpointError("pass --albert_directory, or --albert_config_file and "
                                  "--init_checkpoint")
    albert_config_file = os.path.join(albert_directory, "albert_config.json")
  if not init_checkpoint:
    if not albert_directory:
      raise ExportCheckpointError("pass --init_checkpoint, or --albert_directory")
    init_checkpoint = os.path.join(albert_directory, checkpoint_name)
  pretrainer = AlbertPretrainer(AlbertConfig.from_json_file(albert_config_file))
  try:
    checkpoints.load_checkpoint(pretrainer, init_checkpoint)
  except (checkpoints.CheckpointNotFoundError, checkpoints.CheckpointMismatchError) as error:
    raise ExportCheckpointError(" ".join(str(error).split())) from error
  try:
    return checkpoints.save_original_checkpoint(pretrainer, export_path, global_step=0)
  except ValueError as error:
    raise ExportCheckpointError(str(error)) from error


def main(argv):
  del argv  # Unused.
  try:
    prefix = export_checkpoint(export_path=FLAGS.export_path,
                               albert_directory=FLAGS.albert_directory,
                               checkpoint_name=FLAGS.checkpoint_name,
                               albert_config_file=FLAGS.albert_config_file,
                               init_checkpoint=FLAGS.init_checkpoint)
  except (ExportCheckpointError, AlbertConfigError, FileNotFoundError) as error:
    print(f"albert-export-checkpoints: error: {error}", file=sys.stderr)
    sys.exit(1)
  logging.info("Wrote %s", prefix)
  print(f"Exported {prefix}")


def run():
  """Console-script entry point (`albert-export-checkpoints`)."""
  app.run(main)


if __name__ == "__main__":
  run()
