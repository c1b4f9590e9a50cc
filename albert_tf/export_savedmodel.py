r"""Exports a trained ALBERT as a TF Serving SavedModel with id and raw-text signatures.

    python -m albert_tf.export_savedmodel --albert_config_file=albert_config.json \
        --init_checkpoint=run1/ --spm_model_file=30k-clean.model --export_dir=serving/albert

writes `serving/albert/<version>/` (version = the checkpoint's global step unless --version) with
the signatures serving_default, mlm, sop, encode_text, encode_text_pair and fill_mask_text; see
docs/serving.md. `--encoder_export_dir` also writes the reusable, fine-tunable encoder SavedModel.

    python -m albert_tf.export_savedmodel --task=classifier --init_checkpoint=ft/sst2 \
        --albert_config_file=albert_config.json --spm_model_file=30k-clean.model \
        --export_dir=serving/sst2

exports a fine-tuned classifier (the run's model.ckpt-best, labels from its label_list.txt) with
classify_text, classify_text_pair, serving_default and the original's serialized_example.
`--task=squad_v1` / `--task=squad_v2` export a fine-tuned SQuAD model (a run_squad output_dir
means its model.ckpt-best) with answer_question (question + context text -> answer).
"""

import os
import sys

from absl import flags
from absl import logging

from albert_tf import checkpoints
from albert_tf import command_line
from albert_tf import file_io
from albert_tf import run_flags
from albert_tf.config import AlbertConfig
from albert_tf.config import AlbertConfigError
from albert_tf.export import classifier_exporter
from albert_tf.export import exporter
from albert_tf.export import qa_exporter
from albert_tf.training import run_identity

FLAGS = flags.FLAGS

_ERROR_PREFIX = "albert-export: error: "
# --max_seq_length when none is given, unless the config has fewer positions.
_DEFAULT_MAX_SEQ_LENGTH = 128

flags.DEFINE_enum(
    "task", "pretraining", ["pretraining", "classifier", "squad_v1", "squad_v2"], "What to "
    "export: the pretrained model (encoder, MLM, SOP), a fine-tuned classifier, or a "
    "fine-tuned SQuAD v1.1/v2.0 model (answer_question).")
flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the model.")
flags.DEFINE_string(
    "init_checkpoint", None, "A training directory or checkpoint prefix of "
    "ours, or an original TF1 checkpoint (e.g. albert_base/model.ckpt-best). "
    "--task=classifier: a fine-tuning run's output_dir means its model.ckpt-best.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model of the vocabulary (English).")
flags.DEFINE_string(
    "vocab_file", None, "WordPiece vocabulary (Chinese models); used when no "
    "--spm_model_file is given.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text as the vocabulary was built.")
flags.DEFINE_string("export_dir", None,
                    "Base directory; the SavedModel goes to <export_dir>/<version>.")
flags.DEFINE_integer(
    "version", None, "Version directory name (default: the checkpoint's global "
    "step; 1 when the checkpoint records none or 0).", lower_bound=0)
flags.DEFINE_bool("overwrite", False, "Replace an existing <export_dir>/<version>.")
flags.DEFINE_integer(
    "max_seq_length", None, "Length the text signatures pack and truncate to "
    "(and, for a classifier, the length of the tf.Example features). Default: "
    f"{_DEFAULT_MAX_SEQ_LENGTH}, or the config's max_position_embeddings when "
    "smaller.", lower_bound=3)
flags.DEFINE_enum(
    "dtype", "float32", exporter.DTYPES, "Compute dtype of the "
    "exported graph (bfloat16: matmuls in bfloat16, float32 weights and outputs).")
flags.DEFINE_bool("text_signatures", True, "Export the raw-text signatures (need a vocabulary).")
# --task=pretraining only.
flags.DEFINE_integer("top_k", 5, "Candidates per [MASK] returned by fill_mask_text.", lower_bound=1)
flags.DEFINE_string(
    "encoder_export_dir", None, "Also write the reusable encoder SavedModel here "
    "(TF-Hub style: callable on the dict inputs, with trainable variables).")
flags.DEFINE_bool(
    "tflite", False, "Also write <export_dir>/<version>/model.tflite: encode_text and "
    "fill_mask_text on raw text for TFLite/LiteRT (builtins + tensorflow-text kernels).")
flags.DEFINE_enum(
    "tflite_quantization", "none", ["none", "dynamic_int8"], "With --tflite, "
    "dynamic_int8 also writes model_int8.tflite: int8 weights, float activations, no "
    "representative sample needed (full-integer int8 is not offered: see docs/serving.md).")
# --task=classifier only.
flags.DEFINE_list(
    "label_list", None, "The label names in label-id order, comma-separated "
    "(default: the label_list.txt next to the checkpoint).")
flags.DEFINE_integer(
    "num_labels", None, "The number of labels; names 0..num_labels-1 when "
    "neither --label_list nor a label_list.txt gives them.", lower_bound=1)
flags.DEFINE_bool("is_regression", False, "The classifier outputs one score (e.g. STS-B).")
flags.DEFINE_float(
    "threshold_to_export", float("nan"), "A threshold the serialized_example "
    "signature returns as a constant `threshold` output (as the original).")
