"""Tokenizers of the original ALBERT release: SentencePiece (English) and WordPiece (Chinese).

This module must stay importable without TensorFlow: the data preparation workers import it and
start in a fraction of a second. It depends only on the standard library and sentencepiece.

Behaviour follows google-research/albert `tokenization.py` with one deliberate deviation: the
digit-comma re-split rule of `encode_pieces` always returns `str` pieces and applies its intended
"strip the dummy ▁" step. Under Python 3 the original mixes `bytes` pieces into the output and never
strips the "▁" (it compares `str` with `bytes`); see docs/data.md.
"""

import collections
import functools
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union
import unicodedata

import sentencepiece as spm

SPIECE_UNDERLINE = "\u2581"

PAD_TOKEN_SP = "<pad>"
UNK_TOKEN_SP = "<unk>"
PAD_TOKEN_WP = "[PAD]"
UNK_TOKEN_WP = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"

# Punctuation-only pieces (no "▁") that the original treats as word continuations; the string has no
# apostrophe, "<", "=" or ">", exactly as in the original's `special_pieces`.
_SP_SPECIAL_CHARS = frozenset('!"#$%&"()*+,-./:;?@[\\]^_`{|}~')
_SP_CONTINUATION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz") | _SP_SPECIAL_CHARS

# BERT's WordpieceTokenizer.max_input_chars_per_word: longer words become [UNK] whole.
MAX_WORDPIECE_CHARS = 200

# BERT `_is_chinese_char`: the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

_COMBINING_MARKS_END = 0x20000


@functools.lru_cache(maxsize=None)
def _combining_delete_table() -> Dict[int, None]:
  """Every code point with a non-zero canonical combining class, for str.translate.

  preprocess_text drops them after NFKD; a translate table does in C what the original does with a
  per-character Python loop. Built on first use. Every such code point lies in planes 0-1 (the
  tests check this against the whole code space).
  """
  return {cp: None for cp in range(_COMBINING_MARKS_END) if is_combining_mark(chr(cp))}


def convert_to_unicode(text: Union[str, bytes]) -> str:
  """Returns `text` as str, decoding bytes as UTF-8 (invalid bytes become U+FFFD)."""
  if isinstance(text, bytes):
    return text.decode("utf-8", errors="replace")
  return text


def preprocess_text(inputs: Union[str, bytes], remove_space: bool = True,
                    lower: bool = False) -> str:
  """Normalizes text exactly like the original before SentencePiece encoding.

  Collapses whitespace (when `remove_space`), applies NFKD and removes combining marks (accents),
  then lower-cases (when `lower`). Quotes are not normalized, as in the original.

  Args:
    inputs: the text.
    remove_space: trim and collapse every whitespace run to one space.
    lower: lower-case the result.

  Returns:
    The normalized text.
  """
  outputs = convert_to_unicode(inputs)
  if remove_space:
    outputs = " ".join(outputs.strip().split())
  if not outputs.isascii():
    outputs = unicodedata.normalize("NFKD", outputs).translate(_combining_delete_table())
  if lower:
    outputs = outputs.lower()
  return outputs


def needs_digit_comma_split(piece: str) -> bool:
  """Whether `encode_pieces` re-splits `piece` (it ends with "," preceded by a digit)."""
  return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def encode_pieces(sp_model: spm.SentencePieceProcessor, text: str,
                  sample: bool = False) -> List[str]:
  """SentencePiece pieces of `text` with the original's digit-comma re-split rule.

  A piece such as "▁1990," is re-encoded without its comma and the comma becomes its own piece. If
  the piece had no leading "▁", the dummy "▁" that SentencePiece adds to the re-encoding is removed
  (the intended behaviour; the original's Python 3 code returns bytes pieces here instead).

  Args:
    sp_model: a loaded SentencePiece processor.
    text: the text, already passed through `preprocess_text` by callers that mirror the original.
    sample: use subword sampling (nbest 64, alpha 0.1) as the original's `sample=True`.

  Returns:
    The pieces, always str.
  """
  if sample:
    pieces = sp_model.SampleEncodeAsPieces(text, 64, 0.1)
  else:
    pieces = sp_model.EncodeAsPieces(text)
  new_pieces = []
  for piece in pieces:
    if not needs_digit_comma_split(piece):
      new_pieces.append(piece)
      continue
    cur_pieces = sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
    if piece[0] != SPIECE_UNDERLINE and cur_pieces and cur_pieces[0][0] == SPIECE_UNDERLINE:
      if len(cur_pieces[0]) == 1:
        cur_pieces = cur_pieces[1:]
      else:
        cur_pieces[0] = cur_pieces[0][1:]
    cur_pieces.append(piece[-1])
    new_pieces.extend(cur_pieces)
  return new_pieces


