"""Output shards: record keys, shard assignment by key, sorting inside a shard, and the local
engine's spill files.

Every record gets a 64-bit key, a keyed BLAKE2b hash of its bytes salted with --random_seed. The
key alone decides the shard (shard = key × num_shards / 2**64, a range of keys, so the shards in
order are sorted too) and the position inside the shard (ascending key, then bytes). The output
bytes therefore depend only on the set of records, not on which worker, process or Beam bundle
made them or in which order they arrive; sorting by a hash is also a full shuffle of all
instances of the run.

The local engine appends keyed records to one spill file per shard (`ShardSpill`), then sorts each
shard and writes it as `<final name>.incomplete`; all are renamed to their final names only after
every shard and the summary are complete and flushed to disk (`albert_tf.file_io.atomic_outputs`),
so an interrupted run never leaves a truncated file under a final name; re-running the same
command overwrites the leftovers. The Beam engine groups records by shard and writes them with
`sorted_records` too.
"""

import contextlib
import hashlib
import os
import shutil
import struct
import tempfile
from typing import BinaryIO, Iterable, Iterator, List, Sequence, Tuple

from albert_tf import file_io

INCOMPLETE_SUFFIX = ".incomplete"
SHARD_PLACEHOLDER = "{shard}"
SPILL_SUFFIX = ".spill" + INCOMPLETE_SUFFIX

_KEY_SPACE = 1 << 64
_KEY_BYTES = 8
# Spilled records are buffered in memory up to this size before they are appended to the files.
SPILL_FLUSH_BYTES = 4 << 20
_FLUSH_BYTES_PER_SHARD = 64 << 10  # with many shards, larger appends
# A spill file above this size is split by key range before it is sorted in memory.
SORT_MEMORY_BYTES = 512 << 20

KeyedRecord = Tuple[int, bytes]  # (key, framed TFRecord)


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


def key_salt(random_seed: int) -> bytes:
  """The BLAKE2b key of the record hashes of a run."""
  return f"albert-tf:{random_seed}".encode("utf-8")


def record_keys(records: Sequence[bytes], salt: bytes) -> List[KeyedRecord]:
  """Each record with its 64-bit key (a keyed hash of its bytes)."""
  return [
      (int.from_bytes(hashlib.blake2b(record, digest_size=_KEY_BYTES, key=salt).digest(),
                      "big"), record) for record in records
  ]


def shard_of(key: int, num_shards: int) -> int:
  """The shard of a key: shards are consecutive key ranges of equal width."""
  return (key * num_shards) >> 64


