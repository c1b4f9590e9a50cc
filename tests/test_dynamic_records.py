"""create_pretraining_data --dynamic_masking: unmasked records (no masked_lm_* features) with
token_boundary, one copy per instance by default, and the masking settings in the stats JSON."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import tokenization
from data_prep import pipeline
from data_prep.corpus_files import CorpusError
from tests import text_fixtures

T = 64
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DYNAMIC_FEATURES = {
    "input_ids", "input_mask", "segment_ids", "token_boundary", "next_sentence_labels"
}


def features_of(path):
  """Every record of `path` as {name: values}, read with tf.train.Example (no spec assumed)."""
  records = []
  for raw in tf.data.TFRecordDataset([path]):
    example = tf.train.Example.FromString(raw.numpy())
    records.append({
        name: np.array(feature.int64_list.value or feature.float_list.value)
        for name, feature in example.features.feature.items()
    })
  return records


def _english(sp_model, out, **overrides):
  options = dict(input_file=text_fixtures.ENGLISH_CORPUS, output_file=str(out / "r.tfrecord"),
                 spm_model_file=sp_model, max_seq_length=T, max_predictions_per_seq=10,
                 num_workers=0)
  options.update(overrides)
  return pipeline.PretrainingDataConfig(**options)


@pytest.fixture(scope="module")
def dynamic_run(sp_model, tmp_path_factory):
  out = tmp_path_factory.mktemp("dynamic")
  summary = pipeline.create_pretraining_data(_english(sp_model, out, dynamic_masking=True))
  return summary, features_of(str(out / "r.tfrecord"))


def test_records_hold_unmasked_instances_and_word_boundaries(dynamic_run, sp_model):
  summary, records = dynamic_run
  tokenizer = tokenization.FullTokenizer(spm_model_file=sp_model)
  assert len(records) == summary["instances"] > 20
  for record in records:
    assert set(record) == DYNAMIC_FEATURES
    assert all(len(record[name]) == T for name in DYNAMIC_FEATURES - {"next_sentence_labels"})
    length = int(record["input_mask"].sum())
    ids = record["input_ids"]
    num_a = int(np.argmax(record["segment_ids"] == 1)) - 2
    assert ids[0] == tokenizer.cls_id and ids[num_a + 1] == ids[length - 1] == tokenizer.sep_id
    body = np.delete(ids[:length], [0, num_a + 1, length - 1])
    assert tokenizer.mask_id not in body.tolist()  # nothing is masked
    boundary = record["token_boundary"]
    assert boundary[[0, num_a + 1, length - 1]].tolist() == [1, 1, 1]
    assert (boundary[length:] == 0).all()
    # Word starts follow the SentencePiece start-piece rule on the unmasked ids.
    pieces = tokenizer.convert_ids_to_tokens(ids[:length].tolist())
    for position in set(range(1, length - 1)) - {num_a + 1}:
      assert boundary[position] == tokenization.is_start_piece_sp(pieces[position])
  assert summary["masked_lm_predictions"] == 0


def test_one_copy_per_instance_by_default(dynamic_run, sp_model, tmp_path):
  """dupe_factor defaults to 1 with dynamic masking; an explicit value still adds passes."""
  summary, _ = dynamic_run
  twice = pipeline.create_pretraining_data(
      _english(sp_model, tmp_path, dynamic_masking=True, dupe_factor=2))
  static = pipeline.PretrainingDataConfig(input_file="x", output_file="y", spm_model_file="z")
  assert static.dupe_factor == 40
  assert 1.8 * summary["instances"] < twice["instances"] < 2.2 * summary["instances"]


def test_stats_record_the_masking_settings(dynamic_run, sp_model):
  summary, _ = dynamic_run
  tokenizer = tokenization.FullTokenizer(spm_model_file=sp_model)
  assert summary["dynamic_masking"] is True
  assert summary["masking"] == {
      "masked_lm_prob": 0.15,
      "max_predictions_per_seq": 10,
      "max_seq_length": T,
      "ngram": 3,
      "favor_shorter_ngram": True,
      "do_whole_word_mask": True,
      "do_chinese_wwm": False,
      "do_permutation": False,
      "vocab_size": text_fixtures.SENTENCEPIECE_VOCAB_SIZE,
      "pad_id": 0,
      "unk_id": 1,
      "cls_id": 2,
      "sep_id": 3,
      "mask_id": 4,
      "never_masked_ids": [2, 3],
      "never_sampled_ids": [],
  }
  assert tokenizer.mask_id == summary["masking"]["mask_id"]


def test_static_records_say_so_in_the_stats(sp_model, tmp_path):
  summary = pipeline.create_pretraining_data(_english(sp_model, tmp_path, dupe_factor=1))
  written = json.loads((tmp_path / "r.stats.json").read_text())
  assert written["dynamic_masking"] is False and summary["dynamic_masking"] is False
  assert written["masking"]["max_predictions_per_seq"] == 10
  assert "masked_lm_positions" in features_of(str(tmp_path / "r.tfrecord"))[0]


def test_chinese_dynamic_records_keep_jieba_word_starts(wp_vocab, tmp_path):
  config = pipeline.PretrainingDataConfig(
      input_file=f"{text_fixtures.CHINESE_CORPUS},{text_fixtures.MIXED_CORPUS}",
      output_file=str(tmp_path / "zh.tfrecord"), vocab_file=wp_vocab, do_chinese_wwm=True,
      max_seq_length=T, max_predictions_per_seq=10, num_workers=0, dynamic_masking=True)
  summary = pipeline.create_pretraining_data(config)
  records = features_of(str(tmp_path / "zh.tfrecord"))
  assert summary["masking"]["do_chinese_wwm"] and summary["masking"]["do_whole_word_mask"]
  tokenizer = tokenization.FullTokenizer(vocab_file=wp_vocab)
  assert summary["masking"]["vocab_size"] == len(tokenizer.vocab)
  multi_character_words = 0
  for record in records:
    assert set(record) == DYNAMIC_FEATURES
    length = int(record["input_mask"].sum())
    tokens = tokenizer.convert_ids_to_tokens(record["input_ids"][:length].tolist())
    for position in range(2, length - 1):
      # A continuation inside a jieba word of Chinese characters: both are characters, no "##".
      if not record["token_boundary"][position] and tokenization.is_chinese_char(
          tokens[position][0]):
        multi_character_words += 1
  assert multi_character_words > 20


def test_permutation_with_dynamic_masking_is_refused(sp_model, tmp_path):
  with pytest.raises(CorpusError, match="--do_permutation needs static masking"):
    pipeline.create_pretraining_data(
        _english(sp_model, tmp_path, dynamic_masking=True, do_permutation=True))
  assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_command_line_flag_defaults_to_one_pass(sp_model, dynamic_run, tmp_path):
  summary, _ = dynamic_run
  result = subprocess.run([
      sys.executable, "-m", "data_prep.create_pretraining_data",
      f"--input_file={text_fixtures.ENGLISH_CORPUS}", f"--output_file={tmp_path}/r.tfrecord",
      f"--spm_model_file={sp_model}", f"--max_seq_length={T}", "--max_predictions_per_seq=10",
      "--num_workers=0", "--dynamic_masking"
  ], cwd=ROOT, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  written = json.loads((tmp_path / "r.stats.json").read_text())
  assert written["dynamic_masking"] is True
  assert written["instances"] == summary["instances"]
