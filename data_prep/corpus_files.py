"""Input files: UTF-8 line streaming (counting replaced invalid bytes) and documents grouped into
work blocks. `albert_tf.file_io.expand_patterns` expands the --input_file patterns."""

import codecs
from typing import Iterator, List, NamedTuple, Sequence

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
  """A run of whole documents (raw lines) cut from the input stream."""
  index: int
  first_document_index: int
  documents: List[List[str]]


def iter_blocks(input_files: Sequence[str], block_bytes: int,
                counter: ReplacementCounter) -> Iterator[Block]:
  """Streams documents (blank-line separated; a new file starts a new document) in blocks.

  A block closes after the document that brings it to `block_bytes` of text, so block boundaries
  depend only on the input.
  """
  block_index = 0
  documents, size, first_document = [], 0, 0
  next_document = 0
  for path in input_files:
    document = []
    for line in _with_closing_blank_line(read_lines(path, counter)):
      if line.strip():
        document.append(line)
        size += len(line.encode("utf-8"))
        continue
      if not document:
        continue
      documents.append(document)
      document = []
      next_document += 1
      if size >= block_bytes:
        yield Block(block_index, first_document, documents)
        block_index += 1
        documents, size, first_document = [], 0, next_document
  if documents:
    yield Block(block_index, first_document, documents)


def _with_closing_blank_line(lines: Iterator[str]) -> Iterator[str]:
  """The lines followed by one blank line, which closes the file's last document."""
  yield from lines
  yield ""
