"""SQuAD data: reading and its one-line errors, skipped answers and truncated questions counted,
the feature cache (original record schema, JSON metadata, rebuilt when stale), tf.data input."""

import json
import logging
import os
import random

from official.nlp.data import squad_lib_sp
import pytest
import tensorflow as tf

from albert_tf.tasks import squad_data as sd
from albert_tf.tasks.classifier_data import vocab_fingerprint
from albert_tf.tasks.squad_data import cache as cache_module
from tests import squad_fixtures
from tests import text_fixtures

SETTINGS = sd.FeatureSettings(max_seq_length=48, doc_stride=16, max_query_length=24)


@pytest.fixture(name="vocab", scope="module")
def fixture_vocab(tmp_path_factory):
  directory = tmp_path_factory.mktemp("vocab")
  return {
      "spm": text_fixtures.build_sentencepiece_model(directory),
      "wordpiece": text_fixtures.build_wordpiece_vocab(directory)
  }


@pytest.fixture(name="spm_tokenizer", scope="module")
def fixture_spm_tokenizer(vocab):
  return sd.make_tokenizer(spm_model_file=vocab["spm"], vocab_file=None, do_lower_case=True)


@pytest.fixture(name="fingerprint", scope="module")
def fixture_fingerprint(vocab):
  return vocab_fingerprint(spm_model_file=vocab["spm"], vocab_file=None, do_lower_case=True)


def _write_json(path, value):
  with open(path, "w", encoding="utf-8") as writer:
    json.dump(value, writer, ensure_ascii=False)
  return str(path)


def _squad(qas, context="Marta opened the bakery at six."):
  return {
      "version": "v2.0",
      "data": [{
          "title": "t",
          "paragraphs": [{
              "context": context,
              "qas": qas
          }]
      }]
  }


def _qa(qid, question="Who opened the bakery?", answers=None, **extra):
  qa = {"id": qid, "question": question}
  if answers is not None:
    qa["answers"] = answers
  qa.update(extra)
  return qa


MARTA = [{"text": "Marta", "answer_start": 0}]

# --------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("language", ["en", "zh"])
def test_reads_generated_v2_data_with_answers_and_unanswerable_questions(tmp_path, language):
  path = str(tmp_path / "train.json")
  data = squad_fixtures.write_squad_json(path, random.Random(0), 12, True, language)
  answers = squad_fixtures.gold_answers(data)
  examples = sd.read_squad_examples(path, is_training=True, version_2_with_negative=True)
  assert [e.qas_id for e in examples] == list(answers)
  for example in examples:
    assert example.is_impossible == (answers[example.qas_id] == "")
    if example.is_impossible:
      assert (example.start_position, example.orig_answer_text) == (-1, "")
    else:
      start = example.start_position
      assert example.paragraph_text[start:start +
                                    len(example.orig_answer_text)] == answers[example.qas_id]
  predict = sd.read_squad_examples(path, is_training=False, version_2_with_negative=True)
  assert [(e.start_position, e.orig_answer_text) for e in predict] == [(None, None)] * 12


@pytest.mark.parametrize("is_training", [True, False], ids=["train", "predict"])
def test_examples_equal_tf_models_reader_on_valid_files(tmp_path, is_training):
  path = str(tmp_path / "train.json")
  squad_fixtures.write_squad_json(path, random.Random(2), 9, True, "zh")
  ours = sd.read_squad_examples(path, is_training, version_2_with_negative=True)
  theirs = squad_lib_sp.read_squad_examples(path, is_training, version_2_with_negative=True)
  assert [vars(e) for e in ours] == [vars(e) for e in theirs]


def test_prediction_reads_questions_without_answers(tmp_path):
  path = _write_json(tmp_path / "test.json", _squad([_qa("a"), _qa(7)]))
  examples = sd.read_squad_examples(path, is_training=False, version_2_with_negative=False)
  assert [e.qas_id for e in examples] == ["a", "7"]


