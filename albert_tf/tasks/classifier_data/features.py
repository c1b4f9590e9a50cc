"""Examples -> TFRecord features in the original schema, cached so that the cache cannot go stale.

Each example becomes `[CLS] a [SEP] (b [SEP])` with segment ids 0/1, pairs truncated longest-first,
zero-padded to max_seq_length: tf-models' `classifier_data_lib.convert_single_example`, which
computes exactly the original's `convert_single_example` (the tests check this against an
independent computation). Its file writer is not used: it adds an `example_id` feature the original
schema lacks and writes under the final name. Records here hold exactly the original's
input_ids, input_mask, segment_ids (int64 [max_seq_length]), label_ids (int64, float for
regression) and is_real_example (int64, always 1: eval padding happens in the input pipeline).

The cache lives in `cached_dir` under the original's names (`{task}_train.tf_record`,
`{task}_eval.tf_record`, and `{task}_predict.tf_record` for test, which the original wrote to
output_dir as `predict.tf_record`) with a sidecar `<record file>.metadata.json`. The metadata holds
everything that shapes the records: task, split, max_seq_length, vocabulary fingerprint (file bytes
and casing), do_lower_case, regression, label list, number of examples and a SHA-256 of the
examples' content (guid, texts, label; so any change of the input file shows), plus the record
file's size. Any difference, or a record file without metadata (an original run's, or an
interrupted build), rebuilds the cache and logs why.
"""

import hashlib
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from absl import logging
from official.nlp.data import classifier_data_lib
import tensorflow as tf

from albert_tf.tasks import feature_cache
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.processor import check_split
from albert_tf.training import run_identity

# The original's file name part per split.
RECORD_SUFFIXES = {"train": "train", "dev": "eval", "test": "predict"}
# Bump when the record layout changes, so that older caches rebuild.
_CACHE_FORMAT = 1
_LOG_EVERY = 10000


def vocab_fingerprint(*, spm_model_file: Optional[str], vocab_file: Optional[str],
                      do_lower_case: bool) -> str:
  """SHA-256 of the vocabulary file's bytes (the SentencePiece model wins, as in FullTokenizer)
  and the casing.

  Example:
    >>> import os, tempfile
    >>> vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(vocab_file, "w") as f:
    ...   _ = f.write("[PAD]")
    >>> fingerprint = vocab_fingerprint(spm_model_file=None, vocab_file=vocab_file,
    ...                                 do_lower_case=True)
    >>> len(fingerprint), fingerprint == vocab_fingerprint(
    ...     spm_model_file=None, vocab_file=vocab_file, do_lower_case=False)
    (64, False)

  Raises:
    ClassifierDataError: no vocabulary given, or the file does not exist.
  """
  path = spm_model_file or vocab_file
  if not path:
    raise ClassifierDataError("no vocabulary: pass --spm_model_file (SentencePiece) or "
                              "--vocab_file (WordPiece).")
  if not tf.io.gfile.exists(path):
    flag = "--spm_model_file" if spm_model_file else "--vocab_file"
    raise ClassifierDataError(f"{flag}={path} not found: pass the vocabulary of the checkpoint.")
  return run_identity.vocabulary_fingerprint(spm_model_file=spm_model_file, vocab_file=vocab_file,
                                             do_lower_case=do_lower_case)


def record_path(cached_dir: str, task_name: str, split: str) -> str:
  """The cache file of `split`: `{cached_dir}/{task}_{train,eval,predict}.tf_record`."""
  check_split(split)
  return os.path.join(cached_dir, f"{task_name.lower()}_{RECORD_SUFFIXES[split]}.tf_record")


