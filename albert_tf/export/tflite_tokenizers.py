"""Raw text -> ALBERT ids with ops that TFLite/LiteRT runs: builtins + tensorflow-text's kernels.

The SavedModel tokenizers (`SentencePieceTextTokenizer`, `WordPieceTextTokenizer`) use regex and
NormalizeUTF8 ops that have no TFLite kernel. These use the tensorflow-text ops that do
(`FastBertNormalizer`, `FastSentencepieceTokenizer`, `FastBertTokenizer`, registered in an
interpreter by `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`) and dense builtin ops for the
rest. Their ids equal `FullTokenizer.encode` except where the fast ops cannot express a rule of the
Python tokenizer; docs/serving.md lists those and the measured agreement.

Both return dense ids: `tokenize(text)` -> (int32 [batch, width], int32 [batch] lengths), the rows
cut to `max_tokens` before anything else costs time (a 100k-character string included).
"""

from typing import Dict, List, Tuple
import unicodedata

import numpy as np
import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf import tokenization

_SPECIAL_NAMES = ("pad_id", "unk_id", "cls_id", "sep_id", "mask_id")


def dense_rows(ragged: tf.RaggedTensor, max_tokens: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """int32 [batch, (n)] ragged -> the first `max_tokens` of each row, dense, and their lengths.

  Padding is -1. The width is the batch's longest kept row (at least 1 column, so that later
  gathers never see an empty axis).
  """
  lengths = tf.minimum(tf.cast(ragged.row_lengths(), tf.int32), max_tokens)
  values = tf.cast(ragged.flat_values, tf.int32)
  dense = tf.RaggedTensor.from_row_splits(values, ragged.row_splits).to_tensor(default_value=-1)
  dense = tf.concat([dense, -tf.ones([tf.shape(dense)[0], 1], tf.int32)], axis=1)
  width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], axis=0)), 1)
  return dense[:, :width], lengths


