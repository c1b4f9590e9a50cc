"""What the data-preparation entry points share: required flags and one-line user errors."""

import sys
from typing import Callable

from absl import logging

from albert_tf import file_io
from albert_tf import output_lock
from data_prep.corpus_files import CorpusError


def run_action(action: Callable[[], object]) -> object:
  """Runs `action`, turning a user error into `error: ...` and exit 1 (absl checks the flags)."""
  try:
    return action()
  except (CorpusError, file_io.FilePatternError, output_lock.OutputLockError) as error:
    logging.flush()
    sys.exit(f"error: {error}")
