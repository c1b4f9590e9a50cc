"""The text encoding of the input corpora: --input_encoding, decoding with counted replacements,
and the check that each input file is text of that encoding before any work starts.

Codecs whose line byte is b"\\n" and that encode ASCII as ASCII ("ASCII-compatible": utf-8,
latin-1, cp1252, gb18030, gbk, big5, shift_jis, ...) are read line by line in their own bytes, so
byte offsets, blocks and Beam's byte ranges work on the original file. UTF-16 and UTF-32 (and
utf-8-sig) cannot be split into lines by bytes: the local engine and the vocabulary builders
stream them as UTF-8 lines (`byte_lines`), and document offsets are those of that UTF-8 text.

The check (`sample_problem`) reads the first `SAMPLE_BYTES` of every file (a glob may mix good and
bad files) and refuses, in one line naming the file and the fix:
  - a UTF-16 or UTF-32 byte-order mark when the encoding is ASCII-compatible;
  - more than `MAX_NUL_SHARE` NUL bytes (UTF-16/32 without a byte-order mark, a binary file):
    text in an ASCII-compatible encoding has none, UTF-16 of Latin text is about 50% NULs;
  - more than `MAX_INVALID_SHARE` bytes the encoding cannot decode (and at least
    `MIN_INVALID_BYTES`): random bytes are about 40% invalid UTF-8, Latin-1 French or German
    text a few per cent, GBK Chinese most bytes; a UTF-8 corpus with a few stray bytes (a broken
    line here and there) stays far below and runs, its bad bytes replaced with U+FFFD and counted.
This module imports nothing from albert-tf or TensorFlow (Beam workers read blocks with it).
"""

import codecs
import concurrent.futures
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Sequence, Tuple

from absl import flags

DEFAULT_ENCODING = "utf-8"
SAMPLE_BYTES = 64 << 10
MAX_NUL_SHARE = 0.01
MAX_INVALID_SHARE = 0.01
MIN_INVALID_BYTES = 8

# Byte-order marks, the longer first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big-endian)"),
)
_SAMPLE_THREADS = 16
_SAMPLES_IN_FLIGHT = 256
_ASCII_PROBE = "\n\r\t az AZ 09-."
_TRANSCODE_CHUNK = 1 << 20

# The error handler writes one private-use marker per invalid byte, so that `decode` can count the
# replaced bytes without global state, then swaps the markers for U+FFFD.
_COUNTING_HANDLER_NAME = "albert_tf_mark_invalid_bytes"
_MARKER = "\U0010FFFE"
_MARKER_UTF8 = _MARKER.encode("utf-8")
# One byte that is never valid UTF-8: an invalid byte of a transcoded file becomes this, so that
# the UTF-8 reader replaces and counts it as it does in a UTF-8 file.
_INVALID_UTF8_BYTE = b"\xff"


def _mark_invalid_bytes(error: UnicodeDecodeError):
  return _MARKER * (error.end - error.start), error.end


codecs.register_error(_COUNTING_HANDLER_NAME, _mark_invalid_bytes)


def encoding_error(name: str) -> Optional[str]:
  """None if `name` is a Python text codec (utf-8, utf-16, gb18030, latin-1, ...), else why not."""
  try:
    codecs.lookup(name)
    "".encode(name)
    b"".decode(name)
  except (LookupError, TypeError, ValueError) as error:
    return str(error)
  return None


def is_ascii_compatible(encoding: str) -> bool:
  """Whether lines of `encoding` end with b"\\n" and ASCII is ASCII (readable by byte offsets)."""
  try:
    return _ASCII_PROBE.encode(encoding) == _ASCII_PROBE.encode("ascii")
  except UnicodeError:
    return False


def is_default(encoding: str) -> bool:
  """Whether `encoding` is UTF-8, whatever its spelling (utf8, UTF-8, ...)."""
  return codecs.lookup(encoding).name == DEFAULT_ENCODING


def canonical_name(encoding: str) -> str:
  """Python's name of the codec (latin-1 -> iso8859-1), as recorded in the run summary."""
  return codecs.lookup(encoding).name


def display_name(encoding: str) -> str:
  return "UTF-8" if is_default(encoding) else canonical_name(encoding)


def decode(raw: bytes, encoding: str = DEFAULT_ENCODING) -> Tuple[str, int]:
  """(`raw` decoded, invalid bytes replaced with U+FFFD; how many bytes were replaced)."""
  try:
    return raw.decode(encoding), 0
  except UnicodeDecodeError:
    text = raw.decode(encoding, errors=_COUNTING_HANDLER_NAME)
    return text.replace(_MARKER, "\ufffd"), text.count(_MARKER)


def _utf8_lines(reader: BinaryIO, encoding: str) -> Iterator[bytes]:
  """The lines of `reader` (split on "\\n" only, kept) transcoded to UTF-8, streamed; each byte
  the codec cannot decode becomes one invalid UTF-8 byte (replaced and counted downstream)."""
  decoder = codecs.getincrementaldecoder(encoding)(errors=_COUNTING_HANDLER_NAME)
  pending = ""
  while True:
    chunk = reader.read(_TRANSCODE_CHUNK)
    pending += decoder.decode(chunk, final=not chunk)
    lines = pending.split("\n")
    pending = lines.pop()
    for line in lines:
      yield (line + "\n").encode("utf-8", "surrogatepass").replace(_MARKER_UTF8, _INVALID_UTF8_BYTE)
    if not chunk:
      break
  if pending:
    yield pending.encode("utf-8", "surrogatepass").replace(_MARKER_UTF8, _INVALID_UTF8_BYTE)


