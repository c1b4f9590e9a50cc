"""SQuAD post-processing as the original ALBERT: n-best spans, v2 null scores, prediction files.

Mirrors `squad_utils.accumulate_predictions_v1/v2` and `write_predictions_v1/v2` of the original
release (google-research/albert): candidate spans are the top `n_best_size` start x end positions of
each window (v1: raw logits; v2: the model's top-k start and end log-probabilities), kept when the
start is in the window's paragraph and has its maximum context there, the end is in the paragraph,
end >= start and the span has at most `max_answer_length` tokens. A span's score is the mean of its
(start, end) scores over every result set accumulated (the original's averaging of duplicate spans,
used when results of several runs are combined); the answer text is cut from the paragraph's
original characters. v2's null score of an example is the minimum `cls_logits` over its windows,
averaged over result sets (`null_odds.json`; higher = more likely unanswerable).

Examples and features are tf-models' `squad_lib_sp.SquadExample` / `InputFeatures`.

Example:

  predictions = predictions_v1(examples, features, results)
  write_prediction_files("out", predictions)
  squad_metrics.evaluate_v1("dev-v1.1.json", predictions)
"""

import collections
import dataclasses
import json
import math
import os
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from albert_tf import file_io

PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"

# The original's stand-ins when no span of an example is valid.
_V1_NO_SPAN = ("empty", 0.0, 0.0)
_V2_NO_SPAN = ("", -1e6, -1e6)
# The original's start value of the running minimum of cls_logits (an example without windows).
_NO_WINDOW_NULL_SCORE = 1000000


class RawResultV1(NamedTuple):
  """The v1 model's outputs for one feature: raw logits over its max_seq_length positions."""
  unique_id: int
  start_logits: Sequence[float]
  end_logits: Sequence[float]


class RawResultV2(NamedTuple):
  """The v2 model's outputs for one feature (its top-k start and end log-probabilities)."""
  unique_id: int
  start_top_log_probs: Sequence[float]
  start_top_index: Sequence[int]
  end_top_log_probs: Sequence[float]
  end_top_index: Sequence[int]
  cls_logits: float


@dataclasses.dataclass(frozen=True)
class Predictions:
  """Post-processed answers, keyed by question id (`qas_id`), in example order.

  Attributes:
    best_answers: v1: the top n-best text (the original's predictions.json); v2: the best non-null
      text, whatever the null score.
    nbest: the n-best entries (text, probability, start_log_prob, end_log_prob) as written to
      nbest_predictions.json.
    null_odds: v2 only: the null score (min over windows of cls_logits), None for v1.
  """
  best_answers: Dict[str, str]
  nbest: Dict[str, List[Dict[str, object]]]
  null_odds: Optional[Dict[str, float]] = None

  @property
  def version_2(self) -> bool:
    return self.null_odds is not None

  def answers(self, null_score_diff_threshold: Optional[float] = None) -> Dict[str, str]:
    """The predicted answers; v2 with a threshold: "" where the null score is above it.

    The best non-null text when `score_diff <= threshold` (or without a threshold), else "": the
    rule of the official v2.0 script's threshold search. Deviation: the original's
    write_predictions_v2 answers only when `score_diff < threshold`, so at the threshold it tuned
    (best_f1_thresh) its predictions differed from the ones it tuned on, and its reported f1 could
    fall below best_f1.
    """
    if not self.version_2 or null_score_diff_threshold is None:
      return dict(self.best_answers)
    return {
        qas_id: text if self.null_odds[qas_id] <= null_score_diff_threshold else ""
        for qas_id, text in self.best_answers.items()
    }


class _Span(NamedTuple):
  feature_index: int
  start_index: int  # index into the window's paragraph tokens
  end_index: int
  start_log_prob: float
  end_log_prob: float


def paragraph_offset(feature) -> int:
  """Position of the window's first paragraph token: `[CLS] question [SEP]` comes before it."""
  return min(feature.token_is_max_context)


def _is_valid_span(feature, start: int, end: int, offset: int, max_answer_length: int) -> bool:
  """The original's filter of candidate (start, end) positions of one window."""
  if not 0 <= start - offset < len(feature.tok_start_to_orig_index):
    return False
  if end - offset >= len(feature.tok_end_to_orig_index):
    return False
  if not feature.token_is_max_context.get(start, False):
    return False
  return start <= end and end - start + 1 <= max_answer_length


def best_indexes(logits: Sequence[float], n_best_size: int) -> List[int]:
  """Positions of the `n_best_size` largest logits, largest first (ties: lower position first)."""
  ranked = sorted(enumerate(logits), key=lambda pair: pair[1], reverse=True)
  return [index for index, _ in ranked[:n_best_size]]


def _v1_candidates(feature, result: RawResultV1, n_best_size: int,
                   max_answer_length: int) -> Iterable[Tuple[int, int, float, float]]:
  offset = paragraph_offset(feature)
  for start in best_indexes(result.start_logits, n_best_size):
    for end in best_indexes(result.end_logits, n_best_size):
      if _is_valid_span(feature, start, end, offset, max_answer_length):
        yield (start - offset, end - offset, float(result.start_logits[start]),
               float(result.end_logits[end]))


