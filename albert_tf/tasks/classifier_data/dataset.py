"""tf.data input for the classifier records written by `features.cached_features`.

Batches use the model's input names (input_word_ids, input_mask, input_type_ids, int32 as the
original casts for TPUs) plus label_ids (int32; float32 for regression) and is_real_example.

Training repeats, shuffles in the original's 100-record buffer and drops the remainder. Evaluation
and prediction read the file once in order and pad the last batch to batch_size with all-zero rows
whose is_real_example is 0, the original's PaddingInputExample: shapes stay static for XLA and TPUs,
no example is dropped, and metrics weight by is_real_example.
"""

import tensorflow as tf

# The original input_fn's shuffle buffer.
_SHUFFLE_BUFFER = 100
_RENAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}


def feature_spec(max_seq_length: int, is_regression: bool) -> dict[str, tf.io.FixedLenFeature]:
  """The parsing spec of the original run_classifier input_fn."""
  spec = {
      name: tf.io.FixedLenFeature([max_seq_length], tf.int64)
      for name in ("input_ids", "input_mask", "segment_ids")
  }
  spec["label_ids"] = tf.io.FixedLenFeature([], tf.float32 if is_regression else tf.int64)
  spec["is_real_example"] = tf.io.FixedLenFeature([], tf.int64)
  return spec


def _decode(record: tf.Tensor, spec: dict[str, tf.io.FixedLenFeature]) -> dict[str, tf.Tensor]:
  parsed = tf.io.parse_single_example(record, spec)
  return {
      _RENAMES.get(name, name): tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
      for name, value in parsed.items()
  }


def _pad_batch(batch: dict[str, tf.Tensor], batch_size: int) -> dict[str, tf.Tensor]:
  """Pads a (last, short) batch with zero rows up to batch_size; is_real_example is 0 there."""
  missing = batch_size - tf.shape(batch["is_real_example"])[0]
  padded = {}
  for name, value in batch.items():
    paddings = [[0, missing]] + [[0, 0]] * (value.shape.rank - 1)
    padded[name] = tf.ensure_shape(tf.pad(value, paddings), [batch_size] + value.shape[1:])
  return padded


def classifier_dataset(path: str, *, batch_size: int, max_seq_length: int, is_training: bool,
                       is_regression: bool, seed: int = 0, input_pipeline_id: int = 0,
                       num_input_pipelines: int = 1) -> tf.data.Dataset:
  """Batches of classifier features for one input pipeline (one worker).

  Example:
    dataset = classifier_dataset("ft/mrpc/mrpc_eval.tf_record", batch_size=8,
                                 max_seq_length=128, is_training=False, is_regression=False)
    batch = next(iter(dataset))   # batch["input_word_ids"].shape == [8, 128]

  Args:
    path: a record file of `cached_features`.
    batch_size: examples per batch of this pipeline.
    max_seq_length: sequence length of the records.
    is_training: repeat, shuffle and drop the remainder (True); one padded pass in order (False).
    is_regression: the labels are floats.
    seed: the shuffle seed.
    input_pipeline_id: this pipeline's index; it reads records id, id + n, id + 2n, ...
    num_input_pipelines: n, the pipelines reading the file (one per worker).

  Returns:
    Training: an infinite dataset. Otherwise ceil(records of this pipeline / batch_size) batches.
    Every batch has batch_size rows.
  """
  spec = feature_spec(max_seq_length, is_regression)
  dataset = tf.data.TFRecordDataset(path)
  if num_input_pipelines > 1:
    dataset = dataset.shard(num_input_pipelines, input_pipeline_id)
  if is_training:
    dataset = dataset.repeat().shuffle(_SHUFFLE_BUFFER, seed=seed)
  dataset = dataset.map(lambda record: _decode(record, spec), num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True)
  if is_training:
    dataset = dataset.batch(batch_size, drop_remainder=True)
  else:
    dataset = dataset.batch(batch_size).map(lambda batch: _pad_batch(batch, batch_size))
  return dataset.prefetch(tf.data.AUTOTUNE)
