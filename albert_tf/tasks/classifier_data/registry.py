"""Task names -> processors: GLUE, the Chinese tasks and "generic" (your own data)."""

from typing import List, Optional

from albert_tf.tasks.classifier_data import chinese
from albert_tf.tasks.classifier_data import glue
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.generic import GenericProcessor
from albert_tf.tasks.classifier_data.generic import GenericTaskSpec
from albert_tf.tasks.classifier_data.processor import ClassifierProcessor

GENERIC_TASK = "generic"


def task_names() -> List[str]:
  """Every registered task name, sorted."""
  return sorted([*glue.GLUE_TASKS, *chinese.CLUE_TASKS, "lcqmc", GENERIC_TASK])


def get_processor(task_name: str, *, use_spm: bool, do_lower_case: bool,
                  generic: Optional[GenericTaskSpec] = None) -> ClassifierProcessor:
  """The processor of `task_name` (case-insensitive).

  Example:
    >>> get_processor("SST-2", use_spm=True, do_lower_case=True).get_labels()
    ['0', '1']

  Args:
    task_name: a name from `task_names()`, e.g. "MNLI", "lcqmc" or "generic".
    use_spm: the vocabulary is a SentencePiece model (GLUE); False for WordPiece (Chinese).
    do_lower_case: lower-case the text.
    generic: how to read your own data; only the "generic" task uses it (default: columns
      text_a and label).

  Raises:
    ClassifierDataError: an unknown task name (the message lists the known ones).
  """
  name = (task_name or "").strip().lower()
  options = {"use_spm": use_spm, "do_lower_case": do_lower_case}
  if name in glue.GLUE_TASKS:
    return glue.GlueProcessor(glue.GLUE_TASKS[name], **options)
  if name in chinese.CLUE_TASKS:
    return chinese.ClueProcessor(chinese.CLUE_TASKS[name], **options)
  if name == "lcqmc":
    return chinese.LcqmcProcessor(**options)
  if name == GENERIC_TASK:
    return GenericProcessor(generic or GenericTaskSpec(), **options)
  raise ClassifierDataError(f"unknown --task_name={task_name!r}: use one of "
                            f"{', '.join(task_names())} (generic reads your own tsv/csv/jsonl).")
