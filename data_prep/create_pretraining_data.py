"""Creates ALBERT pretraining TFRecords from raw text (one sentence per line, blank line between
documents). Every flag of Google's original script keeps its name and default; the additions are
--num_workers, --num_output_shards, --block_bytes, --do_chinese_wwm, --runner,
--dynamic_masking, --stats_file and --input_encoding. See docs/data.md.

  python -m data_prep.create_pretraining_data --input_file='corpus/*.txt' \
      --output_file='records/train-{shard}.tfrecord' --num_output_shards=16 \
      --spm_model_file=vocab/30k-clean.model --max_seq_length=512 --dupe_factor=40
  # The same on Dataflow (Beam pipeline options after --):
  python -m data_prep.create_pretraining_data ... --runner=DataflowRunner -- \
      --project=p --region=us-central1 --temp_location=gs://bucket/tmp
"""

import contextlib
import os
import sys
import types
from typing import Optional, Sequence

from absl import app
from absl import flags

from albert_tf import command_line
from albert_tf import file_io
from albert_tf import output_lock
from albert_tf import run_flags
from data_prep import cli
from data_prep import pipeline
from data_prep import pretraining_data_config
from data_prep import sharded_writer
from data_prep import text_encoding
from data_prep.corpus_files import CorpusError

FLAGS = flags.FLAGS

# The original's flags (reference §2.1), same names and defaults.
flags.DEFINE_string("input_file", None, "Input raw text file(s): comma-separated glob patterns.")
flags.DEFINE_string(
    "output_file", None,
    "Output TFRecord file(s): a comma-separated list, or one pattern containing "
    "{shard} (see --num_output_shards). Instances go to the files round-robin.")
flags.DEFINE_string("vocab_file", None,
                    "WordPiece vocab (one token per line). Not needed with --spm_model_file.")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model; if set, SentencePiece is used.")
flags.DEFINE_string(
    "input_file_mode", "r",
    "Accepted for compatibility; input is read as --input_encoding, invalid bytes are "
    "replaced with U+FFFD and counted.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input text.")
flags.DEFINE_bool("do_whole_word_mask", True, "Mask whole words rather than single pieces.")
flags.DEFINE_bool("do_permutation", False,
                  "Add permutation targets (experimental; doubles the masked-LM feature length).")
flags.DEFINE_bool("favor_shorter_ngram", True, "p(n) ∝ 1/n for n-gram spans (else reversed).")
flags.DEFINE_bool(
    "random_next_sentence", False,
    "False: sentence-order prediction (swap A and B). True: BERT's next-sentence "
    "prediction (B from a random document).")
flags.DEFINE_integer("max_seq_length", 512, "Maximum sequence length, [CLS] and [SEP]s included.",
                     lower_bound=5)  # [CLS] A [SEP] B [SEP]
flags.DEFINE_integer("ngram", 3, "Maximum n-gram length in words.", lower_bound=1)
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked-LM predictions per sequence.",
                     lower_bound=1)
# Any integer: it seeds random.Random through its text.
flags.DEFINE_integer("random_seed", 12345,
                     "Seed of every random choice (the output is reproducible).")
flags.DEFINE_integer(
    "dupe_factor", 40, "Passes over the input, each with new splits and masks (with "
    "--dynamic_masking the default is 1).", lower_bound=1)
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked-LM probability.", lower_bound=0, upper_bound=1)
flags.DEFINE_float("short_seq_prob", 0.1,
                   "Probability of a shorter target length for a document pass.", lower_bound=0,
                   upper_bound=1)
run_flags.register_finite("masked_lm_prob")
run_flags.register_finite("short_seq_prob")

# Additions.
flags.DEFINE_integer(
    "num_workers",
    os.cpu_count() or 1,
    "Worker processes (0 or 1: work in this process). The output does not depend "
    "on it.", lower_bound=0)
flags.DEFINE_integer("num_output_shards", 1, "Shards when --output_file contains {shard}.",
                     lower_bound=1)
flags.DEFINE_integer(
    "shuffle_buffer_size", 100_000,
    "No longer used (accepted for old command lines): the records of the whole run are shuffled "
    "by sorting on a keyed hash; see docs/data.md.", lower_bound=0)
flags.DEFINE_integer(
    "block_bytes", 256 * 1024,
    "Work block: the documents of a file that start in one window of this many bytes. "
    "Random-next segments are drawn from the documents of the same block.", lower_bound=1)
flags.DEFINE_bool(
    "do_chinese_wwm", False,
    "Chinese whole-word masking: group characters by jieba words (needs a WordPiece "
    "--vocab_file).")
flags.DEFINE_bool(
    "dynamic_masking", False,
    "Write each instance once, unmasked (no masked_lm_* features), for a trainer that masks on "
    "the fly (albert-run-pretraining --dynamic_masking); --dupe_factor defaults to 1.")
flags.DEFINE_string(
    "runner", None, "Run on Apache Beam with this runner (" +
    ", ".join(pretraining_data_config.BEAM_RUNNERS) + "); Beam pipeline options follow --. "
    "Default: the local engine (--num_workers processes). The output bytes are the same.")
flags.DEFINE_string("stats_file", None,
                    "Summary JSON (default: <output stem>.stats.json next to the output).")
text_encoding.define_flag()  # --input_encoding

flags.mark_flags_as_required(["input_file", "output_file"])

