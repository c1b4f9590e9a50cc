"""One writer per output: an exclusive lock file naming the process that writes an output.

A lock is a small JSON file ({host, pid, command, started}) that its writer holds an exclusive
flock(2) on for as long as it writes, so of two processes starting on one output exactly one gets
it; the other stops with one line naming the first. The lock file is removed when its block ends
(also on an exception). A process killed outright leaves the file behind, but the kernel drops its
flock: the next process takes the lock over (with a log line naming the dead process), and of two
taking it over at the same moment only one can (the flock decides, not a check of the pid). A lock
file of another host is refused with the fix (delete the lock file if that job is dead), since a
network file system may not carry flocks between hosts.

  with output_lock.lock_directory("runs/x"):        # runs/x/.albert-tf.lock
    train()
  with output_lock.lock_output("records/train-00000-of-00004.tfrecord"):
    write_shards()                                  # records/.train-00000-of-00004.tfrecord.lock

Remote paths (gs://...) are not locked: their file systems have no atomic exclusive create.
This module does not import TensorFlow (the data-preparation tools use it).
"""

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import socket
import sys
from typing import Iterator, Optional

from absl import logging

from albert_tf import file_io

DIRECTORY_LOCK = ".albert-tf.lock"  # the lock of an output directory, inside it

# A lock file can be removed by its releasing holder between our open and our flock; we then hold a
# flock on a file that is no longer the lock, and try again.
_ATTEMPTS = 5


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
  created = _missing_directories(os.path.dirname(lock_file) or ".")
  descriptor = _acquire(lock_file, output)
  try:
    yield
  finally:
    # Removed while still flocked, so that no one takes over a lock file we are releasing.
    with contextlib.suppress(FileNotFoundError):
      if _is_open_file(descriptor, lock_file):
        os.remove(lock_file)
    os.close(descriptor)
    _remove_if_empty(created)


def _missing_directories(directory: str) -> list[str]:
  """The directories of `directory`'s path that do not exist yet, deepest first."""
  missing = []
  directory = os.path.abspath(directory)
  while not os.path.exists(directory):
    missing.append(directory)
    parent = os.path.dirname(directory)
    if parent == directory:
      break
    directory = parent
  return missing


def _remove_if_empty(directories: list[str]) -> None:
  """Removes the directories the lock created, deepest first, while they are empty: a run that
  failed before writing anything leaves the file system as it found it."""
  for directory in directories:
    try:
      os.rmdir(directory)
    except OSError:  # not empty (the run wrote its outputs there), or gone
      return


def _acquire(lock_file: str, output: str) -> int:
  """Flocks `lock_file` and writes this process's description in it; returns its descriptor."""
  try:
    os.makedirs(os.path.dirname(lock_file) or ".", exist_ok=True)
  except OSError as error:  # read-only, a path component that is a file, ...
    raise _unwritable(output, error) from None
  for _ in range(_ATTEMPTS):
    try:
      descriptor = os.open(lock_file, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
      raise _unwritable(output, error) from None
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(descriptor)
      raise OutputLockError(_held_message(lock_file, output, _read_holder(lock_file))) from None
    if not _is_open_file(descriptor, lock_file):  # its holder removed it while we opened it
      os.close(descriptor)
      continue
    try:
      _take(descriptor, lock_file, output)
    except BaseException:
      os.close(descriptor)
      raise
    return descriptor
  raise OutputLockError(f"could not lock {output}: {lock_file} keeps being replaced; make sure no "
                        "other job writes there.")


def _take(descriptor: int, lock_file: str, output: str) -> None:
  """Writes this process into the flocked `lock_file`, unless it names a process of another host."""
  previous = _read_holder(lock_file)
  if previous is not None and previous.get("host") != socket.gethostname():
    raise OutputLockError(_held_message(lock_file, output, previous))
  if previous is not None:
    logging.warning(
        "Taking over the lock %s of process %s, which is no longer running (started "
        "%s).", lock_file, previous.get("pid"), previous.get("started", "?"))
  holder = {
      "host": socket.gethostname(),
      "pid": os.getpid(),
      "command": shlex.join(sys.argv),
      "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
  }
  os.ftruncate(descriptor, 0)
  os.pwrite(descriptor, json.dumps(holder).encode("utf-8"), 0)


def _is_open_file(descriptor: int, path: str) -> bool:
  """Whether `path` still names the file open as `descriptor`."""
  try:
    return os.path.samestat(os.fstat(descriptor), os.stat(path))
  except FileNotFoundError:
    return False


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


def _held_message(lock_file: str, output: str, holder: Optional[dict]) -> str:
  if holder is None:  # flocked, its holder still writing its description
    return (f"{output} is being written by a process that is starting (lock {lock_file}): wait "
            "for it to finish, or write elsewhere.")
  who = (f"process {holder.get('pid')} on host {holder.get('host')} since "
         f"{holder.get('started')} ({holder.get('command')})")
  if holder.get("host") != socket.gethostname():
    return (f"{output} is being written by {who}: wait for it, write elsewhere, or if that job is "
            f"dead, delete {lock_file}.")
  return f"{output} is being written by {who}: wait for it to finish, or write elsewhere."
