"""The "generic" task: your own labelled data in tsv, csv or JSON lines.

`data_dir` holds `train`, `dev` and `test` files, each `.tsv`, `.csv`, `.jsonl` or `.json` (JSON
lines); `GenericTaskSpec.file_format` picks one when the extension should not decide. A tsv/csv file
starts with a header row naming its columns and is read with the usual '"' quoting (what
spreadsheets and pandas write); a JSON-lines file has one object per line. One or two text columns
and a label column are named in the spec. The label column may be absent from the test file (test
examples then get a placeholder label).

Classification labels are the spec's `label_list`, or else every label of the training file,
sorted (numerically when all are integers, so "0".."10" keep their values as ids); the caller
writes them next to the checkpoints with `write_label_list`. Regression labels are numbers.

Guids are "<split>-<row index>" for train and dev and the row index (from 0) for test, which
`submit_results.tsv` writes as `index`.
"""

import dataclasses
import os
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from official.nlp.data.classifier_data_lib import InputExample
import tensorflow as tf

from albert_tf.tasks.classifier_data import readers
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.processor import ClassifierProcessor
from albert_tf.tasks.classifier_data.processor import check_split

_EXTENSIONS = {
    "tsv": (".tsv",),
    "csv": (".csv",),
    "jsonl": (".jsonl", ".json"),
    "json": (".jsonl", ".json")
}
_ANY_EXTENSION = (".tsv", ".csv", ".jsonl", ".json")
_DELIMITERS = {".tsv": "\t", ".csv": ","}
_INTEGER = re.compile(r"-?\d+")

Record = Tuple[int, Dict[str, Any]]


@dataclasses.dataclass
class GenericTaskSpec:
  """How to read your own data (see the module docstring).

  Example:
    >>> from albert_tf.tasks.classifier_data import get_processor
    >>> spec = GenericTaskSpec(text_a_column="review", label_column="stars", file_format="csv")
    >>> processor = get_processor("generic", use_spm=True, do_lower_case=True, generic=spec)
    >>> processor.is_regression
    False

  Attributes:
    text_a_column: the column (or JSON field) of the first text.
    text_b_column: the column of the second text of a pair task; None for single texts.
    label_column: the column of the label.
    label_list: the labels in id order; None takes them from the training file.
    regression: numeric labels and one output instead of classes.
    file_format: "tsv", "csv" or "jsonl"; None decides by the file extension.
  """
  text_a_column: str = "text_a"
  text_b_column: Optional[str] = None
  label_column: str = "label"
  label_list: Optional[List[str]] = None
  regression: bool = False
  file_format: Optional[str] = None

  def __post_init__(self):
    if self.file_format is not None and self.file_format not in _EXTENSIONS:
      raise ClassifierDataError(f"unknown --file_format={self.file_format}: use tsv, csv or jsonl, "
                                "or leave it unset to go by the file extension.")
    if self.label_list is None:
      return
    if self.regression:
      raise ClassifierDataError("a regression task has no label list: drop --label_list, or "
                                "--is_regression for a classification task.")
    self.label_list = [str(label).strip() for label in self.label_list]
    if not self.label_list or "" in self.label_list:
      raise ClassifierDataError(
          f"--label_list={','.join(self.label_list)} is empty or has an empty label; "
          "give the labels, e.g. negative,positive.")
    if len(set(self.label_list)) != len(self.label_list):
      raise ClassifierDataError(
          f"--label_list={','.join(self.label_list)} repeats a label; give each once.")


def sort_labels(labels: Iterable[str]) -> List[str]:
  """Distinct labels sorted; numerically when every label is an integer."""
  distinct = set(labels)
  if all(_INTEGER.fullmatch(label) for label in distinct):
    return sorted(distinct, key=int)
  return sorted(distinct)