def is_start_piece_sp(piece: str) -> bool:
  """The original's SentencePiece word-start rule (reference §5.5), used for whole-word masking.

  Args:
    piece: a SentencePiece piece.

  Returns:
    True if the piece starts a word: it begins with "▁" or "<", is a single listed punctuation
    character, or contains a character (after lower-casing) outside a-z and the listed punctuation.
  """
  if piece.startswith(SPIECE_UNDERLINE) or piece.startswith("<") or piece in _SP_SPECIAL_CHARS:
    return True
  return not all(char.lower() in _SP_CONTINUATION_CHARS for char in piece)


def is_start_piece_wordpiece(piece: str) -> bool:
  """The WordPiece word-start rule: a piece starts a word unless it begins with "##"."""
  return not piece.startswith("##")


def read_vocab_tokens(vocab_file: str) -> List[str]:
  """Reads a WordPiece vocab (one token per line); the token of line i has id i.

  Lines are split on "\\n" only: the BERT-Chinese vocab has a U+2028 entry that `splitlines()`
  would treat as a line break, shifting every later id. As in the original, each line keeps its
  first whitespace-separated field (so "piece<TAB>score" files load too) and a blank line maps to
  " ".

  Args:
    vocab_file: path of the vocab file (UTF-8).

  Returns:
    The tokens in id order.
  """
  with open(vocab_file, "rb") as reader:
    lines = reader.read().decode("utf-8", errors="replace").split("\n")
  if lines and not lines[-1]:
    lines.pop()
  tokens = []
  for line in lines:
    fields = line.strip().split()
    tokens.append(fields[0] if fields else " ")
  return tokens


def load_vocab(vocab_file: str) -> Dict[str, int]:
  """Loads a WordPiece vocab into an ordered token -> id dict (see `read_vocab_tokens`).

  Ids are line numbers, which is what a checkpoint's embedding rows follow. A token that appears on
  several lines maps to its first line (the original renumbers later tokens instead, which would
  shift ids; the published vocabs have no such duplicate).

  Args:
    vocab_file: path of the vocab file (UTF-8).

  Returns:
    The token -> id dict.
  """
  vocab = collections.OrderedDict()
  for index, token in enumerate(read_vocab_tokens(vocab_file)):
    vocab.setdefault(token, index)
  return vocab


# The character classes below are the one definition of each rule: the exported in-graph
# tokenizers turn them into regex classes (albert_tf/export/unicode_classes.py).


def is_combining_mark(char: str) -> bool:
  """Whether `char` has a non-zero canonical combining class (`preprocess_text` drops these)."""
  return unicodedata.combining(char) != 0


def is_whitespace(char: str) -> bool:
  """BERT `_is_whitespace`: space, tab, newline, carriage return and category Zs."""
  if char in (" ", "\t", "\n", "\r"):
    return True
  return unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
  """BERT `_is_control`: categories Cc and Cf, except tab, newline and carriage return."""
  if char in ("\t", "\n", "\r"):
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def is_removed_character(char: str) -> bool:
  """What BERT `_clean_text` deletes: NUL, U+FFFD and control characters."""
  return char in ("\x00", "\ufffd") or is_control(char)


def is_punctuation(char: str) -> bool:
  """BERT `_is_punctuation`: the four ASCII symbol ranges plus every category P* character."""
  cp = ord(char)
  # All non-letter/number ASCII counts as punctuation, as in BERT ("^", "$", "`" are not P*).
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def is_chinese_char(char: str) -> bool:
  """Whether `char` is in BERT's CJK Unified Ideographs ranges (each becomes its own token)."""
  cp = ord(char)
  return any(low <= cp <= high for low, high in CJK_RANGES)


def is_nonspacing_mark(char: str) -> bool:
  """Category Mn: what BERT `_run_strip_accents` drops after NFD."""
  return unicodedata.category(char) == "Mn"


def _strip_accents(text: str) -> str:
  return "".join(c for c in unicodedata.normalize("NFD", text) if not is_nonspacing_mark(c))


