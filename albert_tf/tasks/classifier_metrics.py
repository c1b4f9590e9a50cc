"""run_classifier's evaluation metrics, computed on the host from per-example arrays.

The original (classifier_utils.model_fn_builder, metric_fn) streams tf.metrics over eval batches,
weighting each example by `is_real_example` so that the padding examples that fill the last batch
count for nothing. These functions take the whole evaluation's per-example arrays and the same
weights, and return plain floats under the original's key names:

  every classification task   eval_accuracy, eval_loss
  cola                        + matthew_corr (from TP/TN/FP/FN, as the original)
  mrpc, qqp                   + f1 (positive class: label index 1)
  regression tasks (sts-b)    pearson, spearman, MSE, eval_loss

`f1` and `spearman` are additions to the original's keys (the GLUE leaderboard reports them).
Undefined ratios (a constant column, no predicted positives) are 0, as the original's
`tf.div_no_nan`, so a best-checkpoint comparison never meets a NaN.

Example:

    metrics = classification_metrics("cola", labels, logits, is_real_example, per_example_loss,
                                     is_regression=False)
    metrics["matthew_corr"], metrics["eval_accuracy"], metrics["eval_loss"]
    best_metric_name("cola", is_regression=False)   # "matthew_corr"

Whether a task is a regression is the processor's `is_regression` (STS-B's and your own scores').
"""

from typing import Optional

import numpy as np

_MATTHEWS_TASKS = ("cola",)
_F1_TASKS = ("mrpc", "qqp")
_POSITIVE_LABEL = 1


def _flat(values: np.ndarray, dtype=np.float64) -> np.ndarray:
  return np.asarray(values, dtype).reshape(-1)


def _weights(weights: Optional[np.ndarray], size: int) -> np.ndarray:
  """float64 [N] weights, all ones when None; checked to have one weight per example."""
  if weights is None:
    return np.ones(size)
  weights = _flat(weights)
  if weights.shape[0] != size:
    raise ValueError(f"{weights.shape[0]} weights for {size} examples: pass one is_real_example "
                     "weight per example")
  return weights


def _safe_divide(numerator: float, denominator: float) -> float:
  """numerator / denominator, or 0 when the denominator is 0 (the original's tf.div_no_nan)."""
  return float(numerator / denominator) if denominator else 0.0


def weighted_mean(values: np.ndarray, weights: Optional[np.ndarray] = None) -> float:
  """Σ w·v / Σ w (tf.metrics.mean with weights); 0 when every weight is 0."""
  values = _flat(values)
  weights = _weights(weights, values.shape[0])
  return _safe_divide(np.sum(weights * values), np.sum(weights))


def accuracy(labels: np.ndarray, predictions: np.ndarray,
             weights: Optional[np.ndarray] = None) -> float:
  """The weighted fraction of predictions equal to the labels.

  Args:
    labels: int [N] label indices.
    predictions: int [N] predicted indices.
    weights: [N] is_real_example (1 for real examples, 0 for padding); None: all 1.

  Returns:
    Σ w·[label = prediction] / Σ w.
  """
  return weighted_mean(_flat(labels, np.int64) == _flat(predictions, np.int64), weights)


def _confusion(labels: np.ndarray, predictions: np.ndarray,
               weights: Optional[np.ndarray]) -> tuple[float, float, float, float]:
  """Weighted (TP, TN, FP, FN) of a binary task whose positive class is label index 1."""
  labels = _flat(labels, np.int64) == _POSITIVE_LABEL
  predictions = _flat(predictions, np.int64) == _POSITIVE_LABEL
  weights = _weights(weights, labels.shape[0])
  return (float(np.sum(weights[labels & predictions])),
          float(np.sum(weights[~labels & ~predictions])),
          float(np.sum(weights[~labels & predictions])),
          float(np.sum(weights[labels & ~predictions])))