class GenericProcessor(ClassifierProcessor):
  """Reads your own files as described by a `GenericTaskSpec` (see the module docstring)."""

  def __init__(self, spec: GenericTaskSpec, *, use_spm: bool, do_lower_case: bool):
    super().__init__("generic", use_spm=use_spm, do_lower_case=do_lower_case,
                     is_regression=spec.regression)
    self.spec = spec
    self._train_labels = {}

  def split_path(self, data_dir: str, split: str) -> str:
    """The split's file; when none exists, the first name looked for (get_examples reports it).

    Raises:
      ClassifierDataError: several candidate files exist (e.g. train.tsv and train.csv).
    """
    check_split(split)
    extensions = _EXTENSIONS[self.spec.file_format] if self.spec.file_format else _ANY_EXTENSION
    candidates = [os.path.join(data_dir, split + extension) for extension in extensions]
    found = [path for path in candidates if tf.io.gfile.exists(path)]
    if len(found) > 1:
      raise ClassifierDataError(f"{' and '.join(found)} all exist: keep one {split} file, or pass "
                                "--file_format to choose.")
    return found[0] if found else candidates[0]

  def get_labels(self, data_dir: Optional[str] = None) -> List[str]:
    """The spec's label list, else the training file's labels sorted; [] for regression.

    Raises:
      ClassifierDataError: no label list and no training file to take the labels from.
    """
    if self.is_regression:
      return []
    if self.spec.label_list is not None:
      return list(self.spec.label_list)
    if data_dir is None:
      raise ClassifierDataError(
          "the generic task needs --label_list, or the --data_dir whose train "
          "file gives the labels.")
    if data_dir not in self._train_labels:
      path = self.split_path(data_dir, "train")
      if not tf.io.gfile.exists(path):
        raise ClassifierDataError(f"{path} not found: the labels come from the train file; "
                                  f"{self.layout_hint()} Or pass --label_list.")
      self._train_labels[data_dir] = sort_labels(
          self._label_text(record, path, line) for line, record in self._records(path, "train"))
    return list(self._train_labels[data_dir])

  def layout_hint(self) -> str:
    return ("pass --data_dir=<your data directory> holding train, dev and test files (.tsv or "
            ".csv with a header row naming the columns, or .jsonl with one JSON object per line).")

  def _read_examples(self, path: str, split: str, data_dir: str) -> List[InputExample]:
    labels = self.get_labels(data_dir)
    spec = self.spec
    examples = []
    for index, (line, record) in enumerate(self._records(path, split)):
      if split == "test" and not readers.field_text(record.get(spec.label_column)).strip():
        label = self.test_label(labels)
      else:
        label = self.parse_label(self._label_text(record, path, line), labels, path, line)
      examples.append(
          InputExample(
              guid=str(index) if split == "test" else f"{split}-{index}",
              text_a=self.process_text(readers.field_text(record[spec.text_a_column])),
              text_b=(self.process_text(readers.field_text(record[spec.text_b_column]))
                      if spec.text_b_column else None), label=label))
    return examples

  def _label_text(self, record: Dict[str, Any], path: str, line: int) -> str:
    label = readers.field_text(record[self.spec.label_column]).strip()
    if not label:
      raise ClassifierDataError(f"{path}:{line}: the label column {self.spec.label_column!r} is "
                                "empty; every train and dev row needs a label.")
    return label

  def _records(self, path: str, split: str) -> List[Record]:
    """The file's rows as column -> value dicts, checked for the spec's columns."""
    spec = self.spec
    needed = [column for column in (spec.text_a_column, spec.text_b_column) if column]
    if split != "test":
      needed.append(spec.label_column)
    extension = os.path.splitext(path)[1]
    if extension not in _DELIMITERS:
      records = readers.read_json_lines(path)
      for line, record in records:
        _check_columns(path, line, list(record), needed)
      return records
    rows = readers.read_delimited(path, _DELIMITERS[extension], quoted=True)
    if not rows:
      return []
    header_line, header = rows[0]
    header = [name.strip() for name in header]
    _check_columns(path, header_line, header, needed)
    records = []
    for line, row in rows[1:]:
      if len(row) != len(header):
        raise ClassifierDataError(
            f"{path}:{line}: {len(row)} columns, but the header names {len(header)}; fix the line "
            "(quote a field that holds the separator).")
      records.append((line, dict(zip(header, row))))
    return records


def _check_columns(path: str, line: int, present: Sequence[str], needed: Sequence[str]) -> None:
  missing = [column for column in needed if column not in present]
  if missing:
    raise ClassifierDataError(
        f"{path}:{line}: no column {missing[0]!r} (the columns are {list(present)}); name the "
        "right ones in text_a_column, text_b_column and label_column.")
