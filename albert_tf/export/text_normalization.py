"""In-graph text normalization equal to the Python tokenizers' (core TF + tensorflow-text ops).

`preprocess_text` mirrors `albert_tf.tokenization.preprocess_text` (the original ALBERT's): collapse
whitespace, NFKD, drop combining marks, optionally lower-case. `bert_basic_tokenize` mirrors BERT's
`BasicTokenizer.tokenize` that the WordPiece (Chinese) path uses. Character classes come from
`unicode_classes`, so every decision is made with the exporting interpreter's `unicodedata`; only
NFKD/NFD (ICU in tensorflow-text) and lower-casing (ICU in TF) run on another Unicode table, which
differs only for characters assigned after Python's Unicode version (see docs/serving.md).
"""

import functools
import sys
from typing import Tuple

import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.export import unicode_classes


def lower_utf8(text: tf.Tensor) -> tf.Tensor:
  """Unicode lower-casing like Python's `str.lower()`, NUL-safe.

  TF's utf-8 `StringLower` kernel stops at the first NUL byte, so the NUL-free runs are lower-cased
  one by one and joined back with NUL tensor values (string attributes cannot hold a NUL). Its ICU
  tables also predate some letters Python lower-cases; those are mapped explicitly.

  Args:
    text: string tensor of any shape.

  Returns:
    The lower-cased strings, same shape.
  """
  shape = tf.shape(text)
  runs = tf.strings.split(tf.reshape(text, [-1]), sep="\x00")
  lowered_runs = tf.strings.lower(runs.flat_values, encoding="utf-8")
  for upper, lower in _case_mapping_gaps():
    lowered_runs = tf.strings.regex_replace(lowered_runs, upper, lower)
  lowered = runs.with_flat_values(lowered_runs + "\x00")
  joined = tf.strings.reduce_join(lowered, axis=-1)
  length = tf.strings.length(joined)
  return tf.reshape(tf.strings.substr(joined, tf.zeros_like(length), length - 1), shape)


@functools.lru_cache(maxsize=None)
def _case_mapping_gaps() -> Tuple[Tuple[str, str], ...]:
  """(character, Python's lower-case) for every character TF's `StringLower` leaves wrong."""
  cased = [
      chr(c)
      for c in range(sys.maxunicode + 1)
      if not 0xD800 <= c < 0xE000 and chr(c).lower() != chr(c)
  ]
  with tf.init_scope():  # Runs eagerly even when first called while tracing a tf.function.
    lowered = tf.strings.lower(tf.constant(cased), encoding="utf-8").numpy()
  return tuple((char, char.lower())
               for char, tf_lower in zip(cased, lowered)
               if tf_lower.decode("utf-8") != char.lower())


def preprocess_text(text: tf.Tensor, lower: bool) -> tf.Tensor:
  """The original `preprocess_text(text, remove_space=True, lower=lower)`, in the graph.

  Args:
    text: string tensor of any shape (UTF-8).
    lower: whether to lower-case (the exporter passes `do_lower_case`).

  Returns:
    The normalized strings, same shape.
  """
  whitespace = unicode_classes.python_whitespace()
  text = tf.strings.regex_replace(text, f"^{whitespace}+|{whitespace}+$", "")
  text = tf.strings.regex_replace(text, f"{whitespace}+", " ")
  text = tf_text.normalize_utf8(text, "NFKD")
  text = tf.strings.regex_replace(text, unicode_classes.combining_marks(), "")
  if lower:
    text = lower_utf8(text)
  return text


def bert_basic_tokenize(text: tf.Tensor, do_lower_case: bool) -> tf.RaggedTensor:
  """BERT's `BasicTokenizer(do_lower_case).tokenize`, batched.

  Clean (drop NUL, U+FFFD and control characters; whitespace to spaces), put spaces around CJK
  ideographs, optionally lower-case + NFD + drop nonspacing marks, then split on whitespace and
  on punctuation, keeping each punctuation character as its own token.

  Args:
    text: string tensor [batch].
    do_lower_case: the tokenizer's `do_lower_case`.

  Returns:
    Ragged string tensor [batch, (tokens)].
  """
  text = tf.strings.regex_replace(text, unicode_classes.bert_whitespace(), " ")
  text = tf.strings.regex_replace(text, unicode_classes.bert_removed_characters(), "")
  text = tf.strings.regex_replace(text, f"({unicode_classes.cjk_characters()})", r" \1 ")
  if do_lower_case:
    text = tf_text.normalize_utf8(lower_utf8(text), "NFD")
    text = tf.strings.regex_replace(text, unicode_classes.nonspacing_marks(), "")
  punctuation = unicode_classes.bert_punctuation()
  return tf_text.regex_split(
      text, delim_regex_pattern=f"{unicode_classes.python_whitespace()}+|{punctuation}",
      keep_delim_regex_pattern=punctuation)