# --task=squad_v1 / squad_v2 only (the run_squad flags of the same names).
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of two context windows.",
                     lower_bound=1)
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept.", lower_bound=1)
flags.DEFINE_integer("n_best_size", 20, "v1: start and end positions searched per window.",
                     lower_bound=1)
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens.", lower_bound=1)
flags.DEFINE_integer("start_n_top", 5, "v2: the model's top start positions.", lower_bound=1)
flags.DEFINE_integer("end_n_top", 5, "v2: the model's top end positions per start.", lower_bound=1)
flags.DEFINE_float(
    "null_score_diff_threshold", 0.0, "v2: answer_question says no answer when the null "
    "score (null_odds.json) is >= this.")
# NaN is the original's "no threshold" (run_classifier's default).
run_flags.register_finite("threshold_to_export", nan_means_unset=True)
run_flags.register_finite("null_score_diff_threshold")

_SHARED_FLAGS = ("albert_config_file", "init_checkpoint", "export_dir", "spm_model_file",
                 "vocab_file", "do_lower_case", "version", "overwrite", "max_seq_length", "dtype",
                 "text_signatures")
_TASK_FLAGS = {
    "pretraining": ("top_k", "encoder_export_dir", "tflite", "tflite_quantization"),
    "classifier": ("label_list", "num_labels", "is_regression", "threshold_to_export"),
    "squad_v1": ("doc_stride", "max_query_length", "n_best_size", "max_answer_length"),
    "squad_v2": ("doc_stride", "max_query_length", "n_best_size", "max_answer_length",
                 "start_n_top", "end_n_top", "null_score_diff_threshold"),
}
_ARGUMENT_NAMES = {"threshold_to_export": "threshold"}


def _max_seq_length() -> int:
  """--max_seq_length, else the default that fits the config's position embeddings."""
  if FLAGS.max_seq_length is not None:
    return FLAGS.max_seq_length
  exporter.check_required(albert_config_file=FLAGS.albert_config_file)
  config = AlbertConfig.from_json_file(FLAGS.albert_config_file)
  length = min(_DEFAULT_MAX_SEQ_LENGTH, config.max_position_embeddings)
  logging.info("--max_seq_length=%d (the smaller of %d and max_position_embeddings=%d of %s)",
               length, _DEFAULT_MAX_SEQ_LENGTH, config.max_position_embeddings,
               FLAGS.albert_config_file)
  return length


def _check_outputs_spare_inputs() -> None:
  """Refuses export directories that are, or hold, a file the export reads, or each other.

  `<export_dir>/<version>` and --encoder_export_dir are replaced whole (with --overwrite), so one
  holding the checkpoint, the config or the vocabulary would delete it. A checkpoint that cannot
  be read is left to the export, which reports it after the cheaper checks.
  """
  if not FLAGS.init_checkpoint or not FLAGS.export_dir:
    return  # the export names the missing flag
  try:
    if FLAGS.task != "pretraining":  # a fine-tuning run directory means its best checkpoint
      prefix = classifier_exporter.classifier_checkpoint_prefix(FLAGS.init_checkpoint)
    else:
      prefix = checkpoints.resolve_checkpoint_prefix(FLAGS.init_checkpoint)
    version = exporter.serving_version(FLAGS.version, prefix)
  except (checkpoints.CheckpointError, exporter.ExportError):
    return
  directories = [("--export_dir", os.path.join(FLAGS.export_dir, str(version)))]
  if FLAGS.task == "pretraining" and FLAGS.encoder_export_dir:
    directories.append(("--encoder_export_dir", FLAGS.encoder_export_dir))
  inputs = [("--init_checkpoint", prefix)]
  inputs += [(f"--{name}", FLAGS[name].value)
             for name in ("albert_config_file", "spm_model_file", "vocab_file")
             if FLAGS[name].value]
  try:
    file_io.check_outputs_spare_inputs([], inputs, output_directories=directories)
  except file_io.OutputOverlapError as error:
    raise exporter.ExportError(str(error)) from None


def _export() -> str:
  """Runs the export of --task with its flags; returns the version directory."""
  warning = run_identity.other_vocabulary_message(FLAGS.init_checkpoint,
                                                  spm_model_file=FLAGS.spm_model_file,
                                                  vocab_file=FLAGS.vocab_file,
                                                  do_lower_case=FLAGS.do_lower_case)
  if warning:
    logging.warning("%s", warning)
  for task, names in _TASK_FLAGS.items():
    for name in names:
      if name not in _TASK_FLAGS[FLAGS.task] and FLAGS[name].present:
        raise exporter.ExportError(f"--{name} applies to --task={task}, not --task={FLAGS.task}")
  _check_outputs_spare_inputs()
  names = _SHARED_FLAGS + _TASK_FLAGS[FLAGS.task]
  arguments = {_ARGUMENT_NAMES.get(name, name): FLAGS[name].value for name in names}
  if FLAGS.task in ("squad_v1", "squad_v2"):  # max_seq_length: run_squad's default when omitted
    return qa_exporter.export_squad_from_checkpoint(version_2=FLAGS.task == "squad_v2", **arguments)
  arguments["max_seq_length"] = _max_seq_length()
  if FLAGS.task == "classifier":
    return classifier_exporter.export_classifier_from_checkpoint(**arguments)
  return exporter.export_savedmodel(**arguments)


def main(argv):
  del argv  # Unused.
  try:
    path = _export()
  except (exporter.ExportError, AlbertConfigError, run_identity.RunIdentityError,
          FileNotFoundError) as error:
    sys.exit(f"{_ERROR_PREFIX}{error}")
  print(f"Exported {os.path.abspath(path)}")


def run():
  """Console-script entry point (`albert-export`)."""
  command_line.run(main, _ERROR_PREFIX)


if __name__ == "__main__":
  run()
