"""Classifier features: exact ids, the original record schema, the cache that cannot go stale, and
the tf.data input (eval padding)."""

import logging
import os

import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf

from albert_tf import tokenization
from albert_tf.tasks import classifier_data as cd
from tests import text_fixtures

SEQ = 16
CLS_ID, SEP_ID = 2, 3  # Both fixture vocabularies reserve [CLS]=2, [SEP]=3.


@pytest.fixture(name="vocab", scope="module")
def fixture_vocab(tmp_path_factory):
  directory = tmp_path_factory.mktemp("vocab")
  return {
      "spm": text_fixtures.build_sentencepiece_model(directory),
      "wordpiece": text_fixtures.build_wordpiece_vocab(directory)
  }


@pytest.fixture(name="spm_tokenizer", scope="module")
def fixture_spm_tokenizer(vocab):
  return tokenization.FullTokenizer(spm_model_file=vocab["spm"], do_lower_case=True)


@pytest.fixture(name="spm_fingerprint", scope="module")
def fixture_spm_fingerprint(vocab):
  return cd.vocab_fingerprint(spm_model_file=vocab["spm"], vocab_file=None, do_lower_case=True)


def _write(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as writer:
    writer.write(text)


def _mrpc_dir(tmp_path, rows):
  lines = ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
  lines += [f"{label}\t{i}\t{i}\t{a}\t{b}" for i, (label, a, b) in enumerate(rows)]
  _write(os.path.join(tmp_path, "glue", "MRPC", "train.tsv"), "\n".join(lines) + "\n")
  return os.path.join(tmp_path, "glue")


def _records(path):
  return [tf.train.Example.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]


def _ints(example, name):
  return list(example.features.feature[name].int64_list.value)


def _expected_features(ids_a, ids_b, max_seq_length):
  """The original's layout computed here from scratch: [CLS] a [SEP] b [SEP], longest-first."""
  ids_a, ids_b = list(ids_a), list(ids_b or [])
  while len(ids_a) + len(ids_b) > max_seq_length - (3 if ids_b else 2):
    (ids_a if len(ids_a) > len(ids_b) else ids_b).pop()
  input_ids = [CLS_ID] + ids_a + [SEP_ID] + (ids_b + [SEP_ID] if ids_b else [])
  segment_ids = [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1 if ids_b else 0)
  padding = [0] * (max_seq_length - len(input_ids))
  return input_ids + padding, [1] * len(input_ids) + padding, segment_ids + padding


@pytest.mark.parametrize("max_seq_length", [SEQ, 9])  # 9 truncates the longer text first
def test_sentencepiece_pair_ids_are_exact(tmp_path, vocab, spm_tokenizer, spm_fingerprint,
                                          max_seq_length):
  data_dir = _mrpc_dir(tmp_path, [("1", "The Cat sat on the MAT.", "A dog ran.")])
  processor = cd.get_processor("mrpc", use_spm=True, do_lower_case=True)
  path, count = cd.cached_features(cached_dir=str(tmp_path / "cache"), task_name="MRPC",
                                   split="train",
                                   examples=processor.get_examples(data_dir, "train"),
                                   label_list=processor.get_labels(), max_seq_length=max_seq_length,
                                   tokenizer=spm_tokenizer, vocab_fingerprint=spm_fingerprint,
                                   is_regression=False)
  assert (path, count) == (str(tmp_path / "cache" / "mrpc_train.tf_record"), 1)
  sp_model = spm.SentencePieceProcessor(model_file=vocab["spm"])
  expected = _expected_features(sp_model.EncodeAsIds("the cat sat on the mat."),
                                sp_model.EncodeAsIds("a dog ran."), max_seq_length)
  record, = _records(path)
  assert sorted(record.features.feature) == [
      "input_ids", "input_mask", "is_real_example", "label_ids", "segment_ids"
  ]
  actual = tuple(_ints(record, name) for name in ("input_ids", "input_mask", "segment_ids"))
  assert actual == expected
  assert _ints(record, "label_ids") == [1] and _ints(record, "is_real_example") == [1]


def test_wordpiece_chinese_ids_are_exact(tmp_path, vocab):
  _write(str(tmp_path / "lcqmc" / "dev.txt"), "text_a\ttext_b\tlabel\n今天天气很好，A\t公园\t1\n")
  processor = cd.get_processor("lcqmc", use_spm=False, do_lower_case=True)
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab["wordpiece"], do_lower_case=True)
  fingerprint = cd.vocab_fingerprint(spm_model_file=None, vocab_file=vocab["wordpiece"],
                                     do_lower_case=True)
  path, _ = cd.cached_features(cached_dir=str(tmp_path / "cache"), task_name="lcqmc", split="dev",
                               examples=processor.get_examples(str(tmp_path / "lcqmc"), "dev"),
                               label_list=processor.get_labels(), max_seq_length=SEQ,
                               tokenizer=tokenizer, vocab_fingerprint=fingerprint,
                               is_regression=False)
  assert os.path.basename(path) == "lcqmc_eval.tf_record"
  with open(vocab["wordpiece"], encoding="utf-8") as reader:
    lines = reader.read().split("\n")
  # Every CJK character and punctuation mark is a token; "A" is lower-cased.
  expected = _expected_features([lines.index(c) for c in "今天天气很好，a"],
                                [lines.index(c) for c in "公园"], SEQ)
  record, = _records(path)
  assert tuple(_ints(record, n) for n in ("input_ids", "input_mask", "segment_ids")) == expected
  assert _ints(record, "label_ids") == [1]


