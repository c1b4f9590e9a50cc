"""One writer per output: an exclusive lock file naming the process that writes an output.

A lock is a small JSON file ({host, pid, command, started}) created with O_CREAT|O_EXCL, so of two
processes starting on one output exactly one gets it; the other stops with one line naming the
first. The lock is removed when its block ends (also on an exception). A process killed outright
leaves its lock behind: on the same host a lock whose pid is gone is taken over (with a log line);
a lock of another host cannot be checked from here, so it is refused with the fix (delete the lock
file if that job is dead).

  with output_lock.lock_directory("runs/x"):        # runs/x/.albert-tf.lock
    train()
  with output_lock.lock_output("records/train-00000-of-00004.tfrecord"):
    write_shards()                                  # records/.train-00000-of-00004.tfrecord.lock

Remote paths (gs://...) are not locked: their file systems have no atomic exclusive create.
This module does not import TensorFlow (the data-preparation tools use it).
"""

import contextlib
import datetime
import json
import os
import shlex
import socket
import sys
from typing import Iterator, Optional

from absl import logging

from albert_tf import file_io

DIRECTORY_LOCK = ".albert-tf.lock"  # the lock of an output directory, inside it

# Taking over a dead process's lock races only with another process taking over the same lock at
# the same moment; a few attempts settle it.
_ATTEMPTS = 3


class OutputLockError(RuntimeError):
  """The output is being written by another process; the message is one line naming it."""


def lock_directory(directory: str) -> contextlib.AbstractContextManager[None]:
  """Locks the output directory `directory` (created if missing) with `directory/.albert-tf.lock`.

  Raises:
    OutputLockError: another live process holds the lock, or the lock cannot be created there.
  """
  return _locked(os.path.join(directory, DIRECTORY_LOCK), directory)


def lock_output(path: str) -> contextlib.AbstractContextManager[None]:
  """Locks the output file or directory `path` with `.<name>.lock` next to it.

  The lock file is hidden so that a glob over the outputs (`records/train-*`) never matches it.
  The parent directory is created if missing.

  Raises:
    OutputLockError: another live process holds the lock, or the lock cannot be created there.
  """
  path = path.rstrip("/")
  directory, name = os.path.split(path)
  return _locked(os.path.join(directory, f".{name}.lock"), path)


@contextlib.contextmanager
def _locked(lock_file: str, output: str) -> Iterator[None]:
  if file_io.is_remote(lock_file):
    logging.info(
        "Not locking %s: a remote file system has no atomic exclusive create; make sure "
        "no other job writes there.", output)
    yield
    return
  holder = _acquire(lock_file, output)
  try:
    yield
  finally:
    # A lock that is no longer ours (deleted by hand and retaken) is left to its new holder.
    if _read_holder(lock_file) == holder:
      os.remove(lock_file)


def _acquire(lock_file: str, output: str) -> dict:
  """Creates `lock_file` holding this process's description; returns that description."""
  holder = {
      "host": socket.gethostname(),
      "pid": os.getpid(),
      "command": shlex.join(sys.argv),
      "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
  }
  try:
    os.makedirs(os.path.dirname(lock_file) or ".", exist_ok=True)
  except OSError as error:  # read-only, a path component that is a file, ...
    raise _unwritable(output, error) from None
  for _ in range(_ATTEMPTS):
    try:
      descriptor = os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      other = _read_holder(lock_file)
      if other is None or not _is_stale(other):
        raise OutputLockError(_held_message(lock_file, output, other)) from None
      logging.warning(
          "Taking over the lock %s of process %d, which is no longer running (started "
          "%s).", lock_file, other["pid"], other.get("started", "?"))
      with contextlib.suppress(FileNotFoundError):
        os.remove(lock_file)
      continue
    except OSError as error:
      raise _unwritable(output, error) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
      json.dump(holder, handle)
    return holder
  raise OutputLockError(f"could not lock {output}: {lock_file} keeps reappearing; make sure no "
                        "other job writes there.")


def _unwritable(output: str, error: OSError) -> OutputLockError:
  return OutputLockError(f"cannot write {output}: {error.strerror} ({error.filename}); fix the "
                         "path or its permissions.")


def _read_holder(lock_file: str) -> Optional[dict]:
  """The description in `lock_file`, or None when it is gone or not one."""
  try:
    with open(lock_file, encoding="utf-8") as handle:
      holder = json.load(handle)
  except (OSError, ValueError):
    return None
  return holder if isinstance(holder, dict) else None


def _is_stale(holder: dict) -> bool:
  """Whether `holder` is a process of this host that no longer runs."""
  if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
    return False
  try:
    os.kill(holder["pid"], 0)
  except ProcessLookupError:
    return True
  except PermissionError:  # alive, owned by another user
    return False
  return False


def _held_message(lock_file: str, output: str, holder: Optional[dict]) -> str:
  if holder is None:
    return (f"{output} is locked by {lock_file}, which names no process: if no job writes "
            f"there, delete {lock_file}.")
  who = (f"process {holder.get('pid')} on host {holder.get('host')} since "
         f"{holder.get('started')} ({holder.get('command')})")
  if holder.get("host") != socket.gethostname():
    return (f"{output} is being written by {who}: wait for it, write elsewhere, or if that job is "
            f"dead, delete {lock_file}.")
  return f"{output} is being written by {who}: wait for it to finish, or write elsewhere."
