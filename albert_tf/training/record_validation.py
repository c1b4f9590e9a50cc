"""Start-up checks of every pretraining record file, and the one line for a record lost mid-run.

`validate_record_files` reads the first few records of EVERY file of --input_file (not the whole
files: the check must stay cheap for thousands of shards) and stops the run before anything is
written when a file is not a TFRecord file (e.g. the stats JSON matched by a loose glob), a record
lacks a feature of the expected schema or has other lengths than the flags, or holds ids outside
the vocabulary (records made with another vocabulary than the config's). Without it these surface
as a traceback hours into training, when the interleave first reaches the file.

A file cut short or corrupted after its first records is only found when training reads it:
`describe_data_loss` turns the DataLossError that tf.data then raises (which names a byte offset
but no file) into one line naming the file and the fix.
"""

import re
import struct
from typing import Sequence

from absl import logging
import tensorflow as tf

from albert_tf import file_io
from albert_tf.training import input_pipeline
from data_prep import example_codec

# Records read from the start of each file: cheap (one buffered read) and enough to catch files
# of another schema, length or vocabulary, which are uniform within a file.
DEFAULT_SAMPLE_PER_FILE = 4
# Files the sampling pipeline reads at once (remote files are latency-bound).
_PARALLEL_FILES = 16

# Features holding vocabulary ids, and the one holding positions in the sequence.
_ID_FEATURES = ("input_ids", "masked_lm_ids")
_POSITION_FEATURE = "masked_lm_positions"

# The flags that set each feature's length (input_pipeline.feature_spec's shapes).
_LENGTH_FLAGS = {
    "input_ids": "max_seq_length",
    "input_mask": "max_seq_length",
    "segment_ids": "max_seq_length",
    "token_boundary": "max_seq_length",
    "masked_lm_positions": "max_predictions_per_seq",
    "masked_lm_ids": "max_predictions_per_seq",
    "masked_lm_weights": "max_predictions_per_seq",
}

_DATA_LOSS = re.compile(r"(truncated|corrupted) record at (\d+)")
_NOT_A_RECORD_FILE = ("narrow the --input_file pattern so that it matches only the record files "
                      "(e.g. 'records/train-*.tfrecord')")
_BROKEN_FILE = ("regenerate or copy the file again, or leave it out of --input_file (the run "
                "resumes from its last checkpoint)")


class RecordValidationError(input_pipeline.InputDataError):
  """A record file of --input_file cannot be trained on; the message is one line with the fix."""


def validate_record_files(files: Sequence[str], *, max_seq_length: int,
                          max_predictions_per_seq: int, vocab_size: int,
                          dynamic_masking: bool = False,
                          sample_per_file: int = DEFAULT_SAMPLE_PER_FILE) -> None:
  """Checks the first `sample_per_file` records of every file against the flags and the config.

  Args:
    files: the resolved --input_file files.
    max_seq_length: the --max_seq_length flag.
    max_predictions_per_seq: the --max_predictions_per_seq flag.
    vocab_size: the config's vocab_size; every input id and label must be below it.
    dynamic_masking: expect unmasked records (token_boundary, no masked_lm_*), else masked ones.
      Records of the other kind are reported by input_pipeline.check_record_lengths.
    sample_per_file: records read from the start of each file.

  Raises:
    RecordValidationError: a file that is not a TFRecord file or is cut short within the sample,
      a record that is not a tf.train.Example, lacks a feature, has another length or type, holds
      an id outside [0, vocab_size) or a position outside the sequence; or no records at all.
  """
  spec = input_pipeline.feature_spec(max_seq_length, max_predictions_per_seq,
                                     dynamic=dynamic_masking)
  flags = {"max_seq_length": max_seq_length, "max_predictions_per_seq": max_predictions_per_seq}
  counts = dict.fromkeys(files, 0)
  for path, record in _sample_records(files, sample_per_file):
    _check_record(path, counts[path], record, spec, flags, vocab_size)
    counts[path] += 1
  empty = [path for path, count in counts.items() if not count]
  for path in empty:  # tf.data reads a file shorter than a record header as empty
    problem = _first_broken_record(path, 1)
    if problem is not None:
      raise RecordValidationError(_data_loss_line(path, *problem))
  if len(empty) == len(counts):
    raise RecordValidationError(
        f"the files of --input_file hold no records (e.g. {files[0]}): regenerate them with "
        "create_pretraining_data.")
  if empty:
    logging.warning("%d file(s) of --input_file hold no records, e.g. %s", len(empty), empty[0])