def matthews_corrcoef(labels: np.ndarray, predictions: np.ndarray,
                      weights: Optional[np.ndarray] = None) -> float:
  """Matthews correlation of a binary task (CoLA), from weighted TP, TN, FP and FN.

  (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)), as the original's streaming version;
  0 when a factor of the denominator is 0. Arguments as `accuracy`; label index 1 is positive.
  """
  tp, tn, fp, fn = _confusion(labels, predictions, weights)
  return _safe_divide(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


def f1(labels: np.ndarray, predictions: np.ndarray, weights: Optional[np.ndarray] = None) -> float:
  """F1 of the positive class (label index 1: MRPC's paraphrase, QQP's duplicate).

  2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall; 0 when there are neither
  positive labels nor positive predictions. Arguments as `accuracy`.
  """
  tp, _, fp, fn = _confusion(labels, predictions, weights)
  return _safe_divide(2 * tp, 2 * tp + fp + fn)


def pearson(labels: np.ndarray, predictions: np.ndarray,
            weights: Optional[np.ndarray] = None) -> float:
  """Weighted Pearson correlation (the original's streaming_pearson_correlation).

  cov_w(x, y) / sqrt(var_w(x)·var_w(y)) with weighted means; 0 when either is constant.

  Args:
    labels: float [N] gold scores.
    predictions: float [N] predicted scores.
    weights: [N] is_real_example; None: all 1.
  """
  x, y = _flat(labels), _flat(predictions)
  weights = _weights(weights, x.shape[0])
  x = x - weighted_mean(x, weights)
  y = y - weighted_mean(y, weights)
  return _safe_divide(np.sum(weights * x * y),
                      np.sqrt(np.sum(weights * x * x) * np.sum(weights * y * y)))


def average_ranks(values: np.ndarray) -> np.ndarray:
  """1-based ranks of `values`; tied values share the average of the ranks they span."""
  _, group, counts = np.unique(_flat(values), return_inverse=True, return_counts=True)
  last = np.cumsum(counts)  # The rank of each group's last member.
  return ((last - counts + 1 + last) / 2)[group]


def spearman(labels: np.ndarray, predictions: np.ndarray,
             weights: Optional[np.ndarray] = None) -> float:
  """Spearman rank correlation: Pearson of the average ranks, over the examples of weight > 0.

  Padding examples (weight 0) are dropped before ranking, so they do not shift the ranks of the
  real ones. Arguments as `pearson`.
  """
  x, y = _flat(labels), _flat(predictions)
  weights = _weights(weights, x.shape[0])
  real = weights > 0
  return pearson(average_ranks(x[real]), average_ranks(y[real]), weights[real])


def mse(labels: np.ndarray, predictions: np.ndarray, weights: Optional[np.ndarray] = None) -> float:
  """Weighted mean squared error (tf.metrics.mean_squared_error). Arguments as `pearson`."""
  return weighted_mean((_flat(labels) - _flat(predictions))**2, weights)


def classification_metrics(task_name: str, labels: np.ndarray, logits_or_predictions: np.ndarray,
                           weights: Optional[np.ndarray], per_example_loss: np.ndarray, *,
                           is_regression: bool) -> dict[str, float]:
  """run_classifier's eval metrics for one task, under the original's key names.

  Args:
    task_name: the --task_name (case-insensitive): "cola" adds matthew_corr, "mrpc" and "qqp" add
      f1.
    labels: [N] label indices, or gold scores for regression.
    logits_or_predictions: [N, C] logits (or probabilities) of a classification task, predicted
      as their argmax; [N] or [N, 1] predicted scores of a regression task.
    weights: [N] is_real_example; None: every example is real.
    per_example_loss: [N] cross-entropy, or squared error for regression.
    is_regression: the task predicts scores (STS-B, your own scores): the processor's
      `is_regression`.

  Returns:
    {"eval_accuracy", "eval_loss"} plus "matthew_corr" (cola) or "f1" (mrpc, qqp); for regression
    {"pearson", "spearman", "MSE", "eval_loss"}.
  """
  task_name = task_name.lower()
  outputs = np.asarray(logits_or_predictions)
  metrics = {"eval_loss": weighted_mean(per_example_loss, weights)}
  if is_regression:
    predictions = outputs.reshape(-1)
    metrics.update(pearson=pearson(labels, predictions,
                                   weights), spearman=spearman(labels, predictions, weights),
                   MSE=mse(labels, predictions, weights))
    return metrics
  if outputs.ndim != 2:
    raise ValueError(f"{task_name}: logits have shape {list(outputs.shape)}, expected [examples, "
                     "labels] for a classification task")
  predictions = np.argmax(outputs, axis=-1)
  metrics["eval_accuracy"] = accuracy(labels, predictions, weights)
  if task_name in _MATTHEWS_TASKS:
    metrics["matthew_corr"] = matthews_corrcoef(labels, predictions, weights)
  if task_name in _F1_TASKS:
    metrics["f1"] = f1(labels, predictions, weights)
  return metrics


def best_metric_name(task_name: str, is_regression: bool) -> str:
  """The metric run_classifier keeps model.ckpt-best by (higher is better).

  "pearson" for regression tasks (STS-B), "matthew_corr" for CoLA, else "eval_accuracy".
  """
  if is_regression:
    return "pearson"
  if task_name.lower() in _MATTHEWS_TASKS:
    return "matthew_corr"
  return "eval_accuracy"