def _v2_candidates(feature, result: RawResultV2, start_n_top: int, end_n_top: int,
                   max_answer_length: int) -> Iterable[Tuple[int, int, float, float]]:
  offset = paragraph_offset(feature)
  for i in range(start_n_top):
    start = int(result.start_top_index[i])
    for j in range(end_n_top):
      end = int(result.end_top_index[i * end_n_top + j])
      if _is_valid_span(feature, start, end, offset, max_answer_length):
        yield (start - offset, end - offset, float(result.start_top_log_probs[i]),
               float(result.end_top_log_probs[i * end_n_top + j]))


class SpanAccumulator:
  """Collects candidate spans (and v2 null scores) over one or more result sets.

  The original's `result_dict` / `cls_dict`: `add_v1` / `add_v2` may be called several times (e.g.
  with the results of several checkpoints); a span found in several result sets is scored by the
  mean of its start and of its end log-probabilities, and the null score by the mean of the
  per-set null scores.
  """

  def __init__(self, examples: Sequence, features: Sequence):
    self.examples = list(examples)
    self.features_of = collections.defaultdict(list)
    for feature in features:
      self.features_of[feature.example_index].append(feature)
    # example index -> unique_id -> (start, end) -> [(start_log_prob, end_log_prob)]
    self.spans = collections.defaultdict(lambda: collections.defaultdict(dict))
    self.null_scores = collections.defaultdict(list)

  def _results_by_id(self, results: Iterable) -> Dict[int, object]:
    by_id = {int(result.unique_id): result for result in results}
    for features in self.features_of.values():
      for feature in features:
        if feature.unique_id not in by_id:
          raise ValueError(f"no model result for the feature with unique_id {feature.unique_id}: "
                           "predict every feature of the examples")
    return by_id

  def _add(self, example_index: int, feature, candidates) -> None:
    spans = self.spans[example_index][feature.unique_id]
    for start, end, start_log_prob, end_log_prob in candidates:
      spans.setdefault((start, end), []).append((start_log_prob, end_log_prob))

  def add_v1(self, results: Iterable[RawResultV1], n_best_size: int,
             max_answer_length: int) -> None:
    """Adds one set of v1 results (accumulate_predictions_v1)."""
    by_id = self._results_by_id(results)
    for example_index in range(len(self.examples)):
      for feature in self.features_of[example_index]:
        self._add(example_index, feature,
                  _v1_candidates(feature, by_id[feature.unique_id], n_best_size, max_answer_length))

  def add_v2(self, results: Iterable[RawResultV2], max_answer_length: int, start_n_top: int,
             end_n_top: int) -> None:
    """Adds one set of v2 results (accumulate_predictions_v2)."""
    by_id = self._results_by_id(results)
    for example_index in range(len(self.examples)):
      score_null = _NO_WINDOW_NULL_SCORE
      for feature in self.features_of[example_index]:
        result = by_id[feature.unique_id]
        score_null = min(score_null, float(result.cls_logits))
        self._add(example_index, feature,
                  _v2_candidates(feature, result, start_n_top, end_n_top, max_answer_length))
      self.null_scores[example_index].append(score_null)

  def ranked_spans(self, example_index: int) -> List[_Span]:
    """The example's spans with averaged scores, best first (stable: window, then search order)."""
    spans = []
    for feature_index, feature in enumerate(self.features_of[example_index]):
      for (start, end), log_probs in self.spans[example_index][feature.unique_id].items():
        start_sum = sum(log_prob[0] for log_prob in log_probs)
        end_sum = sum(log_prob[1] for log_prob in log_probs)
        spans.append(
            _Span(feature_index, start, end, start_sum / len(log_probs), end_sum / len(log_probs)))
    return sorted(spans, key=lambda span: span.start_log_prob + span.end_log_prob, reverse=True)

  def nbest(self, example_index: int, n_best_size: int,
            no_span: Tuple[str, float, float]) -> List[Dict[str, object]]:
    """The n-best entries of one example: distinct texts, best first, with softmax probabilities."""
    example = self.examples[example_index]
    features = self.features_of[example_index]
    entries, seen = [], set()
    for span in self.ranked_spans(example_index):
      if len(entries) >= n_best_size:
        break
      feature = features[span.feature_index]
      start = feature.tok_start_to_orig_index[span.start_index]
      end = feature.tok_end_to_orig_index[span.end_index]
      text = example.paragraph_text[start:end + 1].strip()
      if text in seen:
        continue
      seen.add(text)
      entries.append((text, span.start_log_prob, span.end_log_prob))
    entries = entries or [no_span]
    probabilities = _softmax([start + end for _, start, end in entries])
    return [
        collections.OrderedDict([("text", text), ("probability", probability),
                                 ("start_log_prob", start), ("end_log_prob", end)])
        for (text, start, end), probability in zip(entries, probabilities)
    ]


