"""Feature caches that cannot go stale: a TFRecord file and the metadata it was built from.

Every fine-tuning task (run_classifier, SQuAD, RACE) caches its features as a record file with a
sidecar `<record file>.metadata.json` holding everything that shapes the records (task, split,
sequence lengths, vocabulary fingerprint, a digest of the examples, ...) plus the record file's
size. A cache is used only when its metadata equals what the run expects; any difference, or a
record file without metadata (an original run's, or an interrupted build), rebuilds it, and the log
says why.

  reason = feature_cache.stale_reason(path, expected)
  if reason is not None:
    logging.info("Building the features %s: %s.", path, reason)
    feature_cache.write(path, expected, serialized_records)

A task that writes through a callback (tf-models' feature converters take an `output_fn`) builds
the cache in a block instead, and adds what it learnt while writing to the metadata:

  with feature_cache.build(path) as cache:
    stats = convert(examples, output_fn=lambda feature: cache.writer.write(serialize(feature)))
    cache.metadata.update(expected, num_features=stats.num_features)

A cache whose metadata lives elsewhere than `<record file>.metadata.json` (a user's
--predict_feature_left_file) passes `metadata_file`.
"""

import contextlib
import dataclasses
import json
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from absl import logging
import tensorflow as tf

from albert_tf.file_io import atomic_output
from albert_tf.file_io import write_text_atomically

METADATA_SUFFIX = ".metadata.json"
# The metadata key holding the record file's size in bytes (written by `write`).
RECORD_BYTES = "record_bytes"
_LOG_EVERY = 10000


def metadata_path(record_file: str) -> str:
  """The metadata file of `record_file`."""
  return record_file + METADATA_SUFFIX


def read_metadata(record_file: str, metadata_file: Optional[str] = None) -> Optional[dict]:
  """The metadata of `record_file`, or None when it has none or it is unreadable."""
  path = metadata_file or metadata_path(record_file)
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path, "rb") as reader:
      stored = json.loads(reader.read().decode("utf-8"))
  except (ValueError, UnicodeDecodeError, tf.errors.OpError):
    return None
  return stored if isinstance(stored, dict) else None


def stale_reason(record_file: str, expected: Mapping[str, Any],
                 metadata_file: Optional[str] = None) -> Optional[str]:
  """Why the cache at `record_file` cannot be used for `expected`; None when it can."""
  metadata_file = metadata_file or metadata_path(record_file)
  if not tf.io.gfile.exists(record_file):
    return "no cached features yet"
  if not tf.io.gfile.exists(metadata_file):
    return (f"{metadata_file} is missing (an original run's cache or an interrupted build), so "
            "nothing says what the records were built from")
  stored = read_metadata(record_file, metadata_file)
  if stored is None:
    return f"{metadata_file} is not our JSON metadata (an original run's pickle?)"
  if stored.get(RECORD_BYTES) != tf.io.gfile.stat(record_file).length:
    return "the record file is not the one its metadata describes"
  changed = [key for key in expected if stored.get(key) != expected[key]]
  if changed:
    return "changed since it was built: " + ", ".join(
        f"{key} {describe(stored.get(key))} -> {describe(expected[key])}" for key in changed)
  return None


def describe(value: Any) -> str:
  """A metadata value as a log message shows it: JSON, cut to 40 characters."""
  text = json.dumps(value, ensure_ascii=False)
  return text if len(text) <= 40 else text[:37] + "..."


@dataclasses.dataclass
class CacheBuild:
  """A cache being built: write records to `writer`, put what they were built from in `metadata`."""
  writer: tf.io.TFRecordWriter
  metadata: dict


@contextlib.contextmanager
def build(record_file: str, metadata_file: Optional[str] = None) -> Iterator[CacheBuild]:
  """Builds the cache at `record_file`: records atomically, then the metadata the block filled.

  The old metadata goes first: if the build dies, no metadata can vouch for the new records.
  """
  metadata_file = metadata_file or metadata_path(record_file)
  if tf.io.gfile.exists(metadata_file):
    tf.io.gfile.remove(metadata_file)
  with atomic_output(record_file) as temporary:
    with tf.io.TFRecordWriter(temporary) as writer:
      cache = CacheBuild(writer, {})
      yield cache
  cache.metadata[RECORD_BYTES] = tf.io.gfile.stat(record_file).length
  # Compact: a predict cache's metadata holds every feature (tens of MB for the SQuAD dev set).
  write_text_atomically(metadata_file,
                        json.dumps(cache.metadata, ensure_ascii=False, sort_keys=True) + "\n")


def write(record_file: str, metadata: Mapping[str, Any], records: Iterable[bytes]) -> int:
  """Builds the cache at `record_file` from `records` and `metadata`; returns the record count."""
  count = 0
  with build(record_file) as cache:
    cache.metadata.update(metadata)
    for record in records:
      if count % _LOG_EVERY == 0 and count:
        logging.info("Wrote %d records to %s.", count, record_file)
      cache.writer.write(record)
      count += 1
  return count


def ensure(record_file: str, metadata: Mapping[str, Any], num_examples: int,
           records: Callable[[], Iterable[bytes]]) -> None:
  """Reuses the cache at `record_file` when `metadata` vouches for it, else builds it.

  Args:
    record_file: the cache's TFRecord file.
    metadata: what the cache must have been built from (see `stale_reason`).
    num_examples: the examples it holds, for the log line.
    records: makes the serialized records; called only when the cache is (re)built.
  """
  reason = stale_reason(record_file, metadata)
  if reason is None:
    logging.info("Reusing the cached features %s (%d examples).", record_file, num_examples)
    return
  logging.info("Building the features %s: %s.", record_file, reason)
  write(record_file, metadata, records())
