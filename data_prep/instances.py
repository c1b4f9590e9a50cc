"""Sentence-pair construction of the original create_pretraining_data (reference §5.2, §5.3).

SOP by default: a chunk of consecutive segments is split at a random segment boundary into A and B,
and swapped with probability 0.5 (label 1). With `random_next_sentence` it is BERT's NSP: B comes
from a random other document with probability 0.5. A one-segment chunk always takes B from a random
document (label 1), as in the original. The pair is truncated to max_seq_length - 3 by removing
tokens from a random end of the longer side (ties truncate B), one RNG draw per token.
"""

import random
from typing import List, NamedTuple, Sequence

import numpy as np

from data_prep.segment_encoding import Segment


class SentencePair(NamedTuple):
  """A and B of one instance (before [CLS]/[SEP] are added) and its label (1 = swapped/random)."""
  tokens_a: Segment
  tokens_b: Segment
  is_random_next: bool


def _concatenate(segments: Sequence[Segment]) -> Segment:
  if len(segments) == 1:
    return segments[0]
  return Segment(np.concatenate([s.ids for s in segments]),
                 np.concatenate([s.starts for s in segments]))


def truncate_seq_pair(length_a: int, length_b: int, max_num_tokens: int,
                      rng: random.Random) -> tuple:
  """The original's random-end truncation, as slice bounds.

  Returns:
    ((a_begin, a_end), (b_begin, b_end)): what is kept of A and of B.
  """
  a_begin, a_end, b_begin, b_end = 0, length_a, 0, length_b
  while (a_end - a_begin) + (b_end - b_begin) > max_num_tokens:
    if (a_end - a_begin) > (b_end - b_begin):
      if rng.random() < 0.5:
        a_begin += 1
      else:
        a_end -= 1
    elif rng.random() < 0.5:
      b_begin += 1
    else:
      b_end -= 1
  return (a_begin, a_end), (b_begin, b_end)


def _slice(segment: Segment, bounds: tuple) -> Segment:
  begin, end = bounds
  return Segment(segment.ids[begin:end], segment.starts[begin:end])


def create_sentence_pairs(documents: Sequence[Sequence[Segment]], document_index: int,
                          max_seq_length: int, short_seq_prob: float, random_next_sentence: bool,
                          rng: random.Random) -> List[SentencePair]:
  """All sentence pairs of one document for one pass (reference §5.2).

  Args:
    documents: the documents the random-next segments may come from (the current block).
    document_index: which of `documents` to cut into pairs.
    max_seq_length: total length including [CLS] and two [SEP].
    short_seq_prob: probability that this document pass uses a random shorter target length.
    random_next_sentence: NSP (True) instead of SOP (False).
    rng: this document pass's random generator.

  Returns:
    The pairs, in document order.
  """
  document = documents[document_index]
  max_num_tokens = max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  pairs = []
  current_chunk = []
  current_length = 0
  i = 0
  while i < len(document):
    segment = document[i]
    current_chunk.append(segment)
    current_length += len(segment.ids)
    if i == len(document) - 1 or current_length >= target_seq_length:
      a_end = 1
      if len(current_chunk) >= 2:
        a_end = rng.randint(1, len(current_chunk) - 1)
      tokens_a = _concatenate(current_chunk[:a_end])
      if len(current_chunk) == 1 or (random_next_sentence and rng.random() < 0.5):
        is_random_next = True
        tokens_b = _random_next_segments(documents, document_index,
                                         target_seq_length - len(tokens_a.ids), rng)
        # The segments after a_end were not used: put them back for the next chunk.
        i -= len(current_chunk) - a_end
      elif not random_next_sentence and rng.random() < 0.5:
        is_random_next = True
        tokens_a, tokens_b = _concatenate(current_chunk[a_end:]), tokens_a
      else:
        is_random_next = False
        tokens_b = _concatenate(current_chunk[a_end:])
      bounds_a, bounds_b = truncate_seq_pair(len(tokens_a.ids), len(tokens_b.ids), max_num_tokens,
                                             rng)
      pairs.append(
          SentencePair(_slice(tokens_a, bounds_a), _slice(tokens_b, bounds_b), is_random_next))
      current_chunk = []
      current_length = 0
    i += 1
  return pairs


def _random_next_segments(documents: Sequence[Sequence[Segment]], document_index: int,
                          target_b_length: int, rng: random.Random) -> Segment:
  """Segments of a random other document from a random start, until target_b_length tokens."""
  for _ in range(10):
    random_document_index = rng.randint(0, len(documents) - 1)
    if random_document_index != document_index:
      break
  random_document = documents[random_document_index]
  random_start = rng.randint(0, len(random_document) - 1)
  segments = []
  length = 0
  for segment in random_document[random_start:]:
    segments.append(segment)
    length += len(segment.ids)
    if length >= target_b_length:
      break
  return _concatenate(segments)
