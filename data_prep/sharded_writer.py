"""Shuffle buffer and atomic, round-robin sharded TFRecord output.

Each shard is written as `<final name>.incomplete` and renamed to its final name only after every
shard is complete and flushed to disk (`albert_tf.file_io.atomic_outputs`), so an interrupted run
never leaves a truncated file under a final name; re-running the same command overwrites the
leftovers.
"""

import contextlib
import random
from typing import List, Optional

from albert_tf import file_io

INCOMPLETE_SUFFIX = ".incomplete"
SHARD_PLACEHOLDER = "{shard}"


def output_paths(output_file: str, num_output_shards: int) -> List[str]:
  """Final shard paths from a comma list, or a pattern with "{shard}" and a shard count.

  Args:
    output_file: "a.tfrecord,b.tfrecord" or "records/train-{shard}.tfrecord".
    num_output_shards: shards for a pattern; "{shard}" becomes "00003-of-00008".

  Returns:
    The paths, in shard order.

  Raises:
    ValueError: the flags are inconsistent.
  """
  if SHARD_PLACEHOLDER in output_file:
    if "," in output_file:
      raise ValueError("--output_file: use either a comma-separated list or one pattern with "
                       "{shard}, not both.")
    if num_output_shards < 1:
      raise ValueError(f"--num_output_shards={num_output_shards} must be at least 1.")
    return [
        output_file.replace(SHARD_PLACEHOLDER, f"{i:05d}-of-{num_output_shards:05d}")
        for i in range(num_output_shards)
    ]
  paths = [p.strip() for p in output_file.split(",") if p.strip()]
  if not paths:
    raise ValueError("--output_file is empty; give a file, a comma-separated list or a pattern "
                     "with {shard}.")
  if len(set(paths)) != len(paths):
    raise ValueError("--output_file lists the same file twice.")
  return paths


class ShuffleBuffer:
  """A bounded random-replacement buffer: it holds at most `size` items.

  Once full, each new item takes the place of a uniformly chosen held item, which is emitted.
  `drain` emits the rest in random order. Deterministic for a given seed and input order.
  """

  def __init__(self, size: int, seed: str):
    self.size = size
    self.items = []
    self.rng = random.Random(seed)

  def push(self, item: bytes) -> Optional[bytes]:
    """Adds `item`; returns the item leaving the buffer, or None while it fills up."""
    if self.size <= 0:
      return item
    if len(self.items) < self.size:
      self.items.append(item)
      return None
    index = self.rng.randrange(self.size)
    leaving, self.items[index] = self.items[index], item
    return leaving

  def drain(self) -> List[bytes]:
    """Empties the buffer in random order."""
    items, self.items = self.items, []
    self.rng.shuffle(items)
    return items


class ShardedRecordWriter:
  """Writes framed TFRecords round-robin over shards, atomically (see module docstring).

  Example:

    with ShardedRecordWriter(["a.tfrecord", "b.tfrecord"]) as writer:
      writer.write(framed_record)
    # a.tfrecord.incomplete -> a.tfrecord, ... once the block succeeds; deleted if it raises.
  """

  def __init__(self, paths: List[str]):
    self.paths = list(paths)
    self.counts = [0] * len(self.paths)
    self._next = 0
    self._files = []
    self._stack = contextlib.ExitStack()

  def __enter__(self) -> "ShardedRecordWriter":
    temporaries = self._stack.enter_context(
        file_io.atomic_outputs(self.paths, temporary_suffix=INCOMPLETE_SUFFIX))
    self._files = [
        self._stack.enter_context(file_io.open_file(temporary, "wb")) for temporary in temporaries
    ]
    return self

  def __exit__(self, *exc_info) -> bool:
    # Closes the shards, then renames them all (or deletes them all when the block raised).
    return self._stack.__exit__(*exc_info)

  def write(self, framed_record: bytes) -> None:
    """Appends one framed record to the next shard."""
    self._files[self._next].write(framed_record)
    self.counts[self._next] += 1
    self._next = (self._next + 1) % len(self._files)