def _sample_records(files: Sequence[str], count: int) -> list[tuple[str, bytes]]:
  """(file, record) for the first `count` records of each file, read by one parallel tf.data
  pipeline (a dataset per file costs ~0.1 s of eager overhead); a broken file is one line."""

  @tf.autograph.experimental.do_not_convert
  def first_records(path):
    return tf.data.TFRecordDataset(path).take(count).map(lambda record: (path, record))

  dataset = tf.data.Dataset.from_tensor_slices(list(files)).interleave(
      first_records, cycle_length=min(_PARALLEL_FILES, len(files)),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  samples = []
  try:
    for paths, records in dataset.batch(1024).as_numpy_iterator():
      samples.extend(zip((path.decode() for path in paths), records))
  except tf.errors.OpError as error:
    raise RecordValidationError(_locate_read_error(files, count, error)) from None
  return samples


def _locate_read_error(files: Sequence[str], count: int, error: tf.errors.OpError) -> str:
  """The one line for a read error of the sampling pipeline, which does not name the file."""
  for path in files:
    try:
      problem = _first_broken_record(path, count)
    except OSError as read_error:
      return f"{path} cannot be read ({read_error.strerror or read_error})."
    except tf.errors.OpError as read_error:  # remote files
      return f"{path} cannot be read ({_first_line(read_error.message)})."
    if problem is not None:
      return _data_loss_line(path, *problem)
  return (f"the files of --input_file cannot be read as TFRecord files "
          f"({_first_line(error.message)}).")


def _check_record(path: str, index: int, record: bytes, spec: dict, flags: dict,
                  vocab_size: int) -> None:
  """Checks one record's features against the parsing spec, the flags and the vocabulary."""
  where = f"{path}: record {index}"
  try:
    features = tf.train.Example.FromString(record).features.feature
  except Exception:  # protobuf raises its own DecodeError  # pylint: disable=broad-except
    raise RecordValidationError(
        f"{where} is not a tf.train.Example, so {path} is not a pretraining record file: "
        f"{_NOT_A_RECORD_FILE}.") from None
  for name, feature_spec in spec.items():
    if name not in features:
      raise RecordValidationError(
          f"{where} lacks the feature {name!r} of {_schema_name(spec)} pretraining records: "
          "regenerate the file with create_pretraining_data, or leave it out of --input_file.")
    values = _values(features[name], feature_spec.dtype)
    if values is None:
      kind = features[name].WhichOneof("kind")
      raise RecordValidationError(
          f"{where}: {name} holds {kind} values, not {feature_spec.dtype.name}: it is not an "
          "ALBERT pretraining record; regenerate the file with create_pretraining_data.")
    expected = feature_spec.shape[0]
    if len(values) != expected:
      raise RecordValidationError(_length_line(where, name, len(values), expected, flags))
  for name in _ID_FEATURES:
    if name in spec:
      _check_range(
          where, name, features[name].int64_list.value, vocab_size,
          f"outside the vocabulary (vocab_size={vocab_size} in --albert_config_file): the "
          "records were made with another vocabulary; train with the config of that "
          "vocabulary, or regenerate the records with this one")
  if _POSITION_FEATURE in spec:
    _check_range(
        where, _POSITION_FEATURE, features[_POSITION_FEATURE].int64_list.value,
        flags["max_seq_length"],
        f"outside the sequence (--max_seq_length={flags['max_seq_length']}): regenerate "
        "the file with create_pretraining_data")


def _values(feature: tf.train.Feature, dtype: tf.dtypes.DType):
  """The feature's values if they are of `dtype`'s list kind (an empty list is either kind)."""
  kind = feature.WhichOneof("kind")
  if dtype == tf.int64 and kind in ("int64_list", None):
    return feature.int64_list.value
  if dtype == tf.float32 and kind in ("float_list", None):
    return feature.float_list.value
  return None


def _schema_name(spec: dict) -> str:
  return "masked" if "masked_lm_ids" in spec else "unmasked (--dynamic_masking)"


def _length_line(where: str, name: str, actual: int, expected: int, flags: dict) -> str:
  flag = _LENGTH_FLAGS.get(name)
  if flag is None:
    return (f"{where}: {name} has {actual} values, not {expected}: it is not an ALBERT "
            "pretraining record; regenerate the file with create_pretraining_data.")
  return (f"{where}: {name} has {actual} values but --{flag}={flags[flag]}: the file was made "
          f"with {flag}={actual}; pass --{flag}={actual} if every file has it, else regenerate "
          "the file or leave it out of --input_file.")


def _check_range(where: str, name: str, values, limit: int, explanation: str) -> None:
  for value in values:
    if not 0 <= value < limit:
      raise RecordValidationError(f"{where}: {name} holds {value}, {explanation}.")


def _first_line(message: str) -> str:
  lines = [line for line in message.splitlines() if line.strip()]
  return lines[0].strip() if lines else "no message"


def _data_loss_line(path: str, kind: str, offset: int) -> str:
  """The one line for a record of `path` at byte `offset` that is "truncated" or "corrupted"."""
  if offset == 0:
    return (f"{path} is not a TFRecord file (its first record is {kind}): {_NOT_A_RECORD_FILE}; "
            "if it is a record file, it is broken: regenerate it.")
  if kind == "truncated":
    return (f"{path} is cut short (the record at byte {offset} runs past the end of the file: an "
            f"interrupted write or copy): {_BROKEN_FILE}.")
  return (f"{path} is corrupted (the record at byte {offset} fails its checksum): "
          f"{_BROKEN_FILE}.")


def describe_data_loss(error: tf.errors.DataLossError, files: Sequence[str] = ()) -> str:
  """One line for a DataLossError raised by tf.data while training, naming the file if it can.

  tf.data's message names a byte offset but not the file: the start of a record cut short or
  whose length fails its checksum, or 12 bytes into a record whose data fails it. The file is the
  one of `files` with such a record there (its header read; a walk over the record headers only
  for a bad length, which leaves no trace at the offset).

  Example, in a command line's error handling:

    except tf.errors.DataLossError as error:
      sys.exit(prefix + record_validation.describe_data_loss(error, files))

  Args:
    error: the error the training loop raised.
    files: the run's --input_file files.

  Returns:
    E.g. "records/train-00003.tfrecord is cut short (the record at byte 1044 runs past the end of
    the file: ...): regenerate or copy the file again, ...".
  """
  message = error.message or str(error)
  found = _DATA_LOSS.search(message)
  if found is None:
    return (f"a file could not be read ({_first_line(message)}); if it is a record file of "
            f"--input_file: {_BROKEN_FILE}.")
  kind, offset = found.group(1), int(found.group(2))
  candidates = [(path, kind, offset) for path in files if _is_bad_record(path, kind, offset)]
  if not candidates and kind == "corrupted":
    # The data of the record at offset - 12 fails its checksum.
    candidates = [(path, kind, offset - 12)
                  for path in files
                  if offset >= 12 and _is_bad_record(path, kind, offset - 12)]
  if not candidates and kind == "corrupted":
    # The record's length fails its checksum: only a walk over the headers shows a record starts
    # at the offset.
    candidates = [(path, kind, offset) for path in files if _record_starts_at(path, offset)]
  if len(candidates) == 1:
    return _data_loss_line(*candidates[0])
  if candidates:
    names = ", ".join(
        path for path, _, _ in candidates[:3]) + (", ..." if len(candidates) > 3 else "")
    return (f"a record file of --input_file is broken ({found.group(0)}), one of {names}: "
            f"{_BROKEN_FILE}.")
  return (f"a record file of --input_file is broken ({found.group(0)}; no file could be singled "
          f"out): {_BROKEN_FILE}.")


def _is_bad_record(path: str, kind: str, offset: int) -> bool:
  """Whether `path` has a record at `offset` with a valid length (so a record does start there)
  whose data is cut short (kind "truncated") or fails its checksum ("corrupted")."""
  try:
    with file_io.open_file(path, "rb") as handle:
      handle.seek(offset)
      header = handle.read(12)
      if len(header) < 12 or _masked_crc32c(header[:8]) != struct.unpack("<I", header[8:])[0]:
        return False
      handle.seek(offset)
      return _read_record(handle)[0] == kind
  except (OSError, tf.errors.OpError):
    return False


def _record_starts_at(path: str, offset: int) -> bool:
  """Whether a record of `path` starts at `offset`, following the record lengths from the start
  (the lengths' checksums are not checked: a bad one is what is looked for)."""
  try:
    with file_io.open_file(path, "rb") as handle:
      position = 0
      while position < offset:
        header = handle.read(8)
        if len(header) < 8:
          return False
        position += 16 + struct.unpack("<Q", header)[0]
        handle.seek(position)
      return position == offset
  except (OSError, tf.errors.OpError):
    return False


def _first_broken_record(path: str, count: int) -> tuple[str, int] | None:
  """(problem, byte offset) of the first bad one of the first `count` records of `path`."""
  with file_io.open_file(path, "rb") as handle:
    for _ in range(count):
      offset = handle.tell()
      problem, record = _read_record(handle)
      if problem is not None:
        return problem, offset
      if record is None:
        return None
  return None


def _read_record(handle) -> tuple[str | None, bytes | None]:
  """(problem, record) of the TFRecord at the handle's position; (None, None) at the end.

  A record is: uint64 length, uint32 masked CRC-32C of the length, the data, uint32 masked
  CRC-32C of the data (little-endian); the problems are tf.data's words, "truncated" and
  "corrupted".
  """
  header = handle.read(12)
  if not header:
    return None, None
  if len(header) < 12:
    return "truncated", None
  length, length_crc = struct.unpack("<QI", header)
  if _masked_crc32c(header[:8]) != length_crc:
    return "corrupted", None
  data = handle.read(length)
  footer = handle.read(4)
  if len(data) < length or len(footer) < 4:
    return "truncated", None
  if _masked_crc32c(data) != struct.unpack("<I", footer)[0]:
    return "corrupted", None
  return None, data


def _masked_crc32c(data: bytes) -> int:
  """TFRecord's masked CRC-32C of `data` (the data tool's implementation)."""
  return int(example_codec.masked_crc32c_batch([data])[0])
