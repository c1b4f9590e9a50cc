"""SquadExamples -> InputFeatures (windows of token ids), SentencePiece or WordPiece.

SentencePiece (the original ALBERT models): tf-models' `squad_lib_sp.convert_examples_to_features`,
the original `squad_utils.convert_examples_to_features` in tf-models' packaging: pieces aligned to
the paragraph's characters by longest common subsequence, windows by doc_stride, `[CLS] question
[SEP] window [SEP]`, unanswerable questions and windows without the answer labelled at [CLS].
tests/test_squad_features.py checks it against an independent implementation of the original.

WordPiece (`--vocab_file` without `--spm_model_file`, e.g. Google's Chinese ALBERT models on
CMRC 2018 / DRCD): the basic tokenizer's exact character alignment (wordpiece_alignment.py) and the
same windows (windows.py), filling the same InputFeatures fields, so post-processing is shared.

Both paths truncate questions to max_query_length and log how many were truncated, log progress
every 100 examples (squad_lib_sp's own progress lines on the SentencePiece path), and count the
examples that gave no feature (the original's "MISMATCH DETECTED" when the SentencePiece alignment
fails, or a WordPiece answer without tokens).
"""

import dataclasses
from typing import Callable, List, Optional, Sequence

from absl import logging
from official.nlp.data import squad_lib_sp
from official.nlp.data.squad_lib_sp import InputFeatures
from official.nlp.data.squad_lib_sp import SquadExample
from official.nlp.tools import tokenization as tfm_tokenization
import tensorflow as tf

from albert_tf import tokenization
from albert_tf.tasks.squad_data.errors import SquadDataError
from albert_tf.tasks.squad_data.settings import FeatureSettings
from albert_tf.tasks.squad_data.windows import TokenizedExample
from albert_tf.tasks.squad_data.windows import window_features
from albert_tf.tasks.squad_data.wordpiece_alignment import AlignedToken
from albert_tf.tasks.squad_data.wordpiece_alignment import align_wordpieces

# The first unique_id, as the original.
BASE_UNIQUE_ID = 1000000000
_LOG_EVERY = 100


@dataclasses.dataclass
class ConversionStats:
  """What a conversion did: features written, questions truncated, examples without features."""
  num_features: int = 0
  truncated_questions: int = 0
  dropped_examples: int = 0


def make_tokenizer(spm_model_file: Optional[str], vocab_file: Optional[str],
                   do_lower_case: bool) -> tokenization.FullTokenizer:
  """SentencePiece when spm_model_file is given (the original ALBERT), else WordPiece (vocab_file).

  Example:
    tokenizer = make_tokenizer(spm_model_file="30k-clean.model", vocab_file=None,
                               do_lower_case=True)

  Raises:
    SquadDataError: neither file is given, or the given one does not exist or is unusable.
  """
  path = spm_model_file or vocab_file
  flag = "--spm_model_file" if spm_model_file else "--vocab_file"
  if not path:
    raise SquadDataError("no vocabulary: pass --spm_model_file (SentencePiece, the English ALBERT "
                         "models) or --vocab_file (WordPiece, e.g. the Chinese models).")
  if not tf.io.gfile.exists(path):
    raise SquadDataError(f"{flag}={path} not found: pass the vocabulary of the checkpoint.")
  try:
    return tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case,
                                      spm_model_file=spm_model_file)
  except (ValueError, RuntimeError, OSError) as error:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    raise SquadDataError(f"{flag}={path} cannot be used: {message}") from None


def _query_ids(tokenizer: tokenization.FullTokenizer, question: str) -> List[int]:
  """The question's ids before truncation, exactly as the conversion computes them."""
  if tokenizer.is_sentencepiece:
    return tfm_tokenization.encode_ids(
        tokenizer.sp_model, tfm_tokenization.preprocess_text(question,
                                                             lower=tokenizer.do_lower_case))
  return tokenizer.convert_tokens_to_ids(tokenizer.tokenize(question))


class _TrackedExamples(list):
  """A list that remembers which element is being iterated, so that squad_lib_sp's output_fn
  knows the example of each feature (it passes example_index=None in training)."""
  current = -1

  def __iter__(self):
    for index, example in enumerate(list.__iter__(self)):
      self.current = index
      yield example


