"""GLUE processors reading the original's local files: `data_dir/<TASK>/{train,dev,test}.tsv`.

One table describes the ten tasks of the original `classifier_utils.py`: the directory, the file of
each split, which columns hold the texts, the label and the guid, whether the file has a header
line, and the labels. Files are read as the original reads them: tab-separated, quotes are plain
characters. Test guids are the file's index column; `submit_results.tsv` writes them as `index`.
Guid columns go through `process_text` for every task (the original skips it for CoLA, MRPC and
QQP; their ids are integers, which it leaves unchanged).

A row with fewer columns than its task uses is an error naming the file and line (the original
crashed with an IndexError there), except in QQP's train and dev files, whose short lines the
original skips; extra columns are accepted, as in the original.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

from absl import logging
from official.nlp.data.classifier_data_lib import InputExample

from albert_tf.tasks.classifier_data import readers
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.processor import SPLITS
from albert_tf.tasks.classifier_data.processor import ClassifierProcessor
from albert_tf.tasks.classifier_data.processor import check_split


@dataclasses.dataclass(frozen=True)
class GlueLayout:
  """Column indexes of one split's rows (-1: the last column)."""
  text_a: int
  text_b: Optional[int] = None
  label: Optional[int] = None  # None: the test split, which gets a placeholder label.
  guid: Optional[int] = None  # None: the original's "<split>-<row index>".
  header: bool = True

  @property
  def min_columns(self) -> int:
    """Columns a row needs: past the highest index, plus the last one if -1 is used."""
    used = [
        index for index in (self.text_a, self.text_b, self.label, self.guid) if index is not None
    ]
    return max(used) + 1 + (1 if min(used) < 0 else 0)


@dataclasses.dataclass(frozen=True)
class GlueTask:
  """One GLUE task: where its files are and how their rows read."""
  name: str
  directory: str
  labels: Tuple[str, ...]  # Empty: regression.
  labelled: GlueLayout  # train and dev
  test: GlueLayout
  files: Tuple[str, str, str] = ("train.tsv", "dev.tsv", "test.tsv")
  skip_short_rows: bool = False


_PAIR_LAST_LABEL = GlueLayout(text_a=1, text_b=2, label=-1, guid=0)
_PAIR_TEST = GlueLayout(text_a=1, text_b=2, guid=0)
_MNLI_LABELS = ("contradiction", "entailment", "neutral")
_MNLI_LABELLED = GlueLayout(text_a=8, text_b=9, label=-1, guid=0)
_MNLI_TEST = GlueLayout(text_a=8, text_b=9, guid=0)
_ENTAILMENT = ("entailment", "not_entailment")

GLUE_TASKS: Dict[str, GlueTask] = {
    task.name: task for task in (
        GlueTask("cola", "CoLA", (
            "0", "1"), GlueLayout(text_a=3, label=1, header=False), GlueLayout(text_a=1, guid=0)),
        GlueTask("mnli", "MNLI", _MNLI_LABELS, _MNLI_LABELLED, _MNLI_TEST, files=(
            "train.tsv", "dev_matched.tsv", "test_matched.tsv")),
        GlueTask("mismnli", "MNLI", _MNLI_LABELS, _MNLI_LABELLED, _MNLI_TEST, files=(
            "train.tsv", "dev_mismatched.tsv", "test_mismatched.tsv")),
        GlueTask("mrpc", "MRPC", (
            "0",
            "1"), GlueLayout(text_a=3, text_b=4, label=0), GlueLayout(text_a=3, text_b=4, guid=0)),
        GlueTask("sst-2", "SST-2", (
            "0", "1"), GlueLayout(text_a=0, label=1), GlueLayout(text_a=1, guid=0)),
        GlueTask("sts-b", "STS-B", (), GlueLayout(text_a=7, text_b=8, label=-1, guid=0),
                 GlueLayout(text_a=7, text_b=8, guid=0)),
        GlueTask("qqp", "QQP", ("0", "1"), GlueLayout(text_a=3, text_b=4, label=5, guid=0),
                 _PAIR_TEST, skip_short_rows=True),
        GlueTask("qnli", "QNLI", _ENTAILMENT, _PAIR_LAST_LABEL, _PAIR_TEST),
        GlueTask("rte", "RTE", _ENTAILMENT, _PAIR_LAST_LABEL, _PAIR_TEST),
        GlueTask("wnli", "WNLI", ("0", "1"), _PAIR_LAST_LABEL, _PAIR_TEST),
    )
}


class GlueProcessor(ClassifierProcessor):
  """The processor of one GLUE task (see the module docstring for the file layout).

  Example:
    >>> processor = GlueProcessor(GLUE_TASKS["mnli"], use_spm=True, do_lower_case=True)
    >>> processor.split_path("glue", "dev")
    'glue/MNLI/dev_matched.tsv'
  """

  def __init__(self, task: GlueTask, *, use_spm: bool, do_lower_case: bool):
    super().__init__(task.name, use_spm=use_spm, do_lower_case=do_lower_case,
                     is_regression=not task.labels)
    self.task = task

  def split_path(self, data_dir: str, split: str) -> str:
    check_split(split)
    return os.path.join(data_dir, self.task.directory, self.task.files[SPLITS.index(split)])

  def get_labels(self, data_dir: Optional[str] = None) -> List[str]:
    del data_dir  # The GLUE label sets are fixed.
    return list(self.task.labels)

  def layout_hint(self) -> str:
    return (f"pass --data_dir=<the GLUE root>, which holds {self.task.directory}/"
            f"{{{','.join(self.task.files)}}} (the original layout).")

  def _read_examples(self, path: str, split: str, data_dir: str) -> List[InputExample]:
    layout = self.task.test if split == "test" else self.task.labelled
    labels = self.get_labels()
    examples, skipped = [], 0
    for index, (line, row) in enumerate(readers.read_delimited(path, "\t", quoted=False)):
      if layout.header and index == 0:
        continue
      if len(row) < layout.min_columns:
        if self.task.skip_short_rows and split != "test":
          skipped += 1
          continue
        raise ClassifierDataError(
            f"{path}:{line}: {len(row)} tab-separated columns, but {self.task.directory} {split} "
            f"rows have at least {layout.min_columns}; fix or remove the line.")
      if layout.label is None:
        label = self.test_label(labels)
      else:
        label = self.parse_label(self.process_text(row[layout.label]), labels, path, line)
      examples.append(
          InputExample(
              guid=(f"{split}-{index}" if layout.guid is None else self.process_text(
                  row[layout.guid])), text_a=self.process_text(row[layout.text_a]),
              text_b=None if layout.text_b is None else self.process_text(row[layout.text_b]),
              label=label))
    if skipped:
      logging.warning("Skipped %d lines of %s with fewer than %d columns, as the original does.",
                      skipped, path, layout.min_columns)
    return examples
