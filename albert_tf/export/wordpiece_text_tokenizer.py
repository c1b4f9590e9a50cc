"""In-graph equivalent of `FullTokenizer(vocab_file=...).encode` (WordPiece, Chinese models)."""

import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf import tokenization
from albert_tf.export import text_normalization

_MAX_UTF8_BYTES_PER_CHAR = 4


class WordPieceTextTokenizer(tf.Module):
  """Raw text -> ALBERT token ids with BERT basic tokenization and tensorflow-text's WordPiece.

  Reproduces the Python path: BERT `BasicTokenizer` (cleaning, CJK characters split out, optional
  lower-casing with accent stripping, punctuation split) then greedy longest-match-first WordPiece
  with "##" continuations, words over 200 characters or without a match becoming [UNK]. The lookup
  table is built from `FullTokenizer(vocab_file).vocab`, so it maps exactly as the Python tokenizer
  does; the vocabulary file travels as an asset.

  Example:

    tokenizer = WordPieceTextTokenizer("vocab_chinese.txt", do_lower_case=True)
    ids = tokenizer.tokenize(tf.constant(["今天天气很好"]))  # tf.RaggedTensor int32 [1, (n)]
  """

  def __init__(self, vocab_file: str, do_lower_case: bool = True,
               name: str = "wordpiece_text_tokenizer"):
    """Initializes the tokenizer.

    Args:
      vocab_file: WordPiece vocabulary, one token per line (the first field of each line is used).
      do_lower_case: BERT's `do_lower_case`.
      name: module name.
    """
    super().__init__(name=name)
    python_tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                                  do_lower_case=do_lower_case)
    tokens, ids = zip(*python_tokenizer.vocab.items())
    all_ids, all_tokens = zip(*python_tokenizer.inv_vocab.items())
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = do_lower_case
    self.vocab_size = len(python_tokenizer.inv_vocab)
    self.special_ids = {
        name: getattr(python_tokenizer, name)
        for name in ("pad_id", "unk_id", "cls_id", "sep_id", "mask_id")
    }
    self._token_to_id = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(tokens), tf.constant(ids, tf.int64)),
        default_value=-1)
    self._id_to_token = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(all_ids, tf.int64),
                                            tf.constant(all_tokens)),
        default_value=tokenization.UNK_TOKEN_WP)
    self._wordpiece = tf_text.WordpieceTokenizer(
        self._token_to_id, suffix_indicator="##",
        max_bytes_per_word=tokenization.MAX_WORDPIECE_CHARS * _MAX_UTF8_BYTES_PER_CHAR,
        token_out_type=tf.int64, unknown_token=tokenization.UNK_TOKEN_WP)

  def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
    """Returns int32 ids [batch, (tokens)] for a string tensor [batch]."""
    words = text_normalization.bert_basic_tokenize(text, self.do_lower_case)
    lengths = tf.strings.length(words.flat_values, unit="UTF8_CHAR")
    too_long = lengths > tokenization.MAX_WORDPIECE_CHARS
    words = words.with_flat_values(tf.where(too_long, tokenization.UNK_TOKEN_WP, words.flat_values))
    ids = self._wordpiece.tokenize(words).merge_dims(1, 2)
    return tf.cast(ids, tf.int32)

  def id_to_token(self, ids: tf.Tensor) -> tf.Tensor:
    """Returns the vocabulary token of every id (same shape)."""
    return self._id_to_token.lookup(tf.cast(ids, tf.int64))