def _sentencepiece_features(examples: Sequence[SquadExample], tokenizer, settings: FeatureSettings,
                            is_training: bool, output_fn: Callable[[InputFeatures],
                                                                   None]) -> List[int]:
  """Runs squad_lib_sp; returns the number of features of each example."""
  tracked = _TrackedExamples(examples)
  counts = [0] * len(tracked)

  def collect(feature: InputFeatures, is_padding: bool = False) -> None:
    del is_padding  # batch_size=1 below: squad_lib_sp adds no padding features.
    counts[tracked.current] += 1
    output_fn(feature)

  try:
    squad_lib_sp.convert_examples_to_features(examples=tracked, tokenizer=tokenizer,
                                              max_seq_length=settings.max_seq_length,
                                              doc_stride=settings.doc_stride,
                                              max_query_length=settings.max_query_length,
                                              is_training=is_training, output_fn=collect,
                                              do_lower_case=tokenizer.do_lower_case, batch_size=1)
  except AssertionError:
    example = tracked[tracked.current]
    raise SquadDataError(f"question {example.qas_id}: its answer {example.orig_answer_text!r} "
                         "cannot be aligned to the paragraph's pieces; fix or remove it.") from None
  return counts


def _wordpiece_example(example: SquadExample, aligned: List[AlignedToken], tokenizer,
                       settings: FeatureSettings, is_training: bool) -> Optional[TokenizedExample]:
  """Tokens, character spans and answer tokens of one example; None if the answer has no token."""
  tokenized = TokenizedExample(
      query_ids=_query_ids(tokenizer, example.question_text)[:settings.max_query_length],
      doc_ids=tokenizer.convert_tokens_to_ids([token.piece for token in aligned]),
      tok_start_to_orig_index=[token.start for token in aligned],
      tok_end_to_orig_index=[token.end for token in aligned],
      is_impossible=bool(is_training and example.is_impossible))
  if not is_training or example.is_impossible:
    return tokenized if aligned else None
  first_char = example.start_position
  last_char = first_char + len(example.orig_answer_text) - 1
  inside = [
      i for i, token in enumerate(aligned) if token.end >= first_char and token.start <= last_char
  ]
  if not inside:
    return None
  tokenized.tok_start_position, tokenized.tok_end_position = inside[0], inside[-1]
  return tokenized


def _wordpiece_features(examples: Sequence[SquadExample], tokenizer, settings: FeatureSettings,
                        is_training: bool, output_fn: Callable[[InputFeatures], None]) -> List[int]:
  counts = []
  unique_id = BASE_UNIQUE_ID
  paragraph, aligned = None, []
  for example_index, example in enumerate(examples):
    if example_index % _LOG_EVERY == 0:
      logging.info("Converting %d/%d", example_index, len(examples))
    if example.paragraph_text != paragraph:  # questions of a paragraph follow it in file order
      paragraph = example.paragraph_text
      aligned = align_wordpieces(tokenizer, paragraph)
    tokenized = _wordpiece_example(example, aligned, tokenizer, settings, is_training)
    if tokenized is None:
      counts.append(0)
      continue
    features = window_features(tokenized, example_index, unique_id, settings.max_seq_length,
                               settings.doc_stride, is_training, tokenizer.cls_id, tokenizer.sep_id,
                               lambda i: tokenizer.inv_vocab[i])
    for feature in features:
      output_fn(feature)
    unique_id += len(features)
    counts.append(len(features))
  return counts


def convert_examples_to_features(examples: Sequence[SquadExample],
                                 tokenizer: tokenization.FullTokenizer, settings: FeatureSettings,
                                 is_training: bool, output_fn: Callable[[InputFeatures],
                                                                        None]) -> ConversionStats:
  """Calls `output_fn` with each InputFeatures of `examples`, in order; unique_ids from 1000000000.

  Example:
    features = []
    stats = convert_examples_to_features(examples, tokenizer, FeatureSettings(), False,
                                         features.append)

  Args:
    examples: from `read_squad_examples` (training examples already shuffled, as the original).
    tokenizer: `make_tokenizer(...)`: SentencePiece or WordPiece.
    settings: max_seq_length, doc_stride, max_query_length.
    is_training: label start/end positions and is_impossible.
    output_fn: receives each feature.

  Returns:
    The counts; truncated questions and examples without features are also logged once.

  Raises:
    SquadDataError: a training answer cannot be aligned.
  """
  stats = ConversionStats()
  if not examples:
    return stats
  stats.truncated_questions = sum(
      len(_query_ids(tokenizer, example.question_text)) > settings.max_query_length
      for example in examples)

  def counting_output(feature: InputFeatures) -> None:
    stats.num_features += 1
    output_fn(feature)

  convert = _sentencepiece_features if tokenizer.is_sentencepiece else _wordpiece_features
  counts = convert(examples, tokenizer, settings, is_training, counting_output)
  stats.dropped_examples = sum(count == 0 for count in counts)
  if stats.truncated_questions:
    logging.warning("Truncated %d of %d questions to --max_query_length=%d tokens.",
                    stats.truncated_questions, len(examples), settings.max_query_length)
  if stats.dropped_examples:
    logging.warning(
        "%d of %d examples gave no feature (their paragraph or answer could not be aligned to "
        "the tokens) and are left out.", stats.dropped_examples, len(examples))
  logging.info("Converted %d examples to %d features.", len(examples), stats.num_features)
  return stats
