"""End-to-end tests of the create_pretraining_data library on the fixture corpora: the original
reader's parsing spec, statistics against reference §5.7, Chinese whole-word masking,
reproducibility across worker counts."""

import collections
import glob
import os

import jieba
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import tokenization
from data_prep import block_processing
from data_prep import chinese_words
from data_prep import pipeline
from data_prep import segment_encoding
from data_prep import sharded_writer
from tests import text_fixtures

T, P = 128, 20


def original_parsing_spec(max_seq_length, max_predictions_per_seq):
  """run_pretraining's input_fn spec (reference §4.2), written out independently."""
  return {
      "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
      "token_boundary": tf.io.FixedLenFeature([max_seq_length], tf.int64),
  }


def read_records(pattern, max_seq_length=T, max_predictions_per_seq=P):
  spec = original_parsing_spec(max_seq_length, max_predictions_per_seq)
  files = sorted(glob.glob(pattern))
  return [{
      k: v.numpy() for k, v in tf.io.parse_single_example(r, spec).items()
  } for r in tf.data.TFRecordDataset(files)]


@pytest.fixture(scope="module")
def english_run(sp_model, tmp_path_factory):
  out = tmp_path_factory.mktemp("en")
  config = pipeline.PretrainingDataConfig(input_file=text_fixtures.ENGLISH_CORPUS,
                                          output_file=str(out / "train-{shard}.tfrecord"),
                                          num_output_shards=3, spm_model_file=sp_model,
                                          max_seq_length=T, max_predictions_per_seq=P,
                                          dupe_factor=40, num_workers=0, block_bytes=1500,
                                          shuffle_buffer_size=100)
  summary = pipeline.create_pretraining_data(config)
  return summary, read_records(str(out / "train-*.tfrecord")), out


def test_records_parse_with_original_spec_and_are_consistent(english_run, sp_model):
  summary, records, _ = english_run
  tokenizer = tokenization.FullTokenizer(spm_model_file=sp_model)
  assert len(records) == summary["instances"] > 500
  for record in records:
    length = int(record["input_mask"].sum())
    assert (record["input_mask"][:length] == 1).all() and (record["input_mask"][length:] == 0).all()
    assert (record["input_ids"][length:] == 0).all()
    segment_ids = record["segment_ids"]
    num_a = int(np.argmax(segment_ids == 1)) - 2
    assert (segment_ids[:num_a + 2] == 0).all() and (segment_ids[num_a + 2:length] == 1).all()
    assert (segment_ids[length:] == 0).all()
    ids = record["input_ids"]
    assert ids[0] == tokenizer.cls_id and ids[num_a + 1] == tokenizer.sep_id
    assert ids[length - 1] == tokenizer.sep_id
    assert record["token_boundary"][[0, num_a + 1, length - 1]].tolist() == [1, 1, 1]
    count = int(record["masked_lm_weights"].sum())
    positions = record["masked_lm_positions"][:count]
    assert (np.diff(positions) > 0).all()
    assert not set(positions) & {0, num_a + 1, length - 1} and positions.max() < length
    assert (record["masked_lm_positions"][count:] == 0).all()
    assert (record["masked_lm_ids"][count:] == 0).all()
    assert (record["masked_lm_weights"][count:] == 0).all()
    masked = ids[positions] == tokenizer.mask_id
    assert (record["masked_lm_ids"][:count][masked] != tokenizer.mask_id).all()
    assert record["next_sentence_labels"][0] in (0, 1)


