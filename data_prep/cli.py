"""What the data-preparation entry points share: required flags and one-line user errors."""

import sys
from typing import Callable, Sequence

from absl import flags
from absl import logging

from data_prep.corpus_files import CorpusError


def run_action(required_flags: Sequence[str], action: Callable[[], object]) -> object:
  """Checks required flags, runs `action`, turns a CorpusError into `error: ...` and exit 1."""
  for name in required_flags:
    if not flags.FLAGS[name].value:
      sys.exit(f"error: --{name} is required.")
  try:
    return action()
  except CorpusError as error:
    logging.flush()
    sys.exit(f"error: {error}")