def cached_features(*, cached_dir: str, task_name: str, split: str,
                    examples: Iterable[classifier_data_lib.InputExample], label_list: Sequence[str],
                    max_seq_length: int, tokenizer: Any, vocab_fingerprint: str,
                    is_regression: bool) -> Tuple[str, int]:
  """Writes the features of `examples` to the cache, or reuses an up-to-date cache.

  Example:
    path, count = cached_features(
        cached_dir="ft/mrpc", task_name="mrpc", split="train", examples=examples,
        label_list=["0", "1"], max_seq_length=128, tokenizer=tokenizer,
        vocab_fingerprint=fingerprint, is_regression=False)

  Args:
    cached_dir: the cache directory (local or gs://).
    task_name: the task name (file names use it lower-cased).
    split: "train", "dev" or "test".
    examples: the processor's examples of `split`.
    label_list: the labels in id order ([] for regression).
    max_seq_length: tokens per sequence, [CLS] and [SEP]s included.
    tokenizer: an `albert_tf.tokenization.FullTokenizer`.
    vocab_fingerprint: `vocab_fingerprint(...)` of the tokenizer's vocabulary.
    is_regression: float labels.

  Returns:
    (path of the TFRecord file, number of examples in it).

  Raises:
    ClassifierDataError: max_seq_length below 3, or an example whose label is not in the list.
  """
  if max_seq_length < 3:
    raise ClassifierDataError(f"--max_seq_length={max_seq_length} leaves no room for [CLS] a "
                              "[SEP] b [SEP]: use at least 3 (the original uses 128 or 512).")
  examples = list(examples)
  path = record_path(cached_dir, task_name, split)
  metadata = {
      "format": _CACHE_FORMAT,
      "task": task_name.lower(),
      "split": split,
      "max_seq_length": max_seq_length,
      "vocab_fingerprint": vocab_fingerprint,
      "do_lower_case": bool(tokenizer.do_lower_case),
      "is_regression": bool(is_regression),
      "label_list": [] if is_regression else [str(label) for label in label_list],
      "num_examples": len(examples),
      "examples_sha256": _examples_digest(examples),
  }
  feature_cache.ensure(path, metadata, len(examples),
                       lambda: _serialized_examples(path, metadata, examples, tokenizer))
  return path, len(examples)


def _examples_digest(examples: List[classifier_data_lib.InputExample]) -> str:
  digest = hashlib.sha256()
  for example in examples:
    fields = [example.guid, example.text_a, example.text_b, example.label]
    digest.update(json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n")
  return digest.hexdigest()


def _serialized_examples(path: str, metadata: Dict[str, Any],
                         examples: List[classifier_data_lib.InputExample],
                         tokenizer: Any) -> Iterable[bytes]:
  label_list, max_seq_length = metadata["label_list"], metadata["max_seq_length"]
  label_ids = {label: index for index, label in enumerate(label_list)}
  for index, example in enumerate(examples):
    if index % _LOG_EVERY == 0:
      logging.info("Writing example %d of %d to %s.", index, len(examples), path)
    if metadata["is_regression"]:
      example = _with_float_label(example)
    elif example.label not in label_ids:
      raise ClassifierDataError(
          f"example {example.guid}: label {example.label!r} is not in the label list "
          f"{label_list}; fix the data or the label list.")
    feature = classifier_data_lib.convert_single_example(index, example, label_list, max_seq_length,
                                                         tokenizer)
    yield serialize_feature(feature, metadata["is_regression"])


def _with_float_label(
    example: classifier_data_lib.InputExample) -> classifier_data_lib.InputExample:
  try:
    label = float(example.label)
  except (TypeError, ValueError):
    raise ClassifierDataError(f"example {example.guid}: label {example.label!r} is not a number, "
                              "and the task is a regression task.") from None
  return classifier_data_lib.InputExample(example.guid, example.text_a, example.text_b, label)


def serialize_feature(feature: classifier_data_lib.InputFeatures, is_regression: bool) -> bytes:
  """One tf.train.Example in the original run_classifier schema."""

  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

  label = (tf.train.Feature(float_list=tf.train.FloatList(
      value=[feature.label_id])) if is_regression else ints([feature.label_id]))
  features = {
      "input_ids": ints(feature.input_ids),
      "input_mask": ints(feature.input_mask),
      "segment_ids": ints(feature.segment_ids),
      "label_ids": label,
      "is_real_example": ints([int(feature.is_real_example)])
  }
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()
