"""WordPiece tokens of a paragraph with the characters of the paragraph each one covers.

The original SQuAD code aligns SentencePiece pieces to the paragraph with a longest-common-
subsequence match, because SentencePiece normalizes the whole text first. BERT's basic tokenizer
works word by word, so the characters can be tracked exactly instead:
`BasicTokenizer.tokenize_with_offsets` gives the character each basic token starts at (after
cleaning, CJK isolation, lower-casing, accent stripping and punctuation splitting); the token ends
at the last character before the next token that is neither whitespace nor removed by cleaning.
WordPiece then splits each basic token; a piece's first character is found by walking the token's
characters, each counted with the length it has after the basic tokenizer's normalization (an
accented letter still counts 1, a combining mark 0), and it ends where the next piece begins.

The result is what the SentencePiece path computes: for every token, the first and last character
of `paragraph_text` it covers (`tok_start_to_orig_index`, `tok_end_to_orig_index`), so the answer
text is always `paragraph_text[start:end + 1]` and post-processing is shared.
"""

import dataclasses
import functools
from typing import List

from albert_tf import tokenization


@dataclasses.dataclass(frozen=True)
class AlignedToken:
  """One WordPiece token and the characters [start, end] (inclusive) it covers."""
  piece: str
  start: int
  end: int


@functools.lru_cache(maxsize=65536)
def _normalized_length(char: str, do_lower_case: bool) -> int:
  """How many characters `char` contributes to a basic token (0 for marks and removed ones)."""
  return sum(map(len, tokenization.BasicTokenizer(do_lower_case).tokenize(char)))


def _is_gap(char: str) -> bool:
  return (tokenization.is_whitespace(char) or char.isspace() or
          tokenization.is_removed_character(char))


def _token_ends(text: str, starts: List[int]) -> List[int]:
  """The last character of each basic token: before the next token, skipping gap characters."""
  ends = []
  for index, start in enumerate(starts):
    limit = len(text) if index + 1 == len(starts) else max(starts[index + 1], start + 1)
    end = limit - 1
    while end > start and _is_gap(text[end]):
      end -= 1
    ends.append(end)
  return ends


def _piece_starts(text: str, start: int, end: int, pieces: List[str], token: str,
                  do_lower_case: bool) -> List[int]:
  """The first character of each WordPiece piece of the basic token text[start:end + 1]."""
  char_of = []  # normalized character index -> character of text
  for position in range(start, end + 1):
    char_of.extend([position] * _normalized_length(text[position], do_lower_case))
  if len(char_of) != len(token):
    # Normalization changed the length in a way the characters do not show (rare): every piece
    # then covers the whole token, which keeps answers inside the right word.
    return [start] * len(pieces)
  starts, offset = [], 0
  for piece in pieces:
    starts.append(char_of[offset])
    offset += len(piece) - (2 if piece.startswith("##") else 0)
  return starts


def align_wordpieces(tokenizer: tokenization.FullTokenizer, text: str) -> List[AlignedToken]:
  """WordPiece tokens of `text`, each with the span of characters of `text` it covers.

  Example:
    >>> import os, tempfile
    >>> vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(vocab_file, "w") as f:
    ...   _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "b", "##12",
    ...                          "号", "cafe", "!"]))
    >>> tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=True)
    >>> [(t.piece, t.start, t.end) for t in align_wordpieces(tokenizer, " B12号 Café!")]
    [('b', 1, 1), ('##12', 2, 3), ('号', 4, 4), ('cafe', 6, 9), ('!', 10, 10)]

  Args:
    tokenizer: a WordPiece `FullTokenizer` (vocab_file, no spm_model_file).
    text: the paragraph.

  Returns:
    The tokens in order; [UNK] tokens cover their whole basic token.
  """
  basic = tokenizer.basic_tokenizer.tokenize_with_offsets(text)
  starts = [start for _, start in basic]
  aligned = []
  for (token, start), end in zip(basic, _token_ends(text, starts)):
    pieces = tokenizer.wordpiece_tokenizer.tokenize_word(token)
    piece_starts = _piece_starts(text, start, end, pieces, token, tokenizer.do_lower_case)
    for index, piece in enumerate(pieces):
      piece_end = end if index + 1 == len(pieces) else max(piece_starts[index],
                                                           piece_starts[index + 1] - 1)
      aligned.append(AlignedToken(piece, piece_starts[index], piece_end))
  return aligned
