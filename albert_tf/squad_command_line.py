"""The command line of run_squad_v1 and run_squad_v2: their flags and their main.

Both original scripts define the same flags but for a few (v1: use_einsum, export_dir; v2:
start_n_top, end_n_top, dropout_prob), so `define_flags(version_2)` defines them for either and
`run(version_2, error_prefix)` runs the command. TensorFlow-free at import: the flags are parsed
before TensorFlow starts (--num_cpu_devices).
"""

from absl import flags

from albert_tf import run_flags
from albert_tf.training import options

FLAGS = flags.FLAGS

_DEFAULT = options.defaults(options.SquadOptions)


def _define_original_flags() -> None:
  """The flags both original scripts define (finetuning.md §SQuAD), same names and defaults."""
  flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the pretrained model.")
  flags.DEFINE_string(
      "vocab_file", _DEFAULT["vocab_file"], "WordPiece vocab.txt (Chinese models, "
      "CMRC 2018, DRCD), when there is no --spm_model_file.")
  flags.DEFINE_string("spm_model_file", _DEFAULT["spm_model_file"], "The SentencePiece model of "
                      "the pretrained model.")
  flags.DEFINE_string(
      "output_dir", None, "Checkpoints, eval_results.txt, predictions.json, "
      "nbest_predictions.json (v2: null_odds.json) and the feature cache go here; a "
      "rerun resumes from here.")
  flags.DEFINE_string("train_file", _DEFAULT["train_file"], "SQuAD JSON to train on, e.g. "
                      "train-v1.1.json.")
  flags.DEFINE_string("predict_file", _DEFAULT["predict_file"], "SQuAD JSON to predict and "
                      "evaluate, e.g. dev-v1.1.json.")
  flags.DEFINE_string(
      "train_feature_file", _DEFAULT["train_feature_file"], "The training "
      "features' TFRecord file (default: in --cached_dir); written when missing or "
      "stale, else reused.")
  flags.DEFINE_string(
      "predict_feature_file", _DEFAULT["predict_feature_file"], "The prediction "
      "features' TFRecord file (default: in --cached_dir); written when missing or "
      "stale, else reused.")
  flags.DEFINE_string(
      "predict_feature_left_file", _DEFAULT["predict_feature_left_file"], "The "
      "prediction features' metadata (JSON here, a pickle in the original; default: "
      "beside --predict_feature_file); written when missing or stale, else reused.")
  flags.DEFINE_string(
      "init_checkpoint", _DEFAULT["init_checkpoint"], "Warm start: an original TF1 "
      "pretraining or SQuAD fine-tuned checkpoint, or an albert-tf one (ignored when "
      "--output_dir has a checkpoint). With --do_predict alone: the fine-tuned "
      "checkpoint to evaluate.")
  flags.DEFINE_string(
      "albert_hub_module_handle", _DEFAULT["albert_hub_module_handle"], "A directory "
      "with a SavedModel encoder (albert-export's encoder/) to fine-tune instead of "
      "--init_checkpoint.")
  flags.DEFINE_bool("do_lower_case", _DEFAULT["do_lower_case"], "Lower-case the input text "
                    "(uncased models).")
  flags.DEFINE_integer("max_seq_length", _DEFAULT["max_seq_length"], "Tokens per window: [CLS] "
                       "question [SEP] paragraph [SEP], padded.", lower_bound=1)
  flags.DEFINE_integer("doc_stride", _DEFAULT["doc_stride"], "Tokens between the starts of two "
                       "windows over a long paragraph.", lower_bound=1)
  flags.DEFINE_integer("max_query_length", _DEFAULT["max_query_length"], "Question tokens kept "
                       "(longer questions are truncated and counted).", lower_bound=1)
  flags.DEFINE_bool("do_train", _DEFAULT["do_train"], "Fine-tune on --train_file.")
  flags.DEFINE_bool(
      "do_predict", _DEFAULT["do_predict"], "Predict and evaluate --predict_file: "
      "every checkpoint as it is written when training, then the best one; alone, "
      "the best (else newest) checkpoint of --output_dir or --init_checkpoint.")
  # With run_classifier's and run_race's; --keep_checkpoint_max and --optimizer are new.
  run_flags.define_finetuning_flags(
      _DEFAULT, original_step_flags=False, eval_batch=False,
      save_checkpoints_help="Steps between checkpoints (and evaluations with --do_predict).")
  flags.DEFINE_float(
      "num_train_epochs", _DEFAULT["num_train_epochs"], "Epochs over the training "
      "examples: steps = int(examples / train_batch_size * epochs), as the original.")
  flags.DEFINE_float("warmup_proportion", _DEFAULT["warmup_proportion"], "Share of the steps with "
                     "a linear learning-rate warmup.", lower_bound=0.0, upper_bound=1.0)
  flags.DEFINE_integer("n_best_size", _DEFAULT["n_best_size"], "Candidates per question in "
                       "nbest_predictions.json.", lower_bound=1)
  flags.DEFINE_integer("max_answer_length", _DEFAULT["max_answer_length"], "Longest answer, in "
                       "tokens.", lower_bound=1)