@pytest.mark.parametrize(
    "content, message", [
        ("{\"data\": [", "not valid JSON (Expecting value at line 1 column 11)"),
        ({
            "version": 1
        }, "the top level has no 'data'"),
        ({
            "data": {}
        }, "the top level.data is not a list (found dict)"),
        ({
            "data": [{
                "title": "t"
            }]
        }, "data[0] has no 'paragraphs'"),
        ({
            "data": [{
                "paragraphs": [{
                    "context": 3,
                    "qas": []
                }]
            }]
        }, "data[0].paragraphs[0].context is not a string (found int)"),
        (_squad([_qa("a", answers=MARTA), _qa("b")]), "data[0].paragraphs[0].qas[1] has no "
         "'answers'"),
        (_squad([_qa("a", answers=MARTA * 2)]), "data[0].paragraphs[0].qas[0] (id a) has 2 "
         "answers; training needs exactly one per answerable question (the original's rule)"),
        (_squad([_qa("a", answers=[])]), "(id a) has 0 answers"),
        (_squad([_qa("a", answers=[{
            "text": "Marta",
            "answer_start": "0"
        }])]),
         "data[0].paragraphs[0].qas[0].answers[0].answer_start is not an integer (found str)"),
        (_squad([_qa("a", answers=[{
            "text": " ",
            "answer_start": 0
        }])]), "has an empty text"),
        (_squad([{
            "id": "a",
            "answers": MARTA
        }]), "data[0].paragraphs[0].qas[0] has no "
         "'question'"),
        (_squad([_qa("a", answers=[], is_impossible=True)]), "(id a) is unanswerable "
         "(is_impossible), which SQuAD v1.1 training cannot learn; use run_squad_v2"),
        (_squad([_qa("a", answers=MARTA, is_impossible="no")]), "is_impossible is not true or "
         "false"),
        (_squad([]), "holds no usable question"),
    ], ids=[
        "json", "no_data", "data_type", "no_paragraphs", "context_type", "no_answers",
        "two_answers", "zero_answers", "answer_start_type", "empty_answer", "no_question",
        "impossible_in_v1", "impossible_type", "empty"
    ])
def test_malformed_files_are_one_line_errors_naming_file_and_place(tmp_path, content, message):
  path = str(tmp_path / "train.json")
  if isinstance(content, str):
    with open(path, "w", encoding="utf-8") as writer:
      writer.write(content)
  else:
    _write_json(path, content)
  with pytest.raises(sd.SquadDataError) as error:
    sd.read_squad_examples(path, is_training=True, version_2_with_negative=False)
  text = str(error.value)
  assert "\n" not in text
  assert text.startswith(path + ": ")
  assert message in text


def test_missing_and_non_utf8_files_are_one_line_errors(tmp_path):
  with pytest.raises(sd.SquadDataError, match=r"^.*nope\.json not found: pass an existing"):
    sd.read_squad_examples(str(tmp_path / "nope.json"), True, True)
  path = tmp_path / "latin1.json"
  path.write_bytes(json.dumps(_squad([_qa("a", answers=MARTA)])).encode()[:-3] + b"\xe9]}")
  with pytest.raises(sd.SquadDataError, match=r"latin1\.json: not UTF-8 text at byte \d+"):
    sd.read_squad_examples(str(path), True, True)


def test_answers_not_at_their_answer_start_are_skipped_and_counted(tmp_path, caplog):
  qas = [
      _qa("good", answers=MARTA),
      _qa("shifted", answers=[{
          "text": "Marta",
          "answer_start": 1
      }]),
      _qa("wrong", answers=[{
          "text": "bread",
          "answer_start": 17
      }]),
      _qa("past_end", answers=[{
          "text": "six",
          "answer_start": 400
      }]),
      _qa("none", answers=[], is_impossible=True),
  ]
  path = _write_json(tmp_path / "train.json", _squad(qas))
  with caplog.at_level(logging.WARNING, logger="absl"):
    examples = sd.read_squad_examples(path, is_training=True, version_2_with_negative=True)
  assert [e.qas_id for e in examples] == ["good", "none"]
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert warnings == [
      f"{path}: skipped 3 of 5 questions whose answer text is not at its "
      "answer_start (ids shifted, wrong, past_end)."
  ]
  # Prediction does not look at the answers.
  assert len(sd.read_squad_examples(path, False, True)) == 5