def test_statistics_match_reference(english_run, sp_model):
  """Reference §5.6/§5.7: the budget rule, 80/10/10 per token, SOP labels."""
  summary, records, _ = english_run
  mask_id = tokenization.FullTokenizer(spm_model_file=sp_model).mask_id
  kinds = collections.Counter()
  filled = 0
  for record in records:
    length = int(record["input_mask"].sum())
    count = int(record["masked_lm_weights"].sum())
    budget = min(P, max(1, int(round(length * 0.15))))
    assert count <= budget
    filled += count == budget
    positions = record["masked_lm_positions"][:count]
    shown, labels = record["input_ids"][positions], record["masked_lm_ids"][:count]
    kinds["mask"] += int((shown == mask_id).sum())
    kinds["keep"] += int(((shown != mask_id) & (shown == labels)).sum())
    kinds["random"] += int(((shown != mask_id) & (shown != labels)).sum())
  assert filled / len(records) > 0.95
  total = sum(kinds.values())
  sigma = lambda p: 4 * (p * (1 - p) / total)**0.5  # noqa: E731
  # A random draw can hit the original id (1/300 of 10%), so "keep" may gain a hair from "random".
  assert abs(kinds["mask"] / total - 0.8) < sigma(0.8)
  assert abs(kinds["keep"] / total - 0.1) < sigma(0.1) + 0.001
  assert abs(kinds["random"] / total - 0.1) < sigma(0.1) + 0.001
  labels = np.array([r["next_sentence_labels"][0] for r in records])
  assert summary["sentence_order_label_1_fraction"] == pytest.approx(labels.mean())
  # SOP swaps half of the multi-segment chunks; one-segment chunks add random-next label-1 pairs.
  assert 0.5 <= labels.mean() < 0.75
  assert summary["masked_lm_predictions"] == sum(int(r["masked_lm_weights"].sum()) for r in records)
  assert summary["tokens"] == sum(int(r["input_mask"].sum()) for r in records)


def test_summary_json_written_next_to_output(english_run):
  summary, _, out = english_run
  assert os.path.exists(out / "train.stats.json")
  assert sorted(os.listdir(out)) == [
      "train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord",
      "train-00002-of-00003.tfrecord", "train.stats.json"
  ]
  counts = list(summary["shards"].values())
  assert sum(counts) == summary["instances"]
  # Shards are ranges of a uniform 64-bit key: binomial counts, within 4 sigma of a third each.
  assert max(abs(c - sum(counts) / 3) for c in counts) < 4 * (sum(counts) * 2 / 9)**0.5
  salt = sharded_writer.key_salt(12345)
  for shard, path in enumerate(sorted(glob.glob(str(out / "train-*.tfrecord")))):
    keyed = sharded_writer.record_keys(split_tfrecords(open(path, "rb").read()), salt)
    assert len(keyed) == counts[shard]
    assert [sharded_writer.shard_of(key, 3) for key, _ in keyed] == [shard] * len(keyed)
    assert keyed == sorted(keyed)  # ascending key inside the shard


def split_tfrecords(data):
  """The framed records of a TFRecord file's bytes (length, CRC, data, CRC each)."""
  records, position = [], 0
  while position < len(data):
    length = int.from_bytes(data[position:position + 8], "little")
    records.append(data[position:position + 16 + length])
    position += 16 + length
  return records


@pytest.mark.parametrize("flags", [{
    "do_permutation": True
}, {
    "random_next_sentence": True
}, {
    "do_whole_word_mask": False,
    "ngram": 1
}])
def test_original_options_produce_parseable_records(sp_model, tmp_path, flags):
  config = pipeline.PretrainingDataConfig(input_file=text_fixtures.ENGLISH_CORPUS,
                                          output_file=str(tmp_path / "r.tfrecord"),
                                          spm_model_file=sp_model, max_seq_length=T,
                                          max_predictions_per_seq=P, dupe_factor=2, num_workers=0,
                                          **flags)
  summary = pipeline.create_pretraining_data(config)
  num_predictions = 2 * P if flags.get("do_permutation") else P
  records = read_records(str(tmp_path / "r.tfrecord"), T, num_predictions)
  assert len(records) == summary["instances"] > 0
  counts = [int(r["masked_lm_weights"].sum()) for r in records]
  if flags.get("do_permutation"):
    assert max(counts) > P  # permutation targets come on top of the masked-LM targets
  else:
    assert max(counts) <= P
  if not flags.get("do_whole_word_mask", True):
    assert summary["span_words_fractions"] == {"1": 1.0}


