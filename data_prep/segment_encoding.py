"""Turns the lines of a document into segments: token ids plus word-start flags.

A segment is one input line (the original's unit for pair construction). Its word-start flags
drive whole-word masking and the `token_boundary` feature: the SentencePiece start-piece rule, the
WordPiece "##" rule, or jieba word boundaries for Chinese whole-word masking (chinese_words.py).
"""

from typing import List, NamedTuple, Sequence

import numpy as np

from albert_tf import tokenization


class Segment(NamedTuple):
  """One tokenized line: ids (int32) and word-start flags (bool), both non-empty and aligned."""
  ids: np.ndarray
  starts: np.ndarray


def _segment(ids: Sequence[int], starts: Sequence[bool]) -> Segment:
  return Segment(np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=bool))


class SentencePieceSegmentEncoder:
  """Encodes lines as the original SentencePiece path: preprocess_text, encode_pieces, ids.

  Lines are encoded in one batched SentencePiece call and word starts come from a per-id table.
  Lines holding an unknown piece or a digit-comma piece take the exact per-piece path instead: the
  start rule of an unknown piece depends on its text, and the re-split rule rewrites pieces.
  """

  def __init__(self, tokenizer: tokenization.FullTokenizer):
    self.tokenizer = tokenizer
    self.sp_model = tokenizer.sp_model
    pieces = [self.sp_model.IdToPiece(i) for i in range(self.sp_model.GetPieceSize())]
    self.start_table = np.array([tokenization.is_start_piece_sp(p) for p in pieces], dtype=bool)
    needs_exact_path = np.array([tokenization.needs_digit_comma_split(p) for p in pieces],
                                dtype=bool)
    needs_exact_path[tokenizer.unk_id] = True
    self.exact_path_table = needs_exact_path

  def encode_lines(self, lines: Sequence[str]) -> List[Segment]:
    """Segments of the non-empty lines (after preprocessing) in order."""
    texts = [
        tokenization.preprocess_text(line, lower=self.tokenizer.do_lower_case) for line in lines
    ]
    texts = [text for text in texts if text]
    segments = []
    for text, ids in zip(texts, self.sp_model.encode(texts, out_type=int)):
      if not ids:
        continue
      ids = np.asarray(ids, dtype=np.int32)
      if self.exact_path_table[ids].any():
        pieces = tokenization.encode_pieces(self.sp_model, text)
        segments.append(
            _segment([self.sp_model.PieceToId(p) for p in pieces],
                     [tokenization.is_start_piece_sp(p) for p in pieces]))
      else:
        segments.append(Segment(ids, self.start_table[ids]))
    return segments


class WordPieceSegmentEncoder:
  """Encodes lines as the original WordPiece path: strip, BERT basic + WordPiece, "##" rule."""

  def __init__(self, tokenizer: tokenization.FullTokenizer):
    self.tokenizer = tokenizer

  def encode_lines(self, lines: Sequence[str]) -> List[Segment]:
    """Segments of the lines that produce at least one token, in order."""
    segments = []
    for line in lines:
      tokens = self.tokenizer.tokenize(line.strip())
      if tokens:
        segments.append(
            _segment(self.tokenizer.convert_tokens_to_ids(tokens),
                     [tokenization.is_start_piece_wordpiece(t) for t in tokens]))
    return segments
