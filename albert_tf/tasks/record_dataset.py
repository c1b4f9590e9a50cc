"""The one tf.data pipeline of the fine-tuning tasks' cached records (classifier, SQuAD, RACE).

Records hold the original schema (input_ids, input_mask, segment_ids, ... as int64); batches use
the model's input names (input_word_ids, input_mask, input_type_ids), int32 as the original casts
for TPUs, and float32 for the features a task names as floats.

Training repeats, shuffles in the original input_fn's 100-record buffer and drops the remainder, so
every batch has the static shape XLA and TPUs need. Evaluation and prediction read the file once in
order and pad the last batch to batch_size with all-zero rows whose is_real_example is 0 (the
original's PaddingInputExample): the shapes stay static, no example is dropped, and metrics and
predictions weight by is_real_example.
"""

from typing import Mapping, Sequence

import tensorflow as tf

# The original input_fn's shuffle buffer.
SHUFFLE_BUFFER = 100
# 1 for the rows of a batch that hold a record, 0 for the padding rows of the last eval batch.
REAL_EXAMPLE = "is_real_example"
_RENAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}


def decode_record(
    record: tf.Tensor, spec: Mapping[str, tf.io.FixedLenFeature], float_features: Sequence[str] = ()
) -> dict[str, tf.Tensor]:
  """Parses one serialized example: original names mapped, int64 -> int32, `float_features` ->
  float32 (other float features stay as they are)."""
  parsed = tf.io.parse_single_example(record, spec)
  decoded = {}
  for name, value in parsed.items():
    if name in float_features:
      value = tf.cast(value, tf.float32)
    elif value.dtype == tf.int64:
      value = tf.cast(value, tf.int32)
    decoded[_RENAMES.get(name, name)] = value
  return decoded


def pad_batch(batch: Mapping[str, tf.Tensor], batch_size: int) -> dict[str, tf.Tensor]:
  """Pads a (last, short) batch with zero rows to batch_size; is_real_example is 0 there.

  A batch without is_real_example (records that do not store it) gets one, 1 on every real row.
  """
  real = tf.shape(next(iter(batch.values())))[0]
  if REAL_EXAMPLE not in batch:
    batch = {**batch, REAL_EXAMPLE: tf.ones([real], tf.int32)}
  padded = {}
  for name, value in batch.items():
    paddings = [[0, batch_size - real]] + [[0, 0]] * (value.shape.rank - 1)
    padded[name] = tf.ensure_shape(tf.pad(value, paddings), [batch_size] + value.shape[1:])
  return padded


def fine_tuning_dataset(
    path: str, spec: Mapping[str, tf.io.FixedLenFeature], *, batch_size: int, is_training: bool,
    seed: int = 0, input_pipeline_id: int = 0, num_input_pipelines: int = 1,
    float_features: Sequence[str] = ()) -> tf.data.Dataset:
  """Batches of one record file's features for one input pipeline (one worker).

  Example:
    spec = {"input_ids": tf.io.FixedLenFeature([128], tf.int64),
            "label_ids": tf.io.FixedLenFeature([], tf.int64)}
    dataset = fine_tuning_dataset("ft/mrpc/mrpc_eval.tf_record", spec, batch_size=8,
                                  is_training=False)
    batch = next(iter(dataset))  # input_word_ids [8, 128], label_ids [8], is_real_example [8]

  Args:
    path: a record file.
    spec: its parsing spec, under the records' (original) names.
    batch_size: examples per batch of this pipeline.
    is_training: repeat, shuffle and drop the remainder (True); one padded pass in order (False).
    seed: the shuffle seed.
    input_pipeline_id: this pipeline's index; it reads records id, id + n, id + 2n, ...
    num_input_pipelines: n, the pipelines reading the file (one per worker).
    float_features: the features (records' names) the model takes as float32.

  Returns:
    Training: an infinite dataset. Otherwise ceil(records of this pipeline / batch_size) batches,
    with is_real_example. Every batch has batch_size rows.
  """
  dataset = tf.data.TFRecordDataset(path)
  if num_input_pipelines > 1:
    dataset = dataset.shard(num_input_pipelines, input_pipeline_id)
  if is_training:
    dataset = dataset.repeat().shuffle(SHUFFLE_BUFFER, seed=seed)
  dataset = dataset.map(lambda record: decode_record(record, spec, float_features),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if is_training:
    dataset = dataset.batch(batch_size, drop_remainder=True)
  else:
    dataset = dataset.batch(batch_size).map(lambda batch: pad_batch(batch, batch_size))
  return dataset.prefetch(tf.data.AUTOTUNE)
