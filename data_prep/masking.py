"""n-gram whole-word masking of the original create_pretraining_data (reference §5.4 - §5.8).

Words ("groups") are runs of tokens that start at a word-start token. Span candidates start at each
word, in random order; each draws an n-gram length n with p(n) ∝ 1/n (reversed when
`favor_shorter_ngram` is False) and falls back to n-1, ..., 1 words from the same start when the
span would exceed the budget min(cap, max(1, round(len × prob))). Spans overlapping an earlier one
are skipped. Every token of a chosen span is decided on its own: 80% [MASK], 10% kept, 10% a random
id drawn uniformly over the whole vocab.

Deviations from the original, on purpose (docs/data.md):
  * n is drawn from the document's seeded `random.Random`, not NumPy's unseeded global RNG, so the
    output is reproducible;
  * a continuation piece right after [SEP] (possible after front truncation of B) starts a new word
    instead of joining the last word of A across the [SEP];
  * the random order of span starts is drawn lazily (a forward Fisher-Yates shuffle with
    `int(rng.random() * remaining)`), so only the starts that are visited cost random draws; the
    second `shuffle(ngram_indexes)`, which only consumes RNG state, happens only for
    `do_permutation`.
"""

import bisect
import itertools
import random
from typing import Callable, List, NamedTuple, Sequence

import numpy as np


class MaskingOptions(NamedTuple):
  """The flags that drive masking, plus the vocab facts it needs."""
  masked_lm_prob: float
  max_predictions_per_seq: int
  ngram: int
  favor_shorter_ngram: bool
  do_whole_word_mask: bool
  do_permutation: bool
  mask_id: int
  random_word_ids: Sequence[int]  # the vocab's ids in the original's `vocab_words` order


class MaskedSequence(NamedTuple):
  """Masking output for one assembled [CLS] A [SEP] B [SEP] sequence."""
  ids: np.ndarray  # int32, after [MASK]/random/keep replacement (and permutation)
  token_boundary: np.ndarray  # int32, 1 for [CLS]/[SEP] and word-start tokens
  positions: List[int]  # sorted ascending
  labels: List[int]  # the original ids at `positions`
  replacement_counts: tuple  # (masked, kept, random) over the MLM targets
  span_words: List[int]  # words per selected MLM span


def cumulative_ngram_probabilities(ngram: int, favor_shorter_ngram: bool) -> List[float]:
  """Cumulative p(n) for n = 1..ngram, p(n) ∝ 1/n (reversed when favor_shorter_ngram is False)."""
  weights = [1.0 / n for n in range(1, ngram + 1)]
  if not favor_shorter_ngram:
    weights = weights[::-1]
  total = sum(weights)
  cumulative = list(itertools.accumulate(w / total for w in weights))
  cumulative[-1] = 1.0
  return cumulative


def prediction_budget(num_tokens: int, masked_lm_prob: float, max_predictions_per_seq: int) -> int:
  """min(cap, max(1, round(num_tokens × prob))), Python 3 (banker's) rounding, as the original."""
  return min(max_predictions_per_seq, max(1, int(round(num_tokens * masked_lm_prob))))


def word_groups(starts: np.ndarray, num_a: int, do_whole_word_mask: bool):
  """Word spans [begin, end) over the positions of A and B (specials excluded).

  Args:
    starts: word-start flags of the assembled sequence.
    num_a: number of tokens of A (B starts at num_a + 2).
    do_whole_word_mask: group continuation tokens with their start token.

  Returns:
    (begins, ends): int arrays, one entry per word, in position order.
  """
  length = len(starts)
  is_begin = starts.copy() if do_whole_word_mask else np.ones(length, dtype=bool)
  is_begin[1] = True
  is_begin[num_a + 2] = True
  is_begin[0] = is_begin[num_a + 1] = is_begin[length - 1] = False
  begins = np.flatnonzero(is_begin)
  ends = np.empty_like(begins)
  ends[:-1] = begins[1:]
  ends[-1] = length - 1
  last_word_of_a = np.searchsorted(begins, num_a + 2) - 1
  ends[last_word_of_a] = num_a + 1
  return begins, ends