def key_range(shard: int, num_shards: int) -> Tuple[int, int]:
  """[low, high): the keys of `shard`."""
  return -(-shard * _KEY_SPACE // num_shards), -(-(shard + 1) * _KEY_SPACE // num_shards)


def group_by_shard(keyed: Iterable[KeyedRecord], num_shards: int) -> List[List[KeyedRecord]]:
  """The keyed records of each shard (a list per shard, in shard order)."""
  groups = [[] for _ in range(num_shards)]
  for key, record in keyed:
    groups[shard_of(key, num_shards)].append((key, record))
  return groups


def sorted_records(keyed: Iterable[KeyedRecord]) -> List[bytes]:
  """The records of a shard in output order: ascending key, then bytes (equal keys, equal bytes
  in practice; the bytes make the order total anyway)."""
  return [record for _, record in sorted(keyed)]


def _parse_spill(data: bytes) -> List[KeyedRecord]:
  """Keyed records of a spill file: an 8-byte big-endian key, then the framed record."""
  keyed = []
  position = 0
  while position < len(data):
    key = int.from_bytes(data[position:position + _KEY_BYTES], "big")
    start = position + _KEY_BYTES
    (length,) = struct.unpack_from("<Q", data, start)
    end = start + 12 + length + 4  # length, its CRC, data, its CRC
    keyed.append((key, data[start:end]))
    position = end
  return keyed


def _iter_spill(reader: BinaryIO) -> Iterator[Tuple[bytes, int]]:
  """(spilled bytes of one record, its key) from a spill file, streamed."""
  while True:
    header = reader.read(_KEY_BYTES + 12)
    if not header:
      return
    (length,) = struct.unpack_from("<Q", header, _KEY_BYTES)
    yield header + reader.read(length + 4), int.from_bytes(header[:_KEY_BYTES], "big")


def _sorted_spill(path: str, low: int, high: int) -> Iterator[bytes]:
  """The records of a spill file (keys in [low, high)) in output order, in bounded memory.

  The file is consumed: removed once read.
  """
  size = os.path.getsize(path)
  pieces = -(-2 * size // SORT_MEMORY_BYTES)
  if size <= SORT_MEMORY_BYTES or high - low < pieces:
    with open(path, "rb") as reader:
      data = reader.read()
    os.remove(path)
    yield from sorted_records(_parse_spill(data))
    return
  # Keys are uniform hashes: equal key sub-ranges give pieces of about equal size.
  bounds = [low + -(-i * (high - low) // pieces) for i in range(pieces + 1)]
  piece_paths = [f"{path}.{i}" for i in range(pieces)]
  with contextlib.ExitStack() as stack:
    writers = [stack.enter_context(open(p, "wb")) for p in piece_paths]
    with open(path, "rb") as reader:
      for spilled, key in _iter_spill(reader):
        writers[(key - low) * pieces // (high - low)].write(spilled)
  os.remove(path)
  for i, piece in enumerate(piece_paths):
    yield from _sorted_spill(piece, bounds[i], bounds[i + 1])


class ShardSpill:
  """The local engine's keyed records, appended to one spill file per shard, then sorted.

  Example:

    with ShardSpill.next_to(paths) as spill:
      spill.add(keyed_records)
      for shard in range(len(paths)):
        for record in spill.records(shard): ...
  """

  def __init__(self, directory: str, num_shards: int):
    self.directory = directory
    self.num_shards = num_shards
    self.counts = [0] * num_shards
    self._buffers = [bytearray() for _ in range(num_shards)]
    self._buffered = 0

  @classmethod
  @contextlib.contextmanager
  def next_to(cls, paths: Sequence[str]) -> Iterator["ShardSpill"]:
    """A spill beside the first shard (`<shard>.spill.incomplete/`, so a rerun reuses what a
    killed run left), or in the system's temporary directory for a remote output; removed after."""
    if file_io.is_remote(paths[0]):
      directory = tempfile.mkdtemp(prefix="albert-tf-spill-")
    else:
      directory = paths[0] + SPILL_SUFFIX
      shutil.rmtree(directory, ignore_errors=True)
      os.makedirs(directory)
    try:
      yield cls(directory, len(paths))
    finally:
      shutil.rmtree(directory, ignore_errors=True)

  def _path(self, shard: int) -> str:
    return os.path.join(self.directory, f"shard-{shard:05d}")

  def add(self, keyed: Iterable[KeyedRecord]) -> None:
    """Buffers keyed records; appends them to the spill files when the buffer is full."""
    for key, record in keyed:
      shard = shard_of(key, self.num_shards)
      self._buffers[shard] += key.to_bytes(_KEY_BYTES, "big") + record
      self.counts[shard] += 1
      self._buffered += _KEY_BYTES + len(record)
    if self._buffered >= max(SPILL_FLUSH_BYTES, _FLUSH_BYTES_PER_SHARD * self.num_shards):
      self.flush()

  def flush(self) -> None:
    """Appends the buffered records to their shards' spill files."""
    for shard, buffer in enumerate(self._buffers):
      if buffer:
        with open(self._path(shard), "ab") as writer:
          writer.write(buffer)
        buffer.clear()
    self._buffered = 0

  def records(self, shard: int) -> Iterator[bytes]:
    """The framed records of `shard` in output order (consumes its spill file)."""
    self.flush()
    path = self._path(shard)
    if os.path.exists(path):
      yield from _sorted_spill(path, *key_range(shard, self.num_shards))

  @contextlib.contextmanager
  def shards_written(self, paths: Sequence[str]) -> Iterator[None]:
    """Writes every shard, sorted, under `<path>.incomplete`, then runs the block (which writes
    what must be complete before any shard gets its final name: the summary); renames all shards
    when the block succeeds, none when it raises (their temporaries are removed)."""
    with file_io.atomic_outputs(paths, temporary_suffix=INCOMPLETE_SUFFIX) as temporaries:
      for shard, temporary in enumerate(temporaries):
        with file_io.open_file(temporary, "wb") as writer:
          for record in self.records(shard):
            writer.write(record)
      yield
