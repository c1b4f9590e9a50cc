"""Record files checked at start-up (every file, a sample of records) and records lost mid-run.

Each broken input gives one exact line naming the file (and the record and feature) and the fix;
a record cut short or corrupted where training meets it is named by file from tf.data's error.
"""

import logging
import os
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.training import input_pipeline
from albert_tf.training import record_validation
from tests import test_train_support as support

SEQ, PREDICTIONS, VOCAB = 16, 3, support.TINY_CONFIG["vocab_size"]
DYNAMIC_DROPPED = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
NARROW = ("narrow the --input_file pattern so that it matches only the record files (e.g. "
          "'records/train-*.tfrecord')")
BROKEN = ("regenerate or copy the file again, or leave it out of --input_file (the run resumes "
          "from its last checkpoint)")


def instances(count, seed=0, seq_length=SEQ):
  rng = np.random.default_rng(seed)
  return [support.make_instance(rng, seq_length, PREDICTIONS, VOCAB) for _ in range(count)]


def write(path, items):
  """Writes instances (dicts of arrays) or raw bytes as a TFRecord file; returns the offsets."""
  offsets, offset = [], 0
  with tf.io.TFRecordWriter(str(path)) as writer:
    for item in items:
      data = item if isinstance(item, bytes) else support.to_example(item).SerializeToString()
      writer.write(data)
      offsets.append(offset)
      offset += 16 + len(data)
  return offsets


def validate(files, dynamic_masking=False, **overrides):
  settings = dict(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS, vocab_size=VOCAB,
                  dynamic_masking=dynamic_masking)
  settings.update(overrides)
  record_validation.validate_record_files([str(f) for f in files], **settings)


def fails(files, message, **settings):
  with pytest.raises(record_validation.RecordValidationError) as raised:
    validate(files, **settings)
  assert str(raised.value) == message
  assert isinstance(raised.value, input_pipeline.InputDataError)  # the CLIs' one-line errors


@pytest.fixture(name="good", scope="module")
def fixture_good(tmp_path_factory):
  """Two valid files of 8 records each."""
  directory = tmp_path_factory.mktemp("good")
  for index in range(2):
    write(directory / f"train-{index}.tfrecord", instances(8, seed=index))
  return sorted(directory.glob("train-*"))


def test_fixture_glob_of_the_trainer_tests_passes_quickly(tmp_path):
  directory, _ = support.write_run_inputs(str(tmp_path))
  files = input_pipeline.resolve_input_files(os.path.join(directory, "train-*"))
  started = time.perf_counter()
  validate(files)
  assert time.perf_counter() - started < 5


def test_hundred_files_are_checked_by_sampling_in_bounded_time(tmp_path):
  for index in range(100):
    write(tmp_path / f"train-{index:03d}.tfrecord", instances(6, seed=index))
  # The last file's fifth record is broken: beyond the sample, so it is not read.
  last = instances(6, seed=99)
  last[4]["input_ids"][1] = VOCAB
  write(tmp_path / "train-099.tfrecord", last)
  files = input_pipeline.resolve_input_files(str(tmp_path / "train-*"))
  started = time.perf_counter()
  validate(files)
  assert time.perf_counter() - started < 10  # a tf.data dataset per file took ~14 s here
  fails(
      files, f"{files[-1]}: record 4: input_ids holds 40, outside the vocabulary (vocab_size=40 "
      "in --albert_config_file): the records were made with another vocabulary; train with the "
      "config of that vocabulary, or regenerate the records with this one.", sample_per_file=5)


def test_stats_json_matched_by_the_glob_is_named_with_the_fix(good, tmp_path):
  stats = tmp_path / "train.stats.json"
  stats.write_text('{"instances": 16, "vocab_fingerprint": "abc"}\n')
  fails([good[0], stats], f"{stats} is not a TFRecord file (its first record is corrupted): "
        f"{NARROW}; if it is a record file, it is broken: regenerate it.")


def test_short_text_file_matched_by_the_glob_is_named(good, tmp_path):
  notes = tmp_path / "notes.txt"
  notes.write_text("ok\n")
  fails([good[0], notes], f"{notes} is not a TFRecord file (its first record is truncated): "
        f"{NARROW}; if it is a record file, it is broken: regenerate it.")


def test_record_that_is_not_an_example_is_named(good, tmp_path):
  path = tmp_path / "raw.tfrecord"
  write(path, [b"\xff\xff\xff\xff not a protocol buffer"])
  fails([good[0], path], f"{path}: record 0 is not a tf.train.Example, so {path} is not a "
        f"pretraining record file: {NARROW}.")


def test_file_cut_short_within_the_sample_is_named_with_the_byte(good, tmp_path):
  path = tmp_path / "cut.tfrecord"
  offsets = write(path, instances(4))
  data = path.read_bytes()
  path.write_bytes(data[:offsets[2] + 20])  # the third record loses its end
  fails([good[0], path], f"{path} is cut short (the record at byte {offsets[2]} runs past the end "
        f"of the file: an interrupted write or copy): {BROKEN}.")


