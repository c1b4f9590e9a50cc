"""What every albert-tf command line shares: flag and system errors printed as one line.

absl's `app.run` prints a bad flag (a missing required flag, a failed validator, a value below a
flag's `lower_bound`) as "FATAL Flags parsing error:" over several lines plus a help hint; the
albert-tf commands print it like their other user errors, as one line after their error prefix.
So are the machine's refusals that no command can work around: a read-only file system, a full
disk, a quota, too many open files, a permission denied; as Python's OSError or as TensorFlow's
file-system errors (tf.io.gfile), which carry the same system message.

  command_line.run(main, "albert-run-pretraining: error: ")
"""

import errno
import os
import sys
from typing import Callable, Sequence

from absl import app
from absl import flags
from absl import logging

# errno -> what to do about it. The message names the file the system refused.
SYSTEM_ERROR_FIXES = {
    errno.EROFS: "write to a directory on a writable file system",
    errno.ENOSPC: "free disk space or write to another disk, then rerun (finished work is kept)",
    errno.EDQUOT: "free space within your quota or write elsewhere, then rerun",
    errno.EMFILE: "raise the open-file limit (ulimit -n) or use fewer workers, then rerun",
    errno.ENFILE: "the machine is out of file handles: close other programs, then rerun",
    errno.EACCES: "check the path's permissions or write elsewhere",
}


def system_error_line(error: BaseException) -> str | None:
  """One line for an OSError or TensorFlow file error whose cause is one of SYSTEM_ERROR_FIXES.

  Returns:
    "<system message> (<file>): <fix>", or None for any other error.
  """
  if isinstance(error, OSError):
    fix = SYSTEM_ERROR_FIXES.get(error.errno)
    if fix is None:
      return None
    where = f" ({error.filename})" if error.filename else ""
    return f"{os.strerror(error.errno)}{where}: {fix}"
  # TensorFlow's file errors (tf.errors.OpError) carry the system message, not the errno;
  # matched on the text so that this TensorFlow-free module need not import TensorFlow.
  message = " ".join(str(error).split())
  for code, fix in SYSTEM_ERROR_FIXES.items():
    if os.strerror(code) in message:
      return f"{message}: {fix}"
  return None


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
  """`app.run(main)`, with bad flags reported by `parse_flags` and system refusals by
  `system_error_line`, one line each and exit status 1."""

  def guarded_main(argv: list[str]) -> None:
    try:
      main(argv)
    except Exception as error:  # pylint: disable=broad-except
      line = system_error_line(error)
      if line is None:
        raise
      logging.flush()
      sys.exit(error_prefix + line)

  app.run(guarded_main, flags_parser=lambda argv: parse_flags(argv, error_prefix))
