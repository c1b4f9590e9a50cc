"""tf.data input pipeline for pretraining records in the original schema (reference §4).

Records hold input_ids, input_mask, segment_ids, token_boundary (int64 [max_seq_length]),
masked_lm_positions, masked_lm_ids (int64 [max_predictions_per_seq]), masked_lm_weights (float) and
next_sentence_labels (int64 [1]). Batches use the model's input names (input_word_ids,
input_type_ids) and int32, as the original casts for TPUs.

Dynamic-masking records (create_pretraining_data --dynamic_masking) lack the masked_lm_* features;
with `masking` settings the pipeline masks every example as it reads it (albert_tf.training.
dynamic_masking), keyed by the example's position in the stream, and yields the same features.

Differences from the original input_fn, on purpose: the interleave is deterministic (the original's
`sloppy=True` made runs unrepeatable; its cost is negligible next to the model), every shuffle is
seeded, and the pipeline position is restored on resume (the iterator is checkpointed).
"""

from typing import Sequence

import tensorflow as tf

from albert_tf import file_io
from albert_tf.tasks import record_dataset
from albert_tf.training import dynamic_masking

# The original input_fn's constants: files read in parallel and the record shuffle buffer.
_CYCLE_LENGTH = 4
_RECORD_SHUFFLE_BUFFER = 100

_SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")
_BOUNDARY_FEATURE = "token_boundary"
_PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


class InputDataError(ValueError):
  """The input files are missing, unreadable or disagree with the flags."""


def resolve_input_files(input_file: str) -> list[str]:
  """Expands the original's comma-separated list of globs into sorted file names.

  Args:
    input_file: e.g. "records/train-*,gs://bucket/extra/part.tfrecord".

  Returns:
    The files, in pattern order, each pattern's matches sorted (see `file_io.expand_patterns`).

  Raises:
    InputDataError: no pattern given, or a pattern that matches nothing.
  """
  try:
    return file_io.expand_patterns(input_file, flag="--input_file")
  except file_io.FilePatternError as error:
    raise InputDataError(str(error)) from None