def test_regression_records_have_float_labels(tmp_path, spm_tokenizer, spm_fingerprint):
  examples = [cd.InputExample("0", "a cat", None, 4.25), cd.InputExample("1", "a dog", "b", 1.0)]
  path, _ = cd.cached_features(cached_dir=str(tmp_path), task_name="sts-b", split="test",
                               examples=examples, label_list=[], max_seq_length=SEQ,
                               tokenizer=spm_tokenizer, vocab_fingerprint=spm_fingerprint,
                               is_regression=True)
  assert os.path.basename(path) == "sts-b_predict.tf_record"
  labels = [list(r.features.feature["label_ids"].float_list.value) for r in _records(path)]
  assert labels == [[4.25], [1.0]]


def test_example_with_a_label_outside_the_list(tmp_path, spm_tokenizer, spm_fingerprint):
  with pytest.raises(cd.ClassifierDataError,
                     match=r"^example x-1: label '2' is not in the label list \['0', '1'\]"):
    cd.cached_features(cached_dir=str(tmp_path), task_name="cola", split="train",
                       examples=[cd.InputExample("x-1", "text", None, "2")], label_list=["0", "1"],
                       max_seq_length=SEQ, tokenizer=spm_tokenizer,
                       vocab_fingerprint=spm_fingerprint, is_regression=False)
  assert os.listdir(tmp_path) == []  # nothing left under a final or temporary name


def test_vocab_fingerprint_covers_file_bytes_and_casing(tmp_path, vocab):

  def fingerprint(spm_model_file=None, vocab_file=None, do_lower_case=True):
    return cd.vocab_fingerprint(spm_model_file=spm_model_file, vocab_file=vocab_file,
                                do_lower_case=do_lower_case)

  copy = tmp_path / "copy.model"
  copy.write_bytes(open(vocab["spm"], "rb").read())
  assert fingerprint(vocab["spm"]) == fingerprint(str(copy))
  assert fingerprint(vocab["spm"]) != fingerprint(vocab["spm"], do_lower_case=False)
  assert fingerprint(vocab["spm"]) != fingerprint(vocab_file=vocab["wordpiece"])
  assert fingerprint(vocab["spm"], vocab["wordpiece"]) == fingerprint(vocab["spm"])
  copy.write_bytes(open(vocab["spm"], "rb").read() + b"\0")
  assert fingerprint(vocab["spm"]) != fingerprint(str(copy))
  with pytest.raises(cd.ClassifierDataError, match="^no vocabulary: pass --spm_model_file"):
    fingerprint()
  with pytest.raises(cd.ClassifierDataError, match=r"^--vocab_file=\S*none.txt not found"):
    fingerprint(vocab_file=str(tmp_path / "none.txt"))


