"""tf.data input for the classifier records written by `features.cached_features`.

Batches use the model's input names (input_word_ids, input_mask, input_type_ids, int32 as the
original casts for TPUs) plus label_ids (int32; float32 for regression) and is_real_example.

The pipeline is `record_dataset.fine_tuning_dataset`: training repeats, shuffles in the original's
100-record buffer and drops the remainder; evaluation and prediction read the file once in order and
pad the last batch with is_real_example 0 rows (the original's PaddingInputExample), by which the
metrics weight.
"""

import tensorflow as tf

from albert_tf.tasks import record_dataset


def feature_spec(max_seq_length: int, is_regression: bool) -> dict[str, tf.io.FixedLenFeature]:
  """The parsing spec of the original run_classifier input_fn."""
  spec = {
      name: tf.io.FixedLenFeature([max_seq_length], tf.int64)
      for name in ("input_ids", "input_mask", "segment_ids")
  }
  spec["label_ids"] = tf.io.FixedLenFeature([], tf.float32 if is_regression else tf.int64)
  spec["is_real_example"] = tf.io.FixedLenFeature([], tf.int64)
  return spec


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
  return record_dataset.fine_tuning_dataset(path, feature_spec(max_seq_length, is_regression),
                                            batch_size=batch_size, is_training=is_training,
                                            seed=seed, input_pipeline_id=input_pipeline_id,
                                            num_input_pipelines=num_input_pipelines)
