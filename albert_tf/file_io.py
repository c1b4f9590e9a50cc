"""Writing outputs atomically, on local paths or any tf.io.gfile filesystem (gs://, ...)."""

import contextlib
import os
import uuid
from typing import Iterator

import tensorflow as tf


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
  """Yields a temporary name next to `path` and renames it to `path` when the block succeeds.

  An interrupted or failed write never leaves a partial file under the final name.

  Example:
    >>> with atomic_output("cache/mrpc_train.tf_record") as temporary:
    ...   write_records(temporary)
  """
  directory = os.path.dirname(path)
  if directory:
    tf.io.gfile.makedirs(directory)
  temporary = f"{path}.tmp-{uuid.uuid4().hex}"
  try:
    yield temporary
    tf.io.gfile.rename(temporary, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(temporary):
      tf.io.gfile.remove(temporary)


def write_text_atomically(path: str, text: str) -> None:
  """Writes `text` (UTF-8) to `path` through a temporary name."""
  with atomic_output(path) as temporary:
    with tf.io.gfile.GFile(temporary, "w") as writer:
      writer.write(text)
