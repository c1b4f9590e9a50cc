r"""Writes a clean TF1-named checkpoint, like the original `export_checkpoints.py`.

    python -m albert_tf.export_checkpoints --albert_directory=run1 \
        --checkpoint_name=model.ckpt-best --export_path=clean/model.ckpt-best

The result holds the model, MLM and SOP variables under the original names, a fresh global_step=0
and no optimizer slots, so the original code and Hugging Face's converter read what we train.
`--albert_config_file`/`--init_checkpoint` name the config and checkpoint directly instead.
"""

import sys

from absl import flags
from absl import logging

from albert_tf import command_line
from albert_tf.config import AlbertConfigError
from albert_tf.export import checkpoint_export

FLAGS = flags.FLAGS

_ERROR_PREFIX = "albert-export-checkpoints: error: "

flags.DEFINE_string(
    "albert_directory", None, "Directory with albert_config.json and the "
    "checkpoint (the original's layout; our training output_dir has it too).")
flags.DEFINE_string("checkpoint_name", "model.ckpt-best",
                    "Checkpoint name inside --albert_directory.")
flags.DEFINE_bool("do_lower_case", True, "Accepted for compatibility; unused (as in the original).")
flags.DEFINE_string("export_path", None,
                    "Prefix of the checkpoint to write, e.g. out/model.ckpt-best.")
flags.DEFINE_string("albert_config_file", None, "Config file (instead of "
                    "--albert_directory/albert_config.json).")
flags.DEFINE_string(
    "init_checkpoint", None, "Checkpoint prefix or directory (instead of "
    "--albert_directory/--checkpoint_name).")


def main(argv):
  del argv  # Unused.
  try:
    prefix = checkpoint_export.export_checkpoint(export_path=FLAGS.export_path,
                                                 albert_directory=FLAGS.albert_directory,
                                                 checkpoint_name=FLAGS.checkpoint_name,
                                                 albert_config_file=FLAGS.albert_config_file,
                                                 init_checkpoint=FLAGS.init_checkpoint)
  except (checkpoint_export.ExportCheckpointError, AlbertConfigError, FileNotFoundError) as error:
    sys.exit(f"{_ERROR_PREFIX}{error}")
  logging.info("Wrote %s", prefix)
  print(f"Exported {prefix}")


def run():
  """Console-script entry point (`albert-export-checkpoints`)."""
  command_line.run(main, _ERROR_PREFIX)


if __name__ == "__main__":
  run()
