"""tf.data input for the SQuAD records written by cache.py.

Batches use the model's input names: input_word_ids, input_mask, input_type_ids (int32 [B, T], as
the original casts for TPUs), p_mask (float32 [B, T], 1 = may not be an answer, the original's
meaning) and unique_ids (int32 [B]); training adds start_positions, end_positions (int32 [B]) and
is_impossible (float32 [B], the target of the v2 answer classifier).

The pipeline is `record_dataset.fine_tuning_dataset`: training repeats, shuffles in the original's
100-record buffer (the examples were shuffled with the original's seed before featurizing) and drops
the remainder; prediction reads the file once in order and pads the last batch with all-zero rows,
adding is_real_example (0 on those rows), so no feature is dropped and the shapes stay static.
"""

import tensorflow as tf

from albert_tf.tasks import record_dataset
from albert_tf.tasks.squad_data.records import PREDICT_FEATURE_NAMES
from albert_tf.tasks.squad_data.records import TRAIN_FEATURE_NAMES

_FLOATS = ("p_mask", "is_impossible")
_SEQUENCES = ("input_ids", "input_mask", "segment_ids", "p_mask")


def feature_spec(max_seq_length: int, is_training: bool) -> dict[str, tf.io.FixedLenFeature]:
  """The parsing spec of the original squad input_fn (p_mask always, as its writer writes it)."""
  names = TRAIN_FEATURE_NAMES if is_training else PREDICT_FEATURE_NAMES
  return {
      name: tf.io.FixedLenFeature([max_seq_length] if name in _SEQUENCES else [], tf.int64)
      for name in names
  }


def squad_dataset(record_file: str, batch_size: int, is_training: bool, max_seq_length: int,
                  seed: int = 0, input_pipeline_id: int = 0,
                  num_input_pipelines: int = 1) -> tf.data.Dataset:
  """Batches of SQuAD features for one input pipeline (one worker).

  Example:
    dataset = squad_dataset("out/cache/squad_v2_predict.tf_record", batch_size=8,
                            is_training=False, max_seq_length=384)
    batch = next(iter(dataset))  # batch["input_word_ids"].shape == [8, 384]

  Args:
    record_file: a record file of `cached_train_features` / `cached_eval_features`.
    batch_size: features per batch of this pipeline.
    is_training: repeat, shuffle and drop the remainder (True); one padded pass in order (False).
    max_seq_length: the records' sequence length.
    seed: the shuffle seed.
    input_pipeline_id: this pipeline's index; it reads records id, id + n, id + 2n, ...
    num_input_pipelines: n, the pipelines reading the file.

  Returns:
    Training: an infinite dataset. Otherwise ceil(records of this pipeline / batch_size) batches.
    Every batch has batch_size rows.
  """
  return record_dataset.fine_tuning_dataset(record_file, feature_spec(max_seq_length, is_training),
                                            batch_size=batch_size, is_training=is_training,
                                            seed=seed, input_pipeline_id=input_pipeline_id,
                                            num_input_pipelines=num_input_pipelines,
                                            float_features=_FLOATS)
