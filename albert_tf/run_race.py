r"""Fine-tunes ALBERT on RACE (4-way multiple-choice reading comprehension).

Every flag of the original run_race.py keeps its name and default (do_train and do_eval are on
unless turned off, 12000 steps of 32 questions); the strategy, mixed precision, XLA, seed and
--gradient_accumulation_steps flags are run_pretraining's. Restarting the same command resumes
from the newest checkpoint in --output_dir.

  python -m albert_tf.run_race --data_dir=data --output_dir=ft/race \
    --albert_config_file=albert_base/albert_config.json \
    --spm_model_file=albert_base/30k-clean.model \
    --init_checkpoint=albert_base/model.ckpt-best --gradient_accumulation_steps=4
"""

from absl import flags

from albert_tf import run_flags
from albert_tf.training import options

FLAGS = flags.FLAGS

_ERROR_PREFIX = "albert-run-race: error: "
_DEFAULT = options.defaults(options.RaceOptions)
# RaceOptions fields whose flag has another name (the original's).
_FLAG_NAMES = {
    "num_train_steps": "train_step",
    "num_warmup_steps": "warmup_step",
    "keep_checkpoint_max": "num_keep_checkpoint"
}

# The original flags, same names and defaults.
flags.DEFINE_string(
    "data_dir", None, "The directory holding RACE/{train,dev,test}/{middle,high}/ "
    "(all.txt JSON lines, or upstream RACE's one JSON file per article).")
flags.DEFINE_string("albert_config_file", None, "The albert_config.json of the pretrained model.")
flags.DEFINE_string("task_name", _DEFAULT["task_name"], "The task: race.")
flags.DEFINE_string("vocab_file", _DEFAULT["vocab_file"], "WordPiece vocab.txt, when there is no "
                    "--spm_model_file.")
flags.DEFINE_string(
    "train_file", _DEFAULT["train_file"], "The training features' TFRecord file "
    "(default: --cached_dir/race_train.tf_record); built, or rebuilt when its "
    "settings change.")
flags.DEFINE_string(
    "eval_file", _DEFAULT["eval_file"], "The dev features' TFRecord file (default: "
    "--cached_dir/race_eval.tf_record).")
flags.DEFINE_string(
    "predict_file", _DEFAULT["predict_file"], "The test features' TFRecord file "
    "(default: --cached_dir/race_predict.tf_record).")
flags.DEFINE_string("spm_model_file", _DEFAULT["spm_model_file"], "The SentencePiece model of the "
                    "pretrained model.")
flags.DEFINE_string(
    "output_dir", None, "Checkpoints, eval_results.txt, best_trial.txt and "
    "predict_results.txt go here; a rerun resumes from here.")
flags.DEFINE_string(
    "init_checkpoint", _DEFAULT["init_checkpoint"], "Warm start: an original TF1 "
    "pretraining or fine-tuned checkpoint, or an albert-tf one.")
flags.DEFINE_string(
    "albert_hub_module_handle", _DEFAULT["albert_hub_module_handle"], "A directory "
    "with a SavedModel encoder to fine-tune instead of --init_checkpoint.")
flags.DEFINE_bool("do_lower_case", _DEFAULT["do_lower_case"], "Lower-case the input text (uncased "
                  "models).")
flags.DEFINE_float("dropout_prob", _DEFAULT["dropout_prob"], "Dropout on the pooled output of "
                   "each option.")
flags.DEFINE_integer("max_seq_length", _DEFAULT["max_seq_length"], "Tokens per option: [CLS] "
                     "article [SEP] question+option [SEP].", lower_bound=5)
flags.DEFINE_integer(
    "max_qa_length", _DEFAULT["max_qa_length"], "Tokens kept of question+option "
    "(its last ones); the article fills the rest.", lower_bound=1)
flags.DEFINE_bool("high_only", _DEFAULT["high_only"], "Only the high-school questions.")
flags.DEFINE_bool("middle_only", _DEFAULT["middle_only"], "Only the middle-school questions.")
flags.DEFINE_bool("do_train", _DEFAULT["do_train"], "Fine-tune on the train split.")
flags.DEFINE_bool(
    "do_eval", _DEFAULT["do_eval"], "Evaluate on the dev split: after each checkpoint "
    "when training, else every checkpoint of --output_dir as it appears.")
flags.DEFINE_bool(
    "do_predict", _DEFAULT["do_predict"], "Score the test split with "
    "model.ckpt-best (else the newest checkpoint, else a fine-tuned --init_checkpoint).")
# With run_classifier's and run_squad's; --optimizer is new.
run_flags.define_finetuning_flags(
    _DEFAULT, keep_checkpoint_flag="num_keep_checkpoint",
    train_batch_help="Global training batch of questions (all replicas).",
    learning_rate_help="Peak learning rate.", optimizer_help="The optimizer (the original: adamw).")

# New flags.
flags.DEFINE_string(
    "cached_dir", _DEFAULT["cached_dir"], "Where the feature TFRecords are cached "
    "(default: --output_dir) when --train_file etc. are not given.")

run_flags.define_runtime_flags()

flags.mark_flags_as_required(["data_dir", "output_dir"])
run_flags.register_one_of(["albert_config_file", "albert_hub_module_handle"],
                          "--albert_config_file (or --albert_hub_module_handle) is required.")
run_flags.register_one_of(["spm_model_file", "vocab_file"],
                          "no vocabulary: pass --spm_model_file (SentencePiece) or --vocab_file "
                          "(WordPiece).")
run_flags.register_one_of(["do_train", "do_eval", "do_predict"],
                          "at least one of --do_train, --do_eval or --do_predict must be true.")
run_flags.register_dropout("dropout_prob")


def _user_errors() -> tuple:
  from albert_tf.tasks import classifier_data  # pylint: disable=g-import-not-at-top
  # RaceDataError is a ClassifierDataError.
  return run_flags.training_user_errors() + (classifier_data.ClassifierDataError,)


def _run() -> None:
  """Builds everything from the flags and trains, evaluates and predicts."""
  runtime = run_flags.resolve_runtime()
  strategy = run_flags.build_strategy(runtime, "train_batch_size", "eval_batch_size",
                                      "predict_batch_size")
  from albert_tf.training import race_run  # pylint: disable=g-import-not-at-top
  race_run.run(run_flags.build_options(options.RaceOptions, runtime, _FLAG_NAMES), strategy)


def main(argv):
  del argv  # Unused.
  run_flags.exit_on_user_error(_run, _ERROR_PREFIX, _user_errors)


def run():
  """Console-script entry point (albert-run-race)."""
  run_flags.run_command(main, _ERROR_PREFIX)


if __name__ == "__main__":
  run()
