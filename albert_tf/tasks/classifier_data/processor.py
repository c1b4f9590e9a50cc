"""The base class of the classification processors: local files -> `InputExample`s."""

import abc
from typing import List, Optional, Union

from absl import logging
from official.nlp.data.classifier_data_lib import InputExample
import tensorflow as tf

from albert_tf import tokenization
from albert_tf.tasks.classifier_data.errors import ClassifierDataError

SPLITS = ("train", "dev", "test")

Label = Union[str, float]


class ClassifierProcessor(abc.ABC):
  """Reads one task's train/dev/test files into `InputExample`s, as the original processors do.

  Text goes through the original's `process_text`: `preprocess_text(text, lower=do_lower_case)`
  with SentencePiece, plain unicode with WordPiece (whose tokenizer lower-cases itself). Labels are
  checked against the label list while reading, so a bad one is reported with its file and line.
  Regression tasks have float labels and the label list `[]` (the model has one output).

  Example:
    >>> from albert_tf.tasks.classifier_data import get_processor
    >>> processor = get_processor("mrpc", use_spm=True, do_lower_case=True)
    >>> processor.split_path("glue", "train")   # get_examples("glue", "train") reads it
    'glue/MRPC/train.tsv'
    >>> processor.get_labels()
    ['0', '1']

  Args:
    name: the registered task name.
    use_spm: the vocabulary is a SentencePiece model.
    do_lower_case: lower-case the text (SentencePiece) or let the WordPiece tokenizer do it.
    is_regression: float labels, squared-error loss.
  """

  def __init__(self, name: str, *, use_spm: bool, do_lower_case: bool, is_regression: bool = False):
    self.name = name
    self.use_spm = use_spm
    self.do_lower_case = do_lower_case
    self.is_regression = is_regression

  @abc.abstractmethod
  def split_path(self, data_dir: str, split: str) -> str:
    """The file that `get_examples(data_dir, split)` reads."""

  @abc.abstractmethod
  def get_labels(self, data_dir: Optional[str] = None) -> List[str]:
    """The label list (its order gives the label ids); `[]` for regression."""

  @abc.abstractmethod
  def _read_examples(self, path: str, split: str, data_dir: str) -> List[InputExample]:
    """Parses the existing file `path` of `split`."""

  @abc.abstractmethod
  def layout_hint(self) -> str:
    """Where the task's files live, for the missing-file message."""

  def get_examples(self, data_dir: str, split: str) -> List[InputExample]:
    """The examples of `split` ("train", "dev" or "test"); test examples get a placeholder label.

    Raises:
      ClassifierDataError: unknown split, missing or empty file, or a malformed line.
    """
    check_split(split)
    path = self.split_path(data_dir, split)
    if not tf.io.gfile.exists(path):
      raise ClassifierDataError(f"{path} not found: {self.layout_hint()}")
    examples = self._read_examples(path, split, data_dir)
    if not examples:
      raise ClassifierDataError(f"{path} holds no examples: give the {self.name} {split} data.")
    logging.info("Read %d %s examples of %s from %s.", len(examples), split, self.name, path)
    return examples

  def process_text(self, text: Union[str, bytes]) -> str:
    """The original's text normalization before tokenization."""
    if self.use_spm:
      return tokenization.preprocess_text(text, lower=self.do_lower_case)
    return tokenization.convert_to_unicode(text)

  def test_label(self, labels: List[str]) -> Label:
    """The placeholder label of test examples (the original's: the first label, or 0)."""
    return 0.0 if self.is_regression else labels[0]

  def parse_label(self, label: str, labels: List[str], path: str, line: int) -> Label:
    """Checks one label read from `path`:`line`; regression labels become floats.

    Raises:
      ClassifierDataError: a classification label outside `labels`, or a non-numeric regression
        label.
    """
    if self.is_regression:
      try:
        return float(label)
      except ValueError:
        raise ClassifierDataError(
            f"{path}:{line}: label {label!r} is not a number, and {self.name} is a regression "
            "task; fix the line.") from None
    if label not in labels:
      raise ClassifierDataError(
          f"{path}:{line}: label {label!r} is not one of {self.name}'s labels {labels}; fix the "
          "line or give the full label list.")
    return label


def check_split(split: str) -> None:
  """Raises ClassifierDataError unless `split` is "train", "dev" or "test"."""
  if split not in SPLITS:
    raise ClassifierDataError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}.")
