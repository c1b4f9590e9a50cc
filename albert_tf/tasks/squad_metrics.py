"""SQuAD EM/F1 with the official v1.1 and v2.0 evaluation logic (tf-models' copies of the scripts).

v1.1: `official.nlp.tools.squad_evaluate_v1_1.evaluate`, reported in percent as the original's
`evaluate_v1` ({"exact_match", "f1"}).

v2.0: `official.nlp.tools.squad_evaluate_v2_0.evaluate`, run as the original
`squad_utils.evaluate_v2` does, plus a score at a threshold fixed in advance:
  * `best_exact`, `best_f1` and their `best_exact_thresh`, `best_f1_thresh`: the official script's
    best no-answer thresholds over the null odds, tuned on the set being scored.
  * `exact`, `f1`, `total`: the original's reported scores. Like the original, they are those of the
    answers at `null_score_diff_threshold` = `best_f1_thresh` (so the threshold is tuned on the
    same set it reports), scored with the official script's na_prob_thresh of 1.0 over the null
    odds; compare with published ALBERT numbers through these. They equal best_exact/best_f1's
    rule: a question is answered when its null odds are at or below the threshold (the original
    answered only below it, a bug fixed here: Predictions.answers).
  * `fixed_threshold`, `fixed_threshold_exact`, `fixed_threshold_f1`: the answers at a threshold
    chosen in advance ("" where null odds > threshold), scored as they are (no tuning, no second
    threshold): an honest held-out number.
"""

import json
import os
from typing import Dict, List, Sequence, Union

from official.nlp.tools import squad_evaluate_v1_1
from official.nlp.tools import squad_evaluate_v2_0

from albert_tf import file_io
from albert_tf.tasks.squad_postprocess import Predictions

Dataset = Union[str, os.PathLike, Sequence[dict]]


def load_dataset(dataset: Dataset) -> List[dict]:
  """The SQuAD JSON's "data" articles, from a path or as given.

  Raises:
    ValueError: the file is not SQuAD JSON (one line naming the file).
  """
  if not isinstance(dataset, (str, os.PathLike)):
    return list(dataset)
  path = os.fspath(dataset)
  try:
    with file_io.open_file(path) as reader:
      return json.load(reader)["data"]
  except (json.JSONDecodeError, KeyError, TypeError) as error:
    raise ValueError(f"{path} is not SQuAD JSON with a \"data\" list: {error}") from error


def evaluate_v1(dataset: Dataset, predictions: Predictions) -> Dict[str, float]:
  """EM and F1 in percent of SQuAD v1.1 (the original's evaluate_v1 keys and scale).

  Args:
    dataset: the dev set JSON path, or its "data" articles (every gold answer counts).
    predictions: from squad_postprocess.predictions_v1.

  Returns:
    {"exact_match": ..., "f1": ...}, 0-100; questions without a prediction count as 0.
  """
  scores = squad_evaluate_v1_1.evaluate(load_dataset(dataset), predictions.answers())
  return {"exact_match": 100.0 * scores["exact_match"], "f1": 100.0 * scores["final_f1"]}


def evaluate_v2(dataset: Dataset, predictions: Predictions,
                fixed_threshold: float = 0.0) -> Dict[str, float]:
  """SQuAD v2.0 scores in percent: the original's (tuned threshold) and at `fixed_threshold`.

  Args:
    dataset: the dev set JSON path, or its "data" articles.
    predictions: from squad_postprocess.predictions_v2.
    fixed_threshold: the no-answer threshold fixed in advance (null odds above it: no answer).

  Returns:
    exact, f1, total, HasAns_*/NoAns_* (when present), best_exact, best_exact_thresh, best_f1,
    best_f1_thresh, null_score_diff_threshold (= best_f1_thresh), fixed_threshold,
    fixed_threshold_exact, fixed_threshold_f1 (see the module docstring).

  Raises:
    ValueError: predictions without null odds (v1).
  """
  if not predictions.version_2:
    raise ValueError("SQuAD v2.0 evaluation needs v2 predictions (with null odds)")
  articles = load_dataset(dataset)
  null_odds = dict(predictions.null_odds)
  # First pass, as the original: every best non-null answer, to tune the threshold.
  tuning = squad_evaluate_v2_0.evaluate(articles, predictions.answers(), null_odds)
  threshold = tuning["final_f1_thresh"]
  reported = squad_evaluate_v2_0.evaluate(articles, predictions.answers(threshold), null_odds)
  fixed = squad_evaluate_v2_0.evaluate(articles, predictions.answers(fixed_threshold))
  results = {
      key: value
      for key, value in reported.items()
      if key in ("exact", "f1", "total") or key.startswith(("HasAns_", "NoAns_"))
  }
  results.update({
      "best_exact": tuning["final_exact"],
      "best_exact_thresh": tuning["final_exact_thresh"],
      "best_f1": tuning["final_f1"],
      "best_f1_thresh": threshold,
      "null_score_diff_threshold": threshold,
      "fixed_threshold": float(fixed_threshold),
      "fixed_threshold_exact": fixed["exact"],
      "fixed_threshold_f1": fixed["f1"],
  })
  return results
