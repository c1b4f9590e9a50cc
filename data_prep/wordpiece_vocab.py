"""Learns a BERT-style WordPiece vocab (for Chinese) with tensorflow-text's vocabulary learner.

Words are counted with BERT's basic tokenizer (each CJK character is its own word), then
`tensorflow_text.tools.wordpiece_vocab.wordpiece_tokenizer_learner_lib.learn` chooses the pieces.
The learner is pure Python; it is loaded from its file so that building a vocab does not import
TensorFlow (importing the `tensorflow_text` package would).
"""

import collections
import importlib.util
import os
import types
from typing import List, Sequence

from absl import logging

from albert_tf import file_io
from albert_tf import tokenization
from data_prep import corpus_files
from data_prep import text_encoding

RESERVED_TOKENS = [
    tokenization.PAD_TOKEN_WP, tokenization.UNK_TOKEN_WP, tokenization.CLS_TOKEN,
    tokenization.SEP_TOKEN, tokenization.MASK_TOKEN
]

_LEARNER_PATH = ("tools", "wordpiece_vocab", "wordpiece_tokenizer_learner_lib.py")
_PROGRESS_EVERY_LINES = 1_000_000


def _load_learner() -> types.ModuleType:
  spec = importlib.util.find_spec("tensorflow_text")
  if spec is None or not spec.submodule_search_locations:
    raise ImportError("tensorflow-text is required for --wordpiece; pip install tensorflow-text.")
  path = os.path.join(list(spec.submodule_search_locations)[0], *_LEARNER_PATH)
  learner_spec = importlib.util.spec_from_file_location("_albert_tf_wordpiece_learner", path)
  module = importlib.util.module_from_spec(learner_spec)
  learner_spec.loader.exec_module(module)
  return module


def count_words(input_files: Sequence[str], do_lower_case: bool,
                input_encoding: str = text_encoding.DEFAULT_ENCODING) -> collections.Counter:
  """Counts BERT basic tokens (CJK characters and punctuation split, lower-cased) in the files."""
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  counter = corpus_files.ReplacementCounter()
  counts = collections.Counter()
  lines = 0
  for path in input_files:
    for line in corpus_files.read_lines(path, counter, input_encoding):
      counts.update(basic.tokenize(line))
      lines += 1
      if lines % _PROGRESS_EVERY_LINES == 0:
        logging.info("vocab: counted %d lines, %d distinct words", lines, len(counts))
  if counter.replaced_bytes:
    logging.warning("vocab: replaced %d invalid %s bytes with U+FFFD", counter.replaced_bytes,
                    text_encoding.display_name(input_encoding))
  return counts


def learn_wordpiece_vocab(input_files: Sequence[str], vocab_size: int, do_lower_case: bool = True,
                          min_count: int = 2, max_unique_chars: int = 20000,
                          input_encoding: str = text_encoding.DEFAULT_ENCODING) -> List[str]:
  """Learns WordPiece tokens: [PAD] [UNK] [CLS] [SEP] [MASK], characters and "##" forms, pieces.

  Args:
    input_files: text files.
    vocab_size: the maximum vocab size (the learner aims within 5% below it).
    do_lower_case: lower-case and strip accents before counting.
    min_count: lowest token count the learner's threshold search may go down to.
    max_unique_chars: alphabet cap (Chinese needs several thousand characters).
    input_encoding: the codec of the files (`text_encoding`); invalid bytes become U+FFFD.

  Returns:
    The tokens in id order.

  Raises:
    corpus_files.CorpusError: the corpus has no words.
  """
  counts = count_words(input_files, do_lower_case, input_encoding)
  if not counts:
    raise corpus_files.CorpusError(
        f"no text found in {', '.join(input_files)}; give files with one sentence per line.")
  logging.info("vocab: %d distinct words; learning a WordPiece vocab of up to %d tokens",
               len(counts), vocab_size)
  learner = _load_learner()
  return learner.learn(counts, vocab_size=vocab_size, reserved_tokens=RESERVED_TOKENS,
                       lower_thresh=min_count, max_unique_chars=max_unique_chars)


def write_vocab(tokens: Sequence[str], vocab_file: str) -> None:
  """Writes one token per line, atomically (temporary name, then rename)."""
  file_io.write_text_atomically(vocab_file, "".join(token + "\n" for token in tokens))