class BasicTokenizer:
  """BERT's basic tokenizer: cleaning, CJK splitting, lower-casing and accents, punctuation.

  `tokenize_with_offsets` also returns where each token starts in the input text; Chinese
  whole-word masking aligns tokens to jieba words with it. `tokenize` is the same computation
  without the offsets, so the two can never disagree.

  Example:
    >>> BasicTokenizer(do_lower_case=True).tokenize("Héllo, 世界!")
    ['hello', ',', '世', '界', '!']
  """

  def __init__(self, do_lower_case: bool = True):
    self.do_lower_case = do_lower_case

  def tokenize(self, text: str) -> List[str]:
    """Returns the basic tokens of `text`."""
    return [token for token, _ in self.tokenize_with_offsets(text)]

  def tokenize_with_offsets(self, text: str) -> List[Tuple[str, int]]:
    """Returns (token, index in `text` of the character the token starts with) pairs."""
    text = convert_to_unicode(text)
    tokens = []
    for word, offsets in self._whitespace_words(text):
      if self.do_lower_case:
        word, offsets = self._lower_and_strip_accents(word, offsets)
      tokens.extend(self._split_on_punctuation(word, offsets))
    return tokens

  def _whitespace_words(self, text: str):
    """Cleans the text, isolates CJK characters and splits on whitespace, keeping offsets."""
    word, offsets = [], []
    for index, char in enumerate(text):
      if is_removed_character(char):
        continue
      if is_whitespace(char) or char.isspace() or is_chinese_char(char):
        if word:
          yield "".join(word), offsets
          word, offsets = [], []
        if is_chinese_char(char):
          yield char, [index]
        continue
      word.append(char)
      offsets.append(index)
    if word:
      yield "".join(word), offsets

  @staticmethod
  def _lower_and_strip_accents(word: str, offsets: List[int]) -> Tuple[str, List[int]]:
    normalized = _strip_accents(word.lower())
    if len(normalized) == len(word):
      return normalized, offsets
    # Lower-casing or accent stripping changed the length: map each output character back through
    # a per-character normalization; fall back to the word start if the two ever disagree.
    char_offsets = []
    for char, offset in zip(word, offsets):
      char_offsets.extend([offset] * len(_strip_accents(char.lower())))
    if len(char_offsets) != len(normalized):
      char_offsets = [offsets[0]] * len(normalized)
    return normalized, char_offsets

  @staticmethod
  def _split_on_punctuation(word: str, offsets: List[int]) -> List[Tuple[str, int]]:
    pieces = []
    current, current_start = [], 0
    for char, offset in zip(word, offsets):
      if is_punctuation(char) or char.isspace():
        if current:
          pieces.append(("".join(current), current_start))
          current = []
        if not char.isspace():
          pieces.append((char, offset))
        continue
      if not current:
        current_start = offset
      current.append(char)
    if current:
      pieces.append(("".join(current), current_start))
    return pieces


class WordpieceTokenizer:
  """Greedy longest-match-first WordPiece with "##" continuations, as in BERT."""

  def __init__(self, vocab: Dict[str, int], unk_token: str = UNK_TOKEN_WP,
               max_input_chars_per_word: int = MAX_WORDPIECE_CHARS):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word

  def tokenize(self, text: str) -> List[str]:
    """Splits each whitespace-separated word of `text` into WordPiece tokens ([UNK] if none fit)."""
    output_tokens = []
    for word in text.split():
      output_tokens.extend(self.tokenize_word(word))
    return output_tokens

  def tokenize_word(self, word: str) -> List[str]:
    """WordPiece tokens of one word without whitespace."""
    if len(word) > self.max_input_chars_per_word:
      return [self.unk_token]
    sub_tokens = []
    start = 0
    while start < len(word):
      end = len(word)
      current = None
      while start < end:
        candidate = word[start:end] if start == 0 else "##" + word[start:end]
        if candidate in self.vocab:
          current = candidate
          break
        end -= 1
      if current is None:
        return [self.unk_token]
      sub_tokens.append(current)
      start = end
    return sub_tokens