def byte_lines(reader: BinaryIO, encoding: str) -> Tuple[Iterable[bytes], str]:
  """(the lines of `reader` as bytes, ending with b"\\n", and the encoding of those bytes).

  An ASCII-compatible file is read as it is; UTF-16/32 (and utf-8-sig) are streamed as UTF-8.
  """
  if is_ascii_compatible(encoding):
    return reader, encoding
  return _utf8_lines(reader, encoding), DEFAULT_ENCODING


def _fix(path: str, encoding: Optional[str]) -> str:
  if encoding:
    return (f"pass --input_encoding={encoding} or convert it to UTF-8 (iconv -f {encoding} -t "
            f"UTF-8 {path})")
  return ("pass --input_encoding=<its codec> (e.g. gb18030, big5, shift_jis, latin-1, cp1252, "
          "utf-16-le) or convert it to UTF-8 with iconv")


def _utf16_without_mark(sample: bytes) -> Optional[str]:
  """utf-16-le / utf-16-be when the sample's line ends are 0A 00 / 00 0A at even positions."""
  pairs = [sample[i:i + 2] for i in range(0, len(sample) - 1, 2)]
  little, big = pairs.count(b"\n\x00"), pairs.count(b"\x00\n")
  if little > 2 * big:
    return "utf-16-le"
  if big > 2 * little:
    return "utf-16-be"
  return None


def sample_problem(path: str, sample: bytes, encoding: str = DEFAULT_ENCODING) -> Optional[str]:
  """The one-line refusal for a file whose first bytes are `sample`, or None if it looks like
  text of `encoding`."""
  if not sample:
    return None
  where = f"--input_file {path}"
  expected = display_name(encoding)
  if is_ascii_compatible(encoding):
    for mark, codec, name in _BYTE_ORDER_MARKS:
      if sample.startswith(mark):
        return (f"{where} starts with a {name} byte-order mark: it is not {expected} text; "
                f"{_fix(path, codec)}.")
    nuls = sample.count(0)
    if nuls > MAX_NUL_SHARE * len(sample):
      return (f"{where}: {nuls / len(sample):.0%} of its first {len(sample)} bytes are NUL: it "
              f"looks like UTF-16/UTF-32 without a byte-order mark or a binary file, not "
              f"{expected} text; {_fix(path, _utf16_without_mark(sample))}.")
  decoder = codecs.getincrementaldecoder(encoding)(errors=_COUNTING_HANDLER_NAME)
  try:
    # final=False: a character cut at the end of the sample is not counted as invalid.
    invalid = decoder.decode(sample, final=len(sample) < SAMPLE_BYTES).count(_MARKER)
  except UnicodeError as error:  # e.g. utf-16 without a byte-order mark
    return f"{where} cannot be read as {expected} ({error}); {_fix(path, None)}."
  if invalid >= MIN_INVALID_BYTES and invalid > MAX_INVALID_SHARE * len(sample):
    return (f"{where}: {invalid / len(sample):.0%} of its first {len(sample)} bytes are not "
            f"valid {expected}: it is another encoding or not text; "
            f"{_fix(path, None)}.")
  return None


def first_problem(paths: Sequence[str], encoding: str,
                  read_sample: Callable[[str], bytes]) -> Optional[str]:
  """`sample_problem` of the first of `paths` that does not look like text of `encoding`, or None.

  Every file is sampled (a glob may mix good and bad ones), `read_sample(path)` (its first
  `SAMPLE_BYTES`) in parallel threads: thousands of files on a remote file system take seconds.
  """
  with concurrent.futures.ThreadPoolExecutor(_SAMPLE_THREADS) as executor:
    for start in range(0, len(paths), _SAMPLES_IN_FLIGHT):  # bounded memory: 16 MiB of samples
      chunk = paths[start:start + _SAMPLES_IN_FLIGHT]
      for path, sample in zip(chunk, executor.map(read_sample, chunk)):
        problem = sample_problem(path, sample, encoding)
        if problem:
          return problem
  return None


def define_flag(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --input_encoding (validated when parsed) on a command line that reads corpora."""
  flags.DEFINE_string(
      "input_encoding", DEFAULT_ENCODING,
      "Encoding of the input text files: any Python codec name (utf-8, utf-16, utf-32, gb18030, "
      "gbk, big5, shift_jis, latin-1, cp1252, ...). Files that do not look like text of this "
      "encoding are refused before any work starts.", flag_values=flag_values)
  flags.register_validator(
      "input_encoding", lambda name: encoding_error(name) is None,
      "not a Python text codec name; use e.g. utf-8, utf-16, gb18030 or latin-1 "
      "(see Python's list of standard encodings).", flag_values=flag_values)
