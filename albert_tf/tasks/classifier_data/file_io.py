"""Reading data files and the label list (local paths or gs://, through tf.io.gfile)."""

from typing import Sequence

import tensorflow as tf

from albert_tf.file_io import write_text_atomically
from albert_tf.tasks.classifier_data.errors import ClassifierDataError


def read_text(path: str) -> str:
  """Returns the text of a UTF-8 file, without a leading byte-order mark (spreadsheets write one).

  Raises:
    ClassifierDataError: the file is not UTF-8 (the message names the line).
  """
  with tf.io.gfile.GFile(path, "rb") as reader:
    data = reader.read()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    line = data.count(b"\n", 0, error.start) + 1
    raise ClassifierDataError(f"{path}:{line}: not UTF-8 text ({error.reason}); save the file as "
                              "UTF-8.") from None


def write_label_list(path: str, labels: Sequence[str]) -> None:
  """Writes one label per line (the order gives the label ids), atomically.

  Example:
    >>> write_label_list("ft/my_task/label_list.txt", ["negative", "positive"])

  Raises:
    ClassifierDataError: a label is empty, repeated or holds a line break.
  """
  labels = [str(label) for label in labels]
  for label in labels:
    if not label or label != label.strip() or "\n" in label or "\r" in label:
      raise ClassifierDataError(f"label {label!r} cannot be written to {path}: labels must be "
                                "non-empty, without surrounding spaces or line breaks.")
  if len(set(labels)) != len(labels):
    raise ClassifierDataError(f"the label list {labels} repeats a label; give each label once.")
  write_text_atomically(path, "".join(label + "\n" for label in labels))


def read_label_list(path: str) -> list[str]:
  """Reads a file written by `write_label_list` (one label per line; [] for regression tasks).

  Raises:
    ClassifierDataError: the file does not exist.
  """
  if not tf.io.gfile.exists(path):
    raise ClassifierDataError(f"{path} not found: it is written by training (--do_train) next to "
                              "the checkpoints; train first or copy it there.")
  return [line.strip() for line in read_text(path).split("\n") if line.strip()]
