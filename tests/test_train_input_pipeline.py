"""albert_tf.training.input_pipeline on records generated here in the original schema."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.training import input_pipeline
from tests import test_train_support as support

SEQ, PRED = 16, 3


@pytest.fixture(name="records")
def fixture_records(tmp_path):
  return support.write_records(str(tmp_path), num_files=3, per_file=10, seq_length=SEQ,
                               max_predictions=PRED)


def test_resolve_input_files_expands_comma_separated_globs(tmp_path, records):
  paths, _ = records
  pattern = f"{tmp_path}/train-0000[12].tfrecord,{paths[0]}"
  assert input_pipeline.resolve_input_files(pattern) == [paths[1], paths[2], paths[0]]


@pytest.mark.parametrize("flag", ["", "/nonexistent/dir/train-*"])
def test_resolve_input_files_errors(flag):
  with pytest.raises(input_pipeline.InputDataError, match="--input_file"):
    input_pipeline.resolve_input_files(flag)


def test_decode_record_names_dtypes_and_values(records):
  paths, contents = records
  record = next(iter(tf.data.TFRecordDataset(paths[0])))
  decoded = input_pipeline.decode_record(record, SEQ, PRED)
  expected = contents[0][0]
  assert sorted(decoded) == [
      "input_mask", "input_type_ids", "input_word_ids", "masked_lm_ids", "masked_lm_positions",
      "masked_lm_weights", "next_sentence_labels"
  ]
  for name, source in [("input_word_ids", "input_ids"), ("input_type_ids", "segment_ids"),
                       ("input_mask", "input_mask"), ("masked_lm_positions", "masked_lm_positions"),
                       ("masked_lm_ids", "masked_lm_ids"),
                       ("next_sentence_labels", "next_sentence_labels")]:
    assert decoded[name].dtype == tf.int32, name
    np.testing.assert_array_equal(decoded[name].numpy(), expected[source])
  assert decoded["masked_lm_weights"].dtype == tf.float32
  np.testing.assert_array_equal(decoded["masked_lm_weights"].numpy(), expected["masked_lm_weights"])


def test_check_record_lengths_accepts_matching_records(records):
  input_pipeline.check_record_lengths(records[0], SEQ, PRED)


@pytest.mark.parametrize("seq,pred,message", [
    (512, PRED,
     "records have max_seq_length=16 .* but --max_seq_length=512: pass --max_seq_length=16"),
    (SEQ, 20, "records have max_predictions_per_seq=3 .* pass --max_predictions_per_seq=3"),
])
def test_check_record_lengths_names_the_data_value(records, seq, pred, message):
  with pytest.raises(input_pipeline.InputDataError, match=message):
    input_pipeline.check_record_lengths(records[0], seq, pred)


def test_check_record_lengths_rejects_foreign_and_corrupt_files(tmp_path):
  foreign = str(tmp_path / "foreign.tfrecord")
  with tf.io.TFRecordWriter(foreign) as writer:
    writer.write(tf.train.Example().SerializeToString())
  with pytest.raises(input_pipeline.InputDataError, match="lack the feature 'input_ids'"):
    input_pipeline.check_record_lengths([foreign], SEQ, PRED)
  corrupt = tmp_path / "corrupt.tfrecord"
  corrupt.write_bytes(b"this is not a tfrecord file at all")
  with pytest.raises(input_pipeline.InputDataError, match="not a readable TFRecord"):
    input_pipeline.check_record_lengths([str(corrupt)], SEQ, PRED)
  empty = tmp_path / "empty.tfrecord"
  empty.write_bytes(b"")
  with pytest.raises(input_pipeline.InputDataError, match="holds no records"):
    input_pipeline.check_record_lengths([str(empty)], SEQ, PRED)


def _ids(batch):
  # Instances are identified by their (unique with overwhelming probability) token rows.
  return {tuple(row) for row in batch["input_word_ids"].numpy().tolist()}


def test_training_batches_are_static_cover_all_files_and_are_seeded(records):
  paths, contents = records
  dataset = input_pipeline.pretraining_dataset(paths, 4, SEQ, PRED, seed=3)
  assert dataset.element_spec["input_word_ids"].shape == (4, SEQ)
  assert dataset.element_spec["masked_lm_weights"].shape == (4, PRED)
  assert dataset.element_spec["next_sentence_labels"].shape == (4, 1)
  seen = set()
  for batch in dataset.take(30):  # 120 examples = 4 passes over the 30 records
    seen |= _ids(batch)
  everything = {tuple(i["input_ids"].tolist()) for file in contents for i in file}
  assert seen == everything
  first_run, second_run = (
      input_pipeline.pretraining_dataset(paths, 4, SEQ, PRED, seed=3).take(5) for _ in range(2))
  for first, second in zip(first_run, second_run):
    np.testing.assert_array_equal(first["input_word_ids"], second["input_word_ids"])


@pytest.mark.parametrize("num_files", [3, 1])  # file-level, then record-level sharding
def test_input_pipelines_read_disjoint_shards(records, num_files):
  paths = records[0][:num_files]
  shards = [
      set().union(
          *(_ids(b)
            for b in input_pipeline.pretraining_dataset(paths, 2, SEQ, PRED, input_pipeline_id=i,
                                                        num_input_pipelines=2, seed=1).take(4)))
      for i in range(2)
  ]
  assert shards[0] and shards[1] and not shards[0] & shards[1]


def test_eval_reads_in_file_order_and_repeats(records):
  paths, contents = records
  dataset = input_pipeline.pretraining_dataset(paths[:1], 4, SEQ, PRED, is_training=False)
  batches = [b["input_word_ids"].numpy() for b in dataset.take(3)]
  order = [i["input_ids"] for i in contents[0]]
  np.testing.assert_array_equal(np.concatenate(batches)[:10], np.stack(order))
  np.testing.assert_array_equal(np.concatenate(batches)[10:12], np.stack(order[:2]))
