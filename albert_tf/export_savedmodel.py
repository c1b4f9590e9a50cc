r"""Exports a trained ALBERT as a TF Serving SavedModel with id and raw-text signatures.

    python -m albert_tf.export_savedmodel --albert_config_file=albert_config.json \
        --init_checkpoint=run1/ --spm_model_file=30k-clean.model --export_dir=serving/albert

writes `serving/albert/<version>/` (version = the checkpoint's global step unless --version) with
the signatures serving_default, mlm, sop, encode_text, encode_text_pair and fill_mask_text; see
docs/serving.md. `--encoder_export_dir` also writes the reusable, fine-tunable encoder SavedModel.
"""

import os
import sys

from absl import app
from absl import flags

from albert_tf.config import AlbertConfigError
from albert_tf.export import exporter

FLAGS = flags.FLAGS

flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the model.")
flags.DEFINE_string("init_checkpoint", None, "A training directory or checkpoint prefix of "
                    "ours, or an original TF1 checkpoint (e.g. albert_base/model.ckpt-best).")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model of the vocabulary (English).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary (Chinese models); used when no "
                    "--spm_model_file is given.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text as the vocabulary was built.")
flags.DEFINE_string("export_dir", None,
                    "Base directory; the SavedModel goes to <export_dir>/<version>.")
flags.DEFINE_integer("version", None, "Version directory name (default: the checkpoint's global "
                     "step; 1 when the checkpoint records none or 0).")
flags.DEFINE_bool("overwrite", False, "Replace an existing <export_dir>/<version>.")
flags.DEFINE_integer("max_seq_length", 128, "Length the text signatures pack and truncate to.")
flags.DEFINE_integer("top_k", 5, "Candidates per [MASK] returned by fill_mask_text.")
flags.DEFINE_enum("dtype", "float32", sorted(exporter.DTYPE_POLICIES), "Compute dtype of the "
                  "exported graph (bfloat16: matmuls in bfloat16, float32 weights and outputs).")
flags.DEFINE_bool("text_signatures", True,
                  "Export encode_text/fill_mask_text (needs a vocabulary).")
flags.DEFINE_string("encoder_export_dir", None, "Also write the reusable encoder SavedModel here "
                    "(TF-Hub style: callable on the dict inputs, with trainable variables).")


_FLAG_NAMES = ("albert_config_file", "init_checkpoint", "export_dir", "spm_model_file",
               "vocab_file", "do_lower_case", "version", "overwrite", "max_seq_length", "top_k",
               "dtype", "text_signatures", "encoder_export_dir")


def main(argv):
  del argv  # Unused.
  try:
    path = exporter.export_savedmodel(**{name: FLAGS[name].value for name in _FLAG_NAMES})
  except (exporter.ExportError, AlbertConfigError, FileNotFoundError) as error:
    print(f"albert-export: error: {error}", file=sys.stderr)
    sys.exit(1)
  print(f"Exported {os.path.abspath(path)}")


def run():
  """Console-script entry point (`albert-export`)."""
  app.run(main)


if __name__ == "__main__":
  run()