class FullTokenizer:
  """The original FullTokenizer: SentencePiece when `spm_model_file` is given, else WordPiece.

  `tokenize` keeps the original semantics (in SentencePiece mode it does no normalization; callers
  run `preprocess_text` first). `encode` is the whole user path: in SentencePiece mode it applies
  `preprocess_text(text, lower=do_lower_case)` first, then tokenizes and maps to ids.

  Example:
    >>> import os, tempfile
    >>> vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"]
    >>> with open(vocab_file, "w") as f:
    ...   _ = f.write("\\n".join(tokens))
    >>> tokenizer = FullTokenizer(vocab_file=vocab_file, do_lower_case=True)  # or spm_model_file=
    >>> tokenizer.encode("Hello world!")
    [5, 6, 7]
    >>> tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id
    (2, 3, 4)

  Args:
    vocab_file: WordPiece vocab (one token per line); ignored when `spm_model_file` is given.
    do_lower_case: lower-case (WordPiece: in the basic tokenizer; SentencePiece: in `encode`).
    spm_model_file: SentencePiece model file.

  Raises:
    ValueError: no vocab given, or the vocab lacks a special token ([CLS], [SEP], [MASK], pad, unk).
  """

  def __init__(self, vocab_file: Optional[str] = None, do_lower_case: bool = True,
               spm_model_file: Optional[str] = None):
    self.do_lower_case = do_lower_case
    self.sp_model = None
    if spm_model_file:
      self.sp_model = spm.SentencePieceProcessor()
      with open(spm_model_file, "rb") as model_file:
        self.sp_model.LoadFromSerializedProto(model_file.read())
      self.vocab = {self.sp_model.IdToPiece(i): i for i in range(self.sp_model.GetPieceSize())}
      self.inv_vocab = {index: token for token, index in self.vocab.items()}
      pad_token, unk_token = PAD_TOKEN_SP, UNK_TOKEN_SP
      source = spm_model_file
    elif vocab_file:
      self.vocab = load_vocab(vocab_file)
      self.inv_vocab = dict(enumerate(read_vocab_tokens(vocab_file)))
      self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
      self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
      pad_token, unk_token = PAD_TOKEN_WP, UNK_TOKEN_WP
      source = vocab_file
    else:
      raise ValueError("FullTokenizer needs a vocab: pass spm_model_file or vocab_file.")
    missing = [
        t for t in (pad_token, unk_token, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN) if t not in self.vocab
    ]
    if missing:
      raise ValueError(
          f"vocab {source} lacks the special token(s) {', '.join(missing)}; rebuild it "
          "with albert-build-vocab, which reserves them.")
    self.pad_id = self.vocab[pad_token]
    self.unk_id = self.vocab[unk_token]
    self.cls_id = self.vocab[CLS_TOKEN]
    self.sep_id = self.vocab[SEP_TOKEN]
    self.mask_id = self.vocab[MASK_TOKEN]

  @property
  def is_sentencepiece(self) -> bool:
    """True in SentencePiece mode, False in WordPiece mode."""
    return self.sp_model is not None

  def tokenize(self, text: str) -> List[str]:
    """Tokens of `text` as the original FullTokenizer.tokenize (no SentencePiece preprocessing)."""
    if self.sp_model is not None:
      return encode_pieces(self.sp_model, convert_to_unicode(text))
    return [
        sub_token for token in self.basic_tokenizer.tokenize(text)
        for sub_token in self.wordpiece_tokenizer.tokenize_word(token)
    ]

  def encode(self, text: str) -> List[int]:
    """Token ids of raw user text: preprocess_text (SentencePiece mode), tokenize, map to ids."""
    if self.sp_model is not None:
      text = preprocess_text(text, lower=self.do_lower_case)
    return self.convert_tokens_to_ids(self.tokenize(text))

  def is_start_piece(self, token: str) -> bool:
    """Whether `token` starts a word under this tokenizer's whole-word rule."""
    if self.sp_model is not None:
      return is_start_piece_sp(token)
    return is_start_piece_wordpiece(token)

  def convert_tokens_to_ids(self, tokens: Iterable[str]) -> List[int]:
    """Maps tokens to ids (SentencePiece: PieceToId, unknown pieces give unk_id)."""
    if self.sp_model is not None:
      return [self.sp_model.PieceToId(token) for token in tokens]
    return [self.vocab[token] for token in tokens]

  def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
    """Maps ids back to tokens."""
    if self.sp_model is not None:
      return [self.sp_model.IdToPiece(int(index)) for index in ids]
    return [self.inv_vocab[int(index)] for index in ids]
