"""RE2 character classes computed from Python's `unicodedata`.

The Python tokenizers decide character by character with `unicodedata` (`combining()`,
`category()`, `str.isdigit()`, `str.isspace()`). RE2's built-in `\\p{..}` tables follow a different
Unicode version and some predicates (canonical combining class, `isdigit`) have no RE2 name at all.
Enumerating the code points once at export time and writing them as explicit ranges makes the
in-graph regexes decide exactly as the Python tokenizer of the exporting interpreter does.
"""

import functools
import sys
import unicodedata
from typing import Callable, Iterator

_SURROGATES = range(0xD800, 0xE000)


def _codepoints_where(predicate: Callable[[str], bool]) -> Iterator[int]:
  for codepoint in range(sys.maxunicode + 1):
    if codepoint not in _SURROGATES and predicate(chr(codepoint)):
      yield codepoint


def _ranges_to_class(codepoints: Iterator[int]) -> str:
  """Returns `[...]` with one `\\x{a}-\\x{b}` range per run of consecutive code points."""
  parts = []
  start = previous = None
  for codepoint in codepoints:
    if previous is not None and codepoint == previous + 1:
      previous = codepoint
      continue
    if start is not None:
      parts.append(_format_range(start, previous))
    start = previous = codepoint
  if start is not None:
    parts.append(_format_range(start, previous))
  if not parts:
    raise ValueError("empty character class")
  return "[" + "".join(parts) + "]"


def _format_range(start: int, end: int) -> str:
  if start == end:
    return f"\\x{{{start:X}}}"
  return f"\\x{{{start:X}}}-\\x{{{end:X}}}"


@functools.lru_cache(maxsize=None)
def combining_marks() -> str:
  """Characters with a non-zero canonical combining class (what preprocess_text drops)."""
  return _ranges_to_class(_codepoints_where(lambda c: unicodedata.combining(c) != 0))


@functools.lru_cache(maxsize=None)
def python_digits() -> str:
  """Characters for which `str.isdigit()` is true (the digit-comma rule's test)."""
  return _ranges_to_class(_codepoints_where(str.isdigit))


@functools.lru_cache(maxsize=None)
def python_whitespace() -> str:
  """Characters for which `str.isspace()` is true (what `str.split()` splits on)."""
  return _ranges_to_class(_codepoints_where(str.isspace))


@functools.lru_cache(maxsize=None)
def bert_whitespace() -> str:
  """BERT `_is_whitespace`: space, tab, newline, carriage return and category Zs."""
  return _ranges_to_class(
      _codepoints_where(lambda c: c in " \t\n\r" or unicodedata.category(c) == "Zs"))


@functools.lru_cache(maxsize=None)
def bert_removed_characters() -> str:
  """What BERT `_clean_text` deletes: NUL, U+FFFD, control characters (Cc, Cf) but tab/CR/LF."""
  return _ranges_to_class(
      _codepoints_where(lambda c: c in "\x00\ufffd" or (
          c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf"))))


@functools.lru_cache(maxsize=None)
def bert_punctuation() -> str:
  """BERT `_is_punctuation`: the four ASCII symbol ranges plus every category P* character."""

  def is_punctuation(char: str) -> bool:
    codepoint = ord(char)
    if 33 <= codepoint <= 47 or 58 <= codepoint <= 64 or 91 <= codepoint <= 96 or (
        123 <= codepoint <= 126):
      return True
    return unicodedata.category(char).startswith("P")

  return _ranges_to_class(_codepoints_where(is_punctuation))


@functools.lru_cache(maxsize=None)
def nonspacing_marks() -> str:
  """Category Mn (what BERT `_run_strip_accents` drops after NFD)."""
  return _ranges_to_class(_codepoints_where(lambda c: unicodedata.category(c) == "Mn"))


# BERT `_is_chinese_char`: the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana).
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def cjk_characters() -> str:
  """The CJK ranges BERT's basic tokenizer surrounds with spaces."""
  return "[" + "".join(_format_range(start, end) for start, end in _CJK_RANGES) + "]"
