"""In-graph equivalent of `FullTokenizer(spm_model_file=...).encode` (SentencePiece path)."""

import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf import tokenization
from albert_tf.export import text_normalization
from albert_tf.export import unicode_classes

_WORD_START = tokenization.SPIECE_UNDERLINE


class SentencePieceTextTokenizer(tf.Module):
  """Raw text -> ALBERT token ids with tensorflow-text's SentencePiece ops.

  Reproduces the Python path: `preprocess_text(text, lower=do_lower_case)`, `sp.EncodeAsPieces`,
  the original `encode_pieces` digit-comma rule (a piece like "▁1990," is re-encoded without the
  comma and the comma becomes its own piece) and `PieceToId`. The model bytes live in the graph (the
  SentencePiece op takes them as an attribute) and the `.model` file travels as an asset.

  Example:

    tokenizer = SentencePieceTextTokenizer("30k-clean.model", do_lower_case=True)
    ids = tokenizer.tokenize(tf.constant(["Hello world"]))  # tf.RaggedTensor int32 [1, (n)]
  """

  def __init__(self, spm_model_file: str, do_lower_case: bool = True,
               name: str = "sentencepiece_text_tokenizer"):
    """Initializes the tokenizer.

    Args:
      spm_model_file: path of a SentencePiece `.model` file.
      do_lower_case: lower-case in `preprocess_text`, as the Python path does.
      name: module name.
    """
    super().__init__(name=name)
    with tf.io.gfile.GFile(spm_model_file, "rb") as f:
      model_proto = f.read()
    processor = spm.SentencePieceProcessor()
    processor.LoadFromSerializedProto(model_proto)
    self.vocab_file = tf.saved_model.Asset(spm_model_file)
    self.do_lower_case = do_lower_case
    self.vocab_size = processor.GetPieceSize()
    self.special_ids = {
        name: processor.PieceToId(piece)
        for name, piece in (("pad_id", tokenization.PAD_TOKEN_SP), ("unk_id",
                                                                    tokenization.UNK_TOKEN_SP),
                            ("cls_id", tokenization.CLS_TOKEN), ("sep_id", tokenization.SEP_TOKEN),
                            ("mask_id", tokenization.MASK_TOKEN))
    }
    self._nul_stand_in = _unknown_stand_in_for_nul(processor)
    self._pieces = tf_text.SentencepieceTokenizer(model=model_proto, out_type=tf.string)

  def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
    """Returns int32 ids [batch, (tokens)] for a string tensor [batch]."""
    text = text_normalization.preprocess_text(text, lower=self.do_lower_case)
    text = tf.strings.regex_replace(text, r"\x00", self._nul_stand_in)
    pieces = self._split_digit_comma_pieces(self._pieces.tokenize(text))
    return tf.cast(self._pieces.string_to_id(pieces), tf.int32)

  def id_to_token(self, ids: tf.Tensor) -> tf.Tensor:
    """Returns the piece string of every id (same shape)."""
    return self._pieces.id_to_string(ids)

  def _split_digit_comma_pieces(self, pieces: tf.RaggedTensor) -> tf.RaggedTensor:
    """The original `encode_pieces` rule (intended behaviour, as FullTokenizer implements it).

    A piece longer than one character ending in a digit and "," is replaced by the pieces of
    `piece[:-1].replace("▁", "")` encoded on its own, followed by ",". When the original piece did
    not start with "▁" and the first new piece does, that "▁" is removed (the piece dropped if it
    was only "▁").

    Args:
      pieces: ragged string pieces [batch, (pieces)].

    Returns:
      Ragged string pieces [batch, (pieces)].
    """
    flat = pieces.flat_values
    needs_split = tf.strings.regex_full_match(flat, f"(?s).*{unicode_classes.python_digits()},")
    split_index = tf.cast(tf.where(needs_split)[:, 0], tf.int32)
    keep_index = tf.cast(tf.where(~needs_split)[:, 0], tf.int32)

    to_split = tf.gather(flat, split_index)
    without_comma = tf.strings.regex_replace(to_split, ",$", "")
    reencoded = self._pieces.tokenize(tf.strings.regex_replace(without_comma, _WORD_START, ""))
    reencoded = _strip_added_word_start(
        reencoded, original_starts_word=tf.strings.regex_full_match(to_split,
                                                                    f"(?s){_WORD_START}.*"))
    commas = tf.RaggedTensor.from_tensor(tf.fill([tf.size(split_index), 1], ","))
    replacements = tf.concat([reencoded, commas], axis=1)
    kept = tf.RaggedTensor.from_tensor(tf.expand_dims(tf.gather(flat, keep_index), 1))

    # Rows of `replacements` then `kept`, put back in the original piece order.
    rows = tf.concat([replacements, kept], axis=0)
    order = tf.math.invert_permutation(tf.concat([split_index, keep_index], axis=0))
    per_piece = tf.gather(rows, order)
    return pieces.with_flat_values(per_piece).merge_dims(1, 2)


def _unknown_stand_in_for_nul(processor: spm.SentencePieceProcessor) -> str:
  """A character the model segments exactly like U+0000, to stand in for it.

  The tensorflow-text op reads its input as a C string and would stop at a NUL, while the Python
  processor treats NUL as an unknown character. Any other character that the model does not know
  and its normalizer keeps gives the same pieces' ids (unknown characters are all alike to it).

  Args:
    processor: the loaded SentencePiece model.

  Returns:
    The stand-in character (a Unicode noncharacter).

  Raises:
    ValueError: no noncharacter behaves like NUL for this model.
  """
  for codepoint in range(0xFDD0, 0xFDF0):
    candidate = chr(codepoint)
    if all(
        processor.EncodeAsIds(text.replace("\x00", candidate)) == processor.EncodeAsIds(text)
        for text in ("\x00", "a\x00b", "\x00\x00 1")):
      return candidate
  raise ValueError("no stand-in for U+0000 found for this SentencePiece model")


def _strip_added_word_start(reencoded: tf.RaggedTensor,
                            original_starts_word: tf.Tensor) -> tf.RaggedTensor:
  """Removes the dummy-prefix "▁" SentencePiece adds when the original piece had none."""
  values = reencoded.flat_values
  row_of_value = reencoded.value_rowids()
  is_first = tf.range(tf.size(values,
                              out_type=tf.int64)) == tf.gather(reencoded.row_starts(), row_of_value)
  strip = (is_first & ~tf.gather(original_starts_word, row_of_value) &
           tf.strings.regex_full_match(values, f"(?s){_WORD_START}.*"))
  stripped = tf.where(strip, tf.strings.regex_replace(values, f"^{_WORD_START}", ""), values)
  keep = ~(strip & tf.equal(stripped, ""))
  return tf.ragged.boolean_mask(reencoded.with_flat_values(stripped),
                                reencoded.with_flat_values(keep))
