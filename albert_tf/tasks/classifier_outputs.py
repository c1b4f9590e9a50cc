r"""run_classifier's prediction files: test_results.tsv and submit_results.tsv.

As the original run_classifier.py writes them for --do_predict, one line per real example (the
padding examples that fill the last batch come after them and are not written):

  test_results.tsv     the class probabilities, tab-separated (a regression task: its one score)
  submit_results.tsv   `index\tprediction`, then `<guid>\t<label>`: the predicted label's string,
                       or the score of a regression task; the GLUE submission format

Numbers are float32 as Python's `str` prints them, as the original's numpy outputs print. Each file
appears complete or not at all (written under a temporary name, then renamed).

Example:

    test_results, submit_results = write_predictions(
        "ft/mrpc", guids, probabilities, label_list=["0", "1"], is_regression=False)
"""

import os
from typing import Sequence

import numpy as np

from albert_tf.file_io import write_text_atomically
from albert_tf.tasks.classifier_data.errors import ClassifierDataError

TEST_RESULTS = "test_results.tsv"
SUBMIT_RESULTS = "submit_results.tsv"
_SUBMIT_HEADER = "index\tprediction\n"


def _rows(guids: Sequence[str], outputs: np.ndarray, label_list: Sequence[str],
          is_regression: bool) -> np.ndarray:
  """The real examples' rows as float32 [N, C] (C = 1 for regression), checked against the task."""
  outputs = np.asarray(outputs, np.float32)
  if is_regression and outputs.ndim == 1:
    outputs = outputs[:, None]
  columns = 1 if is_regression else len(label_list)
  if outputs.ndim != 2 or outputs.shape[1] != columns:
    raise ValueError(f"predictions have shape {list(outputs.shape)}, expected [examples, "
                     f"{columns}] for {'a regression' if is_regression else 'this'} task")
  if outputs.shape[0] < len(guids):
    raise ValueError(f"{outputs.shape[0]} predictions for {len(guids)} examples")
  return outputs[:len(guids)]


def _check_guid(guid: str) -> str:
  if any(character in guid for character in "\t\r\n"):
    raise ClassifierDataError(f"example id {guid!r} holds a tab or line break, which would break "
                              f"{SUBMIT_RESULTS}: remove it from the test file's id column")
  return guid


def write_predictions(output_dir: str, examples_guids: Sequence[str],
                      probabilities_or_predictions: np.ndarray, label_list: Sequence[str],
                      is_regression: bool) -> tuple[str, str]:
  """Writes test_results.tsv and submit_results.tsv for the predicted test split.

  Args:
    output_dir: the run's --output_dir.
    examples_guids: the guid of each real test example, in prediction order (GLUE: the test file's
      index column).
    probabilities_or_predictions: [N, C] class probabilities (softmax of the logits), or [N] /
      [N, 1] predicted scores for regression; N >= len(examples_guids), rows past the guids being
      padding.
    label_list: the task's labels (their order gives the label ids); unused for regression.
    is_regression: the task predicts scores (STS-B, your own scores).

  Returns:
    The paths of test_results.tsv and submit_results.tsv.

  Raises:
    ClassifierDataError: a guid holds a tab or line break.
    ValueError: the predictions do not fit the guids or the label list.
  """
  rows = _rows(examples_guids, probabilities_or_predictions, label_list, is_regression)
  test_lines, submit_lines = [], [_SUBMIT_HEADER]
  for guid, row in zip(examples_guids, rows):
    test_lines.append("\t".join(str(value) for value in row) + "\n")
    prediction = str(row[0]) if is_regression else label_list[int(np.argmax(row))]
    submit_lines.append(f"{_check_guid(guid)}\t{prediction}\n")
  test_path = os.path.join(output_dir, TEST_RESULTS)
  submit_path = os.path.join(output_dir, SUBMIT_RESULTS)
  write_text_atomically(test_path, "".join(test_lines))
  write_text_atomically(submit_path, "".join(submit_lines))
  return test_path, submit_path
