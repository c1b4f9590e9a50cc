"""Chinese whole-word boundaries from jieba, mapped onto WordPiece tokens.

Each line is segmented once with jieba (default mode, HMM on, as albert_zh) and every WordPiece
token is assigned to the jieba word that contains the first character of its basic token. A token
starts a word when its jieba word differs from the previous token's. Input ids and labels stay the
real character ids: no "##" marker is ever added to a Chinese character (albert_zh's label bug
cannot happen), words of any length are grouped, and Latin text inside a line keeps working.
"""

import logging
from typing import List, Sequence

import numpy as np

from albert_tf import tokenization
from data_prep.segment_encoding import Segment

_jieba = None


def _initialized_jieba():
  """Imports and initialises jieba once per process, without its start-up chatter on stderr."""
  global _jieba
  if _jieba is None:
    import jieba  # pylint: disable=g-import-not-at-top
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    _jieba = jieba
  return _jieba


def jieba_word_spans(line: str) -> List[tuple]:
  """(word, start, end) character spans of `line` from jieba.tokenize."""
  return list(_initialized_jieba().tokenize(line))


class ChineseWholeWordSegmentEncoder:
  """WordPiece encoding whose word starts follow jieba words (see module docstring).

  Args:
    tokenizer: a WordPiece FullTokenizer.
  """

  def __init__(self, tokenizer: tokenization.FullTokenizer):
    if tokenizer.is_sentencepiece:
      raise ValueError("Chinese whole-word masking needs a WordPiece vocab (--vocab_file), not "
                       "--spm_model_file.")
    self.tokenizer = tokenizer
    _initialized_jieba()

  def encode_line(self, line: str) -> Segment:
    """Token ids and jieba word-start flags of one stripped line (empty arrays if no token)."""
    word_of_char = np.zeros(len(line), dtype=np.int64)
    for word_index, (_, start, end) in enumerate(jieba_word_spans(line)):
      word_of_char[start:end] = word_index
    ids, starts = [], []
    previous_word = -1
    wordpiece = self.tokenizer.wordpiece_tokenizer
    for basic_token, offset in self.tokenizer.basic_tokenizer.tokenize_with_offsets(line):
      word = int(word_of_char[offset])
      for piece in wordpiece.tokenize_word(basic_token):
        ids.append(self.tokenizer.vocab[piece])
        starts.append(word != previous_word)
        previous_word = word
    return Segment(np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=bool))

  def encode_lines(self, lines: Sequence[str]) -> List[Segment]:
    """Segments of the lines that produce at least one token, in order."""
    segments = []
    for line in lines:
      segment = self.encode_line(line.strip())
      if len(segment.ids):
        segments.append(segment)
    return segments
