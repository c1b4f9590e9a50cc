"""run_classifier's metrics against hand computations on small arrays, and its prediction files.

Each expected number is worked out from the formula in the comment beside it. The last row of most
arrays is a padding example (is_real_example = 0) that would change the result if it were counted.
"""

import os

import numpy as np
import pytest

from albert_tf.tasks import classifier_metrics as metrics
from albert_tf.tasks import classifier_outputs
from albert_tf.tasks.classifier_data.errors import ClassifierDataError

# A binary task. Rows 0-6 are real: TP, TP, FN, TN, FP, TP, TN. Row 7 is padding (it would be FN).
BINARY_LABELS = np.array([1, 1, 1, 0, 0, 1, 0, 1])
BINARY_PREDICTIONS = np.array([1, 1, 0, 0, 1, 1, 0, 0])
BINARY_WEIGHTS = np.array([1, 1, 1, 1, 1, 1, 1, 0], np.float32)
# Logits whose argmax is BINARY_PREDICTIONS.
BINARY_LOGITS = np.stack([1 - BINARY_PREDICTIONS, BINARY_PREDICTIONS], axis=1) * 2.0 - 1.0
BINARY_LOSS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 100.0])
# TP = 3, TN = 2, FP = 1, FN = 1 over the 7 real rows.
ACCURACY = 5 / 7
MATTHEWS = (3 * 2 - 1 * 1) / np.sqrt((3 + 1) * (3 + 1) * (2 + 1) * (2 + 1))  # 5 / 12
F1 = 2 * 3 / (2 * 3 + 1 + 1)  # precision 3/4, recall 3/4
LOSS = (0.1 + 0.2 + 0.3 + 0.4 + 0.5 + 0.6 + 0.7) / 7

# A regression task; row 4 is padding.
SCORES = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
PREDICTED = np.array([2.0, 1.0, 4.0, 3.0, -10.0])
SCORE_WEIGHTS = np.array([1, 1, 1, 1, 0])
# Means 2.5 and 2.5; deviations (-1.5, -0.5, 0.5, 1.5) and (-0.5, -1.5, 1.5, 0.5):
# covariance sum 0.75·4 = 3, variance sums 5 and 5.
PEARSON = 3 / 5
MSE = (1 + 1 + 1 + 1) / 4


def test_accuracy():
  assert metrics.accuracy(BINARY_LABELS, BINARY_PREDICTIONS,
                          BINARY_WEIGHTS) == pytest.approx(ACCURACY, abs=1e-12)
  assert metrics.accuracy(BINARY_LABELS, BINARY_PREDICTIONS) == pytest.approx(5 / 8, abs=1e-12)
  assert metrics.accuracy([2, 0, 1], [2, 1, 1]) == pytest.approx(2 / 3, abs=1e-12)


def test_matthews_corrcoef_from_the_confusion_table():
  assert metrics.matthews_corrcoef(BINARY_LABELS, BINARY_PREDICTIONS,
                                   BINARY_WEIGHTS) == pytest.approx(MATTHEWS, abs=1e-12)
  # With the padding row counted: TP 3, TN 2, FP 1, FN 2 -> (6 - 2) / sqrt(4·5·3·4).
  assert metrics.matthews_corrcoef(BINARY_LABELS, BINARY_PREDICTIONS) == pytest.approx(
      4 / np.sqrt(240), abs=1e-12)


