"""Tests of SQuAD post-processing (n-best, v2 null scores, files) and of the EM/F1 evaluation.

The features are built by hand (tf-models' `InputFeatures` with the fields
`squad_lib_sp.convert_examples_to_features` fills), so every expected span is known exactly:

  paragraph "The cat sat on the mat. A dog ran home." split on spaces: doc tokens 0-9
  `[CLS] q q [SEP]` + 6 doc tokens + `[SEP]`: window 0 holds doc tokens 0-5, window 1 tokens 4-9
  (doc_stride 4), so the paragraph starts at position 4 of each window. Max context
  (the original `_check_is_max_context`): doc token 4 in window 0, doc token 5 in window 1.
"""

import json
import math
import os

from official.nlp.data import squad_lib_sp
import pytest

from albert_tf.tasks import squad_metrics
from albert_tf.tasks import squad_postprocess
from albert_tf.tasks.squad_postprocess import RawResultV1
from albert_tf.tasks.squad_postprocess import RawResultV2

PARAGRAPH = "The cat sat on the mat. A dog ran home."
SEQ = 16
OFFSET = 4  # [CLS] q q [SEP]
WINDOWS = ((0, 6), (4, 6))  # (first doc token, length)
MAX_CONTEXT = ({0, 1, 2, 3, 4}, {5, 6, 7, 8, 9})  # doc tokens whose max context each window is


def _word_offsets(text):
  """(start, end inclusive) character offsets of the space-separated words."""
  offsets, position = [], 0
  for word in text.split(" "):
    offsets.append((position, position + len(word) - 1))
    position += len(word) + 1
  return offsets


def _features(example_index=0, first_unique_id=1000000000):
  offsets = _word_offsets(PARAGRAPH)
  features = []
  for window, ((start, length), max_context) in enumerate(zip(WINDOWS, MAX_CONTEXT)):
    doc = range(start, start + length)
    features.append(
        squad_lib_sp.InputFeatures(
            unique_id=first_unique_id + window, example_index=example_index, doc_span_index=window,
            tok_start_to_orig_index=[offsets[i][0] for i in doc],
            tok_end_to_orig_index=[offsets[i][1] for i in doc], token_is_max_context={
                OFFSET + k: i in max_context for k, i in enumerate(doc)
            }, tokens=[2, 20, 21, 3] + [30 + i for i in doc] + [3], input_ids=None, input_mask=None,
            segment_ids=None, paragraph_len=OFFSET + length + 1))
  return features


def _example(qas_id="q1", paragraph=PARAGRAPH):
  return squad_lib_sp.SquadExample(qas_id=qas_id, question_text="what?", paragraph_text=paragraph)


def _logits(**values):
  """A [SEQ] list of zeros with {position: value} (keys "p5" = position 5)."""
  logits = [0.0] * SEQ
  for key, value in values.items():
    logits[int(key[1:])] = value
  return logits


def _v1(start0, end0, start1=None, end1=None, **kwargs):
  results = [
      RawResultV1(1000000000, start0, end0),
      RawResultV1(1000000001, start1 or _logits(), end1 or _logits())
  ]
  return squad_postprocess.predictions_v1([_example()], _features(), results, **kwargs)


def test_v1_best_span_is_cut_from_the_original_characters():
  # "cat sat" = doc tokens 1-2 = window 0 positions 5-6; higher logits in the question ignored.
  predictions = _v1(_logits(p5=5.0, p1=10.0), _logits(p6=4.0, p2=9.0))
  assert predictions.best_answers == {"q1": "cat sat"}
  best = predictions.nbest["q1"][0]
  assert (best["start_log_prob"], best["end_log_prob"]) == (5.0, 4.0)


def test_v1_span_across_the_window_boundary_comes_from_the_max_context_window():
  # "mat. A dog" = doc tokens 5-7: only window 1 (positions 5-7) holds it whole, and only window 1
  # is the max context of doc token 5; window 0's high logits at doc token 5 (position 9) and at
  # doc token 4 in window 1 (position 4, not its max context) are ignored.
  predictions = _v1(_logits(p9=20.0), _logits(), _logits(p5=3.0, p4=30.0), _logits(p7=2.5))
  assert predictions.best_answers == {"q1": "mat. A dog"}
  assert predictions.nbest["q1"][0]["start_log_prob"] == 3.0


def test_v1_filters_long_and_reversed_spans():
  start = _logits(p5=5.0, p7=1.0)
  end = _logits(p8=4.0, p2=6.0, p7=0.5)  # p2 (question) < every start; p5..p8 is 4 tokens
  assert _v1(start, end).best_answers == {"q1": "cat sat on the"}
  assert _v1(start, end, max_answer_length=3).best_answers == {"q1": "cat sat on"}
  # Only the top n_best_size starts and ends are searched: the best start/end pair is reversed.
  assert _v1(start, end, n_best_size=1).best_answers == {"q1": "empty"}
  assert _v1(start, end, n_best_size=1).nbest["q1"] == [{
      "text": "empty",
      "probability": 1.0,
      "start_log_prob": 0.0,
      "end_log_prob": 0.0
  }]