def _chinese_config(wp_vocab, out, **overrides):
  options = dict(input_file=f"{text_fixtures.CHINESE_CORPUS},{text_fixtures.MIXED_CORPUS}",
                 output_file=str(out / "zh.tfrecord"), vocab_file=wp_vocab, do_chinese_wwm=True,
                 max_seq_length=T, max_predictions_per_seq=P, dupe_factor=20, num_workers=0,
                 masked_lm_prob=0.3)
  options.update(overrides)
  return pipeline.PretrainingDataConfig(**options)


def test_chinese_word_boundaries_are_jieba_words(wp_vocab):
  tokenizer = tokenization.FullTokenizer(vocab_file=wp_vocab)
  encoder = chinese_words.ChineseWholeWordSegmentEncoder(tokenizer)
  for path in (text_fixtures.CHINESE_CORPUS, text_fixtures.MIXED_CORPUS):
    with open(path, encoding="utf-8") as corpus:
      for line in filter(None, (text.strip() for text in corpus)):
        segment = encoder.encode_line(line)
        tokens = tokenizer.convert_ids_to_tokens(segment.ids)
        assert tokens == tokenizer.tokenize(line)  # same tokens as plain WordPiece
        words, current = [], ""
        for token, start in zip(tokens, segment.starts):
          if start and current:
            words.append(current)
            current = ""
          current += token[2:] if token.startswith("##") else token
        words.append(current)
        expected = [w.lower() for w in jieba.lcut(line) if w.strip()]
        assert words == expected


def test_chinese_wwm_masks_whole_words_with_real_character_labels(wp_vocab, tmp_path):
  summary = pipeline.create_pretraining_data(_chinese_config(wp_vocab, tmp_path))
  tokenizer = tokenization.FullTokenizer(vocab_file=wp_vocab)
  records = read_records(str(tmp_path / "zh.tfrecord"))
  assert len(records) == summary["instances"]
  multi_character_spans = 0
  for record in records:
    length = int(record["input_mask"].sum())
    count = int(record["masked_lm_weights"].sum())
    masked = set(record["masked_lm_positions"][:count].tolist())
    boundary = record["token_boundary"]
    specials = {0, int(np.argmax(record["segment_ids"] == 1)) - 1, length - 1}
    for position in masked:
      # A continuation token is masked only with the token before it, and a masked word is masked
      # to its end: every masked span is a union of whole words.
      if not boundary[position]:
        assert position - 1 in masked
      if position + 1 < length and position + 1 not in specials and not boundary[position + 1]:
        assert position + 1 in masked
        multi_character_spans += 1
    for label in tokenizer.convert_ids_to_tokens(record["masked_lm_ids"][:count]):
      assert not (label.startswith("##") and tokenization.is_chinese_char(label[2:3]))
  assert multi_character_spans > 100


@pytest.mark.slow
def test_output_is_identical_for_any_number_of_workers(sp_model, wp_vocab, tmp_path):

  def run(workers, subdir, **overrides):
    out = tmp_path / subdir
    config = pipeline.PretrainingDataConfig(input_file=",".join(text_fixtures.ALL_CORPORA),
                                            output_file=str(out / "r-{shard}.tfrecord"),
                                            num_output_shards=2, spm_model_file=sp_model,
                                            max_seq_length=64, max_predictions_per_seq=10,
                                            dupe_factor=4, num_workers=workers, block_bytes=700,
                                            shuffle_buffer_size=30, **overrides)
    pipeline.create_pretraining_data(config)
    return [open(p, "rb").read() for p in sorted(glob.glob(str(out / "r-*.tfrecord")))]

  in_process = run(0, "w0")
  assert run(3, "w3") == in_process
  assert run(2, "w2") == in_process
  assert run(0, "seed", random_seed=1) != in_process
  zh_in_process = pipeline.create_pretraining_data(
      _chinese_config(wp_vocab, tmp_path / "z0", block_bytes=300))
  zh_workers = pipeline.create_pretraining_data(
      _chinese_config(wp_vocab, tmp_path / "z2", num_workers=2, block_bytes=300))
  assert zh_in_process["instances"] == zh_workers["instances"]
  assert (open(tmp_path / "z0" / "zh.tfrecord",
               "rb").read() == open(tmp_path / "z2" / "zh.tfrecord", "rb").read())


