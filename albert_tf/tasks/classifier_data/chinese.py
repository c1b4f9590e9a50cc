"""Chinese processors in albert_zh's layouts (use them with a WordPiece `--vocab_file`).

`--data_dir` is the task's own directory, as in albert_zh's scripts (`run_classifier_lcqmc.sh`
passes `--data_dir=.../lcqmc`, `run_classifier_clue.sh` passes `--data_dir=.../<task>`):

- lcqmc: `data_dir/{train,dev,test}.txt`, tab-separated `text_a  text_b  label`; the first line of
  each file is skipped and test lines carry labels too, as in albert_zh's `run_classifier.py`.
- CLUE (afqmc, tnews, iflytek, cmnli, csl): `data_dir/{train,dev,test}.json`, one JSON object per
  line, fields and label sets of albert_zh's `classifier_utils.py`; test examples get albert_zh's
  placeholder labels, cmnli drops examples labelled "-", csl joins its keyword list with spaces.

Guids are albert_zh's: "<split>-<index>" (cmnli counts from 1, the others from 0).
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

from official.nlp.data.classifier_data_lib import InputExample

from albert_tf.tasks.classifier_data import readers
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.processor import ClassifierProcessor
from albert_tf.tasks.classifier_data.processor import check_split


class LcqmcProcessor(ClassifierProcessor):
  """LCQMC sentence pairs (albert_zh layout, see the module docstring).

  Example:
    >>> LcqmcProcessor(use_spm=False, do_lower_case=True).split_path("lcqmc", "dev")
    'lcqmc/dev.txt'
  """

  def __init__(self, *, use_spm: bool, do_lower_case: bool):
    super().__init__("lcqmc", use_spm=use_spm, do_lower_case=do_lower_case)

  def split_path(self, data_dir: str, split: str) -> str:
    check_split(split)
    return os.path.join(data_dir, f"{split}.txt")

  def get_labels(self, data_dir: Optional[str] = None) -> List[str]:
    del data_dir  # Fixed label set.
    return ["0", "1"]

  def layout_hint(self) -> str:
    return ("pass --data_dir=<the lcqmc directory> holding train.txt, dev.txt and test.txt "
            "(albert_zh layout: text_a<TAB>text_b<TAB>label, first line skipped).")

  def _read_examples(self, path: str, split: str, data_dir: str) -> List[InputExample]:
    labels = self.get_labels()
    examples = []
    for index, (line, row) in enumerate(readers.read_delimited(path, "\t", quoted=False)):
      if index == 0:
        continue
      if len(row) < 3:
        raise ClassifierDataError(f"{path}:{line}: {len(row)} tab-separated columns, but lcqmc "
                                  "lines have 3 (text_a, text_b, label); fix or remove the line.")
      examples.append(
          InputExample(guid=f"{split}-{index}", text_a=self.process_text(row[0]),
                       text_b=self.process_text(row[1]),
                       label=self.parse_label(self.process_text(row[2]), labels, path, line)))
    return examples


@dataclasses.dataclass(frozen=True)
class ClueTask:
  """One CLUE classification task of albert_zh: JSON fields, labels and quirks."""
  name: str
  text_a: str
  text_b: Optional[str]
  labels: Tuple[str, ...]
  test_label: str
  first_index: int = 0
  dropped_label: Optional[str] = None


CLUE_TASKS: Dict[str, ClueTask] = {
    task.name: task for task in (
        ClueTask("afqmc", "sentence1", "sentence2", ("0", "1"), "0"),
        ClueTask("tnews", "sentence", None,
                 tuple(str(100 + i) for i in range(17) if i not in (5, 11)), "100"),
        ClueTask("iflytek", "sentence", None, tuple(str(i) for i in range(119)), "0"),
        ClueTask("cmnli", "sentence1", "sentence2", (
            "contradiction", "entailment", "neutral"), "neutral", first_index=1, dropped_label="-"),
        ClueTask("csl", "keyword", "abst", ("0", "1"), "0"),
    )
}


class ClueProcessor(ClassifierProcessor):
  """A CLUE JSON-lines task (albert_zh layout, see the module docstring).

  Example:
    >>> ClueProcessor(CLUE_TASKS["tnews"], use_spm=False, do_lower_case=True).get_labels()[:3]
    ['100', '101', '102']
  """

  def __init__(self, task: ClueTask, *, use_spm: bool, do_lower_case: bool):
    super().__init__(task.name, use_spm=use_spm, do_lower_case=do_lower_case)
    self.task = task

  def split_path(self, data_dir: str, split: str) -> str:
    check_split(split)
    return os.path.join(data_dir, f"{split}.json")

  def get_labels(self, data_dir: Optional[str] = None) -> List[str]:
    del data_dir  # Fixed label set.
    return list(self.task.labels)

  def test_label(self, labels: List[str]) -> str:
    del labels  # albert_zh names each task's placeholder (cmnli's is not its first label).
    return self.task.test_label

  def layout_hint(self) -> str:
    return (f"pass --data_dir=<the {self.name} directory> holding train.json, dev.json and "
            "test.json (CLUE JSON lines, albert_zh layout).")

  def _read_examples(self, path: str, split: str, data_dir: str) -> List[InputExample]:
    task, labels = self.task, self.get_labels()
    fields = [name for name in (task.text_a, task.text_b) if name]
    if split != "test":
      fields.append("label")
    examples = []
    for index, (line, record) in enumerate(readers.read_json_lines(path), start=task.first_index):
      missing = [name for name in fields if name not in record]
      if missing:
        raise ClassifierDataError(
            f"{path}:{line}: no {missing[0]!r} field (the line has {sorted(record)}); {self.name} "
            f"lines need {fields}.")
      if split == "test":
        label = self.test_label(labels)
      else:
        label = self._text(record, "label")
        if label == task.dropped_label:
          continue
        self.parse_label(label, labels, path, line)
      examples.append(
          InputExample(guid=f"{split}-{index}", text_a=self._text(record, task.text_a),
                       text_b=self._text(record, task.text_b) if task.text_b else None,
                       label=label))
    return examples

  def _text(self, record: Dict[str, Any], field: str) -> str:
    return self.process_text(readers.field_text(record[field]))