def test_long_questions_are_truncated_and_counted_once(tmp_path, spm_tokenizer, caplog):
  long_question = " ".join(["where did the keeper go"] * 10)
  qas = [
      _qa("short", answers=MARTA),
      _qa("long1", long_question, MARTA),
      _qa("long2", long_question + "?", MARTA)
  ]
  path = _write_json(tmp_path / "train.json", _squad(qas))
  examples = sd.read_squad_examples(path, True, False)
  features = []
  with caplog.at_level(logging.WARNING, logger="absl"):
    stats = sd.convert_examples_to_features(examples, spm_tokenizer, SETTINGS, True,
                                            features.append)
  assert stats.truncated_questions == 2
  assert stats.num_features == len(features) == 3
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert warnings == ["Truncated 2 of 3 questions to --max_query_length=24 tokens."]
  for feature in features[1:]:
    assert feature.tokens.index("[SEP]") == 1 + SETTINGS.max_query_length


def test_settings_and_vocabulary_errors_are_one_line(tmp_path):
  with pytest.raises(
      sd.SquadDataError, match=r"--max_seq_length=67 must be greater than "
      r"--max_query_length \+ 3 = 67"):
    sd.FeatureSettings(max_seq_length=67, doc_stride=128, max_query_length=64)
  with pytest.raises(sd.SquadDataError, match="--doc_stride=0 must be at least 1"):
    sd.FeatureSettings(doc_stride=0)
  with pytest.raises(sd.SquadDataError, match="no vocabulary: pass --spm_model_file"):
    sd.make_tokenizer(None, None, True)
  with pytest.raises(sd.SquadDataError, match=r"--vocab_file=.*missing\.txt not found"):
    sd.make_tokenizer(None, str(tmp_path / "missing.txt"), True)
  bad = tmp_path / "vocab.txt"
  bad.write_text("hello\n")
  with pytest.raises(sd.SquadDataError, match=r"--vocab_file=.*vocab\.txt cannot be used: vocab"):
    sd.make_tokenizer(None, str(bad), True)


def test_make_tokenizer_picks_sentencepiece_or_wordpiece(vocab):
  assert sd.make_tokenizer(vocab["spm"], vocab["wordpiece"], True).is_sentencepiece
  assert not sd.make_tokenizer(None, vocab["wordpiece"], True).is_sentencepiece


def test_training_examples_are_shuffled_with_the_original_seed():
  examples = [sd.SquadExample(str(i), "q", "p") for i in range(20)]
  expected = list(examples)
  random.Random(12345).shuffle(expected)
  assert sd.shuffled_examples(examples) == expected
  assert sd.TRAIN_SHUFFLE_SEED == 12345
  assert [e.qas_id for e in examples] == [str(i) for i in range(20)]  # the input is not changed


# --------------------------------------------------------------------------------------------
# Cache


def _records(path):
  return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def _ints(example, name):
  return list(example.features.feature[name].int64_list.value)


@pytest.fixture(name="train_examples", scope="module")
def fixture_train_examples(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("squad") / "train.json")
  squad_fixtures.write_squad_json(path, random.Random(5), 10, True, "en")
  return sd.read_squad_examples(path, is_training=True, version_2_with_negative=True)


def test_train_cache_has_the_original_schema_and_the_shuffled_order(tmp_path, train_examples,
                                                                    spm_tokenizer, fingerprint):
  record_file, count = sd.cached_train_features(str(tmp_path), "squad", train_examples,
                                                spm_tokenizer, SETTINGS, fingerprint)
  assert record_file == str(tmp_path / "squad_train.tf_record")
  expected = []
  sd.convert_examples_to_features(sd.shuffled_examples(train_examples), spm_tokenizer, SETTINGS,
                                  True, expected.append)
  records = _records(record_file)
  assert count == len(records) == len(expected)
  assert set(records[0].features.feature) == {
      "unique_ids", "input_ids", "input_mask", "segment_ids", "start_positions", "end_positions",
      "is_impossible", "p_mask"
  }
  for record, feature in zip(records, expected):
    assert _ints(record, "unique_ids") == [feature.unique_id]
    assert _ints(record, "input_ids") == feature.input_ids
    assert _ints(record, "input_mask") == feature.input_mask
    assert _ints(record, "segment_ids") == feature.segment_ids
    assert _ints(record, "p_mask") == [1 - m for m in feature.paragraph_mask]
    assert _ints(record, "start_positions") == [feature.start_position]
    assert _ints(record, "end_positions") == [feature.end_position]
    assert _ints(record, "is_impossible") == [int(feature.is_impossible)]
  assert {tuple(_ints(r, "is_impossible")) for r in records} == {(0,), (1,)}