def test_v1_nbest_keeps_distinct_texts_best_first_with_softmax_probabilities():
  predictions = _v1(_logits(p5=2.0, p6=1.2), _logits(p6=1.0, p5=0.5), n_best_size=3)
  entries = predictions.nbest["q1"]
  assert [entry["text"] for entry in entries] == ["cat sat", "cat", "sat"]
  scores = [3.0, 2.5, 2.2]
  total = sum(math.exp(score - 3.0) for score in scores)
  assert [entry["probability"] for entry in entries
         ] == pytest.approx([math.exp(score - 3.0) / total for score in scores], rel=1e-12)


def _v2_result(unique_id, starts, ends, cls_logits):
  """starts: [(position, log_prob)] * 2; ends: [(position, log_prob)] * 4 (start-major)."""
  return RawResultV2(unique_id, [p for _, p in starts], [i for i, _ in starts],
                     [p for _, p in ends], [i for i, _ in ends], cls_logits)


def _v2_results(cls0=1.0, cls1=-0.5, shift=0.0):
  return [
      # Window 0: start "cat" (p5) with ends "sat" (p6) and the question (p2, invalid); start p1
      # (question, invalid).
      _v2_result(1000000000, [(5, -0.5 + shift), (1, -0.1)], [(6, -0.7), (2, -0.1), (7, -2.0),
                                                              (8, -3.0)], cls0),
      # Window 1: start "dog" (p7) with ends "ran" (p8) and "home." (p9).
      _v2_result(1000000001, [(7, -1.0), (4, -2.0)], [(8, -0.3), (9, -0.4), (4, -1.0), (5, -1.0)],
                 cls1),
  ]


def test_v2_best_span_null_score_and_thresholds():
  predictions = squad_postprocess.predictions_v2([_example()], _features(), _v2_results(),
                                                 start_n_top=2, end_n_top=2)
  # Candidates: "cat sat" -1.2, "dog ran" -1.3, "dog ran home." -1.4; p4 of window 1 is not max
  # context, so its (4, 4) and (4, 5) are dropped.
  assert [entry["text"] for entry in predictions.nbest["q1"]
         ] == ["cat sat", "dog ran", "dog ran home."]
  assert predictions.best_answers == {"q1": "cat sat"}
  assert predictions.null_odds == {"q1": -0.5}  # min over windows of cls_logits
  assert predictions.answers(-0.6) == {"q1": ""}  # null odds above the threshold: no answer
  assert predictions.answers(-0.5) == {"q1": "cat sat"}  # at it: answered (the official rule)
  assert predictions.answers() == {"q1": "cat sat"}


def test_v2_accumulated_result_sets_average_duplicate_spans_and_null_scores():
  accumulator = squad_postprocess.SpanAccumulator([_example()], _features())
  accumulator.add_v2(_v2_results(cls0=1.0, cls1=-0.5), 30, 2, 2)
  accumulator.add_v2(_v2_results(cls0=0.25, cls1=2.0, shift=-1.0), 30, 2, 2)
  predictions = squad_postprocess.finish_v2(accumulator)
  # "cat sat": start log-probs -0.5 and -1.5 average to -1.0, so it (-1.7) falls behind "dog ran"
  # (-1.3) and "dog ran home." (-1.4), whose scores are the same in both sets.
  texts = [(entry["text"], entry["start_log_prob"]) for entry in predictions.nbest["q1"]]
  assert texts == [("dog ran", -1.0), ("dog ran home.", -1.0), ("cat sat", -1.0)]
  assert predictions.nbest["q1"][2]["end_log_prob"] == pytest.approx(-0.7)
  assert predictions.null_odds == {"q1": (-0.5 + 0.25) / 2}


def test_v2_without_valid_span_and_example_without_windows():
  examples = [_example("q1"), _example("q2", paragraph="")]
  results = [
      _v2_result(1000000000 + w, [(1, -0.1), (2, -0.2)], [(1, -0.1)] * 4, 0.5) for w in range(2)
  ]
  predictions = squad_postprocess.predictions_v2(examples, _features(), results, start_n_top=2,
                                                 end_n_top=2)
  assert predictions.nbest["q1"] == [{
      "text": "",
      "probability": 1.0,
      "start_log_prob": -1e6,
      "end_log_prob": -1e6
  }]
  assert predictions.null_odds == {"q1": 0.5, "q2": 1000000}


def test_missing_result_is_an_error():
  with pytest.raises(ValueError, match="unique_id 1000000001"):
    squad_postprocess.predictions_v1([_example()], _features(),
                                     [RawResultV1(1000000000, _logits(), _logits())])


