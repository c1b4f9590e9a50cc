r"""Fine-tunes ALBERT for sentence (pair) classification or regression: GLUE, Chinese tasks
(LCQMC, CLUE) and your own tsv/csv/JSON-lines files.

Every flag of the original run_classifier.py keeps its name and default; the strategy, mixed
precision, XLA and seed flags are run_pretraining's. Restarting the same command resumes from the
newest checkpoint in --output_dir.

  python -m albert_tf.run_classifier --task_name=MNLI --data_dir=glue \
    --albert_config_file=albert_base/albert_config.json \
    --spm_model_file=albert_base/30k-clean.model \
    --init_checkpoint=albert_base/model.ckpt-best --output_dir=ft/mnli --max_seq_length=128 \
    --do_train --do_eval --do_predict --export_dir=serving/mnli
"""

from absl import flags

from albert_tf import run_flags
from albert_tf.training import options

FLAGS = flags.FLAGS

_ERROR_PREFIX = "albert-run-classifier: error: "
_DEFAULT = options.defaults(options.ClassifierOptions)
# ClassifierOptions fields whose flag has another name (the original's).
_FLAG_NAMES = {"num_train_steps": "train_step", "num_warmup_steps": "warmup_step"}

# The original flags (finetuning.md §1), same names and defaults.
flags.DEFINE_string(
    "data_dir", None, "The task's data: GLUE's data_dir/<TASK>/*.tsv, the Chinese "
    "task's directory, or your own train/dev/test files.")
flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the pretrained model.")
flags.DEFINE_string(
    "task_name", None, "The task: cola, mnli, mismnli, mrpc, rte, sst-2, sts-b, "
    "qqp, qnli, wnli, lcqmc, afqmc, tnews, iflytek, cmnli, csl, or generic (your "
    "own files).")
flags.DEFINE_string("vocab_file", _DEFAULT["vocab_file"], "WordPiece vocab.txt (Chinese models), "
                    "when there is no --spm_model_file.")
flags.DEFINE_string("spm_model_file", _DEFAULT["spm_model_file"], "The SentencePiece model of the "
                    "pretrained model.")
flags.DEFINE_string(
    "output_dir", None, "Checkpoints, eval_results.txt, best_trial.txt, "
    "test_results.tsv and submit_results.tsv go here; a rerun resumes from here.")
flags.DEFINE_string(
    "cached_dir", _DEFAULT["cached_dir"], "Where the feature TFRecords are "
    "cached (default: --output_dir); rebuilt whenever the data, task, vocabulary "
    "or length change.")
flags.DEFINE_string(
    "init_checkpoint", _DEFAULT["init_checkpoint"], "Warm start: an original TF1 "
    "pretraining or fine-tuned checkpoint, or an albert-tf one (ignored when "
    "--output_dir has a checkpoint).")
flags.DEFINE_string(
    "albert_hub_module_handle", _DEFAULT["albert_hub_module_handle"], "A directory "
    "with a SavedModel encoder (albert-export's encoder/, or a TF2 TF-Hub-style "
    "ALBERT) to fine-tune instead of --albert_config_file + --init_checkpoint.")
flags.DEFINE_bool("do_lower_case", _DEFAULT["do_lower_case"], "Lower-case the input text (uncased "
                  "models).")
flags.DEFINE_integer(
    "max_seq_length", _DEFAULT["max_seq_length"], "Tokens per example after "
    "WordPiece/SentencePiece; longer pairs are truncated longest-first.", lower_bound=1)
flags.DEFINE_bool("do_train", _DEFAULT["do_train"], "Fine-tune on the train split.")
flags.DEFINE_bool(
    "do_eval", _DEFAULT["do_eval"], "Evaluate on the dev split: after each "
    "checkpoint when training, else every checkpoint of --output_dir as it appears.")
flags.DEFINE_bool(
    "do_predict", _DEFAULT["do_predict"], "Predict the test split with "
    "model.ckpt-best (else the newest checkpoint, else a fine-tuned "
    "--init_checkpoint).")
run_flags.define_finetuning_flags(_DEFAULT)
flags.DEFINE_string(
    "export_dir", _DEFAULT["export_dir"], "Export the best checkpoint as a TF "
    "Serving SavedModel (export_dir/<step>/) with classify_text, serving_default "
    "and the original's serialized tf.Example signature.")
flags.DEFINE_float(
    "threshold_to_export", _DEFAULT["threshold_to_export"], "Adds this constant "
    "`threshold` output to the serialized-example signature (the original's "
    "--threshold_to_export).")

# New flags: your own data (--task_name=generic).
flags.DEFINE_string("text_a_column", "text_a", "generic: the column (or JSON field) of the text.")
flags.DEFINE_string("text_b_column", None, "generic: the column of the second text of a pair.")
flags.DEFINE_string("label_column", "label", "generic: the column of the label (or score).")
flags.DEFINE_list(
    "label_list", None, "generic: the labels, comma-separated, in label-id order "
    "(default: the training file's labels, sorted; written to label_list.txt).")
flags.DEFINE_bool("is_regression", False, "generic: predict a score (squared error, Pearson).")
flags.DEFINE_enum("file_format", None, ["tsv", "csv", "jsonl"], "generic: the files' format "
                  "(default: from their extension).")

run_flags.define_runtime_flags()

flags.mark_flags_as_required(["data_dir", "task_name", "output_dir"])
run_flags.register_one_of(["albert_config_file", "albert_hub_module_handle"],
                          "--albert_config_file (or --albert_hub_module_handle) is required.")
run_flags.register_one_of(["do_train", "do_eval", "do_predict", "export_dir"],
                          "at least one of --do_train, --do_eval, --do_predict or --export_dir "
                          "must be given.")
# NaN is the original's default: no threshold output.
run_flags.register_finite("threshold_to_export", nan_means_unset=True)


def _user_errors() -> tuple:
  from albert_tf.tasks import classifier_data  # pylint: disable=g-import-not-at-top
  return run_flags.training_user_errors() + (classifier_data.ClassifierDataError,)


def _run(runtime: dict) -> None:
  """Builds everything from the flags and trains, evaluates, predicts and exports."""
  strategy = run_flags.build_strategy(runtime, "train_batch_size", "eval_batch_size",
                                      "predict_batch_size")
  from albert_tf.tasks import classifier_data  # pylint: disable=g-import-not-at-top
  from albert_tf.training import classifier_run  # pylint: disable=g-import-not-at-top
  generic = classifier_data.GenericTaskSpec(text_a_column=FLAGS.text_a_column,
                                            text_b_column=FLAGS.text_b_column,
                                            label_column=FLAGS.label_column,
                                            label_list=FLAGS.label_list,
                                            regression=FLAGS.is_regression,
                                            file_format=FLAGS.file_format)
  classifier_run.run(
      run_flags.build_options(options.ClassifierOptions, runtime, _FLAG_NAMES, generic=generic),
      strategy)


def main(argv):
  del argv  # Unused.
  run_flags.exit_on_user_error(lambda: _run(run_flags.resolve_runtime()), _ERROR_PREFIX,
                               _user_errors)


def run():
  """Console-script entry point (albert-run-classifier)."""
  run_flags.run_command(main, _ERROR_PREFIX)


if __name__ == "__main__":
  run()