def test_corrupted_record_within_the_sample_is_named_with_the_byte(good, tmp_path):
  path = tmp_path / "flipped.tfrecord"
  offsets = write(path, instances(4))
  data = bytearray(path.read_bytes())
  data[offsets[1] + 20] ^= 0x01  # one bit of the second record's data
  path.write_bytes(bytes(data))
  fails([path, good[1]], f"{path} is corrupted (the record at byte {offsets[1]} fails its "
        f"checksum): {BROKEN}.")


def test_missing_feature_names_file_record_and_feature(good, tmp_path):
  items = instances(4)
  del items[2]["masked_lm_ids"]
  path = tmp_path / "partial.tfrecord"
  write(path, items)
  fails([good[0], path], f"{path}: record 2 lacks the feature 'masked_lm_ids' of masked "
        "pretraining records: regenerate the file with create_pretraining_data, or leave it out "
        "of --input_file.")


def test_later_file_of_another_max_seq_length_is_named(good, tmp_path):
  path = tmp_path / "long.tfrecord"
  write(path, instances(2, seq_length=32))
  fails([good[0], good[1], path], f"{path}: record 0: input_ids has 32 values but "
        "--max_seq_length=16: the file was made with max_seq_length=32; pass "
        "--max_seq_length=32 if every file has it, else regenerate the file or leave it out of "
        "--input_file.")


def test_other_max_predictions_per_seq_is_named(good):
  fails(
      good, f"{good[0]}: record 0: masked_lm_positions has 3 values but "
      "--max_predictions_per_seq=5: the file was made with max_predictions_per_seq=3; pass "
      "--max_predictions_per_seq=3 if every file has it, else regenerate the file or leave it "
      "out of --input_file.", max_predictions_per_seq=5)


def test_feature_of_the_wrong_type_is_named(tmp_path):
  items = instances(2)
  items[1]["masked_lm_weights"] = items[1]["masked_lm_weights"].astype(np.int64)
  path = tmp_path / "ints.tfrecord"
  write(path, items)
  fails([path], f"{path}: record 1: masked_lm_weights holds int64_list values, not float32: it "
        "is not an ALBERT pretraining record; regenerate the file with create_pretraining_data.")


def test_next_sentence_label_of_another_length_is_named(tmp_path):
  items = instances(1)
  items[0]["next_sentence_labels"] = np.array([0, 1])
  path = tmp_path / "labels.tfrecord"
  write(path, items)
  fails([path], f"{path}: record 0: next_sentence_labels has 2 values, not 1: it is not an ALBERT "
        "pretraining record; regenerate the file with create_pretraining_data.")


@pytest.mark.parametrize("name,value", [("input_ids", VOCAB + 5), ("masked_lm_ids", -1)])
def test_id_outside_the_vocabulary_names_file_value_and_vocab_size(good, tmp_path, name, value):
  items = instances(3)
  items[1][name][0] = value
  path = tmp_path / "ids.tfrecord"
  write(path, items)
  fails([good[0], path], f"{path}: record 1: {name} holds {value}, outside the vocabulary "
        "(vocab_size=40 in --albert_config_file): the records were made with another vocabulary; "
        "train with the config of that vocabulary, or regenerate the records with this one.")


def test_config_one_id_too_small_for_the_records_fails(good):
  largest = max(
      int(max(item["input_ids"].max(), item["masked_lm_ids"].max()))
      for seed in (0, 1)
      for item in instances(4, seed))  # the sampled records of `good`
  validate(good, vocab_size=largest + 1)
  with pytest.raises(record_validation.RecordValidationError,
                     match=rf"holds {largest}, outside the vocabulary \(vocab_size={largest} in "):
    validate(good, vocab_size=largest)


def test_masked_position_outside_the_sequence_is_named(tmp_path):
  items = instances(2)
  items[0]["masked_lm_positions"][0] = SEQ
  path = tmp_path / "positions.tfrecord"
  write(path, items)
  fails([path], f"{path}: record 0: masked_lm_positions holds 16, outside the sequence "
        "(--max_seq_length=16): regenerate the file with create_pretraining_data.")


def unmasked(count, seed=0):
  items = instances(count, seed)
  for item in items:
    for name in DYNAMIC_DROPPED:
      del item[name]
  return items


