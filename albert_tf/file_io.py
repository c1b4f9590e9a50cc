"""Files by name: glob patterns, opening, and atomic writes, locally or on gs:// and the like.

Every output goes through a temporary name and is renamed when complete, so an interrupted or failed
write never leaves a partial file (or directory) under the final name. Local files are also
fsync'ed before the rename, so a crash cannot leave a renamed but empty file.

Paths with a scheme ("gs://bucket/...") go through `tf.io.gfile`, imported on their first use;
local paths go through the standard library. The data-preparation tools and `albert_tf.config`
import this module and stay TensorFlow-free that way (importing TensorFlow takes seconds and
hundreds of MB in every process).
"""

import contextlib
import fnmatch
import glob
import os
import posixpath
import shutil
from typing import IO, Iterator, List, Optional, Sequence, Tuple
import uuid


class FilePatternError(ValueError):
  """A file-pattern flag matches nothing; the message is one line that says what to do."""


def is_remote(path: str) -> bool:
  """Whether `path` names a remote filesystem (gs://, ram://, ...) rather than a local path."""
  return "://" in path


def _gfile():
  """`tf.io.gfile`; imported here so that local-only callers never load TensorFlow."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def expand_patterns(patterns: str, flag: str = "--input_file") -> List[str]:
  """Expands a comma-separated list of glob patterns into files, in a stable order.

  Example:

    files = expand_patterns("records/train-*,gs://bucket/extra.tfrecord")
    # ["records/train-00000", "records/train-00001", "gs://bucket/extra.tfrecord"]

  Args:
    patterns: e.g. "corpus/*.txt,extra.txt"; local paths or any `tf.io.gfile` filesystem.
    flag: the flag the patterns came from, named in the error messages.

  Returns:
    The matched files: patterns in the given order, each pattern's matches sorted, directories
    left out.

  Raises:
    FilePatternError: no pattern is given, or a pattern matches no file.
  """
  files = []
  for pattern in (p.strip() for p in (patterns or "").split(",")):
    if not pattern:
      continue
    if is_remote(pattern):
      matches = [path for path in _gfile().glob(pattern) if not _gfile().isdir(path)]
    else:
      matches = [path for path in glob.glob(pattern) if os.path.isfile(path)]
    if not matches:
      raise FilePatternError(f"{flag} pattern {pattern!r} matches no file; check the path (quote "
                             "globs so the shell does not expand them).")
    files.extend(sorted(matches))
  if not files:
    raise FilePatternError(f"{flag} is empty; pass one or more files or glob patterns, "
                           "comma-separated.")
  return files


def open_file(path: str, mode: str = "r") -> IO:
  """Opens `path` for "r", "rb", "w" or "wb"; text is UTF-8 and newlines are not translated."""
  if is_remote(path):
    handle = _gfile().GFile(path, mode)
    if "w" in mode:
      # GFile creates the file on the first write only; an empty output must exist too.
      handle.write(b"" if "b" in mode else "")
    return handle
  if "b" in mode:
    return open(path, mode)  # pylint: disable=unspecified-encoding
  return open(path, mode, encoding="utf-8", newline="")


def copy_file(source: str, target: str) -> None:
  """Copies `source` to `target`, replacing it (not atomic: use it under an atomic_* block)."""
  if is_remote(source) or is_remote(target):
    _gfile().copy(source, target, overwrite=True)
  else:
    shutil.copyfile(source, target)


def _makedirs(directory: str) -> None:
  if not directory:
    return
  if is_remote(directory):
    _gfile().makedirs(directory)
  else:
    os.makedirs(directory, exist_ok=True)


def _exists(path: str) -> bool:
  # lexists: a dangling temporary link still has to be removed.
  return _gfile().exists(path) if is_remote(path) else os.path.lexists(path)


def exists(path: str) -> bool:
  """Whether `path` exists (as tf.io.gfile.exists; local paths without loading TensorFlow)."""
  return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def glob_files(pattern: str) -> List[str]:
  """The paths `pattern` matches, sorted (an empty list when none)."""
  return sorted(_gfile().glob(pattern) if is_remote(pattern) else glob.glob(pattern))


def _remove(path: str) -> None:
  """Removes a file or a whole directory."""
  if is_remote(path):
    if _gfile().isdir(path):
      _gfile().rmtree(path)
    else:
      _gfile().remove(path)
  elif os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  else:
    os.remove(path)


def _commit(temporary: str, path: str) -> None:
  """Renames the complete file `temporary` to `path`, after syncing it to disk when local."""
  if is_remote(path):
    _gfile().rename(temporary, path, overwrite=True)
    return
  descriptor = os.open(temporary, os.O_RDONLY)
  try:
    os.fsync(descriptor)
  finally:
    os.close(descriptor)
  os.replace(temporary, path)


def _unique_suffix() -> str:
  return f".tmp-{uuid.uuid4().hex}"


@contextlib.contextmanager
def atomic_outputs(paths: Sequence[str], temporary_suffix: Optional[str] = None,
                   make_parents: bool = True) -> Iterator[List[str]]:
  """Yields temporary names for `paths`; renames them to `paths`, in order, when the block succeeds.

  When the block raises, the temporary files are deleted and no final name is touched.

  Example:

    with atomic_outputs(["out/a.tfrecord", "out/b.tfrecord"]) as (a, b):
      write_records(a)
      write_records(b)

  Args:
    paths: the final file names.
    temporary_suffix: a fixed suffix for the temporary names, for outputs that one process writes:
      a re-run then overwrites what a killed run left behind. Default: a unique suffix per call,
      safe when several processes write the same path.
    make_parents: create missing parent directories; when False, a missing directory is an error
      (for paths the user typed, where it is likely a mistake).

  Yields:
    The temporary names, one per path.
  """
  suffix = temporary_suffix or _unique_suffix()
  temporaries = [path + suffix for path in paths]
  if make_parents:
    for path in paths:
      _makedirs(os.path.dirname(path))
  try:
    yield temporaries
    for temporary, path in zip(temporaries, paths):
      _commit(temporary, path)
  finally:
    for temporary in temporaries:
      if _exists(temporary):
        _remove(temporary)


@contextlib.contextmanager
def atomic_output(path: str, temporary_suffix: Optional[str] = None,
                  make_parents: bool = True) -> Iterator[str]:
  """Yields a temporary name next to `path` and renames it to `path` when the block succeeds.

  Example:

    with atomic_output("cache/mrpc_train.tf_record") as temporary:
      write_records(temporary)

  Args:
    path: the final file name.
    temporary_suffix, make_parents: see `atomic_outputs`.

  Yields:
    The temporary name.
  """
  with atomic_outputs([path], temporary_suffix, make_parents) as (temporary,):
    yield temporary


def write_text_atomically(path: str, text: str, temporary_suffix: Optional[str] = None,
                          make_parents: bool = True) -> None:
  """Writes `text` (UTF-8) to `path` through a temporary name (see `atomic_outputs`)."""
  with atomic_output(path, temporary_suffix, make_parents) as temporary:
    with open_file(temporary, "w") as writer:
      writer.write(text)


def _files_with_prefix(prefix: str) -> List[str]:
  """The files named `<prefix>.<anything>`."""
  directory, stem = os.path.split(prefix)
  names = (_gfile().listdir(directory) if is_remote(prefix) else os.listdir(directory or "."))
  return [os.path.join(directory, name) for name in names if name.startswith(stem + ".")]


@contextlib.contextmanager
def atomic_prefix(prefix: str, last_suffix: str = ".index") -> Iterator[str]:
  """Yields a temporary prefix, and renames each `<temporary>.*` to `<prefix>.*` on success.

  For outputs made of several files under one prefix whose names the writer chooses: TF checkpoints
  (`.index` plus data shards), SentencePiece models (`.model` plus `.vocab`).

  Example:

    with atomic_prefix("export/model.ckpt-best") as temporary:
      checkpoint.write(temporary)  # writes <temporary>.index and <temporary>.data-*

  Args:
    prefix: the final prefix.
    last_suffix: the file renamed last, the one that makes the output usable (a checkpoint's
      `.index`), so that a reader never finds it before the files it refers to.

  Yields:
    The temporary prefix.
  """
  _makedirs(os.path.dirname(prefix))
  temporary = prefix + _unique_suffix()
  try:
    yield temporary
    written = sorted(_files_with_prefix(temporary), key=lambda name: name.endswith(last_suffix))
    for name in written:
      _commit(name, prefix + name[len(temporary):])
  finally:
    for name in _files_with_prefix(temporary):
      _remove(name)


@contextlib.contextmanager
def atomic_directory(path: str) -> Iterator[str]:
  """Yields a temporary directory name next to `path`; when the block succeeds, it replaces `path`.

  What `path` held before is removed only once the new directory is complete. The temporary name is
  hidden (".tmp-<name>-<unique>"), so that a server polling the parent ignores it.

  Example:

    with atomic_directory("serving/albert/1") as temporary:
      tf.saved_model.save(module, temporary)

  Args:
    path: the final directory.

  Yields:
    The temporary directory name (not created: the block creates it).
  """
  path = path.rstrip("/")
  parent = os.path.dirname(path)
  _makedirs(parent)
  temporary = os.path.join(parent, f"{_directory_temporary_prefix(path)}{uuid.uuid4().hex}")
  try:
    yield temporary
    if _exists(path):
      _remove(path)
    if is_remote(path):
      _gfile().rename(temporary, path)
    else:
      os.replace(temporary, path)
  finally:
    if _exists(temporary):
      _remove(temporary)


def _directory_temporary_prefix(path: str) -> str:
  return f".tmp-{os.path.basename(path)}-"


def remove_stale_temporaries(path: str) -> List[str]:
  """Removes the temporary directories `atomic_directory(path)` left when its process was killed.

  Call it only while holding `path`'s output lock (albert_tf.output_lock): then no live writer
  owns such a directory.

  Returns:
    The directories removed.
  """
  path = path.rstrip("/")
  prefix = _directory_temporary_prefix(path)
  stale = [
      candidate
      for candidate in glob_files(os.path.join(os.path.dirname(path),
                                               glob.escape(prefix) + "*"))
      if len(os.path.basename(candidate)) == len(prefix) + 32  # prefix + a uuid4 hex
  ]
  for candidate in stale:
    _remove(candidate)
  return stale


class OutputOverlapError(ValueError):
  """An output would overwrite an input or another output; the message is one line."""


_GLOB_CHARACTERS = frozenset("*?[")


def _normalised(path: str, resolve: bool = True) -> str:
  """An absolute form of `path`: links resolved when local and `resolve`; "a//b/./c" collapsed."""
  if is_remote(path):
    scheme, rest = path.split("://", 1)
    return f"{scheme}://{posixpath.normpath(rest)}"
  return os.path.realpath(path) if resolve else os.path.abspath(path)


def _normalised_pattern(pattern: str) -> str:
  """`pattern` with its directories before the first glob character resolved like a path."""
  if is_remote(pattern):
    return _normalised(pattern)
  parts = os.path.abspath(pattern).split(os.sep)
  literal = next((i for i, part in enumerate(parts) if _GLOB_CHARACTERS & set(part)), len(parts))
  head = os.path.realpath(os.sep.join(parts[:literal]) or os.sep)
  return os.sep.join([head.rstrip(os.sep), *parts[literal:]])


def _glob_would_list(path: str, pattern: str) -> bool:
  """Whether a (non-recursive) glob of `pattern` lists `path`, both normalised; no file is read."""
  names, parts = path.split("/"), pattern.split("/")
  if len(names) != len(parts):
    return False
  for name, part in zip(names, parts):
    # glob leaves hidden names out of a wildcard's matches unless the wildcard starts with ".".
    if _GLOB_CHARACTERS & set(part) and name.startswith(".") and not part.startswith("."):
      return False
    if not fnmatch.fnmatchcase(name, part):
      return False
  return True


def _overwrites(output: str, is_directory: bool, other: str) -> bool:
  """Whether writing `output` (a file, or a directory replaced whole) destroys `other`."""
  output, other = _normalised(output), _normalised(other)
  return other == output or (is_directory and other.startswith(output.rstrip("/") + "/"))


def _rerun_would_read(output: str, pattern: str) -> bool:
  """Whether input `pattern` lists file `output` once it exists (under its link-free name, too)."""
  pattern = _normalised_pattern(pattern)
  return any(
      _glob_would_list(name, pattern)
      for name in (_normalised(output), _normalised(output, resolve=False)))


def _existing_matches(pattern: str) -> List[str]:
  """The files `pattern` names now: its glob matches, and itself when it exists literally."""
  if is_remote(pattern):
    return list(_gfile().glob(pattern))
  return glob.glob(pattern) + ([pattern] if os.path.lexists(pattern) else [])


def check_outputs_spare_inputs(
    outputs: Sequence[Tuple[str, str]], inputs: Sequence[Tuple[str, str]] = (),
    output_directories: Sequence[Tuple[str, str]] = ()
) -> None:
  """Refuses outputs that are, or hold, an input or another output; call it before writing.

  Paths are compared after resolving links, "..", relative paths and, for gs:// and the like,
  repeated slashes. An output also collides with an input glob pattern that would list it, as
  the next run with the same flags would read it.

  Example:

    check_outputs_spare_inputs([("--output_file", "c.txt")], [("--input_file", "corpus/*.txt")])

  Args:
    outputs: (flag, path) of each file the run writes.
    inputs: (flag, path or glob pattern) of each file the run reads; a path need not exist (a
      checkpoint prefix names no file itself).
    output_directories: (flag, path) of each directory the run replaces whole: it collides with
      every input and other output inside it.

  Raises:
    OutputOverlapError: a collision, in one line naming both flags and paths.
  """
  written = [(flag, path, False) for flag, path in outputs]
  written += [(flag, path, True) for flag, path in output_directories]
  for index, (flag, path, is_directory) in enumerate(written):
    for other_flag, other, other_is_directory in written[index + 1:]:
      if _overwrites(path, is_directory, other) or _overwrites(other, other_is_directory, path):
        raise OutputOverlapError(f"{flag} {path} and {other_flag} {other} write to the same "
                                 f"place: give {other_flag} another path.")
    for input_flag, pattern in inputs:
      is_pattern = bool(_GLOB_CHARACTERS & set(pattern))
      for match in _existing_matches(pattern) if is_pattern else [pattern]:
        if _overwrites(path, is_directory, match):
          raise OutputOverlapError(f"{flag} {path} would overwrite {input_flag} {match}, which "
                                   f"the run reads: give {flag} another path.")
      if is_pattern and not is_directory and _rerun_would_read(path, pattern):
        raise OutputOverlapError(f"{flag} {path} matches {input_flag} {pattern}, so a rerun "
                                 f"would read it as input: give {flag} a path outside it.")
