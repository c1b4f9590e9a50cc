"""Trains a SentencePiece unigram model with the settings of the original ALBERT README."""

from typing import Iterator, List, Optional, Sequence

from absl import logging
import sentencepiece as spm

from albert_tf import file_io
from albert_tf import tokenization
from data_prep import corpus_files
from data_prep import text_encoding

CONTROL_SYMBOLS = [tokenization.CLS_TOKEN, tokenization.SEP_TOKEN, tokenization.MASK_TOKEN]
# Passed as a list: the README's --user_defined_symbols="(,),\",-,.,–,£,€" string is misread by the
# trainer because of the quote in it (reference/measurements.md).
USER_DEFINED_SYMBOLS = ["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac"]

_PROGRESS_EVERY_LINES = 1_000_000


def preprocessed_sentences(input_files: Sequence[str], do_lower_case: bool,
                           counter: corpus_files.ReplacementCounter,
                           input_encoding: str = text_encoding.DEFAULT_ENCODING) -> Iterator[str]:
  """Yields the non-empty lines of `input_files` after the original's `preprocess_text`.

  The data pipeline feeds `preprocess_text(line, lower=do_lower_case)` to the model, so the model is
  trained on text normalized the same way (the original 30k-clean model was trained on lower-cased
  text).
  """
  count = 0
  for path in input_files:
    for line in corpus_files.read_lines(path, counter, input_encoding):
      sentence = tokenization.preprocess_text(line, lower=do_lower_case)
      if sentence:
        count += 1
        if count % _PROGRESS_EVERY_LINES == 0:
          logging.info("vocab: read %d sentences", count)
        yield sentence


def train_sentencepiece(input_files: Sequence[str], model_prefix: str, vocab_size: int = 30000,
                        do_lower_case: bool = True, character_coverage: float = 0.99995,
                        input_sentence_size: int = 10_000_000, hard_vocab_limit: bool = True,
                        num_threads: int = 1, seed_sentencepiece_size: Optional[int] = None,
                        input_encoding: str = text_encoding.DEFAULT_ENCODING) -> str:
  """Trains `<model_prefix>.model` / `.vocab` with the README's unigram settings.

  Layout: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4 (control symbols), then the user symbols
  ( ) " - . – £ €, then the learned pieces; no <s>/</s>.

  Args:
    input_files: text files, one sentence per line.
    model_prefix: output path prefix.
    vocab_size: number of pieces.
    do_lower_case: lower-case the training text (must match create_pretraining_data's flag).
    character_coverage: fraction of characters covered by the model.
    input_sentence_size: sentences sampled for training (shuffled).
    hard_vocab_limit: fail when the corpus cannot produce `vocab_size` pieces.
    num_threads: trainer threads.
    seed_sentencepiece_size: seed pieces (None: SentencePiece's default); small corpora need fewer.
    input_encoding: the codec of the files (`text_encoding`); invalid bytes become U+FFFD.

  Returns:
    The path of the written `.model` file.

  Raises:
    corpus_files.CorpusError: the corpus is empty or too small for `vocab_size`.
  """
  counter = corpus_files.ReplacementCounter()
  sentences = preprocessed_sentences(input_files, do_lower_case, counter, input_encoding)
  options = dict(sentence_iterator=sentences, vocab_size=vocab_size, model_type="unigram", pad_id=0,
                 unk_id=1, bos_id=-1, eos_id=-1, control_symbols=CONTROL_SYMBOLS,
                 user_defined_symbols=USER_DEFINED_SYMBOLS, character_coverage=character_coverage,
                 shuffle_input_sentence=True, input_sentence_size=input_sentence_size,
                 hard_vocab_limit=hard_vocab_limit, num_threads=num_threads, minloglevel=2)
  if seed_sentencepiece_size:
    options["seed_sentencepiece_size"] = seed_sentencepiece_size
  # Trained under a temporary prefix and renamed at the end (the .model last): no half-written
  # model under the final name.
  with file_io.atomic_prefix(model_prefix, last_suffix=".model") as temp_prefix:
    _train(options, temp_prefix, input_files)
  if counter.replaced_bytes:
    logging.warning("vocab: replaced %d invalid %s bytes with U+FFFD", counter.replaced_bytes,
                    text_encoding.display_name(input_encoding))
  return model_prefix + ".model"


def _train(options: dict, model_prefix: str, input_files: Sequence[str]) -> None:
  """Runs the SentencePiece trainer; its errors become one-line CorpusErrors."""
  try:
    spm.SentencePieceTrainer.train(model_prefix=model_prefix, **options)
  except RuntimeError as error:
    message = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
    message = message.split("] ", 1)[-1]  # drop the "INTERNAL: src/file.cc(744) [check]" prefix
    if "Vocabulary size" in message or "vocab_size" in message:
      raise corpus_files.CorpusError(
          f"the corpus is too small for --vocab_size={options['vocab_size']} ({message}); lower "
          "--vocab_size or pass --nohard_vocab_limit.") from None
    if "no sentences" in message.lower() or "empty" in message.lower():
      raise corpus_files.CorpusError(
          f"no text found in {', '.join(input_files)}; give files with one sentence per line."
      ) from None
    raise corpus_files.CorpusError(f"SentencePiece training failed: {message}") from None


def special_layout(model_file: str) -> List[str]:
  """The first 13 pieces of a model (to check: <pad> <unk> [CLS] [SEP] [MASK], user symbols)."""
  processor = spm.SentencePieceProcessor(model_file=model_file)
  return [processor.IdToPiece(i) for i in range(min(13, processor.GetPieceSize()))]
