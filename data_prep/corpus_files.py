"""Input files: UTF-8 line streaming (counting replaced invalid bytes) and documents grouped into
work blocks by their byte offsets. `albert_tf.file_io.expand_patterns` expands the --input_file
patterns (the Beam engine matches them with Beam's file systems, in the same order)."""

import codecs
from typing import BinaryIO, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from albert_tf import file_io


class CorpusError(ValueError):
  """A user error in the input corpus or flags; its message is one line that says what to do."""


# The error handler writes one private-use marker per invalid byte, so that `decode` can count the
# replaced bytes without global state, then swaps the markers for U+FFFD.
_COUNTING_HANDLER_NAME = "albert_tf_mark_invalid_bytes"
_COUNTING_MARKER = "\U0010FFFE"


def _mark_invalid_bytes(error: UnicodeDecodeError):
  return _COUNTING_MARKER * (error.end - error.start), error.end


codecs.register_error(_COUNTING_HANDLER_NAME, _mark_invalid_bytes)


class ReplacementCounter:
  """Decodes UTF-8 lines, replacing each invalid byte with U+FFFD and counting them."""

  def __init__(self):
    self.replaced_bytes = 0

  def decode(self, raw: bytes) -> str:
    """Decodes `raw` as UTF-8; invalid bytes become U+FFFD and are added to `replaced_bytes`."""
    try:
      return raw.decode("utf-8")
    except UnicodeDecodeError:
      text = raw.decode("utf-8", errors=_COUNTING_HANDLER_NAME)
      self.replaced_bytes += text.count(_COUNTING_MARKER)
      return text.replace(_COUNTING_MARKER, "\ufffd")


def read_lines(path: str, counter: ReplacementCounter) -> Iterator[str]:
  """Yields the lines of `path` (split on "\\n" only) decoded as UTF-8, without the newline."""
  with file_io.open_file(path, "rb") as reader:
    for raw in reader:
      yield counter.decode(raw.rstrip(b"\n"))


class Block(NamedTuple):
  """Whole documents (raw lines) of one file whose first line starts in one `block_bytes` window.

  Identities are stable: (file_index, number) names the block and (file_index, document offset)
  names a document, whoever reads the file and however its byte ranges are split.
  """
  file_index: int  # position of the file in the expanded --input_file list
  number: int  # the block's window: its documents start at [number, number + 1) × block_bytes
  document_offsets: List[int]  # byte offset of each document's first line in the file
  documents: List[List[str]]
  replaced_bytes: int  # invalid UTF-8 bytes replaced with U+FFFD in the block's lines


# Bytes that may occur in a line that str.strip() empties; any other ASCII byte makes it non-blank.
_ASCII_WHITESPACE = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_NOT_DECIDED_BY_ASCII = _ASCII_WHITESPACE + bytes(range(0x80, 0x100))
_BACKWARD_CHUNK = 4096


def _decode(raw: bytes) -> Tuple[str, int]:
  """(`raw` decoded as UTF-8 with invalid bytes replaced by U+FFFD, how many were replaced)."""
  try:
    return raw.decode("utf-8"), 0
  except UnicodeDecodeError:
    counter = ReplacementCounter()
    return counter.decode(raw), counter.replaced_bytes


def _is_blank(raw: bytes) -> bool:
  return not _decode(raw.rstrip(b"\n"))[0].strip()


def _line_before_is_blank(reader: BinaryIO, offset: int) -> bool:
  """Whether the line that ends just before `offset` (a line start > 0) is blank."""
  end = offset - 1  # the previous line's "\n"
  tail = b""
  position = end
  while position > 0:
    begin = max(0, position - _BACKWARD_CHUNK)
    reader.seek(begin)
    chunk = reader.read(position - begin)
    newline = chunk.rfind(b"\n")
    tail = chunk[newline + 1:] + tail
    if newline >= 0 or tail.translate(None, _NOT_DECIDED_BY_ASCII):
      break
    position = begin
  return _is_blank(tail)


def read_blocks(reader: BinaryIO, file_index: int, block_bytes: int, start: int = 0,
                end: Optional[int] = None) -> Iterator[Block]:
  """The blocks of one file whose documents start in [start, end) (the whole file by default).

  Documents are runs of non-blank lines (split on "\n" only); a document belongs to the block
  `offset // block_bytes` of its first line's byte offset. A document that starts before `end` is
  read to its end. Reading the file in any split of ranges whose bounds are multiples of
  `block_bytes` yields the same blocks as reading it whole.

  Args:
    reader: the file, opened in binary mode (seekable when `start` > 0).
    file_index: the file's position in the input list (part of the ids).
    block_bytes: the width of a block's window of document starts.
    start, end: the byte range of document starts to read.

  Yields:
    The non-empty blocks, in file order.
  """
  offset = 0
  previous_blank = True
  if start > 0:
    reader.seek(start - 1)
    offset = start - 1 + len(reader.readline())  # the first line that starts at or after start
    previous_blank = _line_before_is_blank(reader, offset)
    reader.seek(offset)
  number, offsets, documents, replaced = -1, [], [], 0
  document = None
  for raw in reader:
    line_start = offset
    offset += len(raw)
    text, bad_bytes = _decode(raw.rstrip(b"\n"))
    if not text.strip():
      previous_blank, document = True, None
      continue
    if previous_blank:
      previous_blank = False
      if end is not None and line_start >= end:
        break
      if line_start // block_bytes != number:
        if documents:
          yield Block(file_index, number, offsets, documents, replaced)
        number, offsets, documents, replaced = line_start // block_bytes, [], [], 0
      document = []
      offsets.append(line_start)
      documents.append(document)
    if document is not None:  # None: the rest of a document that started before `start`
      document.append(text)
      replaced += bad_bytes
  if documents:
    yield Block(file_index, number, offsets, documents, replaced)


def iter_blocks(input_files: Sequence[str], block_bytes: int) -> Iterator[Block]:
  """The blocks of every input file, read whole and in order (the local engine's reader)."""
  for file_index, path in enumerate(input_files):
    with file_io.open_file(path, "rb") as reader:
      yield from read_blocks(reader, file_index, block_bytes)


def byte_ranges(size: int, block_bytes: int, range_bytes: int) -> List[Tuple[int, int]]:
  """Splits a file of `size` bytes into ranges for parallel readers (bounds: block multiples)."""
  step = block_bytes * max(1, range_bytes // block_bytes)
  return [(begin, begin + step) for begin in range(0, max(size, 1), step)]
