"""RACE data: both file layouts, the original's question/option texts and features, the cache."""

import json
import os
import random

import numpy as np
import pytest

from albert_tf import tokenization
from albert_tf.tasks import classifier_data
from albert_tf.tasks import race_data
from tests import test_race_support as support
from tests import text_fixtures

BLANK_ARTICLE = {
    "id": "high7.txt",
    "article": "The  Tea was   open.",
    "questions": ["The _ was open.", "What was open?"],
    "options": [["Tea", "Pupil", "Market", "Year"], ["the tea", "a notebook", "it", "them"]],
    "answers": ["A", "C"]
}


@pytest.fixture(name="vocabularies", scope="module")
def fixture_vocabularies(tmp_path_factory) -> dict:
  root = tmp_path_factory.mktemp("vocab")
  return {
      "spm": text_fixtures.build_sentencepiece_model(root),
      "vocab": text_fixtures.build_wordpiece_vocab(root)
  }


def read(data_dir, split="train", **kwargs):
  kwargs.setdefault("use_spm", True)
  kwargs.setdefault("do_lower_case", True)
  return race_data.read_race_examples(str(data_dir), split, **kwargs)


def test_both_layouts_give_the_same_examples(tmp_path):
  articles = support.topic_articles(random.Random(1), 12, prefix="m")
  support.write_race(tmp_path / "original", "train", "middle", articles, layout="all")
  support.write_race(tmp_path / "original", "train", "high", articles[:3], layout="all")
  support.write_race(tmp_path / "upstream", "train", "middle", articles, layout="files")
  support.write_race(tmp_path / "upstream", "train", "high", articles[:3], layout="files")
  original, upstream = read(tmp_path / "original"), read(tmp_path / "upstream")
  assert len(original) == 15
  assert [example.level for example in original] == ["middle"] * 12 + ["high"] * 3
  # Upstream files come sorted by name, all.txt in line order.
  assert sorted(original, key=str) == sorted(upstream, key=str)
  # data_dir may also be the RACE directory itself.
  assert read(tmp_path / "original" / "RACE") == original


def test_blank_is_filled_with_the_option_else_the_option_is_appended(tmp_path):
  support.write_race(tmp_path, "eval", "high", [BLANK_ARTICLE], layout="files")
  first, second = read(tmp_path, "eval")
  # SentencePiece: preprocess_text (whitespace collapsed, lower-cased with do_lower_case).
  assert first.context == "the tea was open."
  assert first.endings == ("the tea was open.", "the pupil was open.", "the market was open.",
                           "the year was open.")
  assert second.endings == ("what was open? the tea", "what was open? a notebook",
                            "what was open? it", "what was open? them")
  assert (first.label, second.label) == (0, 2)
  assert (first.example_id, first.level) == ("high7.txt", "high")
  # WordPiece: the text as it is (its tokenizer lower-cases).
  wordpiece = read(tmp_path, "eval", use_spm=False)[0]
  assert wordpiece.context == BLANK_ARTICLE["article"]
  assert wordpiece.endings[1] == "The Pupil was open."


def test_high_only_and_middle_only(tmp_path):
  support.write_race(tmp_path, "train", "middle", support.topic_articles(random.Random(0), 3, "m"),
                     layout="all")
  support.write_race(tmp_path, "train", "high", support.topic_articles(random.Random(0), 2, "h"),
                     layout="all")
  assert {e.level for e in read(tmp_path, high_only=True)} == {"high"}
  assert len(read(tmp_path, middle_only=True)) == 3
  with pytest.raises(race_data.RaceDataError, match="--high_only and --middle_only"):
    read(tmp_path, high_only=True, middle_only=True)


def test_a_directory_in_neither_layout_is_one_line(tmp_path):
  support.write_race(tmp_path, "train", "middle", [BLANK_ARTICLE], layout="all")
  level_directory = tmp_path / "RACE" / "train" / "high"
  level_directory.mkdir()
  (level_directory / "notes.json").write_text("{}")
  with pytest.raises(race_data.RaceDataError) as error:
    read(tmp_path)
  message = str(error.value)
  assert "\n" not in message
  assert f"{level_directory} holds no RACE data" in message
  assert f"{level_directory}/all.txt (JSON lines" in message
  assert f"{level_directory}/*.txt (one JSON article per file" in message