def _choose_spans(begins: List[int], ends: List[int], word_offsets: List[int], taken: bytearray,
                  budget: int, cumulative: List[float], rng: random.Random,
                  on_span: Callable[[Sequence[int]], None]) -> List[int]:
  """The original's span selection loop; calls `on_span(positions)` for each chosen span.

  Start words are visited in a uniformly random order drawn lazily (forward Fisher-Yates), each
  draws its n-gram length, shorter spans from the same start are tried when the budget would be
  exceeded, and spans touching an already taken word are skipped. `on_span` runs before the next
  start's draws, which keeps the original's RNG call order.

  Returns:
    The number of words of each chosen span.
  """
  num_words = len(begins)
  order = list(range(num_words))
  random_value = rng.random
  selected = 0
  span_words = []
  for i in range(num_words):
    if selected >= budget:
      break
    j = i + int(random_value() * (num_words - i))
    order[i], order[j] = order[j], order[i]
    first = order[i]
    n = bisect.bisect_right(cumulative, random_value()) + 1
    while True:
      last = min(first + n, num_words)
      size = word_offsets[last] - word_offsets[first]
      if selected + size <= budget or n == 1:
        break
      n -= 1
    if selected + size > budget or 1 in taken[first:last]:
      continue
    taken[first:last] = b"\x01" * (last - first)
    selected += size
    span_words.append(last - first)
    if ends[last - 1] - begins[first] == size:  # contiguous: the span does not cross [SEP]
      on_span(range(begins[first], ends[last - 1]))
    else:
      on_span([p for word in range(first, last) for p in range(begins[word], ends[word])])
  return span_words


def boundary_feature(starts: np.ndarray, num_a: int) -> np.ndarray:
  """The `token_boundary` feature: 1 for [CLS], both [SEP]s and word-start tokens (int32)."""
  token_boundary = starts.astype(np.int32)
  token_boundary[0] = token_boundary[num_a + 1] = token_boundary[len(starts) - 1] = 1
  return token_boundary


def unmasked_sequence(ids: np.ndarray, starts: np.ndarray, num_a: int) -> MaskedSequence:
  """One assembled sequence without predictions, for --dynamic_masking records.

  The trainer masks on the fly from `ids` and `token_boundary` (docs/data.md, "Dynamic masking").
  """
  return MaskedSequence(ids.copy(), boundary_feature(starts, num_a), [], [], (0, 0, 0), [])


def mask_sequence(ids: np.ndarray, starts: np.ndarray, num_a: int, options: MaskingOptions,
                  cumulative: List[float], rng: random.Random) -> MaskedSequence:
  """Applies the original's masking to one assembled sequence.

  Args:
    ids: int32 ids of [CLS] A [SEP] B [SEP].
    starts: word-start flags aligned with `ids` (values at specials are ignored).
    num_a: number of tokens of A.
    options: masking flags and vocab facts.
    cumulative: `cumulative_ngram_probabilities(options.ngram, options.favor_shorter_ngram)`.
    rng: the document pass's random generator.

  Returns:
    The masked sequence, token_boundary and the sorted predictions.
  """
  length = len(ids)
  token_boundary = boundary_feature(starts, num_a)
  if options.masked_lm_prob == 0:
    return MaskedSequence(ids.copy(), token_boundary, [], [], (0, 0, 0), [])
  budget = prediction_budget(length, options.masked_lm_prob, options.max_predictions_per_seq)
  begins, ends = word_groups(starts, num_a, options.do_whole_word_mask)
  word_offsets = [0] + np.cumsum(ends - begins).tolist()
  begins, ends = begins.tolist(), ends.tolist()
  taken = bytearray(len(begins))

  original = ids.tolist()
  replaced = list(original)
  predictions = []
  counts = [0, 0, 0]  # masked, kept, random
  random_value = rng.random
  mask_id, random_word_ids = options.mask_id, options.random_word_ids
  last_word_id = len(random_word_ids) - 1

  def replace(span: Sequence[int]) -> None:
    for position in span:
      if random_value() < 0.8:
        replaced[position] = mask_id
        counts[0] += 1
      elif random_value() < 0.5:
        counts[1] += 1
      else:
        replaced[position] = random_word_ids[rng.randint(0, last_word_id)]
        counts[2] += 1
      predictions.append((position, original[position]))

  span_words = _choose_spans(begins, ends, word_offsets, taken, budget, cumulative, rng, replace)

  if options.do_permutation:
    selected = []
    _choose_spans(begins, ends, word_offsets, taken, budget, cumulative, rng, selected.extend)
    selected.sort()
    permuted = list(selected)
    rng.shuffle(permuted)
    before = list(replaced)
    for source, target in zip(selected, permuted):
      replaced[source] = before[target]
      predictions.append((source, before[source]))

  predictions.sort()
  return MaskedSequence(np.asarray(replaced, dtype=np.int32), token_boundary,
                        [p for p, _ in predictions], [label for _, label in predictions],
                        tuple(counts), span_words)
