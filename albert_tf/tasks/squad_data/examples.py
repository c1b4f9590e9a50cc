"""Reading SQuAD-format JSON (SQuAD v1.1 and v2.0, CMRC 2018, DRCD) into SquadExamples.

The examples are tf-models' `squad_lib_sp.SquadExample`, filled as the original
`squad_utils.read_squad_examples`: for training, `start_position` is the answer's character offset
in the paragraph and `orig_answer_text` its text (-1 and "" for unanswerable questions); for
prediction both stay None (the evaluation reads the answers from the JSON file).

Unlike the original, the file is checked as it is read: a malformed file or structure is one
`SquadDataError` line naming the file and the place ("train.json: data[3].paragraphs[0].qas[2] has
no 'answers'"), and a training answer whose text is not at its answer_start is skipped and counted
(one warning with the count; the original would silently train on the wrong span). This is why
`squad_lib_sp.read_squad_examples` is not reused: it indexes the JSON unchecked (a KeyError or
TypeError without the file or place) and never compares an answer with its paragraph; the examples
it would build for valid files are the same.
"""

import json
import random
from typing import Any, List, Optional, Sequence

from absl import logging
from official.nlp.data.squad_lib_sp import SquadExample
import tensorflow as tf

from albert_tf.tasks.squad_data.errors import SquadDataError

# The original run_squad_v1/v2 shuffle the training examples with this seed before featurizing.
TRAIN_SHUFFLE_SEED = 12345


def _load_json(path: str) -> Any:
  if not tf.io.gfile.exists(path):
    raise SquadDataError(f"{path} not found: pass an existing SQuAD-format JSON file.")
  with tf.io.gfile.GFile(path, "rb") as reader:
    data = reader.read()
  try:
    text = data.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    raise SquadDataError(f"{path}: not UTF-8 text at byte {error.start} ({error.reason}); save "
                         "the file as UTF-8.") from None
  try:
    return json.loads(text)
  except json.JSONDecodeError as error:
    raise SquadDataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno} column "
                         f"{error.colno}).") from None


class _Checker:
  """Type checks that raise one SquadDataError line naming the file and the JSON place."""

  def __init__(self, path: str):
    self.path = path

  def fail(self, where: str, problem: str) -> None:
    raise SquadDataError(f"{self.path}: {where} {problem}")

  def field(self, value: Any, where: str, key: str, kind: type, kind_name: str) -> Any:
    if not isinstance(value, dict):
      self.fail(where, f"is not a JSON object (found {type(value).__name__})")
    if key not in value:
      self.fail(where, f"has no {key!r}")
    found = value[key]
    if not isinstance(found, kind) or isinstance(found, bool) and kind is not bool:
      self.fail(f"{where}.{key}", f"is not {kind_name} (found {type(found).__name__})")
    return found


def _answer(check: _Checker, qa: dict, where: str, paragraph_text: str,
            skipped: List[str]) -> Optional[dict]:
  """The training answer of an answerable question; None when its text is not at answer_start."""
  answers = check.field(qa, where, "answers", list, "a list")
  if len(answers) != 1:
    check.fail(
        where, f"(id {qa['id']}) has {len(answers)} answers; training needs exactly one "
        "per answerable question (the original's rule)")
  answer_where = f"{where}.answers[0]"
  text = check.field(answers[0], answer_where, "text", str, "a string")
  start = check.field(answers[0], answer_where, "answer_start", int, "an integer")
  if not text.strip():
    check.fail(answer_where, "has an empty text; give the answer's text or mark the question "
               "is_impossible")
  if start < 0 or paragraph_text[start:start + len(text)] != text:
    skipped.append(str(qa["id"]))
    return None
  return {"text": text, "start": start}


def _qa_example(check: _Checker, qa: Any, where: str, paragraph_text: str, is_training: bool,
                version_2_with_negative: bool, skipped: List[str]) -> Optional[SquadExample]:
  qas_id = check.field(qa, where, "id", (str, int), "a string")
  question = check.field(qa, where, "question", str, "a string")
  example = SquadExample(qas_id=str(qas_id), question_text=question, paragraph_text=paragraph_text)
  if not is_training:
    return example
  is_impossible = qa.get("is_impossible", False)
  if not isinstance(is_impossible, bool):
    check.fail(f"{where}.is_impossible", "is not true or false")
  if is_impossible and not version_2_with_negative:
    check.fail(
        where, f"(id {qas_id}) is unanswerable (is_impossible), which SQuAD v1.1 "
        "training cannot learn; use run_squad_v2 for SQuAD 2.0 data")
  if is_impossible:
    example.is_impossible, example.start_position, example.orig_answer_text = True, -1, ""
    return example
  answer = _answer(check, qa, where, paragraph_text, skipped)
  if answer is None:
    return None
  example.start_position, example.orig_answer_text = answer["start"], answer["text"]
  return example


def read_squad_examples(path: str, is_training: bool,
                        version_2_with_negative: bool) -> List[SquadExample]:
  """Reads a SQuAD-format JSON file (local or gs://) into examples, in file order.

  Example:
    examples = read_squad_examples("squad/train-v2.0.json", is_training=True,
                                   version_2_with_negative=True)

  Args:
    path: the JSON file ({"data": [{"paragraphs": [{"context", "qas": [...]}]}]}).
    is_training: read the answers: exactly one per answerable question.
    version_2_with_negative: SQuAD 2.0: questions may be unanswerable ("is_impossible": true).

  Returns:
    The examples (training: without the skipped ones).

  Raises:
    SquadDataError: the file is missing, not UTF-8 JSON, or not SQuAD-shaped (one line naming the
      place), or holds no question.
  """
  check = _Checker(path)
  root = _load_json(path)
  data = check.field(root, "the top level", "data", list, "a list")
  examples, skipped = [], []
  for i, entry in enumerate(data):
    paragraphs = check.field(entry, f"data[{i}]", "paragraphs", list, "a list")
    for j, paragraph in enumerate(paragraphs):
      where = f"data[{i}].paragraphs[{j}]"
      paragraph_text = check.field(paragraph, where, "context", str, "a string")
      qas = check.field(paragraph, where, "qas", list, "a list")
      for k, qa in enumerate(qas):
        example = _qa_example(check, qa, f"{where}.qas[{k}]", paragraph_text, is_training,
                              version_2_with_negative, skipped)
        if example is not None:
          examples.append(example)
  if skipped:
    logging.warning(
        "%s: skipped %d of %d questions whose answer text is not at its answer_start (ids %s%s).",
        path, len(skipped),
        len(examples) + len(skipped), ", ".join(skipped[:5]), ", ..." if len(skipped) > 5 else "")
  if not examples:
    raise SquadDataError(f"{path}: holds no usable question; check that it is SQuAD-format data.")
  return examples


def shuffled_examples(examples: Sequence[SquadExample],
                      seed: int = TRAIN_SHUFFLE_SEED) -> List[SquadExample]:
  """A copy of `examples` shuffled as the original training does (`random.Random(12345)`).

  Example:
    >>> [e.qas_id for e in shuffled_examples([SquadExample(str(i), "q", "p") for i in range(5)])]
    ['4', '2', '1', '0', '3']
  """
  shuffled = list(examples)
  random.Random(seed).shuffle(shuffled)
  return shuffled