class _Cache:
  """Builds the MRPC train cache with one parameter changed at a time."""

  def __init__(self, tmp_path, tokenizer, fingerprint):
    self.data_dir = _mrpc_dir(tmp_path, [("1", "The cat sat.", "A dog ran."),
                                         ("0", "Boats rocked.", "Gulls argued.")])
    self.cached_dir = str(tmp_path / "cache")
    self.defaults = dict(task_name="mrpc", split="train", label_list=["0", "1"], max_seq_length=SEQ,
                         tokenizer=tokenizer, vocab_fingerprint=fingerprint, is_regression=False)

  def build(self, **changes):
    options = dict(self.defaults, **changes)
    examples = cd.get_processor("mrpc", use_spm=True,
                                do_lower_case=True).get_examples(self.data_dir, "train")
    return cd.cached_features(cached_dir=self.cached_dir, examples=examples, **options)


def _inode(path):
  # A rebuild renames a new file into place, so the inode changes; a reuse keeps the file.
  return os.stat(path).st_ino


def test_cache_is_reused_when_nothing_changed(tmp_path, spm_tokenizer, spm_fingerprint, caplog):
  caplog.set_level(logging.INFO, logger="absl")
  cache = _Cache(tmp_path, spm_tokenizer, spm_fingerprint)
  path, count = cache.build()
  inode = _inode(path)
  assert cache.build() == (path, count) == (path, 2)
  assert _inode(path) == inode
  assert "Reusing the cached features" in caplog.text
  assert sorted(os.listdir(
      cache.cached_dir)) == ["mrpc_train.tf_record", "mrpc_train.tf_record.metadata.json"]


@pytest.mark.parametrize("change,reason", [
    ("max_seq_length", "max_seq_length 16 -> 12"),
    ("vocab", "changed since it was built: vocab_fingerprint"),
    ("label_list", "label_list"),
    ("input_file", "examples_sha256"),
    ("no_metadata", "is missing (an original run's cache or an interrupted build)"),
    ("record_replaced", "the record file is not the one its metadata describes"),
])
def test_cache_is_rebuilt_when_anything_that_shapes_it_changes(tmp_path, vocab, spm_tokenizer,
                                                               spm_fingerprint, caplog, change,
                                                               reason):
  caplog.set_level(logging.INFO, logger="absl")
  cache = _Cache(tmp_path, spm_tokenizer, spm_fingerprint)
  path, _ = cache.build()
  inode = _inode(path)
  changes = {}
  if change == "max_seq_length":
    changes["max_seq_length"] = 12
  elif change == "vocab":
    changes["vocab_fingerprint"] = cd.vocab_fingerprint(spm_model_file=vocab["spm"],
                                                        vocab_file=None, do_lower_case=False)
  elif change == "label_list":
    changes["label_list"] = ["1", "0"]
  elif change == "input_file":
    _mrpc_dir(tmp_path, [("1", "The cat sat.", "A dog ran."), ("0", "Boats rocked.", "Gulls.")])
  elif change == "no_metadata":
    os.remove(path + ".metadata.json")
  else:
    with open(path, "ab") as writer:
      writer.write(b"\0")
    inode = None
  assert cache.build(**changes) == (path, 2)
  assert reason in caplog.text
  assert _inode(path) != inode
  if change == "max_seq_length":
    assert len(_ints(_records(path)[0], "input_ids")) == 12


def test_other_task_or_split_gets_its_own_file(tmp_path, spm_tokenizer, spm_fingerprint, caplog):
  caplog.set_level(logging.INFO, logger="absl")
  cache = _Cache(tmp_path, spm_tokenizer, spm_fingerprint)
  mrpc, _ = cache.build()
  inode = _inode(mrpc)
  wnli, _ = cache.build(task_name="WNLI")
  dev, _ = cache.build(split="dev")
  assert [os.path.basename(p) for p in (mrpc, wnli, dev)
         ] == ["mrpc_train.tf_record", "wnli_train.tf_record", "mrpc_eval.tf_record"]
  caplog.clear()
  assert cache.build()[0] == mrpc and _inode(mrpc) == inode
  assert "Reusing" in caplog.text


def _eval_records(tmp_path, tokenizer, fingerprint, labels, is_regression=False):
  examples = [
      cd.InputExample(str(i), f"the cat number {i}", None, label) for i, label in enumerate(labels)
  ]
  path, _ = cd.cached_features(cached_dir=str(tmp_path), task_name="cola", split="dev",
                               examples=examples, label_list=[] if is_regression else ["0", "1"],
                               max_seq_length=SEQ, tokenizer=tokenizer,
                               vocab_fingerprint=fingerprint, is_regression=is_regression)
  return path


