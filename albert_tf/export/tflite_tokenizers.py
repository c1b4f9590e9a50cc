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
  """`FullTokenizer(vocab_file=...).encode` with tensorflow-text's FastBertTokenizer.

  FastBertTokenizer does BERT's basic tokenization (cleaning, CJK characters and punctuation split
  out, optional lower-case + NFD + accent stripping) and longest-match-first WordPiece in one op.
  Its normalizer also applies compatibility mappings that NFD does not (full-width "，" becomes
  ","); for punctuation, always a token of its own, the token's source text (from the op's offsets)
  restores the Python tokenizer's id. Words longer than 200 bytes (the Python tokenizer: 200
  characters) become [UNK].
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True,
               name: str = "tflite_wordpiece_tokenizer"):
    super().__init__(name=name)
    python_tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                                  do_lower_case=do_lower_case)
    self.vocab_size = len(python_tokenizer.inv_vocab)
    self.special_ids = _special_ids(python_tokenizer)
    self.tokens = [python_tokenizer.inv_vocab[i] for i in range(self.vocab_size)]
    self._wordpiece = tf_text.FastBertTokenizer(vocab=self.tokens, suffix_indicator="##",
                                                max_bytes_per_word=tokenization.MAX_WORDPIECE_CHARS,
                                                token_out_type=tf.int32,
                                                unknown_token=tokenization.UNK_TOKEN_WP,
                                                lower_case_nfd_strip_accents=do_lower_case)
    self._remapped_sources, self._remapped_ids = _compatibility_punctuation(python_tokenizer)

  def tokenize(self, text: tf.Tensor, max_tokens: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """string [batch] -> (int32 ids [batch, width], int32 lengths [batch]), rows <= max_tokens."""
    ids, starts, ends = self._wordpiece.tokenize_with_offsets(text)
    # Only the kept tokens' source text is cut out and compared (a long text stays cheap).
    position = tf.range(tf.size(ids.flat_values)) - tf.gather(tf.cast(ids.row_starts(), tf.int32),
                                                              tf.cast(ids.value_rowids(), tf.int32))
    kept = position < max_tokens
    kept_splits = tf.concat(
        [[0], tf.cumsum(tf.minimum(tf.cast(ids.row_lengths(), tf.int32), max_tokens))], axis=0)
    kept_ids, kept_starts, kept_ends = (tf.boolean_mask(tf.cast(values.flat_values, tf.int32), kept)
                                        for values in (ids, starts, ends))
    sources = tf_text.ByteSplitter().split_by_offsets(
        text, tf.RaggedTensor.from_row_splits(kept_starts, tf.cast(kept_splits, tf.int64)),
        tf.RaggedTensor.from_row_splits(kept_ends, tf.cast(kept_splits, tf.int64))).flat_values
    matches = tf.equal(tf.expand_dims(sources, 1), tf.expand_dims(self._remapped_sources, 0))
    remapped = tf.gather(self._remapped_ids, tf.argmax(tf.cast(matches, tf.int32), axis=1))
    kept_ids = tf.where(tf.reduce_any(matches, axis=1), remapped, kept_ids)
    return dense_rows(tf.RaggedTensor.from_row_splits(kept_ids, kept_splits), max_tokens)


def _compatibility_punctuation(
    python_tokenizer: tokenization.FullTokenizer) -> Tuple[tf.Tensor, tf.Tensor]:
  """Punctuation the fast normalizer maps to other characters, and the Python tokenizer's ids.

  BERT's basic tokenizer keeps such a character (NFD has no compatibility mappings) and looks it up
  as a token of its own; FastBertTokenizer looks up its NFKC form instead.
  """
  characters = [
      chr(codepoint)
      for codepoint in range(0x30000)
      if not 0xD800 <= codepoint < 0xE000 and tokenization.is_punctuation(chr(codepoint)) and
      unicodedata.normalize("NFKC", chr(codepoint)) != chr(codepoint)
  ]
  vocab = python_tokenizer.vocab
  ids = [vocab.get(char, python_tokenizer.unk_id) for char in characters]
  return tf.constant(characters), tf.constant(ids, tf.int32)