def compact(values: tf.Tensor, keep: tf.Tensor, max_tokens: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Moves the kept entries of each row to its front, in order; keeps at most `max_tokens`.

  Args:
    values: int32 [batch, n].
    keep: bool [batch, n].
    max_tokens: the most entries a row keeps.

  Returns:
    (int32 [batch, width] padded with -1, int32 [batch] lengths), width = the longest row.
  """
  batch_size = tf.shape(values)[0]
  destination = tf.cumsum(tf.cast(keep, tf.int32), axis=1) - 1
  lengths = tf.minimum(tf.reduce_sum(tf.cast(keep, tf.int32), axis=1), max_tokens)
  # Entries not kept, or past max_tokens, go to a spare last column that is cut off below.
  destination = tf.where(keep & (destination < max_tokens), destination, max_tokens)
  rows = tf.broadcast_to(tf.expand_dims(tf.range(batch_size), 1), tf.shape(values))
  indices = tf.stack([tf.reshape(rows, [-1]), tf.reshape(destination, [-1])], axis=1)
  # scatter_nd adds: shift by one so that empty slots read -1 after the shift back.
  scattered = tf.scatter_nd(indices, tf.reshape(values + 1, [-1]),
                            tf.stack([batch_size, max_tokens + 1])) - 1
  width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], axis=0)), 1)
  return scattered[:, :width], lengths


def _special_ids(python_tokenizer: tokenization.FullTokenizer) -> Dict[str, int]:
  return {name: getattr(python_tokenizer, name) for name in _SPECIAL_NAMES}


class TfliteSentencePieceTokenizer(tf.Module):
  """`FullTokenizer(spm_model_file=...).encode` with FastBertNormalizer + FastSentencepiece.

  `preprocess_text` (NFKD, drop combining marks, lower-case) becomes FastBertNormalizer's
  lower-case + NFD + strip accents, followed by the model's own normalizer (NFKC for ALBERT's
  models) inside the SentencePiece op; the original's digit-comma rule ("▁1990," -> "▁1990" ",")
  depends on the piece alone, so it is a table from each such piece's id to its replacement ids.
  """

  def __init__(self, spm_model_file: str, do_lower_case: bool = True,
               name: str = "tflite_sentencepiece_tokenizer"):
    super().__init__(name=name)
    python_tokenizer = tokenization.FullTokenizer(spm_model_file=spm_model_file,
                                                  do_lower_case=do_lower_case)
    processor = spm.SentencePieceProcessor(model_file=spm_model_file)
    self.vocab_size = processor.GetPieceSize()
    self.special_ids = _special_ids(python_tokenizer)
    self.tokens = [processor.IdToPiece(i) for i in range(self.vocab_size)]
    self._normalizer = (tf_text.FastBertNormalizer(
        lower_case_nfd_strip_accents=True) if do_lower_case else None)
    with open(spm_model_file, "rb") as f:
      self._sentencepiece = tf_text.FastSentencepieceTokenizer(f.read())
    self._replacements = _digit_comma_table(processor, self.tokens)

  def tokenize(self, text: tf.Tensor, max_tokens: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """string [batch] -> (int32 ids [batch, width], int32 lengths [batch]), rows <= max_tokens."""
    if self._normalizer is not None:
      text = self._normalizer.normalize(text)
    ids, lengths = dense_rows(self._sentencepiece.tokenize(text), max_tokens)
    # Each piece becomes 1 or more pieces, so the first max_tokens pieces are all that can stay.
    replaced = tf.gather(tf.constant(self._replacements), tf.maximum(ids, 0))  # [B, n, K]
    in_row = tf.expand_dims(tf.range(tf.shape(ids)[1]), 0) < tf.expand_dims(lengths, 1)
    keep = (replaced >= 0) & tf.expand_dims(in_row, 2)
    batch_size = tf.shape(ids)[0]
    return compact(tf.reshape(replaced, [batch_size, -1]), tf.reshape(keep, [batch_size, -1]),
                   max_tokens)


def _digit_comma_table(processor: spm.SentencePieceProcessor, pieces: List[str]) -> np.ndarray:
  """int32 [vocab, K]: each piece's ids after the original's digit-comma rule, padded with -1.

  The same rule as `tokenization.encode_pieces`, applied to every vocabulary piece once.
  """
  rows = []
  for piece_id, piece in enumerate(pieces):
    if not tokenization.needs_digit_comma_split(piece):
      rows.append([piece_id])
      continue
    current = processor.EncodeAsPieces(piece[:-1].replace(tokenization.SPIECE_UNDERLINE, ""))
    if (piece[0] != tokenization.SPIECE_UNDERLINE and current and
        current[0][0] == tokenization.SPIECE_UNDERLINE):
      current = current[1:] if len(current[0]) == 1 else [current[0][1:]] + current[1:]
    rows.append([processor.PieceToId(p) for p in current + [piece[-1]]])
  width = max(len(row) for row in rows)
  return np.array([row + [-1] * (width - len(row)) for row in rows], np.int32)


class TfliteWordPieceTokenizer(tf.Module):
  """`FullTokenizer(vocab_file=...).encode` with FastBertTokenizer's ops.

  FastBertNormalizer + FastWordpieceTokenizer (FastBertTokenizer's two ops) do BERT's basic
  tokenization (cleaning, CJK characters and punctuation split out, optional lower-case + NFD +
  accent stripping) and longest-match-first WordPiece. The normalizer also applies compatibility
  mappings that NFD does not; the ops' offsets (positions in the original text) undo them word by
  word:
  * a word that is one such character ("，" looked up as ",", "Ⅱ" as "ii", "①" as "1", "…" as
    three "."s whose first two have empty source text and are dropped) gets the Python tokenizer's
    id for that character, found by a WordPiece op whose vocabulary is those characters;
  * a word with full-width letters, digits or currency signs ("１９９８" looked up as "1998",
    "￥15" as "¥15") goes through a second WordPiece op without normalization, whose vocabulary
    also holds each piece with full-width letters upper-cased (Python looks up the lower-cased
    text);
  Words longer than 200 bytes (the Python tokenizer: 200 characters) become [UNK].
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True,
               name: str = "tflite_wordpiece_tokenizer"):
    super().__init__(name=name)
    python_tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                                  do_lower_case=do_lower_case)
    self.vocab_size = len(python_tokenizer.inv_vocab)
    self.special_ids = _special_ids(python_tokenizer)
    self.tokens = [python_tokenizer.inv_vocab[i] for i in range(self.vocab_size)]
    # FastBertTokenizer's two ops, called here so that the offsets map back to the original text
    # with dense gathers (its own mapping is a RaggedGather, which TFLite cannot run).
    self._normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=do_lower_case)
    # The vocab's " " (a blank line, e.g. BERT-Chinese's U+2028 entry) is never emitted by the
    # Python tokenizer, but the op would match it to the second of two spaces.
    op_vocab = [
        token if token.strip() else f"[whitespace {token_id}]"
        for token_id, token in enumerate(self.tokens)
    ]
    self._wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=op_vocab, suffix_indicator="##", max_bytes_per_word=tokenization.MAX_WORDPIECE_CHARS,
        token_out_type=tf.int32, unknown_token=tokenization.UNK_TOKEN_WP, no_pretokenization=False,
        support_detokenization=False)
    characters, ids = _compatibility_characters(python_tokenizer)
    # A lookup table from a word's source text to its index in `characters` (len = not found).
    self._compatibility_lookup = tf_text.FastWordpieceTokenizer(
        vocab=characters + [tokenization.UNK_TOKEN_WP], suffix_indicator="##", max_bytes_per_word=8,
        token_out_type=tf.int32, unknown_token=tokenization.UNK_TOKEN_WP, no_pretokenization=True,
        support_detokenization=False)
    self._compatibility_ids = tf.constant(ids + [self.special_ids["unk_id"]], tf.int32)
    self._is_word_start = tf.constant([not token.startswith("##") for token in self.tokens])
    aliases = _full_width_aliases(self.tokens) if do_lower_case else []
    # Full-width characters take 3 UTF-8 bytes: the Python limit of 200 characters, in bytes.
    self._full_width_wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=op_vocab + [alias for alias, _ in aliases], suffix_indicator="##",
        max_bytes_per_word=3 * tokenization.MAX_WORDPIECE_CHARS, token_out_type=tf.int32,
        unknown_token=tokenization.UNK_TOKEN_WP, no_pretokenization=True,
        support_detokenization=False)
    self._full_width_ids = tf.constant(
        list(range(self.vocab_size)) + [i for _, i in aliases], tf.int32)

  def tokenize(self, text: tf.Tensor, max_tokens: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """string [batch] -> (int32 ids [batch, width], int32 lengths [batch]), rows <= max_tokens."""
    normalized, offsets = self._normalizer.normalize_with_offsets(text)
    ids, starts, ends = self._wordpiece.tokenize_with_offsets(normalized)
    # Offsets in the normalized text -> offsets in the original text.
    bases = tf.gather(offsets.row_starts(), ids.value_rowids())
    starts, ends = (ids.with_flat_values(tf.gather(offsets.flat_values, bases + values.flat_values))
                    for values in (starts, ends))
    pieces = _first_words(ids, starts, ends, self._is_word_start, max_tokens)
    words = _words(text, pieces)
    # A word that is one compatibility character: the Python tokenizer's one id for it.
    lookup, _, _ = self._compatibility_lookup.tokenize_with_offsets(words["source"])
    found = tf.gather(tf.concat([tf.cast(lookup.flat_values, tf.int32), [-1]], axis=0),
                      tf.cast(lookup.row_starts(), tf.int32))
    single = tf.equal(lookup.row_lengths(),
                      1) & (found >= 0) & (found < tf.size(self._compatibility_ids) - 1)
    # Full-width letters and digits: the word again, without the fast op's normalization.
    fix = _has_full_width_alphanumeric(words["source"]) & ~single
    fixed, _, _ = self._full_width_wordpiece.tokenize_with_offsets(
        tf.boolean_mask(words["source"], fix))
    fixed_ids = tf.gather(self._full_width_ids, tf.cast(fixed.flat_values, tf.int32))
    fixed_lengths = tf.scatter_nd(tf.cast(tf.where(fix), tf.int32),
                                  tf.cast(fixed.row_lengths(), tf.int32), tf.shape(fix))
    # A word of one piece with empty source text (an expansion's extra token): dropped.
    dropped = tf.equal(words["pieces"], 1) & tf.equal(words["source"], "")
    lengths = tf.where(fix, fixed_lengths, tf.where(single, 1,
                                                    tf.where(dropped, 0, words["pieces"])))
    offsets = tf.cumsum(lengths, exclusive=True)
    keep = tf.gather(~fix & ~single & ~dropped, pieces["word"])
    destinations = tf.concat([
        tf.boolean_mask(tf.gather(offsets, pieces["word"]) + pieces["index_in_word"], keep),
        tf.gather(tf.boolean_mask(offsets, fix), tf.cast(fixed.value_rowids(), tf.int32)) +
        _index_in_row(fixed),
        tf.boolean_mask(offsets, single)
    ], axis=0)
    values = tf.concat([
        tf.boolean_mask(pieces["ids"], keep), fixed_ids,
        tf.gather(self._compatibility_ids, tf.boolean_mask(found, single))
    ], axis=0)
    flat = tf.scatter_nd(tf.expand_dims(destinations, 1), values, [tf.reduce_sum(lengths)])
    row_lengths = tf.math.unsorted_segment_sum(lengths, words["row"], tf.shape(text)[0])
    return dense_rows(tf.RaggedTensor.from_row_lengths(flat, tf.cast(row_lengths, tf.int64)),
                      max_tokens)


def _index_in_row(ragged: tf.RaggedTensor) -> tf.Tensor:
  """int32 position of each flat value of a ragged [n, (m)] tensor within its row."""
  return tf.range(tf.size(ragged.flat_values)) - tf.gather(tf.cast(ragged.row_starts(), tf.int32),
                                                           tf.cast(ragged.value_rowids(), tf.int32))


def _first_words(ids: tf.RaggedTensor, starts: tf.RaggedTensor, ends: tf.RaggedTensor,
                 is_word_start: tf.Tensor, max_words: int) -> Dict[str, tf.Tensor]:
  """The pieces of each row's first `max_words` words that will keep a token, and words between.

  Returns flat int32 tensors over those pieces: ids, starts, ends, row, word (index over all
  kept words), index_in_word, and bool is_start.
  """
  flat_ids = tf.cast(ids.flat_values, tf.int32)
  rows = tf.cast(ids.value_rowids(), tf.int32)
  pieces = {
      "ids": flat_ids,
      "starts": tf.cast(starts.flat_values, tf.int32),
      "ends": tf.cast(ends.flat_values, tf.int32),
      "row": rows,
      "is_start": tf.gather(is_word_start, flat_ids)
  }
  # Only words whose first piece has source text count: the others may be dropped later.
  counted = pieces["is_start"] & tf.not_equal(pieces["starts"], pieces["ends"])
  counted_so_far = tf.cumsum(tf.cast(counted, tf.int32))
  words_before_row = tf.gather(tf.concat([[0], counted_so_far], axis=0),
                               tf.cast(ids.row_starts(), tf.int32))
  keep = counted_so_far - tf.gather(words_before_row, rows) <= max_words
  pieces = {key: tf.boolean_mask(value, keep) for key, value in pieces.items()}
  pieces["word"] = tf.cumsum(tf.cast(pieces["is_start"], tf.int32)) - 1
  first_piece = tf.boolean_mask(tf.range(tf.size(pieces["ids"])), pieces["is_start"])
  pieces["index_in_word"] = tf.range(tf.size(pieces["ids"])) - tf.gather(
      first_piece, pieces["word"])
  return pieces


def _words(text: tf.Tensor, pieces: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Per word: row, first_piece, pieces (count), source (its text)."""
  is_start = pieces["is_start"]
  num_words = tf.reduce_sum(tf.cast(is_start, tf.int32))
  first_piece = tf.boolean_mask(tf.range(tf.size(pieces["ids"])), is_start)
  word_starts = tf.boolean_mask(pieces["starts"], is_start)
  word_ends = tf.math.unsorted_segment_max(pieces["ends"], pieces["word"], num_words)
  word_rows = tf.boolean_mask(pieces["row"], is_start)
  count = tf.math.unsorted_segment_sum(tf.ones_like(pieces["word"]), pieces["word"], num_words)
  row_counts = tf.math.unsorted_segment_sum(tf.ones_like(word_rows), word_rows, tf.shape(text)[0])
  row_splits = tf.cast(tf.concat([[0], tf.cumsum(row_counts)], axis=0), tf.int64)
  source = tf_text.ByteSplitter().split_by_offsets(
      text, tf.RaggedTensor.from_row_splits(word_starts, row_splits),
      tf.RaggedTensor.from_row_splits(word_ends, row_splits)).flat_values
  return {
      "row": word_rows,
      "first_piece": first_piece,
      "pieces": count,
      "source": source,
  }


def _has_full_width_alphanumeric(words: tf.Tensor) -> tf.Tensor:
  """bool [n]: the word has a full-width digit, letter or currency sign.

  U+FF10-FF19, FF21-FF3A, FF41-FF5A and FFE0-FFE6: the fast normalizer maps them to ASCII (or
  Latin-1) characters that stay inside the word, so the word's boundaries are those of Python's.
  """
  byte_rows = tf_text.ByteSplitter().split(words)
  flat = tf.cast(byte_rows.flat_values, tf.int32)
  padded = tf.concat([flat, [0, 0]], axis=0)
  size = tf.size(flat)
  second, third = padded[1:size + 1], padded[2:size + 2]

  def between(low, high):
    return (third >= low) & (third <= high)

  # UTF-8: EF BC 90-99 (digits), EF BC A1-BA (upper-case), EF BD 81-9A (lower-case), EF BF A0-A6.
  found = tf.equal(flat, 0xEF) & ((tf.equal(second, 0xBC) &
                                   (between(0x90, 0x99) | between(0xA1, 0xBA))) |
                                  (tf.equal(second, 0xBD) & between(0x81, 0x9A)) |
                                  (tf.equal(second, 0xBF) & between(0xA0, 0xA6)))
  rows = tf.cast(byte_rows.value_rowids(), tf.int32)
  return tf.math.unsorted_segment_max(tf.cast(found, tf.int32), rows, tf.shape(words)[0]) > 0


def _full_width_aliases(tokens: List[str]) -> List[Tuple[str, int]]:
  """(piece upper-cased, id) for the pieces with full-width lower-case letters.

  The Python tokenizer lower-cases "ＡＢＣ" to "ａｂｃ" before WordPiece; the second WordPiece op
  sees the source text, so it also gets the upper-case spelling of each such piece.
  """
  known = set(tokens)
  aliases = []
  for piece_id, piece in enumerate(tokens):
    if any("\uff41" <= char <= "\uff5a" for char in piece):
      body = piece[2:] if piece.startswith("##") else piece
      alias = piece[:len(piece) - len(body)] + body.upper()
      if alias not in known:
        known.add(alias)
        aliases.append((alias, piece_id))
  return aliases


def _compatibility_characters(
    python_tokenizer: tokenization.FullTokenizer) -> Tuple[List[str], List[int]]:
  """Characters with a compatibility mapping that the Python tokenizer encodes as one token.

  BERT's basic tokenizer keeps such a character (NFD has no compatibility mappings: "，", "Ⅱ",
  "①", "…") and looks it up; FastBertTokenizer looks up its NFKC form (",", "ii", "1", "...").
  Returns the characters and the Python tokenizer's id of each.
  """
  characters, ids = [], []
  for codepoint in range(0x30000):
    char = chr(codepoint)
    if 0xD800 <= codepoint < 0xE000 or unicodedata.normalize("NFKC", char) == char:
      continue
    encoded = python_tokenizer.encode(char)
    if len(encoded) == 1:
      characters.append(char)
      ids.append(encoded[0])
  return characters, ids