def _define_new_flags() -> None:
  """Flags the original scripts do not have."""
  flags.DEFINE_string(
      "cached_dir", _DEFAULT["cached_dir"], "Where the feature files are cached "
      "(default: --output_dir); rebuilt whenever the data, vocabulary or lengths change.")
  flags.DEFINE_integer("num_train_steps", _DEFAULT["num_train_steps"],
                       "Training steps (default: from "
                       "--num_train_epochs).", lower_bound=1)
  flags.DEFINE_integer("num_warmup_steps", _DEFAULT["num_warmup_steps"], "Warmup steps (default: "
                       "--warmup_proportion of the training steps).", lower_bound=0)


def define_flags(version_2: bool) -> None:
  """Defines run_squad_v1's (or with `version_2`, run_squad_v2's) flags and their checks."""
  _define_original_flags()
  if version_2:
    flags.DEFINE_integer("start_n_top", _DEFAULT["start_n_top"], "Start positions kept per "
                         "window (beam).", lower_bound=1)
    flags.DEFINE_integer("end_n_top", _DEFAULT["end_n_top"], "End positions kept per start "
                         "(beam).", lower_bound=1)
    flags.DEFINE_float("dropout_prob", _DEFAULT["dropout_prob"], "Dropout of the answer-class "
                       "(no-answer) layer.")
    flags.DEFINE_float(
        "null_score_diff_threshold", _DEFAULT["null_score_diff_threshold"], "A "
        "no-answer threshold fixed in advance: eval_results.txt reports the scores "
        "at this threshold besides those at the threshold tuned on --predict_file "
        "(the original's).")
  else:
    flags.DEFINE_bool(
        "use_einsum", _DEFAULT["use_einsum"], "Accepted for compatibility: the "
        "exported models are TFLite-compatible either way.")
  flags.DEFINE_string(
      "export_dir", _DEFAULT["export_dir"], "Export the best checkpoint as a "
      "SavedModel (export_dir/<step>/) with an answer_question signature: question "
      "and context strings in, answer out.")
  _define_new_flags()
  run_flags.define_runtime_flags()
  flags.mark_flags_as_required(["output_dir"])
  run_flags.register_one_of(["albert_config_file", "albert_hub_module_handle"],
                            "--albert_config_file (or --albert_hub_module_handle) is required.")
  run_flags.register_one_of(["do_train", "do_predict", "export_dir"],
                            "at least one of --do_train, --do_predict or --export_dir must be "
                            "given.")
  run_flags.register_positive("num_train_epochs")
  run_flags.register_finite("warmup_proportion")
  if version_2:
    run_flags.register_dropout("dropout_prob")
    run_flags.register_finite("null_score_diff_threshold")
  flags.register_multi_flags_validator(
      ["max_seq_length", "max_query_length"],
      lambda values: values["max_seq_length"] > values["max_query_length"] + 3,
      "--max_seq_length must be greater than --max_query_length + 3 ([CLS], two [SEP] and at "
      "least one paragraph token).")


def _user_errors() -> tuple:
  from albert_tf.training import squad_run  # pylint: disable=g-import-not-at-top
  return run_flags.training_user_errors() + tuple(squad_run.USER_ERRORS)


def _run(version_2: bool) -> None:
  """Builds the options from the flags, then trains, predicts and exports."""
  runtime = run_flags.resolve_runtime()
  strategy = run_flags.build_strategy(runtime, "train_batch_size", "predict_batch_size")
  from albert_tf.training import squad_run  # pylint: disable=g-import-not-at-top
  squad_run.run(
      run_flags.build_options(options.SquadOptions, runtime, version_2_with_negative=version_2),
      strategy)


def main(version_2: bool, error_prefix: str) -> None:
  """Runs the command on the parsed flags; a user error exits with one line and status 1."""
  run_flags.exit_on_user_error(lambda: _run(version_2), error_prefix, _user_errors)


def run(version_2: bool, error_prefix: str) -> None:
  """The console-script entry point: parses the flags, then `main`."""
  run_flags.run_command(lambda argv: main(version_2, error_prefix), error_prefix)