def test_train_cache_is_reused_and_rebuilt_when_anything_changes(tmp_path, train_examples,
                                                                 spm_tokenizer, fingerprint,
                                                                 caplog):

  few = train_examples[:5]

  def build(examples=few, settings=SETTINGS, vocab=fingerprint, seed=12345):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="absl"):
      sd.cached_train_features(str(tmp_path), "squad", examples, spm_tokenizer, settings, vocab,
                               seed=seed)
    lines = [r.getMessage() for r in caplog.records if "training features" in r.getMessage()]
    assert len(lines) == 1
    return lines[0]

  assert "no cached features yet" in build()
  assert build().startswith("Reusing the cached training features")
  smaller = sd.FeatureSettings(max_seq_length=40, doc_stride=16, max_query_length=24)
  assert "changed since it was built: max_seq_length 48 -> 40" in build(settings=smaller)
  assert "doc_stride 16 -> 8" in build(settings=sd.FeatureSettings(40, 8, 24))
  assert "max_query_length 24 -> 20" in build(settings=sd.FeatureSettings(40, 8, 20))
  assert "vocab_fingerprint" in build(settings=sd.FeatureSettings(40, 8, 20), vocab="0" * 64)
  assert "num_examples 5 -> 4" in build(few[:4], sd.FeatureSettings(40, 8, 20), "0" * 64)
  changed = list(few[:4])
  changed[0] = sd.SquadExample(changed[0].qas_id, "Who?", changed[0].paragraph_text,
                               changed[0].orig_answer_text, changed[0].start_position,
                               is_impossible=changed[0].is_impossible)
  assert "examples_sha256" in build(changed, sd.FeatureSettings(40, 8, 20), "0" * 64)
  assert "seed 12345 -> 1" in build(changed, sd.FeatureSettings(40, 8, 20), "0" * 64, seed=1)
  os.remove(tmp_path / "squad_train.tf_record.metadata.json")
  assert "is missing" in build(changed, sd.FeatureSettings(40, 8, 20), "0" * 64, seed=1)
  with open(tmp_path / "squad_train.tf_record", "ab") as appended:
    appended.write(b"x")
  assert "not the one its metadata describes" in build(changed, sd.FeatureSettings(40, 8, 20),
                                                       "0" * 64, seed=1)
  assert sorted(
      os.listdir(tmp_path)) == ["squad_train.tf_record", "squad_train.tf_record.metadata.json"]


def _feature_dict(feature):
  return dict(vars(feature))


def test_eval_cache_reloads_the_features_from_json_exactly(tmp_path, vocab):
  path = str(tmp_path / "dev.json")
  squad_fixtures.write_squad_json(path, random.Random(8), 9, True, "zh")
  examples = sd.read_squad_examples(path, is_training=False, version_2_with_negative=True)
  tokenizer = sd.make_tokenizer(None, vocab["wordpiece"], True)
  fingerprint = vocab_fingerprint(spm_model_file=None, vocab_file=vocab["wordpiece"],
                                  do_lower_case=True)
  settings = sd.FeatureSettings(max_seq_length=20, doc_stride=5, max_query_length=8)
  record_file, built = sd.cached_eval_features(str(tmp_path / "cache"), "cmrc", examples, tokenizer,
                                               settings, fingerprint)
  assert record_file == str(tmp_path / "cache" / "cmrc_predict.tf_record")
  _, reloaded = sd.cached_eval_features(str(tmp_path / "cache"), "cmrc", examples, tokenizer,
                                        settings, fingerprint)
  assert len(built) > len(examples)  # several windows per paragraph
  assert [_feature_dict(f) for f in reloaded] == [_feature_dict(f) for f in built]
  records = _records(record_file)
  assert set(records[0].features.feature) == {
      "unique_ids", "input_ids", "input_mask", "segment_ids", "p_mask"
  }
  assert [_ints(r, "input_ids") for r in records] == [f.input_ids for f in built]
  assert [_ints(r, "unique_ids")[0] for r in records
         ] == list(range(sd.BASE_UNIQUE_ID, sd.BASE_UNIQUE_ID + len(built)))
  with open(sd.metadata_path(record_file), encoding="utf-8") as reader:
    metadata = json.load(reader)
  assert metadata["tokenizer"] == "wordpiece" and metadata["num_features"] == len(built)


