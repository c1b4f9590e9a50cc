"""Input files: line streaming in --input_encoding (counting replaced invalid bytes), the check
that they are text, and documents grouped into work blocks by their byte offsets.
`albert_tf.file_io.expand_patterns` expands the --input_file patterns (the Beam engine matches
them with Beam's file systems, in the same order)."""

from typing import BinaryIO, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from albert_tf import file_io
from data_prep import text_encoding


class CorpusError(ValueError):
  """A user error in the input corpus or flags; its message is one line that says what to do."""


class ReplacementCounter:
  """Decodes lines, replacing each invalid byte with U+FFFD and counting them."""

  def __init__(self):
    self.replaced_bytes = 0

  def decode(self, raw: bytes, encoding: str = text_encoding.DEFAULT_ENCODING) -> str:
    """Decodes `raw`; invalid bytes become U+FFFD and are added to `replaced_bytes`."""
    text, replaced = text_encoding.decode(raw, encoding)
    self.replaced_bytes += replaced
    return text


def read_lines(path: str, counter: ReplacementCounter,
               encoding: str = text_encoding.DEFAULT_ENCODING) -> Iterator[str]:
  """Yields the lines of `path` (split on "\\n" only) decoded from `encoding`, without the
  newline."""
  with file_io.open_file(path, "rb") as reader:
    lines, line_encoding = text_encoding.byte_lines(reader, encoding)
    for raw in lines:
      yield counter.decode(raw.rstrip(b"\n"), line_encoding)


def check_text_files(paths: Sequence[str], encoding: str) -> None:
  """Refuses, before any work, an input file that does not look like text of `encoding`
  (`text_encoding.first_problem`: the first bytes of every file).

  Raises:
    CorpusError: the first such file (UTF-16/32, binary, another encoding): one line, the fix.
  """
  problem = text_encoding.first_problem(paths, encoding, _local_sample)
  if problem:
    raise CorpusError(problem)


def _local_sample(path: str) -> bytes:
  with file_io.open_file(path, "rb") as reader:
    return reader.read(text_encoding.SAMPLE_BYTES)


class Block(NamedTuple):
  """Whole documents (raw lines) of one file whose first line starts in one `block_bytes` window.

  Identities are stable: (file_index, number) names the block and (file_index, document offset)
  names a document, whoever reads the file and however its byte ranges are split.
  """
  file_index: int  # position of the file in the expanded --input_file list
  number: int  # the block's window: its documents start at [number, number + 1) × block_bytes
  document_offsets: List[int]  # byte offset of each document's first line in the file
  documents: List[List[str]]
  replaced_bytes: int  # invalid bytes (of --input_encoding) replaced with U+FFFD in its lines


# Bytes that may occur in a line that str.strip() empties; any other ASCII byte makes it non-blank.
_ASCII_WHITESPACE = b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_NOT_DECIDED_BY_ASCII = _ASCII_WHITESPACE + bytes(range(0x80, 0x100))
_BACKWARD_CHUNK = 4096


def _is_blank(raw: bytes, encoding: str) -> bool:
  return not text_encoding.decode(raw.rstrip(b"\n"), encoding)[0].strip()


def _line_before_is_blank(reader: BinaryIO, offset: int, encoding: str) -> bool:
  """Whether the line that ends just before `offset` (a line start > 0) is blank."""
  # In UTF-8 an ASCII byte other than whitespace is a visible character: the line is not blank
  # however it starts. Other codecs may use ASCII bytes inside characters (big5 and shift_jis
  # spell the ideographic space with "@"): read back to the line start.
  decided_by_ascii = text_encoding.is_default(encoding)
  end = offset - 1  # the previous line's "\n"
  tail = b""
  position = end
  while position > 0:
    begin = max(0, position - _BACKWARD_CHUNK)
    reader.seek(begin)
    chunk = reader.read(position - begin)
    newline = chunk.rfind(b"\n")
    tail = chunk[newline + 1:] + tail
    if newline >= 0 or (decided_by_ascii and tail.translate(None, _NOT_DECIDED_BY_ASCII)):
      break
    position = begin
  return _is_blank(tail, encoding)


def read_blocks(reader: Iterable[bytes], file_index: int, block_bytes: int, start: int = 0,
                end: Optional[int] = None,
                encoding: str = text_encoding.DEFAULT_ENCODING) -> Iterator[Block]:
  """The blocks of one file whose documents start in [start, end) (the whole file by default).

  Documents are runs of non-blank lines (split on "\n" only); a document belongs to the block
  `offset // block_bytes` of its first line's byte offset. A document that starts before `end` is
  read to its end. Reading the file in any split of ranges whose bounds are multiples of
  `block_bytes` yields the same blocks as reading it whole.

  Args:
    reader: the file, opened in binary mode (a seekable file when `start` > 0), or its lines.
    file_index: the file's position in the input list (part of the ids).
    block_bytes: the width of a block's window of document starts.
    start, end: the byte range of document starts to read.
    encoding: an ASCII-compatible codec (`text_encoding.is_ascii_compatible`) of the bytes.

  Yields:
    The non-empty blocks, in file order.
  """
  offset = 0
  previous_blank = True
  if start > 0:
    reader.seek(start - 1)
    offset = start - 1 + len(reader.readline())  # the first line that starts at or after start
    previous_blank = _line_before_is_blank(reader, offset, encoding)
    reader.seek(offset)
  number, offsets, documents, replaced = -1, [], [], 0
  document = None
  for raw in reader:
    line_start = offset
    offset += len(raw)
    try:  # (inline: the fast path of text_encoding.decode, for the main process's reader)
      text, bad_bytes = raw.rstrip(b"\n").decode(encoding), 0
    except UnicodeDecodeError:
      text, bad_bytes = text_encoding.decode(raw.rstrip(b"\n"), encoding)
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


def iter_blocks(input_files: Sequence[str], block_bytes: int,
                encoding: str = text_encoding.DEFAULT_ENCODING) -> Iterator[Block]:
  """The blocks of every input file, read whole and in order (the local engine's reader).

  UTF-16/32 files are streamed as UTF-8 (`text_encoding.byte_lines`): their document offsets are
  those of the UTF-8 text, the same on every run.
  """
  for file_index, path in enumerate(input_files):
    with file_io.open_file(path, "rb") as reader:
      lines, line_encoding = text_encoding.byte_lines(reader, encoding)
      yield from read_blocks(lines, file_index, block_bytes, encoding=line_encoding)


def byte_ranges(size: int, block_bytes: int, range_bytes: int) -> List[Tuple[int, int]]:
  """Splits a file of `size` bytes into ranges for parallel readers (bounds: block multiples)."""
  step = block_bytes * max(1, range_bytes // block_bytes)
  return [(begin, begin + step) for begin in range(0, max(size, 1), step)]