def _softmax(scores: Sequence[float]) -> List[float]:
  """The original's `_compute_softmax` (same operations, so the same floats in the files)."""
  max_score = max(scores)
  exp_scores = [math.exp(score - max_score) for score in scores]
  total = 0.0
  for value in exp_scores:
    total += value
  return [value / total for value in exp_scores]


def predictions_v1(examples: Sequence, features: Sequence, results: Iterable[RawResultV1],
                   n_best_size: int = 20, max_answer_length: int = 30) -> Predictions:
  """SQuAD v1.1 answers: the best span of each question (the original's write_predictions_v1).

  Args:
    examples: `squad_lib_sp.SquadExample`s, in order (feature.example_index indexes them).
    features: their `squad_lib_sp.InputFeatures` (the windows).
    results: one `RawResultV1` per feature.
    n_best_size: the original's --n_best_size.
    max_answer_length: the original's --max_answer_length (in tokens).

  Returns:
    Predictions without null odds.

  Raises:
    ValueError: a feature has no result.
  """
  accumulator = SpanAccumulator(examples, features)
  accumulator.add_v1(results, n_best_size, max_answer_length)
  return finish_v1(accumulator, n_best_size)


def finish_v1(accumulator: SpanAccumulator, n_best_size: int = 20) -> Predictions:
  """v1 predictions from an accumulator (for results accumulated over several sets)."""
  best, nbest = collections.OrderedDict(), collections.OrderedDict()
  for example_index, example in enumerate(accumulator.examples):
    entries = accumulator.nbest(example_index, n_best_size, _V1_NO_SPAN)
    best[example.qas_id] = entries[0]["text"]
    nbest[example.qas_id] = entries
  return Predictions(best, nbest)


def predictions_v2(examples: Sequence, features: Sequence, results: Iterable[RawResultV2],
                   n_best_size: int = 20, max_answer_length: int = 30, start_n_top: int = 5,
                   end_n_top: int = 5) -> Predictions:
  """SQuAD v2.0 answers and null odds (the original's write_predictions_v2).

  Args:
    examples: `squad_lib_sp.SquadExample`s, in order.
    features: their `squad_lib_sp.InputFeatures`.
    results: one `RawResultV2` per feature.
    n_best_size: how many distinct texts nbest_predictions.json keeps per question.
    max_answer_length: the longest answer, in tokens.
    start_n_top: the model's start_n_top (length of start_top_index).
    end_n_top: the model's end_n_top (end_top_index has start_n_top * end_n_top entries).

  Returns:
    Predictions with `null_odds`; `answers(threshold)` applies a no-answer threshold.

  Raises:
    ValueError: a feature has no result.
  """
  accumulator = SpanAccumulator(examples, features)
  accumulator.add_v2(results, max_answer_length, start_n_top, end_n_top)
  return finish_v2(accumulator, n_best_size)


def finish_v2(accumulator: SpanAccumulator, n_best_size: int = 20) -> Predictions:
  """v2 predictions from an accumulator (for results accumulated over several sets)."""
  best, nbest = collections.OrderedDict(), collections.OrderedDict()
  null_odds = collections.OrderedDict()
  for example_index, example in enumerate(accumulator.examples):
    entries = accumulator.nbest(example_index, n_best_size, _V2_NO_SPAN)
    # The original takes the first entry as the best non-null one, whatever its text.
    best[example.qas_id] = entries[0]["text"]
    nbest[example.qas_id] = entries
    scores = accumulator.null_scores[example_index]
    null_odds[example.qas_id] = sum(scores) / len(scores)
  return Predictions(best, nbest, null_odds)


def _json_text(values: Mapping) -> str:
  """The original's file format: json.dumps with indent=4, then a newline."""
  return json.dumps(values, indent=4) + "\n"


def write_prediction_files(output_dir: str, predictions: Predictions,
                           null_score_diff_threshold: Optional[float] = None) -> Dict[str, str]:
  """Writes predictions.json, nbest_predictions.json and (v2) null_odds.json atomically.

  Args:
    output_dir: the directory to write to (created if needed).
    predictions: from predictions_v1 / predictions_v2.
    null_score_diff_threshold: v2: predictions.json says "" where the null score is above this; None
      writes the best non-null answers. The original writes its files with the best_f1_thresh
      that evaluation tuned on the same set (`squad_metrics.evaluate_v2`'s
      "null_score_diff_threshold").

  Returns:
    {"predictions": path, "nbest_predictions": path(, "null_odds": path)}.
  """
  files = {
      "predictions": (PREDICTIONS_FILE, predictions.answers(null_score_diff_threshold)),
      "nbest_predictions": (NBEST_FILE, predictions.nbest),
  }
  if predictions.version_2:
    files["null_odds"] = (NULL_ODDS_FILE, predictions.null_odds)
  paths = {}
  for key, (name, values) in files.items():
    paths[key] = os.path.join(output_dir, name)
    file_io.write_text_atomically(paths[key], _json_text(values))
  return paths