def test_unmasked_records_pass_with_dynamic_masking_and_are_checked(tmp_path):
  path = tmp_path / "unmasked.tfrecord"
  write(path, unmasked(4))
  validate([path], dynamic_masking=True, max_predictions_per_seq=7)  # no masked_lm_* to check
  fails([path], f"{path}: record 0 lacks the feature 'masked_lm_positions' of masked pretraining "
        "records: regenerate the file with create_pretraining_data, or leave it out of "
        "--input_file.")
  items = unmasked(2)
  del items[1]["token_boundary"]
  items[0]["input_ids"][3] = VOCAB
  write(path, items)
  fails([path], f"{path}: record 0: input_ids holds 40, outside the vocabulary (vocab_size=40 in "
        "--albert_config_file): the records were made with another vocabulary; train with the "
        "config of that vocabulary, or regenerate the records with this one.", dynamic_masking=True)
  items[0]["input_ids"][3] = 5
  write(path, items)
  fails([path], f"{path}: record 1 lacks the feature 'token_boundary' of unmasked "
        "(--dynamic_masking) pretraining records: regenerate the file with "
        "create_pretraining_data, or leave it out of --input_file.", dynamic_masking=True)


def test_empty_files_are_warned_about_and_all_empty_fails(good, tmp_path, caplog):
  empty = tmp_path / "empty.tfrecord"
  write(empty, [])
  with caplog.at_level(logging.WARNING, logger="absl"):
    validate([good[0], empty])
  assert f"1 file(s) of --input_file hold no records, e.g. {empty}" in caplog.text
  fails([empty], f"the files of --input_file hold no records (e.g. {empty}): regenerate them "
        "with create_pretraining_data.")


def data_loss_in_training(files):
  """Reads the training pipeline over `files` until tf.data raises DataLossError; returns it."""
  dataset = input_pipeline.pretraining_dataset([str(f) for f in files], batch_size=4,
                                               max_seq_length=SEQ,
                                               max_predictions_per_seq=PREDICTIONS, seed=1)
  with pytest.raises(tf.errors.DataLossError) as raised:
    for _ in zip(range(200), dataset):
      pass
  return raised.value


def test_truncated_file_met_mid_training_is_one_line_naming_it(good, tmp_path):
  path = tmp_path / "train-2.tfrecord"
  offsets = write(path, instances(12, seed=2))
  path.write_bytes(path.read_bytes()[:offsets[9] + 30])
  files = list(good) + [path]
  validate(files)  # the first records are fine: only training meets the cut
  error = data_loss_in_training(files)
  assert f"truncated record at {offsets[9]}" in error.message
  assert record_validation.describe_data_loss(error, [
      str(f) for f in files
  ]) == (f"{path} is cut short (the record at byte {offsets[9]} runs past the end of the file: an "
         f"interrupted write or copy): {BROKEN}.")


def test_corrupted_file_met_mid_training_is_named_or_reported_without_a_name(good, tmp_path):
  path = tmp_path / "train-2.tfrecord"
  offsets = write(path, instances(12, seed=2))
  data = bytearray(path.read_bytes())
  data[offsets[7] + 40] ^= 0x10
  path.write_bytes(bytes(data))
  copy = str(shutil.copy(path, tmp_path / "train-3.tfrecord"))
  files = [str(f) for f in good] + [str(path)]
  error = data_loss_in_training(files)
  assert record_validation.describe_data_loss(error, files) == (
      f"{path} is corrupted (the record at byte {offsets[7]} fails its checksum): {BROKEN}.")
  assert record_validation.describe_data_loss(error, files + [copy]) == (
      f"a record file of --input_file is broken (corrupted record at {offsets[7] + 12}), one of "
      f"{path}, {copy}: {BROKEN}.")
  assert record_validation.describe_data_loss(error, [
      str(good[0])
  ]) == (f"a record file of --input_file is broken (corrupted record at {offsets[7] + 12}; no file "
         f"could be singled out): {BROKEN}.")


def test_record_length_corrupted_mid_training_is_found_by_walking_the_headers(good, tmp_path):
  path = tmp_path / "train-2.tfrecord"
  offsets = write(path, instances(12, seed=2))
  data = bytearray(path.read_bytes())
  data[offsets[10] + 2] ^= 0x01  # the length of record 10: tf.data reports its start
  path.write_bytes(bytes(data))
  files = [str(f) for f in good] + [str(path)]
  error = data_loss_in_training(files)
  assert f"corrupted record at {offsets[10]}" in error.message
  assert record_validation.describe_data_loss(error, files) == (
      f"{path} is corrupted (the record at byte {offsets[10]} fails its checksum): {BROKEN}.")


def test_data_loss_without_a_record_offset_is_one_line():
  error = tf.errors.DataLossError(None, None, "Checksum does not match: stored 1, computed 2\nmore")
  assert record_validation.describe_data_loss(error, ["a.tfrecord"]) == (
      "a file could not be read (Checksum does not match: stored 1, computed 2); if it is a record "
      f"file of --input_file: {BROKEN}.")


def test_file_removed_after_the_glob_is_named(good, tmp_path):
  gone = tmp_path / "gone.tfrecord"
  fails([good[0], gone], f"{gone} cannot be read (No such file or directory).")