def test_eval_cache_honours_explicit_paths_and_replaces_a_pickle(tmp_path, train_examples,
                                                                 spm_tokenizer, fingerprint,
                                                                 caplog):
  record_file = str(tmp_path / "user" / "eval.tf_record")
  left_file = str(tmp_path / "user" / "eval_left")
  os.makedirs(tmp_path / "user")
  with open(record_file, "wb") as writer:
    writer.write(b"old records")
  with open(left_file, "wb") as writer:
    writer.write(b"\x80\x04\x95 an original pickle")
  examples = [sd.SquadExample(e.qas_id, e.question_text, e.paragraph_text) for e in train_examples]
  with caplog.at_level(logging.INFO, logger="absl"):
    got, features = sd.cached_eval_features(None, "ignored", examples, spm_tokenizer, SETTINGS,
                                            fingerprint, record_file=record_file,
                                            metadata_file=left_file)
  assert got == record_file
  assert any("is not our JSON metadata (an original run's pickle?)" in r.getMessage()
             for r in caplog.records)
  assert len(_records(record_file)) == len(features)
  assert [e.example_index for e in features][:1] == [0]
  assert sorted(os.listdir(tmp_path / "user")) == ["eval.tf_record", "eval_left"]
  with pytest.raises(sd.SquadDataError, match="no place for the feature cache"):
    sd.cached_train_features(None, "x", examples, spm_tokenizer, SETTINGS, fingerprint)


# --------------------------------------------------------------------------------------------
# tf.data


def test_train_dataset_batches_have_model_names_shapes_and_dtypes(tmp_path, train_examples,
                                                                  spm_tokenizer, fingerprint):
  record_file, _ = sd.cached_train_features(str(tmp_path), "squad", train_examples, spm_tokenizer,
                                            SETTINGS, fingerprint)
  dataset = sd.squad_dataset(record_file, batch_size=4, is_training=True, max_seq_length=48)
  specs = {name: (spec.shape.as_list(), spec.dtype) for name, spec in dataset.element_spec.items()}
  assert specs == {
      "unique_ids": ([4], tf.int32),
      "input_word_ids": ([4, 48], tf.int32),
      "input_mask": ([4, 48], tf.int32),
      "input_type_ids": ([4, 48], tf.int32),
      "p_mask": ([4, 48], tf.float32),
      "start_positions": ([4], tf.int32),
      "end_positions": ([4], tf.int32),
      "is_impossible": ([4], tf.float32),
  }
  records = {_ints(r, "unique_ids")[0]: r for r in _records(record_file)}
  for batch in dataset.take(5):  # more batches than records: the dataset repeats
    for row, unique_id in enumerate(batch["unique_ids"].numpy()):
      record = records[int(unique_id)]
      assert batch["input_word_ids"][row].numpy().tolist() == _ints(record, "input_ids")
      assert batch["p_mask"][row].numpy().tolist() == _ints(record, "p_mask")
      assert batch["is_impossible"][row] == _ints(record, "is_impossible")[0]


