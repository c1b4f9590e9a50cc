"""Options of create_pretraining_data, their validation, and what they resolve to."""

import dataclasses
import os
from typing import Optional, Sequence

from albert_tf import tokenization
from albert_tf.training import run_identity
from data_prep import sharded_writer
from data_prep import text_encoding
from data_prep.corpus_files import CorpusError

# --runner values: the Beam engine on these runners (data_prep/beam_pipeline.py).
BEAM_RUNNERS = ("DirectRunner", "FnApiRunner", "DataflowRunner", "FlinkRunner", "SparkRunner",
                "PortableRunner")

# The original's --dupe_factor default (static masking).
DEFAULT_DUPE_FACTOR = 40


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
  """Every option of create_pretraining_data; defaults are the original's (reference §2.1)."""
  input_file: str
  output_file: str
  vocab_file: Optional[str] = None
  spm_model_file: Optional[str] = None
  do_lower_case: bool = True
  do_whole_word_mask: bool = True
  do_permutation: bool = False
  favor_shorter_ngram: bool = True
  random_next_sentence: bool = False
  max_seq_length: int = 512
  ngram: int = 3
  max_predictions_per_seq: int = 20
  random_seed: int = 12345
  dupe_factor: Optional[int] = None  # None: DEFAULT_DUPE_FACTOR, or 1 with dynamic_masking
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  do_chinese_wwm: bool = False
  num_workers: int = 1
  num_output_shards: int = 1
  shuffle_buffer_size: int = 100_000
  block_bytes: int = 256 * 1024
  stats_file: Optional[str] = None
  dynamic_masking: bool = False
  input_encoding: str = text_encoding.DEFAULT_ENCODING  # a Python codec name

  def __post_init__(self):
    if self.dupe_factor is None:
      # Dynamic masking draws new masks every epoch, so one unmasked copy of each instance is the
      # default; an explicit dupe_factor still adds passes with new sentence splits.
      object.__setattr__(self, "dupe_factor", 1 if self.dynamic_masking else DEFAULT_DUPE_FACTOR)


def validate(config: PretrainingDataConfig) -> None:
  """Rejects impossible option values with one line naming the flag.

  Raises:
    CorpusError: an option is invalid.
  """
  if not config.spm_model_file and not config.vocab_file:
    raise CorpusError("give --spm_model_file (SentencePiece) or --vocab_file (WordPiece).")
  if config.do_chinese_wwm and config.spm_model_file:
    raise CorpusError(
        "--do_chinese_wwm works with a WordPiece --vocab_file; drop --spm_model_file.")
  if config.max_seq_length < 5:
    raise CorpusError(
        f"--max_seq_length={config.max_seq_length} is too small: [CLS] A [SEP] B [SEP] "
        "needs at least 5 positions.")
  max_targets = config.max_seq_length - 3
  if not 1 <= config.max_predictions_per_seq <= max_targets:
    raise CorpusError(
        f"--max_predictions_per_seq={config.max_predictions_per_seq} is impossible with "
        f"--max_seq_length={config.max_seq_length}: use 1 to {max_targets}.")
  checks = [
      (0.0 <= config.masked_lm_prob <= 1.0, "--masked_lm_prob must be in [0, 1]"),
      (0.0 <= config.short_seq_prob <= 1.0, "--short_seq_prob must be in [0, 1]"),
      (config.ngram >= 1, "--ngram must be at least 1"),
      (config.dupe_factor >= 1, "--dupe_factor must be at least 1"),
      (config.num_workers >= 0, "--num_workers must be 0 or more"),
      (config.shuffle_buffer_size >= 0, "--shuffle_buffer_size must be 0 or more"),
      (config.block_bytes >= 1, "--block_bytes must be at least 1"),
  ]
  encoding_error = text_encoding.encoding_error(config.input_encoding)
  if encoding_error:
    checks.append((False, f"--input_encoding={config.input_encoding} is not a Python text codec "
                   f"({encoding_error}); use e.g. utf-8, utf-16, gb18030 or latin-1"))
  if config.dynamic_masking and config.do_permutation:
    checks.append((False, "--do_permutation needs static masking: drop it or --dynamic_masking"))
  for ok, message in checks:
    if not ok:
      raise CorpusError(message + ".")


def load_tokenizer(config: PretrainingDataConfig) -> tokenization.FullTokenizer:
  """The FullTokenizer of the flags (a bad vocab raises CorpusError with one line)."""
  path = config.spm_model_file or config.vocab_file
  if not os.path.isfile(path):
    flag = "--spm_model_file" if config.spm_model_file else "--vocab_file"
    raise CorpusError(f"{flag}={path} does not exist.")
  try:
    return tokenization.FullTokenizer(vocab_file=config.vocab_file,
                                      do_lower_case=config.do_lower_case,
                                      spm_model_file=config.spm_model_file)
  except ValueError as error:
    raise CorpusError(str(error)) from None
  except (RuntimeError, OSError) as error:
    raise CorpusError(f"cannot load {path} as a SentencePiece model ({error}).") from None


def default_stats_path(output_file: str) -> str:
  """Summary JSON next to the output: records/train-{shard}.tfrecord -> records/train.stats.json."""
  first = output_file.split(",")[0].strip().replace(sharded_writer.SHARD_PLACEHOLDER, "")
  directory, name = os.path.split(first)
  stem = name.split(".")[0].rstrip("-_.") or "pretraining_data"
  return os.path.join(directory, stem + run_identity.STATS_SUFFIX)


def check_runner_flags(runner: Optional[str], pipeline_args: Sequence[str]) -> None:
  """Refuses an unknown --runner, and Beam pipeline options without --runner (one line)."""
  if runner is not None and runner not in BEAM_RUNNERS:
    raise CorpusError(f"unknown --runner={runner}; use one of "
                      f"{', '.join(BEAM_RUNNERS)}, or no --runner for the "
                      "local engine.")
  if runner is None and pipeline_args:
    raise CorpusError(f"Beam pipeline options ({' '.join(pipeline_args)}) need --runner; without "
                      "it the local engine runs and takes no pipeline options.")