@pytest.mark.parametrize("content, expected", [
    ("{not json", r"all.txt:2: not a JSON object"),
    (json.dumps({"article": "a"}), r"all.txt:2: a RACE article needs the fields"),
    (json.dumps(dict(BLANK_ARTICLE, answers=["A", "E"
                                            ])), r"question 2 has 4 options and answer 'E'"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, content, expected):
  directory = support.write_race(tmp_path, "train", "middle", [BLANK_ARTICLE], layout="all")
  with open(os.path.join(directory, "all.txt"), "a", encoding="utf-8") as f:
    f.write(content + "\n")
  with pytest.raises(race_data.RaceDataError, match=expected):
    read(tmp_path, middle_only=True)


@pytest.mark.parametrize("use_spm", [True, False])
def test_features_are_the_originals(tmp_path, vocabularies, use_spm):
  tokenizer = tokenization.FullTokenizer(vocab_file=None if use_spm else vocabularies["vocab"],
                                         spm_model_file=vocabularies["spm"] if use_spm else None,
                                         do_lower_case=True)
  long_article = dict(BLANK_ARTICLE, article=" ".join(["tea market open"] * 8))
  support.write_race(tmp_path, "train", "high", [long_article], layout="all")
  example = read(tmp_path, use_spm=use_spm)[0]
  settings = race_data.FeatureSettings(max_seq_length=16, max_qa_length=4)
  features = race_data.convert_example(example, tokenizer, settings)
  context = tokenizer.tokenize(example.context)
  assert len(context) > 16
  for option, ending in enumerate(example.endings):
    ending_tokens = tokenizer.tokenize(ending)
    assert len(ending_tokens) > 4  # so the option side is cut, keeping its last 4 tokens
    tokens = ["[CLS]", *context[:9], "[SEP]", *ending_tokens[-4:], "[SEP]"]
    assert len(tokens) == 16
    assert features["input_ids"][option] == tokenizer.convert_tokens_to_ids(tokens)
    assert features["input_ids"][option][0] == tokenizer.cls_id
    assert features["segment_ids"][option] == [0] * 11 + [1] * 5
    assert features["input_mask"][option] == [1] * 16
  # A short article is padded: [CLS] a [SEP] q [SEP] then zeros.
  short = race_data.RaceExample("x", "tea", ("open",) * 4, 1, "middle")
  padded = race_data.convert_example(short, tokenizer, settings)
  length = 3 + len(tokenizer.tokenize("tea")) + len(tokenizer.tokenize("open"))
  assert padded["input_mask"][0] == [1] * length + [0] * (16 - length)
  assert padded["input_ids"][0][length:] == [0] * (16 - length)


def test_cache_is_reused_and_rebuilt_when_settings_change(tmp_path, vocabularies):
  tokenizer = tokenization.FullTokenizer(spm_model_file=vocabularies["spm"], do_lower_case=True)
  fingerprint = classifier_data.vocab_fingerprint(spm_model_file=vocabularies["spm"],
                                                  vocab_file=None, do_lower_case=True)
  articles = support.topic_articles(random.Random(2), 5, prefix="m")
  support.write_race(tmp_path, "eval", "middle", articles, layout="all")
  examples = read(tmp_path, "eval")
  path = race_data.record_path(str(tmp_path / "cache"), "eval")
  os.makedirs(os.path.dirname(path))
  settings = race_data.FeatureSettings(max_seq_length=16, max_qa_length=4)
  assert race_data.cached_race_features(path, examples, tokenizer, settings,
                                        fingerprint) == (path, 5)
  built = os.stat(path).st_mtime_ns
  race_data.cached_race_features(path, examples, tokenizer, settings, fingerprint)
  assert os.stat(path).st_mtime_ns == built  # reused
  with open(path + ".metadata.json", encoding="utf-8") as f:
    assert json.load(f)["max_qa_length"] == 4
  race_data.cached_race_features(path, examples, tokenizer,
                                 race_data.FeatureSettings(max_seq_length=16, max_qa_length=5),
                                 fingerprint)
  with open(path + ".metadata.json", encoding="utf-8") as f:
    assert json.load(f)["max_qa_length"] == 5  # rebuilt
  race_data.cached_race_features(path, examples[:4], tokenizer, settings, fingerprint)
  with open(path + ".metadata.json", encoding="utf-8") as f:
    assert json.load(f)["num_examples"] == 4

  batches = list(
      race_data.race_dataset(path, batch_size=3, max_seq_length=16,
                             is_training=False).as_numpy_iterator())
  assert [batch["is_real_example"].tolist() for batch in batches] == [[1, 1, 1], [1, 0, 0]]
  assert batches[0]["input_word_ids"].shape == (3, 4, 16)
  assert batches[0]["input_word_ids"].dtype == np.int32
  expected = race_data.convert_example(examples[0], tokenizer, settings)
  np.testing.assert_array_equal(batches[0]["input_word_ids"][0], expected["input_ids"])
  np.testing.assert_array_equal(batches[0]["input_type_ids"][0], expected["segment_ids"])
  assert batches[0]["label_ids"][0] == examples[0].label


def test_max_qa_length_must_leave_room_for_the_article(vocabularies):
  tokenizer = tokenization.FullTokenizer(spm_model_file=vocabularies["spm"])
  with pytest.raises(race_data.RaceDataError, match="--max_qa_length=13 with --max_seq_length=16"):
    race_data.cached_race_features("unused", [], tokenizer,
                                   race_data.FeatureSettings(max_seq_length=16, max_qa_length=13),
                                   "fingerprint")


def test_a_split_without_data_is_one_line(tmp_path):
  (tmp_path / "RACE" / "dev").mkdir(parents=True)
  with pytest.raises(race_data.RaceDataError) as error:
    read(tmp_path, "eval")
  directory = tmp_path / "RACE" / "dev"
  assert str(error.value) == (
      f"{directory} holds no RACE data: expected {directory}/{{middle,high}}/all.txt (JSON lines, "
      f"the original run_race layout) or {directory}/{{middle,high}}/*.txt (one JSON article per "
      "file, upstream RACE).")
