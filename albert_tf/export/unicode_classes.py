"""RE2 character classes computed from the Python tokenizer's own character rules.

The Python tokenizers decide character by character with `unicodedata` (`combining()`,
`category()`, `str.isdigit()`, `str.isspace()`). RE2's built-in `\\p{..}` tables follow a different
Unicode version and some predicates (canonical combining class, `isdigit`) have no RE2 name at all.
Enumerating the code points once at export time with the predicates of `albert_tf.tokenization` (or
the `str` methods the Python path calls) and writing them as explicit ranges makes the in-graph
regexes decide exactly as the Python tokenizer of the exporting interpreter does.
"""

import functools
import sys
from typing import Callable, Iterator

from albert_tf import tokenization

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
  return _ranges_to_class(_codepoints_where(tokenization.is_combining_mark))


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
  """BERT `_is_whitespace` (`tokenization.is_whitespace`)."""
  return _ranges_to_class(_codepoints_where(tokenization.is_whitespace))


@functools.lru_cache(maxsize=None)
def bert_removed_characters() -> str:
  """What BERT `_clean_text` deletes (`tokenization.is_removed_character`)."""
  return _ranges_to_class(_codepoints_where(tokenization.is_removed_character))


@functools.lru_cache(maxsize=None)
def bert_punctuation() -> str:
  """BERT `_is_punctuation` (`tokenization.is_punctuation`)."""
  return _ranges_to_class(_codepoints_where(tokenization.is_punctuation))


@functools.lru_cache(maxsize=None)
def nonspacing_marks() -> str:
  """Category Mn, what BERT `_run_strip_accents` drops (`tokenization.is_nonspacing_mark`)."""
  return _ranges_to_class(_codepoints_where(tokenization.is_nonspacing_mark))


def cjk_characters() -> str:
  """The CJK ranges BERT's basic tokenizer surrounds with spaces (`tokenization.CJK_RANGES`)."""
  return "[" + "".join(_format_range(start, end) for start, end in tokenization.CJK_RANGES) + "]"
