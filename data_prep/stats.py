"""Counters of the generated data, merged across blocks, and the run summary."""

import collections
import dataclasses
import json
from typing import Any, Dict, List

from albert_tf import file_io
from albert_tf import tokenization
from albert_tf.training import run_identity
from data_prep import text_encoding
from data_prep.pretraining_data_config import PretrainingDataConfig

# Summary keys the trainer reads: whether the records are unmasked, and the masking settings.
DYNAMIC_MASKING_KEY = "dynamic_masking"
MASKING_KEY = "masking"
# The corpus codec (Python's name), recorded only when it is not UTF-8.
INPUT_ENCODING_KEY = "input_encoding"


@dataclasses.dataclass
class DataStats:
  """Additive counters over instances (merged from worker blocks in the main process)."""
  documents: int = 0
  segments: int = 0
  instances: int = 0
  tokens: int = 0
  predictions: int = 0
  masked: int = 0
  kept: int = 0
  randomized: int = 0
  random_next_labels: int = 0
  replaced_bytes: int = 0  # invalid bytes (of --input_encoding) replaced with U+FFFD
  span_words: collections.Counter = dataclasses.field(default_factory=collections.Counter)

  def merge(self, other: "DataStats") -> None:
    """Adds `other`'s counters to these."""
    for field in dataclasses.fields(self):
      if field.name == "span_words":
        self.span_words.update(other.span_words)
      else:
        setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def vocabulary(config: PretrainingDataConfig) -> Dict[str, Any]:
  """The vocabulary the records were tokenized with: its file, casing and fingerprint.

  The trainer keeps this entry in its run directory and refuses records of another fingerprint
  there; albert-export warns when it is given another vocabulary (`run_identity`).
  """
  files = {"spm_model_file": config.spm_model_file, "vocab_file": config.vocab_file}
  return run_identity.vocabulary_entry(
      **files, do_lower_case=config.do_lower_case,
      fingerprint=run_identity.vocabulary_fingerprint(**files, do_lower_case=config.do_lower_case))


def masking(config: PretrainingDataConfig, tokenizer: tokenization.FullTokenizer) -> Dict[str, Any]:
  """The masking settings of the records: what the trainer needs to mask --dynamic_masking records
  exactly as the offline masker does (docs/data.md, "Dynamic masking").

  The offline masker never masks [CLS], [SEP] or padding (by position) and draws random
  replacement ids uniformly over every id of the vocabulary, specials and [UNK] included; only
  ids that no vocabulary entry maps to (duplicate WordPiece lines) are never drawn.
  """
  ids = set(tokenizer.vocab.values())
  vocab_size = max(ids) + 1
  return {
      "masked_lm_prob": config.masked_lm_prob,
      "max_predictions_per_seq": config.max_predictions_per_seq,
      "max_seq_length": config.max_seq_length,
      "ngram": config.ngram,
      "favor_shorter_ngram": config.favor_shorter_ngram,
      "do_whole_word_mask": config.do_whole_word_mask or config.do_chinese_wwm,
      "do_chinese_wwm": config.do_chinese_wwm,
      "do_permutation": config.do_permutation,
      "vocab_size": vocab_size,
      "pad_id": tokenizer.pad_id,
      "unk_id": tokenizer.unk_id,
      "cls_id": tokenizer.cls_id,
      "sep_id": tokenizer.sep_id,
      "mask_id": tokenizer.mask_id,
      "never_masked_ids": sorted({tokenizer.cls_id, tokenizer.sep_id}),
      "never_sampled_ids": sorted(set(range(vocab_size)) - ids),
  }


def summary(stats: DataStats, shard_paths: List[str], shard_counts: List[int],
            input_files: List[str], seconds: float, vocabulary_entry: Dict[str, Any],
            masking_entry: Dict[str, Any], dynamic_masking: bool,
            input_encoding: str = text_encoding.DEFAULT_ENCODING) -> Dict[str, Any]:
  """The run summary: logged at the end and written as JSON next to the output.

  `vocabulary_entry` is `vocabulary(config)`, under the key the trainer reads; `masking_entry` is
  `masking(config, tokenizer)` and `dynamic_masking` says whether the records are left unmasked.
  The corpus codec is recorded (as `INPUT_ENCODING_KEY`) only when it is not UTF-8, and
  `replaced_invalid_utf8_bytes` then counts the bytes that codec could not decode.
  """
  instances = max(stats.instances, 1)
  tokens = max(stats.tokens, 1)
  predictions = max(stats.predictions, 1)
  spans = max(sum(stats.span_words.values()), 1)
  result = {
      "input_files": input_files,
      run_identity.VOCABULARY_KEY: vocabulary_entry,
      DYNAMIC_MASKING_KEY: dynamic_masking,
      MASKING_KEY: masking_entry,
      "documents": stats.documents,
      "segments": stats.segments,
      "instances": stats.instances,
      "tokens": stats.tokens,
      "mean_length": stats.tokens / instances,
      "masked_lm_predictions": stats.predictions,
      "masked_fraction": stats.predictions / tokens,
      "replacement_fractions": {
          "mask": stats.masked / predictions,
          "keep": stats.kept / predictions,
          "random": stats.randomized / predictions
      },
      "span_words_fractions": {
          str(n): count / spans for n, count in sorted(stats.span_words.items())
      },
      "sentence_order_label_1_fraction": stats.random_next_labels / instances,
      "shards": {
          path: count for path, count in zip(shard_paths, shard_counts)
      },
      "replaced_invalid_utf8_bytes": stats.replaced_bytes,
      "seconds": seconds,
      "instances_per_second": stats.instances / max(seconds, 1e-9),
  }
  if not text_encoding.is_default(input_encoding):
    result[INPUT_ENCODING_KEY] = text_encoding.canonical_name(input_encoding)
  return result


# Summary entries that measure the run rather than describe the data (they differ between runs).
TIMING_KEYS = ("seconds", "instances_per_second")


def summary_json(result: Dict[str, Any]) -> str:
  """The summary file's text: indented JSON with sorted keys."""
  return json.dumps(result, indent=2, sort_keys=True) + "\n"


def write_summary(result: Dict[str, Any], path: str) -> None:
  """Writes the summary as indented JSON to `path` (the caller's temporary name: the local
  engine renames it after the shards, see `pipeline._write_outputs`)."""
  with file_io.open_file(path, "w") as writer:
    writer.write(summary_json(result))