def test_prediction_files_have_the_original_format(tmp_path):
  predictions = _v1(_logits(p5=2.0), _logits(p6=1.0, p5=0.5), n_best_size=2)
  paths = squad_postprocess.write_prediction_files(str(tmp_path / "out"), predictions)
  assert sorted(os.listdir(tmp_path / "out")) == ["nbest_predictions.json", "predictions.json"]
  with open(paths["predictions"], encoding="utf-8") as f:
    assert f.read() == '{\n    "q1": "cat sat"\n}\n'
  first = 1.0 / (1.0 + math.exp(-0.5))
  expected_nbest = ('{\n    "q1": [\n        {\n            "text": "cat sat",\n'
                    f'            "probability": {first!r},\n'
                    '            "start_log_prob": 2.0,\n            "end_log_prob": 1.0\n'
                    '        },\n        {\n            "text": "cat",\n'
                    f'            "probability": {math.exp(-0.5) / (1.0 + math.exp(-0.5))!r},\n'
                    '            "start_log_prob": 2.0,\n            "end_log_prob": 0.5\n'
                    '        }\n    ]\n}\n')
  with open(paths["nbest_predictions"], encoding="utf-8") as f:
    assert f.read() == expected_nbest

  v2 = squad_postprocess.predictions_v2([_example()], _features(), _v2_results(), start_n_top=2,
                                        end_n_top=2)
  paths = squad_postprocess.write_prediction_files(str(tmp_path / "v2"), v2,
                                                   null_score_diff_threshold=-0.6)
  with open(paths["null_odds"], encoding="utf-8") as f:
    assert f.read() == '{\n    "q1": -0.5\n}\n'
  with open(paths["predictions"], encoding="utf-8") as f:
    assert json.load(f) == {"q1": ""}  # null odds -0.5 above the threshold -0.6


def _dataset(answers):
  """A SQuAD "data" list: {qid: [gold texts]} ([] = unanswerable)."""
  return [{
      "title":
          "t",
      "paragraphs": [{
          "context":
              PARAGRAPH,
          "qas": [{
              "id": qid,
              "question": "?",
              "answers": [{
                  "text": text
              } for text in texts],
              "is_impossible": not texts
          } for qid, texts in answers.items()]
      }]
  }]


def test_evaluate_v1_against_a_hand_computation(tmp_path):
  dataset = _dataset({"q1": ["the cat", "cat sat"], "q2": ["dog"]})
  predictions = squad_postprocess.Predictions({"q1": "Cat", "q2": "a dog ran"}, {})
  # q1: "cat" == normalized "the cat" -> EM 1, F1 1; q2: "dog ran" vs "dog" -> EM 0, F1 2/3.
  expected = {"exact_match": 50.0, "f1": pytest.approx(100 * (1 + 2 / 3) / 2)}
  assert squad_metrics.evaluate_v1(dataset, predictions) == expected
  path = tmp_path / "dev.json"
  path.write_text(json.dumps({"version": "1.1", "data": dataset}))
  assert squad_metrics.evaluate_v1(str(path), predictions) == expected


def test_evaluate_v2_tuned_and_fixed_thresholds_against_a_hand_computation():
  dataset = _dataset({"q1": ["cat"], "q2": ["a dog"], "q3": [], "q4": []})
  predictions = squad_postprocess.Predictions(
      {
          "q1": "cat",
          "q2": "dog ran",
          "q3": "sat",
          "q4": "ran"
      }, {}, {
          "q1": -2.0,
          "q2": -0.5,
          "q3": 1.5,
          "q4": -1.0
      })
  scores = squad_metrics.evaluate_v2(dataset, predictions, fixed_threshold=0.0)
  # Tuning (official find_best_thresh) in null-odds order q1, q4, q2, q3 from 2 (all no-answer):
  # F1 2 -> 3 (q1 right) -> 2 (q4 answered) -> 2 2/3 (q2 F1 2/3) -> 1 2/3: best 3/4 at -2.0.
  assert scores["best_f1"] == pytest.approx(75.0)
  assert scores["best_f1_thresh"] == scores["null_score_diff_threshold"] == -2.0
  assert (scores["best_exact"], scores["best_exact_thresh"]) == (pytest.approx(75.0), -2.0)
  # The reported scores: answers at -2.0 ("" where odds > -2.0): q1 "cat" right, q2 "" wrong, q3
  # and q4 "" right; equal to best_exact/best_f1 (the original answered only below the threshold,
  # every question "" here, and reported 50).
  assert (scores["exact"], scores["f1"], scores["total"]) == (75.0, 75.0, 4)
  # Fixed threshold 0.0: q1 "cat" (1), q2 "dog ran" (EM 0, F1 2/3), q3 "" (1), q4 "ran" (0).
  assert scores["fixed_threshold"] == 0.0
  assert scores["fixed_threshold_exact"] == 50.0
  assert scores["fixed_threshold_f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 4)


def test_evaluate_v2_needs_null_odds_and_a_squad_file(tmp_path):
  with pytest.raises(ValueError, match="v2 predictions"):
    squad_metrics.evaluate_v2(_dataset({}), squad_postprocess.Predictions({}, {}))
  bad = tmp_path / "bad.json"
  bad.write_text("[1, 2]")
  with pytest.raises(ValueError, match="bad.json is not SQuAD JSON"):
    squad_metrics.evaluate_v1(str(bad), squad_postprocess.Predictions({}, {}))