# Flags absl itself accepts on every command line.
_ABSL_SPECIAL = ("flagfile", "undefok", "help", "helpshort", "helpfull", "helpxml", "?")


def config_from_flags() -> pipeline.PretrainingDataConfig:
  """The pipeline configuration of the parsed flags."""
  return pipeline.PretrainingDataConfig(
      input_file=FLAGS.input_file, output_file=FLAGS.output_file, vocab_file=FLAGS.vocab_file,
      spm_model_file=FLAGS.spm_model_file, do_lower_case=FLAGS.do_lower_case,
      do_whole_word_mask=FLAGS.do_whole_word_mask, do_permutation=FLAGS.do_permutation,
      favor_shorter_ngram=FLAGS.favor_shorter_ngram,
      random_next_sentence=FLAGS.random_next_sentence, max_seq_length=FLAGS.max_seq_length,
      ngram=FLAGS.ngram, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      random_seed=FLAGS.random_seed,
      dupe_factor=FLAGS.dupe_factor if FLAGS["dupe_factor"].present else None,
      masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
      do_chinese_wwm=FLAGS.do_chinese_wwm, num_workers=FLAGS.num_workers,
      num_output_shards=FLAGS.num_output_shards, shuffle_buffer_size=FLAGS.shuffle_buffer_size,
      block_bytes=FLAGS.block_bytes, stats_file=FLAGS.stats_file,
      dynamic_masking=FLAGS.dynamic_masking, input_encoding=FLAGS.input_encoding)


def create_locked(config: pipeline.PretrainingDataConfig, runner: Optional[str] = None,
                  pipeline_args: Sequence[str] = ()) -> object:
  """Runs the local engine, or the Beam engine on `runner`, holding the lock of --output_file
  (its first file or pattern).

  Two runs on one --output_file would interleave their shards and stats; the lock makes the second
  stop at once. An empty --output_file has nothing to lock; the pipeline reports it.
  """
  first_output = config.output_file.split(",")[0].strip()
  lock = output_lock.lock_output(first_output) if first_output else contextlib.nullcontext()
  with lock:
    if runner is None:
      return pipeline.create_pretraining_data(config)
    return beam_engine().run_beam(config, runner, pipeline_args)


def beam_engine() -> types.ModuleType:
  """data_prep.beam_pipeline (imported only for --runner: it imports apache_beam).

  Raises:
    CorpusError: Apache Beam is not installed.
  """
  try:
    from data_prep import beam_pipeline  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise CorpusError(
        f"--runner needs Apache Beam ({error}): pip install 'albert-tf[beam]'") from None
  return beam_pipeline


def check_outputs_spare_inputs(config: pipeline.PretrainingDataConfig) -> None:
  """Refuses shards or a stats file that are an input, each other, or what --input_file matches.

  Raises:
    CorpusError: a collision or a bad --output_file, in one line; nothing is written.
  """
  try:
    shards = sharded_writer.output_paths(config.output_file, config.num_output_shards)
    stats_file = config.stats_file or pretraining_data_config.default_stats_path(config.output_file)
    inputs = [("--input_file", pattern.strip()) for pattern in config.input_file.split(",")]
    inputs += [("--spm_model_file", config.spm_model_file), ("--vocab_file", config.vocab_file)]
    file_io.check_outputs_spare_inputs([("--output_file", shard) for shard in shards] +
                                       [("--stats_file", stats_file)],
                                       [(flag, path) for flag, path in inputs if path])
  except ValueError as error:  # file_io.OutputOverlapError, or inconsistent --output_file flags
    raise CorpusError(str(error)) from None


def main(argv):
  pipeline_args = argv[1:]  # what follows "--": absl stops parsing there
  runner = FLAGS.runner
  config = config_from_flags()
  cli.run_action(lambda: pretraining_data_config.check_runner_flags(runner, pipeline_args))
  paths = [config.input_file, config.output_file, config.spm_model_file, config.vocab_file]
  if runner is None or not any(path and "://" in path for path in paths):
    # (Beam file systems other than TensorFlow's are checked by Beam alone.)
    cli.run_action(lambda: check_outputs_spare_inputs(config))
  cli.run_action(lambda: create_locked(config, runner, pipeline_args))


def misplaced_pipeline_option(argv: Sequence[str]) -> Optional[str]:
  """The one-line error for an unknown flag before "--" (absl would reject it), or None.

  Beam pipeline options (--project, --region, --temp_location, ...) must come after "--"; an
  unknown flag before it is most likely one of them.
  """
  app.define_help_flags()
  for argument in argv[1:]:
    if argument == "--":
      return None
    if not argument.startswith("-") or argument == "-":
      continue
    name = argument.lstrip("-").split("=", 1)[0]
    negated = name[2:] if name.startswith("no") else None
    if name in FLAGS or (negated in FLAGS and FLAGS[negated].boolean) or name in _ABSL_SPECIAL:
      continue
    return (f"error: unknown flag --{name}; put Beam pipeline options after --, e.g. "
            f"albert-create-pretraining-data --runner=DataflowRunner ... -- --{name}=...")
  return None


def run():
  """Console-script entry point (albert-create-pretraining-data)."""
  line = misplaced_pipeline_option(sys.argv)
  if line:
    sys.exit(line)
  command_line.run(main, "error: ")


if __name__ == "__main__":
  run()
