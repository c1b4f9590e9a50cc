"""What every albert-tf command line shares: flag errors printed as one line.

absl's `app.run` prints a bad flag (a missing required flag, a failed validator, a value below a
flag's `lower_bound`) as "FATAL Flags parsing error:" over several lines plus a help hint; the
albert-tf commands print it like their other user errors, as one line after their error prefix.

  command_line.run(main, "albert-run-pretraining: error: ")
"""

import sys
from typing import Callable, Sequence

from absl import app
from absl import flags


def parse_flags(argv: Sequence[str], error_prefix: str) -> list[str]:
  """Parses `argv` (program name first) into absl's FLAGS and returns the remaining arguments.

  Args:
    argv: the command line.
    error_prefix: what the error line starts with, e.g. "albert-export: error: ".

  Raises:
    SystemExit: a flag is bad; the message (one line: `error_prefix`, then absl's messages
      joined) goes to stderr and the exit status is 1.
  """
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    sys.exit(error_prefix + " ".join(str(error).split()))


def run(main: Callable[[list[str]], None], error_prefix: str) -> None:
  """`app.run(main)`, with bad flags reported by `parse_flags`."""
  app.run(main, flags_parser=lambda argv: parse_flags(argv, error_prefix))