def test_batches_spills_and_split_sorts_do_not_change_the_output(sp_model, tmp_path, monkeypatch):
  """Serialization batches, spill flushes and the split of large spill files by key range."""

  def run(subdir):
    config = pipeline.PretrainingDataConfig(
        input_file=text_fixtures.ENGLISH_CORPUS,
        output_file=str(tmp_path / subdir / "r-{shard}.tfrecord"), num_output_shards=2,
        spm_model_file=sp_model, max_seq_length=64, max_predictions_per_seq=10, dupe_factor=3,
        num_workers=0)
    pipeline.create_pretraining_data(config)
    return [p.read_bytes() for p in sorted((tmp_path / subdir).glob("r-*.tfrecord"))]

  whole_blocks = run("whole")
  monkeypatch.setattr(block_processing, "_SERIALIZE_EVERY", 7)
  monkeypatch.setattr(sharded_writer, "SPILL_FLUSH_BYTES", 1000)
  monkeypatch.setattr(sharded_writer, "_FLUSH_BYTES_PER_SHARD", 100)
  monkeypatch.setattr(sharded_writer, "SORT_MEMORY_BYTES", 3000)  # ~50 pieces per shard
  split = []
  real_split = sharded_writer._sorted_spill

  def counting(path, low, high):
    split.append(os.path.getsize(path) > sharded_writer.SORT_MEMORY_BYTES)
    return real_split(path, low, high)

  monkeypatch.setattr(sharded_writer, "_sorted_spill", counting)
  assert run("batches") == whole_blocks
  assert len(whole_blocks) == 2 and all(whole_blocks) and split.count(True) >= 2


def test_sentencepiece_segments_equal_the_tokenizer(sp_model):
  """The batched fast path (per-id start table) and the exact per-piece path agree with
  FullTokenizer.encode and the start-piece rule on every fixture line."""
  tokenizer = tokenization.FullTokenizer(spm_model_file=sp_model)
  encoder = segment_encoding.SentencePieceSegmentEncoder(tokenizer)
  lines = []
  for path in text_fixtures.ALL_CORPORA:
    with open(path, encoding="utf-8") as corpus:
      lines += [line for line in corpus if line.strip()]
  segments = encoder.encode_lines(lines)
  assert len(segments) == len(lines)
  exact_path_lines = 0
  for line, segment in zip(lines, segments):
    pieces = tokenizer.tokenize(tokenization.preprocess_text(line, lower=True))
    assert segment.ids.tolist() == tokenizer.encode(line)
    assert segment.starts.tolist() == [tokenization.is_start_piece_sp(p) for p in pieces]
    exact_path_lines += bool(encoder.exact_path_table[tokenizer.sp_model.encode(
        tokenization.preprocess_text(line, lower=True))].any())
  assert 0 < exact_path_lines < len(lines)  # both paths were exercised


def test_tf_filesystem_input_and_output_give_the_local_bytes(english_run, sp_model):
  """gs:// and other tf.io.gfile filesystems work for the input and output files (ram:// here)."""
  _, _, out = english_run
  with open(text_fixtures.ENGLISH_CORPUS, "rb") as reader:
    corpus = reader.read()
  tf.io.gfile.makedirs("ram://corpus")
  with tf.io.gfile.GFile("ram://corpus/english.txt", "wb") as writer:
    writer.write(corpus)
  config = pipeline.PretrainingDataConfig(input_file="ram://corpus/*.txt",
                                          output_file="ram://records/train-{shard}.tfrecord",
                                          num_output_shards=3, spm_model_file=sp_model,
                                          max_seq_length=T, max_predictions_per_seq=P,
                                          dupe_factor=40, num_workers=0, block_bytes=1500,
                                          shuffle_buffer_size=100)
  pipeline.create_pretraining_data(config)
  assert sorted(tf.io.gfile.listdir("ram://records")) == sorted(os.listdir(out))
  for name in os.listdir(out):
    if name.endswith(".tfrecord"):
      with tf.io.gfile.GFile(f"ram://records/{name}", "rb") as reader:
        assert reader.read() == (out / name).read_bytes()