def test_matthews_corrcoef_is_zero_when_undefined():
  # Everything predicted negative: TP + FP = 0.
  assert metrics.matthews_corrcoef([1, 0, 1], [0, 0, 0]) == 0.0
  # Perfect and inverted predictions.
  assert metrics.matthews_corrcoef([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0, abs=1e-12)
  assert metrics.matthews_corrcoef([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0, abs=1e-12)


def test_f1_of_label_index_1():
  assert metrics.f1(BINARY_LABELS, BINARY_PREDICTIONS,
                    BINARY_WEIGHTS) == pytest.approx(F1, abs=1e-12)
  # Label 1 is positive even when it is the rarer class: TP 1, FP 0, FN 1 -> 2/3.
  assert metrics.f1([1, 1, 0, 0, 0], [1, 0, 0, 0, 0]) == pytest.approx(2 / 3, abs=1e-12)
  assert metrics.f1([0, 0], [0, 0]) == 0.0


def test_pearson():
  assert metrics.pearson(SCORES, PREDICTED, SCORE_WEIGHTS) == pytest.approx(PEARSON, abs=1e-12)
  assert metrics.pearson([1, 2, 3], [5, 5, 5]) == 0.0  # a constant column


def test_spearman_with_ties_by_average_rank():
  # Ranks of (1, 2, 2, 3) are (1, 2.5, 2.5, 4); of (1, 3, 2, 2) are (1, 4, 2.5, 2.5).
  # Deviations from 2.5: (-1.5, 0, 0, 1.5) and (-1.5, 1.5, 0, 0): 2.25 / sqrt(4.5 · 4.5) = 0.5.
  labels = np.array([1.0, 2.0, 2.0, 3.0, 0.0])
  predictions = np.array([0.1, 0.9, 0.5, 0.5, 100.0])
  weights = np.array([1, 1, 1, 1, 0])
  np.testing.assert_array_equal(metrics.average_ranks(labels[:4]), [1, 2.5, 2.5, 4])
  np.testing.assert_array_equal(metrics.average_ranks(predictions[:4]), [1, 4, 2.5, 2.5])
  assert metrics.spearman(labels, predictions, weights) == pytest.approx(0.5, abs=1e-12)
  # Ranked with the padding row: (2, 3.5, 3.5, 5, 1) and (1, 4, 2.5, 2.5, 5), means 3, deviations
  # (-1, 0.5, 0.5, 2, -2) and (-2, 1, -0.5, -0.5, 2): -2.75 / sqrt(9.5 · 9.5).
  assert metrics.spearman(labels, predictions) == pytest.approx(-2.75 / 9.5, abs=1e-12)


def test_average_ranks_of_a_three_way_tie():
  np.testing.assert_array_equal(metrics.average_ranks([3, 1, 3, 2, 3]), [4, 1, 4, 2, 4])


def test_mse():
  assert metrics.mse(SCORES, PREDICTED, SCORE_WEIGHTS) == pytest.approx(MSE, abs=1e-12)
  # (0.5² + 2²) / 2
  assert metrics.mse([1.0, 3.0], [1.5, 1.0]) == pytest.approx(2.125, abs=1e-12)


def test_weights_must_match_the_examples():
  with pytest.raises(ValueError) as error:
    metrics.accuracy([1, 0, 1], [1, 0, 1], [1, 1])
  assert str(error.value) == ("2 weights for 3 examples: pass one is_real_example weight per "
                              "example")


@pytest.mark.parametrize("task_name, expected", [
    ("cola", {
        "eval_accuracy": ACCURACY,
        "eval_loss": LOSS,
        "matthew_corr": MATTHEWS
    }),
    ("CoLA", {
        "eval_accuracy": ACCURACY,
        "eval_loss": LOSS,
        "matthew_corr": MATTHEWS
    }),
    ("mrpc", {
        "eval_accuracy": ACCURACY,
        "eval_loss": LOSS,
        "f1": F1
    }),
    ("qqp", {
        "eval_accuracy": ACCURACY,
        "eval_loss": LOSS,
        "f1": F1
    }),
    ("sst-2", {
        "eval_accuracy": ACCURACY,
        "eval_loss": LOSS
    }),
])
def test_classification_metrics_of_binary_tasks(task_name, expected):
  result = metrics.classification_metrics(task_name, BINARY_LABELS, BINARY_LOGITS, BINARY_WEIGHTS,
                                          BINARY_LOSS, is_regression=False)
  assert sorted(result) == sorted(expected)
  for key, value in expected.items():
    assert result[key] == pytest.approx(value, abs=1e-12), key


def test_classification_metrics_of_a_three_class_task():
  logits = np.array([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 5.0, 0.0]])
  labels = np.array([1, 2, 2, 0])  # argmax (1, 0, 2, 1): rows 0 and 2 right
  result = metrics.classification_metrics("mnli", labels, logits, None, [1.0, 2.0, 3.0, 4.0],
                                          is_regression=False)
  assert result == {"eval_accuracy": 0.5, "eval_loss": 2.5}


@pytest.mark.parametrize("task_name", ["sts-b", "my_scores"])
def test_classification_metrics_of_regression_tasks(task_name):
  loss = (PREDICTED - SCORES)**2
  result = metrics.classification_metrics(task_name, SCORES, PREDICTED[:, None], SCORE_WEIGHTS,
                                          loss, is_regression=True)
  assert sorted(result) == ["MSE", "eval_loss", "pearson", "spearman"]
  assert result["pearson"] == pytest.approx(PEARSON, abs=1e-12)
  # Ranks (1, 2, 3, 4) and (2, 1, 4, 3): the same deviations as PEARSON's, so also 3/5.
  assert result["spearman"] == pytest.approx(0.6, abs=1e-12)
  assert result["MSE"] == pytest.approx(MSE, abs=1e-12)
  assert result["eval_loss"] == pytest.approx(MSE, abs=1e-12)


def test_classification_logits_must_be_two_dimensional():
  with pytest.raises(ValueError) as error:
    metrics.classification_metrics("rte", [0, 1], np.array([0.2, 0.9]), None, [0.1, 0.2],
                                   is_regression=False)
  assert str(error.value) == ("rte: logits have shape [2], expected [examples, labels] for a "
                              "classification task")


@pytest.mark.parametrize("task_name, is_regression, expected", [
    ("sts-b", True, "pearson"),
    ("my_scores", True, "pearson"),
    ("cola", False, "matthew_corr"),
    ("CoLA", False, "matthew_corr"),
    ("mrpc", False, "eval_accuracy"),
    ("mnli", False, "eval_accuracy"),
    ("lcqmc", False, "eval_accuracy"),
])
def test_best_metric_name(task_name, is_regression, expected):
  assert metrics.best_metric_name(task_name, is_regression) == expected


# --- Prediction files (albert_tf.tasks.classifier_outputs) -------------------------------------


def test_prediction_files_of_a_classification_task(tmp_path):
  probabilities = np.array([[0.25, 0.75], [0.9, 0.1], [0.5, 0.5], [0.0, 1.0]], np.float32)
  # The last row is padding: three guids for four rows.
  test_path, submit_path = classifier_outputs.write_predictions(str(tmp_path / "rte"),
                                                                ["0", "1", "2"], probabilities,
                                                                ["entailment", "not_entailment"],
                                                                is_regression=False)
  assert test_path == str(tmp_path / "rte" / "test_results.tsv")
  assert submit_path == str(tmp_path / "rte" / "submit_results.tsv")
  assert sorted(os.listdir(tmp_path / "rte")) == ["submit_results.tsv", "test_results.tsv"]
  with open(test_path, encoding="utf-8") as test_results:
    assert test_results.read() == "0.25\t0.75\n0.9\t0.1\n0.5\t0.5\n"
  with open(submit_path, encoding="utf-8") as submit_results:
    # A tie goes to the first label, as tf.argmax.
    assert submit_results.read() == ("index\tprediction\n0\tnot_entailment\n1\tentailment\n"
                                     "2\tentailment\n")


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_prediction_files_of_a_regression_task(tmp_path, shape):
  scores = np.array([3.5, 0.2, 4.75], np.float32).reshape(shape)
  test_path, submit_path = classifier_outputs.write_predictions(str(tmp_path),
                                                                ["1001", "1002", "1003"], scores,
                                                                [], is_regression=True)
  with open(test_path, encoding="utf-8") as test_results:
    assert test_results.read() == "3.5\n0.2\n4.75\n"
  with open(submit_path, encoding="utf-8") as submit_results:
    assert submit_results.read() == "index\tprediction\n1001\t3.5\n1002\t0.2\n1003\t4.75\n"


def test_prediction_files_refuse_what_does_not_fit(tmp_path):
  with pytest.raises(ValueError) as error:
    classifier_outputs.write_predictions(str(tmp_path), ["0", "1"], np.ones((2, 3)), ["a", "b"],
                                         is_regression=False)
  assert str(error.value) == "predictions have shape [2, 3], expected [examples, 2] for this task"
  with pytest.raises(ValueError) as error:
    classifier_outputs.write_predictions(str(tmp_path), ["0", "1"], np.ones((1, 2)), ["a", "b"],
                                         is_regression=False)
  assert str(error.value) == "1 predictions for 2 examples"
  with pytest.raises(ClassifierDataError) as error:
    classifier_outputs.write_predictions(str(tmp_path), ["0", "a\tb"], np.ones((2, 2)), ["a", "b"],
                                         is_regression=False)
  assert str(error.value) == ("example id 'a\\tb' holds a tab or line break, which would break "
                              "submit_results.tsv: remove it from the test file's id column")
  assert os.listdir(tmp_path) == []
