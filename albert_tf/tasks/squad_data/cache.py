"""The SQuAD feature cache: TFRecords plus a JSON metadata file, rebuilt whenever stale.

Files (default names under `cached_dir`; the original's flags give explicit paths instead):
  * `{name}_train.tf_record` (`--train_feature_file`) and `{name}_train.tf_record.metadata.json`:
    the training features, from the examples shuffled with the original's seed (12345).
  * `{name}_predict.tf_record` (`--predict_feature_file`) and
    `{name}_predict.tf_record.metadata.json` (`--predict_feature_left_file`, a pickle in the
    original): the prediction features; the metadata also holds every feature (JSON, see
    records.py) so post-processing can reload them.

The metadata records what shaped the features: max_seq_length, doc_stride, max_query_length, the
vocabulary fingerprint (file bytes, kind and casing), the number and a SHA-256 of the examples
(ids, questions, paragraphs, answers), the shuffle seed, and the record file's size. Any
difference, a record file without metadata (an original run's, or an interrupted build) or
unreadable metadata (e.g. the original's pickle) rebuilds the cache, with a log line naming the
reason. Records and metadata are written through temporary names (albert_tf.file_io), the old
metadata is removed first, so a killed build never leaves a cache that looks valid.
"""

import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import logging
from official.nlp.data.squad_lib_sp import InputFeatures
from official.nlp.data.squad_lib_sp import SquadExample

from albert_tf.tasks import feature_cache
from albert_tf.tasks.squad_data import records
from albert_tf.tasks.squad_data.errors import SquadDataError
from albert_tf.tasks.squad_data.examples import TRAIN_SHUFFLE_SEED
from albert_tf.tasks.squad_data.examples import shuffled_examples
from albert_tf.tasks.squad_data.features import convert_examples_to_features
from albert_tf.tasks.squad_data.settings import FeatureSettings

# Bump when the record or metadata layout changes, so that older caches rebuild.
_CACHE_FORMAT = 1


def record_path(cached_dir: str, name: str, is_training: bool) -> str:
  """`{cached_dir}/{name}_train.tf_record` or `{cached_dir}/{name}_predict.tf_record`."""
  return os.path.join(cached_dir, f"{name}_{'train' if is_training else 'predict'}.tf_record")


def examples_digest(examples: Sequence[SquadExample]) -> str:
  """SHA-256 of everything of the examples that shapes features (order included)."""
  digest = hashlib.sha256()
  for example in examples:
    fields = [
        example.qas_id, example.question_text, example.paragraph_text, example.orig_answer_text,
        example.start_position,
        bool(example.is_impossible)
    ]
    digest.update(json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n")
  return digest.hexdigest()


def _identity(kind: str, examples: Sequence[SquadExample], tokenizer: Any,
              settings: FeatureSettings, vocab_fingerprint: str) -> Dict[str, Any]:
  return dict(format=_CACHE_FORMAT, kind=kind, **settings.as_dict(),
              vocab_fingerprint=vocab_fingerprint,
              tokenizer="sentencepiece" if tokenizer.is_sentencepiece else "wordpiece",
              do_lower_case=bool(tokenizer.do_lower_case), num_examples=len(examples),
              examples_sha256=examples_digest(examples))


def _load_metadata(record_file: str, metadata_file: str,
                   identity: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], str]:
  """(the metadata, "") when the cache is up to date, else (None, why not)."""
  reason = feature_cache.stale_reason(record_file, identity, metadata_file)
  if reason is not None:
    return None, reason
  return feature_cache.read_metadata(record_file, metadata_file), ""


def _write(record_file: str, metadata_file: str, features_fn, is_training: bool,
           identity: Dict[str, Any]) -> Tuple[int, List[InputFeatures]]:
  """Writes the records of the features `features_fn(output_fn)` produces, then the metadata.

  Returns:
    (number of features, the features when not is_training, else []).
  """
  kept = []
  with feature_cache.build(record_file, metadata_file) as cache:

    def output_fn(feature: InputFeatures) -> None:
      cache.writer.write(records.serialize_feature(feature, is_training))
      if not is_training:
        kept.append(feature)

    stats = features_fn(output_fn)
    cache.metadata.update(identity, num_features=stats.num_features,
                          truncated_questions=stats.truncated_questions,
                          dropped_examples=stats.dropped_examples)
    if not is_training:
      cache.metadata["features"] = [records.feature_to_json(feature) for feature in kept]
  logging.info("Wrote %d features to %s (metadata %s).", stats.num_features, record_file,
               metadata_file)
  return stats.num_features, kept