def test_eval_dataset_is_in_order_and_padded_to_full_batches(tmp_path, train_examples,
                                                             spm_tokenizer, fingerprint):
  examples = [sd.SquadExample(e.qas_id, e.question_text, e.paragraph_text) for e in train_examples]
  record_file, features = sd.cached_eval_features(str(tmp_path), "squad", examples, spm_tokenizer,
                                                  SETTINGS, fingerprint)
  batch_size = 8
  batches = list(sd.squad_dataset(record_file, batch_size, False, 48))
  assert len(batches) == -(-len(features) // batch_size)
  assert all(b["input_word_ids"].shape == [batch_size, 48] for b in batches)
  assert "start_positions" not in batches[0]
  real = [int(u) for b in batches for u, r in zip(b["unique_ids"], b["is_real_example"]) if r]
  assert real == [f.unique_id for f in features]
  padding = sum(int(tf.reduce_sum(1 - b["is_real_example"])) for b in batches)
  assert padding == len(batches) * batch_size - len(features)
  last = batches[-1]
  assert int(tf.reduce_sum(last["input_mask"][-1])) == 0 if padding else True
  # Two input pipelines read disjoint halves.
  first = [
      int(u)
      for b in sd.squad_dataset(record_file, 4, False, 48, input_pipeline_id=0,
                                num_input_pipelines=2)
      for u, r in zip(b["unique_ids"], b["is_real_example"])
      if r
  ]
  assert first == [f.unique_id for f in features][0::2]


@pytest.mark.parametrize("kind", ["spm", "wordpiece"])
def test_conversion_logs_progress_every_100_examples(vocab, kind, caplog):
  tokenizer = (sd.make_tokenizer(vocab["spm"], None, True) if kind == "spm" else sd.make_tokenizer(
      None, vocab["wordpiece"], True))
  examples = [sd.SquadExample(str(i), "who", "Marta opened the bakery.") for i in range(101)]
  with caplog.at_level(logging.INFO, logger="absl"):
    stats = sd.convert_examples_to_features(examples, tokenizer, SETTINGS, False, lambda f: None)
  assert stats.num_features == 101
  progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Converting ")]
  assert [line.split()[1] for line in progress] == ["0/101", "100/101"]
  assert sd.convert_examples_to_features([], tokenizer, SETTINGS, False,
                                         None) == (sd.ConversionStats())


def test_an_interrupted_rebuild_leaves_no_cache_that_looks_valid(tmp_path, train_examples,
                                                                 spm_tokenizer, fingerprint,
                                                                 monkeypatch, caplog):
  few = train_examples[:3]
  record_file, _ = sd.cached_train_features(str(tmp_path), "squad", few, spm_tokenizer, SETTINGS,
                                            fingerprint)
  old_records = open(record_file, "rb").read()
  calls = []

  def failing(feature, is_training):
    calls.append(feature)
    if len(calls) == 2:
      raise KeyboardInterrupt("killed")
    return b""

  monkeypatch.setattr(cache_module.records, "serialize_feature", failing)
  with pytest.raises(KeyboardInterrupt):
    sd.cached_train_features(str(tmp_path), "squad", few, spm_tokenizer,
                             sd.FeatureSettings(40, 16, 24), fingerprint)
  monkeypatch.undo()
  assert sorted(os.listdir(tmp_path)) == ["squad_train.tf_record"]  # no temporary, no metadata
  assert open(record_file, "rb").read() == old_records
  with caplog.at_level(logging.INFO, logger="absl"):
    sd.cached_train_features(str(tmp_path), "squad", few, spm_tokenizer, SETTINGS, fingerprint)
  assert any("is missing" in r.getMessage() for r in caplog.records)


def test_cmrc_layout_reads_and_maps_answers_back_through_wordpiece(tmp_path, vocab):
  # CMRC 2018 / DRCD files are SQuAD JSON with extra ids on paragraphs and answers.
  context = "会议将在 2026 年 3 月 15 日上午 9:30 开始。我们的团队有 12 名工程师。"
  answers = ["2026 年 3 月 15 日", "9:30", "12 名工程师"]
  data = {
      "version":
          "v1.0",
      "data": [{
          "id":
              "DEV_0",
          "title":
              "会议",
          "paragraphs": [{
              "id":
                  "DEV_0_P",
              "context":
                  context,
              "qas": [{
                  "id": f"DEV_0_QUERY_{i}",
                  "question": "会议什么时候开始？",
                  "answers": [{
                      "id": "1",
                      "text": text,
                      "answer_start": context.index(text)
                  }]
              } for i, text in enumerate(answers)]
          }]
      }]
  }
  path = _write_json(tmp_path / "cmrc2018_train.json", data)
  examples = sd.read_squad_examples(path, is_training=True, version_2_with_negative=False)
  tokenizer = sd.make_tokenizer(None, vocab["wordpiece"], True)
  features = []
  sd.convert_examples_to_features(examples, tokenizer, SETTINGS, True, features.append)
  assert len(features) == 3
  for feature, answer in zip(features, answers):
    offset = feature.tokens.index("[SEP]") + 1
    first = feature.tok_start_to_orig_index[feature.start_position - offset]
    last = feature.tok_end_to_orig_index[feature.end_position - offset]
    assert context[first:last + 1] == answer