def test_eval_dataset_pads_the_last_batch(tmp_path, spm_tokenizer, spm_fingerprint):
  path = _eval_records(tmp_path, spm_tokenizer, spm_fingerprint, ["1", "0", "1", "1", "0"])
  dataset = cd.classifier_dataset(path, batch_size=2, max_seq_length=SEQ, is_training=False,
                                  is_regression=False)
  for name, spec in dataset.element_spec.items():
    assert spec.shape.as_list() == ([2, SEQ] if name.startswith("input_") else [2]), name
    assert spec.dtype == tf.int32, name
  batches = list(dataset.as_numpy_iterator())
  assert len(batches) == 3  # ceil(5 / 2)
  assert [b["is_real_example"].tolist() for b in batches] == [[1, 1], [1, 1], [1, 0]]
  assert [b["label_ids"].tolist() for b in batches] == [[1, 0], [1, 1], [0, 0]]
  last = batches[-1]
  for name in ("input_word_ids", "input_mask", "input_type_ids"):
    assert not last[name][1].any(), name
  records = _records(path)
  np.testing.assert_array_equal(
      np.concatenate([b["input_word_ids"] for b in batches])[:5],
      [_ints(r, "input_ids") for r in records])
  np.testing.assert_array_equal(last["input_mask"][0], _ints(records[4], "input_mask"))


def test_eval_dataset_without_remainder_and_sharded(tmp_path, spm_tokenizer, spm_fingerprint):
  path = _eval_records(tmp_path, spm_tokenizer, spm_fingerprint, ["1", "0", "0", "1"])
  whole = list(
      cd.classifier_dataset(path, batch_size=2, max_seq_length=SEQ, is_training=False,
                            is_regression=False).as_numpy_iterator())
  assert [b["is_real_example"].tolist() for b in whole] == [[1, 1], [1, 1]]
  shard = list(
      cd.classifier_dataset(path, batch_size=3, max_seq_length=SEQ, is_training=False,
                            is_regression=False, input_pipeline_id=1,
                            num_input_pipelines=2).as_numpy_iterator())
  assert [b["label_ids"].tolist() for b in shard] == [[0, 1, 0]]  # records 1 and 3, then padding
  assert [b["is_real_example"].tolist() for b in shard] == [[1, 1, 0]]


def test_regression_dataset_labels_are_float(tmp_path, spm_tokenizer, spm_fingerprint):
  path = _eval_records(tmp_path, spm_tokenizer, spm_fingerprint, [0.5, 3.75, 5.0],
                       is_regression=True)
  batches = list(
      cd.classifier_dataset(path, batch_size=2, max_seq_length=SEQ, is_training=False,
                            is_regression=True).as_numpy_iterator())
  assert [b["label_ids"].dtype for b in batches] == [np.float32, np.float32]
  assert [b["label_ids"].tolist() for b in batches] == [[0.5, 3.75], [5.0, 0.0]]


def test_training_dataset_repeats_shuffles_and_drops_the_remainder(tmp_path, spm_tokenizer,
                                                                   spm_fingerprint):
  path = _eval_records(tmp_path, spm_tokenizer, spm_fingerprint, ["1", "0", "1", "1", "0"])
  dataset = cd.classifier_dataset(path, batch_size=2, max_seq_length=SEQ, is_training=True,
                                  is_regression=False, seed=3)
  assert dataset.element_spec["input_word_ids"].shape.as_list() == [2, SEQ]
  batches = list(dataset.take(10).as_numpy_iterator())  # 20 rows from 5 records: it repeats
  assert all(b["is_real_example"].tolist() == [1, 1] for b in batches)
  rows = [tuple(row) for b in batches for row in b["input_word_ids"].tolist()]
  first_epoch = [tuple(_ints(r, "input_ids")) for r in _records(path)]
  assert set(rows) == set(first_epoch)
  assert rows[:5] != first_epoch  # shuffled
  again = cd.classifier_dataset(path, batch_size=2, max_seq_length=SEQ, is_training=True,
                                is_regression=False, seed=3)
  assert [
      tuple(row)
      for b in again.take(10).as_numpy_iterator()
      for row in b["input_word_ids"].tolist()
  ] == rows