def _paths(cached_dir: Optional[str], name: str, is_training: bool, record_file: Optional[str],
           metadata_file: Optional[str]) -> Tuple[str, str]:
  if record_file is None:
    if not cached_dir:
      raise SquadDataError("no place for the feature cache: pass --cached_dir (or the feature "
                           "file flags).")
    record_file = record_path(cached_dir, name, is_training)
  return record_file, metadata_file or feature_cache.metadata_path(record_file)


def cached_train_features(cached_dir: Optional[str], name: str, examples: Sequence[SquadExample],
                          tokenizer: Any, settings: FeatureSettings, vocab_fingerprint: str,
                          seed: int = TRAIN_SHUFFLE_SEED,
                          record_file: Optional[str] = None) -> Tuple[str, int]:
  """Training features of `examples` in a TFRecord file, built now or reused when up to date.

  The examples are shuffled with `random.Random(seed)` first (the original's pre-shuffle with
  12345), so callers pass them in file order and must not shuffle them again.

  Example:
    record_file, num_features = cached_train_features(
        "out/cache", "squad_v2", examples, tokenizer, FeatureSettings(), fingerprint)

  Args:
    cached_dir: the cache directory (local or gs://); unused when record_file is given.
    name: the file name prefix ({name}_train.tf_record).
    examples: `read_squad_examples(..., is_training=True, ...)`, in file order.
    tokenizer: `make_tokenizer(...)`.
    settings: the feature settings.
    vocab_fingerprint: `classifier_data.vocab_fingerprint(...)` of the tokenizer's vocabulary.
    seed: the pre-shuffle seed.
    record_file: an explicit record path (`--train_feature_file`); its metadata sits next to it.

  Returns:
    (record file, number of features in it).
  """
  record_file, metadata_file = _paths(cached_dir, name, True, record_file, None)
  identity = dict(_identity("train", examples, tokenizer, settings, vocab_fingerprint), seed=seed)
  stored, reason = _load_metadata(record_file, metadata_file, identity)
  if stored is not None:
    logging.info("Reusing the cached training features %s (%d features).", record_file,
                 stored["num_features"])
    return record_file, stored["num_features"]
  logging.info("Building the training features %s: %s.", record_file, reason)
  ordered = shuffled_examples(examples, seed)
  num_features, _ = _write(
      record_file, metadata_file,
      lambda output_fn: convert_examples_to_features(ordered, tokenizer, settings, True, output_fn),
      True, identity)
  return record_file, num_features


def cached_eval_features(cached_dir: Optional[str], name: str, examples: Sequence[SquadExample],
                         tokenizer: Any, settings: FeatureSettings, vocab_fingerprint: str,
                         record_file: Optional[str] = None,
                         metadata_file: Optional[str] = None) -> Tuple[str, List[InputFeatures]]:
  """Prediction features of `examples`: a TFRecord file and the features (from JSON metadata).

  Example:
    record_file, features = cached_eval_features(
        "out/cache", "squad_v2", examples, tokenizer, FeatureSettings(), fingerprint)

  Args:
    cached_dir, name: where the default files go ({name}_predict.tf_record); unused when
      record_file is given.
    examples: `read_squad_examples(..., is_training=False, ...)`; features refer to them by index.
    tokenizer, settings, vocab_fingerprint: see `cached_train_features`.
    record_file: an explicit record path (`--predict_feature_file`).
    metadata_file: an explicit metadata path (`--predict_feature_left_file`); default
      `<record_file>.metadata.json`.

  Returns:
    (record file, the features in record order).
  """
  record_file, metadata_file = _paths(cached_dir, name, False, record_file, metadata_file)
  identity = _identity("predict", examples, tokenizer, settings, vocab_fingerprint)
  stored, reason = _load_metadata(record_file, metadata_file, identity)
  if stored is not None:
    features = [records.feature_from_json(value) for value in stored["features"]]
    logging.info("Reusing the cached prediction features %s (%d features).", record_file,
                 len(features))
    return record_file, features
  logging.info("Building the prediction features %s: %s.", record_file, reason)
  _, features = _write(
      record_file, metadata_file, lambda output_fn: convert_examples_to_features(
          examples, tokenizer, settings, False, output_fn), False, identity)
  return record_file, features