def feature_spec(max_seq_length: int, max_predictions_per_seq: int,
                 dynamic: bool = False) -> dict[str, tf.io.FixedLenFeature]:
  """The parsing spec of the original run_pretraining input_fn (`dynamic`: of unmasked records,
  token_boundary instead of the masked_lm_* features, as the original's masked_lm_budget mode)."""
  spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in _SEQUENCE_FEATURES}
  if dynamic:
    spec[_BOUNDARY_FEATURE] = tf.io.FixedLenFeature([max_seq_length], tf.int64)
  else:
    spec["masked_lm_positions"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_ids"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32)
  spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
  return spec


def check_record_lengths(files: Sequence[str], max_seq_length: int, max_predictions_per_seq: int,
                         dynamic_masking: bool = False) -> None:
  """Peeks at the first record and fails with the data's own lengths if the flags disagree.

  Args:
    files: the input files; the first one is read.
    max_seq_length: the --max_seq_length flag.
    max_predictions_per_seq: the --max_predictions_per_seq flag.
    dynamic_masking: the records must be unmasked ones (--dynamic_masking), else masked ones.

  Raises:
    InputDataError: unreadable/empty file, missing feature, lengths that disagree, or records of
      the other kind (masked offline vs. left for dynamic masking).
  """
  path = files[0]
  features = _first_example(path).features.feature

  def length(name: str) -> int:
    if name not in features:
      raise InputDataError(f"{path}: records lack the feature {name!r}; they are not ALBERT "
                           "pretraining records (create_pretraining_data.py writes them).")
    feature = features[name]
    return len(feature.int64_list.value) or len(feature.float_list.value)

  masked = _PREDICTION_FEATURES[0] in features
  if dynamic_masking and masked:
    raise InputDataError(
        f"{path}: the records are already masked (they hold masked_lm_positions) but "
        "--dynamic_masking/--masked_lm_budget asks to mask them on the fly: drop the flag, or "
        "regenerate the records with create_pretraining_data --dynamic_masking.")
  if not dynamic_masking and not masked and _BOUNDARY_FEATURE in features:
    raise InputDataError(
        f"{path}: the records are unmasked (create_pretraining_data --dynamic_masking: no "
        "masked_lm_* features): pass --dynamic_masking to mask them on the fly.")
  checks = [("max_seq_length", max_seq_length, _SEQUENCE_FEATURES)]
  if not dynamic_masking:
    checks.append(("max_predictions_per_seq", max_predictions_per_seq, _PREDICTION_FEATURES))
  for flag, expected, names in checks:
    for name in names:
      actual = length(name)
      if actual != expected:
        raise InputDataError(
            f"{path}: records have {flag}={actual} ({name} has {actual} values) but "
            f"--{flag}={expected}: pass --{flag}={actual}.")
  length("next_sentence_labels")


def _first_example(path: str) -> tf.train.Example:
  try:
    first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
  except tf.errors.OpError as error:
    raise InputDataError(
        f"{path} is not a readable TFRecord file ({error.message.splitlines()[0]}).") from error
  if first is None:
    raise InputDataError(f"{path} holds no records: regenerate it with create_pretraining_data.")
  try:
    return tf.train.Example.FromString(first.numpy())
  except Exception as error:  # protobuf raises its own DecodeError
    raise InputDataError(
        f"{path}: the first record is not a tf.train.Example ({error}).") from error


def check_masking_settings(settings: dynamic_masking.MaskingSettings, max_predictions_per_seq: int,
                           stats_path: str) -> None:
  """Fails when the records' masking cap differs from --max_predictions_per_seq."""
  made = settings.max_predictions_per_seq
  if made != max_predictions_per_seq:
    raise InputDataError(
        f"{stats_path}: the records were made with max_predictions_per_seq={made} but "
        f"--max_predictions_per_seq={max_predictions_per_seq}: pass --max_predictions_per_seq="
        f"{made}.")


def decode_record(record: tf.Tensor, max_seq_length: int, max_predictions_per_seq: int,
                  dynamic: bool = False) -> dict[str, tf.Tensor]:
  """Parses one serialized example into model inputs (int64 -> int32, original names mapped)."""
  return record_dataset.decode_record(
      record, feature_spec(max_seq_length, max_predictions_per_seq, dynamic=dynamic))


def pretraining_dataset(files: Sequence[str], batch_size: int, max_seq_length: int,
                        max_predictions_per_seq: int, is_training: bool = True,
                        input_pipeline_id: int = 0, num_input_pipelines: int = 1, seed: int = 0,
                        masking: dynamic_masking.MaskingSettings | None = None) -> tf.data.Dataset:
  """Batches of pretraining features for one input pipeline (one worker).

  Training: the file list is sharded over the input pipelines (records are sharded instead when
  there are fewer files than pipelines), repeated, shuffled, read `min(4, files)` at a time,
  shuffled again in a 100-record buffer, decoded, batched with drop_remainder (static shapes for
  XLA/TPU) and prefetched. Evaluation reads the files in order, repeated, like the original.
  With `masking`, each decoded record is masked with the key of its position in this pipeline's
  stream (the iterator checkpoint restores the position, so a resumed run masks as an
  uninterrupted one would).

  Args:
    files: TFRecord files.
    batch_size: examples per batch of this pipeline.
    max_seq_length: sequence length of the records.
    max_predictions_per_seq: masked positions per record.
    is_training: shuffle and interleave (True) or read in order (False).
    input_pipeline_id: this pipeline's index.
    num_input_pipelines: pipelines reading the same files (one per worker).
    seed: seed of every shuffle and of the dynamic masks; pipelines with the same seed see
      disjoint shards.
    masking: the masking settings of unmasked (--dynamic_masking) records; None for records
      masked offline.

  Returns:
    An infinite tf.data.Dataset of dicts of [batch_size, ...] tensors.
  """
  files = list(files)
  shard_files = is_training and len(files) >= num_input_pipelines
  if is_training:
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shard_files:
      dataset = dataset.shard(num_input_pipelines, input_pipeline_id)
    dataset = dataset.repeat().shuffle(len(files), seed=seed)
    dataset = dataset.interleave(tf.data.TFRecordDataset,
                                 cycle_length=min(_CYCLE_LENGTH, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  else:
    dataset = tf.data.TFRecordDataset(files).repeat()
  if num_input_pipelines > 1 and not shard_files:
    dataset = dataset.shard(num_input_pipelines, input_pipeline_id)
  if is_training:
    dataset = dataset.shuffle(_RECORD_SHUFFLE_BUFFER, seed=seed)
  if masking is None:
    dataset = dataset.map(
        lambda record: decode_record(record, max_seq_length, max_predictions_per_seq),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  stream = dynamic_masking.TRAIN_STREAM if is_training else dynamic_masking.EVAL_STREAM
  return _masked_batches(dataset, batch_size, max_seq_length, max_predictions_per_seq, masking,
                         dynamic_masking.element_key_base(seed, stream, input_pipeline_id))


def _masked_batches(records: tf.data.Dataset, batch_size: int, max_seq_length: int,
                    max_predictions_per_seq: int, masking: dynamic_masking.MaskingSettings,
                    key_base: tf.Tensor) -> tf.data.Dataset:
  """Decodes unmasked records and masks them, each with the key of its position in the stream.

  The random numbers are drawn per record (so a record's mask depends on its position alone) and
  the masking runs on whole batches (one loop for the batch instead of one per record).
  """
  if masking.max_predictions_per_seq != max_predictions_per_seq:
    raise ValueError(f"masking.max_predictions_per_seq={masking.max_predictions_per_seq} but "
                     f"max_predictions_per_seq={max_predictions_per_seq}")

  def decode(index, record):
    features = decode_record(record, max_seq_length, max_predictions_per_seq, dynamic=True)
    key = dynamic_masking.fold_index(key_base, index)
    return dict(features, **dynamic_masking.draw_randomness(key, max_seq_length, masking))

  # enumerate() counts in the iterator's checkpointed state.
  dataset = records.enumerate().map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  dataset = dataset.batch(batch_size, drop_remainder=True)
  dataset = dataset.map(lambda batch: dynamic_masking.mask_batch(batch, masking)[0],
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.prefetch(tf.data.AUTOTUNE)
