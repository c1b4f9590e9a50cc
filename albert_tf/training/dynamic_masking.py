"""Dynamic masking: the offline n-gram whole-word masker (data_prep/masking.py) as graph ops.

Records made with `create_pretraining_data --dynamic_masking` hold each instance once, unmasked,
with `token_boundary`; the stats JSON next to them holds the masking settings. The trainer masks
every example again each time it reads it (`albert-run-pretraining --dynamic_masking`), with the
offline masker's algorithm (reference §5.4 - §5.7):

  * words are runs of tokens starting at a word start (`token_boundary`, and the first token of A
    and of B); [CLS], both [SEP]s and padding (found by position) are never masked;
  * the budget is min(max_predictions_per_seq, max(1, round(length × masked_lm_prob))), with
    round-half-to-even like Python's `round`;
  * start words are visited in a uniformly random order; each draws n ≤ ngram words with
    p(n) ∝ 1/n (reversed without favor_shorter_ngram), falls back to n-1, ..., 1 words when the
    span would pass the budget, and is skipped when it still does or when it touches a taken word;
  * each chosen token independently: 80% [MASK], 10% kept, 10% an id drawn uniformly over the
    vocabulary's ids.

The output is the offline records' features (input_word_ids masked, masked_lm_positions sorted and
zero-padded, masked_lm_ids, masked_lm_weights), so the model and loss do not change.

Everything is TensorFlow ops with static output shapes (no py_function): it runs in tf.data on
any host, TPU workers included. The random numbers are drawn per element (`draw_randomness`,
stateless Philox keyed by seed, stream, input pipeline and the element's position in the
pipeline), then whole batches are masked (`mask_batch`, which also compiles with XLA to the same
result). The mask of an element depends on nothing but its key, so a run resumed from a
checkpointed input pipeline continues the same mask stream, and every evaluation masks the same
examples the same way.
"""

import dataclasses
from typing import Any, Mapping, Sequence

import tensorflow as tf

from albert_tf.training import run_identity
from data_prep import masking as offline_masking
from data_prep import stats as data_stats

_ALGORITHM = tf.random.Algorithm.PHILOX  # the same stream on every host
# What a malformed stats file's message advises.
_MALFORMED_FIX = "restore it from the data tool's output"
# Random streams: training and evaluation draw different masks for the same position.
TRAIN_STREAM, EVAL_STREAM = 0, 1


class MaskingSettingsError(ValueError):
  """The masking settings of dynamic-masking records are missing or unusable."""


@dataclasses.dataclass(frozen=True)
class MaskingSettings:
  """What the masker needs: create_pretraining_data's masking flags and vocabulary facts.

  Attributes:
    masked_lm_prob: fraction of a sequence's tokens to predict (before the cap).
    max_predictions_per_seq: the cap, and the padded length of the masked_lm_* features.
    ngram: longest span, in words.
    favor_shorter_ngram: p(n) ∝ 1/n (True) or the reverse.
    do_whole_word_mask: spans are made of whole words (False: every token is a word).
    mask_id: the [MASK] id.
    vocab_size: random replacements are drawn from [0, vocab_size) ...
    never_sampled_ids: ... except these (ids no vocabulary entry maps to).
  """
  masked_lm_prob: float
  max_predictions_per_seq: int
  ngram: int
  favor_shorter_ngram: bool
  do_whole_word_mask: bool
  mask_id: int
  vocab_size: int
  never_sampled_ids: tuple[int, ...] = ()

  @classmethod
  def from_stats(cls, masking: Mapping[str, Any]) -> "MaskingSettings":
    """The settings of the stats JSON's "masking" entry (unknown keys are ignored)."""
    names = [field.name for field in dataclasses.fields(cls)]
    missing = [name for name in names[:-1] if name not in masking]
    if missing:
      raise MaskingSettingsError(f"the masking entry lacks {', '.join(missing)}")
    values = {name: masking[name] for name in names if name in masking}
    values["never_sampled_ids"] = tuple(values.get("never_sampled_ids", ()))
    return cls(**values)

  def cumulative_ngram_probabilities(self) -> list[float]:
    """Cumulative p(n), n = 1..ngram, as the offline masker computes it."""
    return offline_masking.cumulative_ngram_probabilities(self.ngram, self.favor_shorter_ngram)


def records_masking(record_files: Sequence[str]) -> tuple[MaskingSettings, str]:
  """The masking settings of the stats JSON that describes `record_files`.

  A stats file `<dir>/*.stats.json` (create_pretraining_data's summary) describes the record files
  of `<dir>` that its "shards" name.

  Returns:
    (settings, stats path).

  Raises:
    MaskingSettingsError: no stats file names the records, several disagree, or the records are
      static.
  """
  found = {}  # settings -> stats path
  for stats_path, stats in run_identity.records_stats(record_files, error_type=MaskingSettingsError,
                                                      fix=_MALFORMED_FIX):
    if not stats.get(data_stats.DYNAMIC_MASKING_KEY) or data_stats.MASKING_KEY not in stats:
      raise MaskingSettingsError(
          f"{stats_path} describes records masked offline, not --dynamic_masking records: "
          "drop --dynamic_masking or regenerate with create_pretraining_data --dynamic_masking")
    try:
      settings = MaskingSettings.from_stats(stats[data_stats.MASKING_KEY])
    except (MaskingSettingsError, TypeError) as error:
      raise MaskingSettingsError(f"{stats_path}: {error}") from None
    found.setdefault(settings, stats_path)
  if not found:
    raise MaskingSettingsError(
        f"no create_pretraining_data stats file (*{run_identity.STATS_SUFFIX}) next to "
        f"{record_files[0]} names these records: --dynamic_masking reads the masking settings from "
        "it; keep the stats file the data tool wrote next to the records")
  if len(found) > 1:
    raise MaskingSettingsError("the records were made with different masking settings ("
                               f"{', '.join(found.values())}): train on records of one setting")
  return next(iter(found.items()))


def element_key_base(seed: int, stream: int, input_pipeline_id: int) -> tf.Tensor:
  """The stateless seed of one input pipeline's stream ([2] int64), before the element index."""
  base = tf.constant([seed, stream], tf.int64)
  return tf.random.experimental.stateless_fold_in(base, input_pipeline_id, alg=_ALGORITHM)


def fold_index(key_base: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
  """The stateless seed of the element at `index` of the stream of `key_base` ([2] int64)."""
  return tf.random.experimental.stateless_fold_in(key_base, tf.cast(index, tf.int64),
                                                  alg=_ALGORITHM)


def element_key(seed: int, stream: int, input_pipeline_id: int, index: tf.Tensor) -> tf.Tensor:
  """The stateless seed of the element at `index` of an input pipeline's stream ([2] int64)."""
  return fold_index(element_key_base(seed, stream, input_pipeline_id), index)


def draw_randomness(key: tf.Tensor, length: int, settings: MaskingSettings) -> dict[str, tf.Tensor]:
  """Every random number the masking of one element uses, from its key (stateless).

  Drawn per element, before batching, so an element's mask depends on its key alone; the masking
  itself (`mask_batch`) then runs on whole batches.

  Returns:
    {"mask_uniforms": float32 [4, length] (word order, n-gram lengths, [MASK], keep),
     "mask_random_ids": int32 [length] (random replacements)}.
  """
  uniform_key, ids_key = tf.unstack(tf.random.experimental.stateless_split(key, 2, alg=_ALGORITHM))
  uniforms = tf.random.stateless_uniform([4, length], uniform_key, alg=_ALGORITHM)
  return {"mask_uniforms": uniforms, "mask_random_ids": _random_ids(ids_key, length, settings)}


def mask_features(features: Mapping[str, tf.Tensor], key: tf.Tensor,
                  settings: MaskingSettings) -> dict[str, tf.Tensor]:
  """Masks one decoded dynamic-masking record as the offline masker would.

  Args:
    features: int32 [T] input_word_ids, input_mask, input_type_ids, token_boundary, and
      next_sentence_labels [1]; other entries pass through, token_boundary is dropped.
    key: `element_key(...)` of this element.
    settings: the records' masking settings.

  Returns:
    The features of an offline-masked record: input_word_ids (masked), input_mask,
    input_type_ids, next_sentence_labels, masked_lm_positions, masked_lm_ids (int32 [P]) and
    masked_lm_weights (float32 [P]), P = settings.max_predictions_per_seq.
  """
  features = dict(features, **draw_randomness(key, features["input_word_ids"].shape[0], settings))
  batch = {name: value[None] for name, value in features.items()}
  return {name: value[0] for name, value in mask_batch(batch, settings)[0].items()}


def mask_batch(features: Mapping[str, tf.Tensor],
               settings: MaskingSettings) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
  """Masks a batch of decoded records, each with its own `draw_randomness` numbers.

  Args:
    features: [B, ...] batches of `mask_features`'s inputs plus `draw_randomness`'s outputs.
    settings: the records' masking settings.

  Returns:
    (features, statistics): the masked features as `mask_features` returns them, batched;
    statistics["span_words"] int32 [B, ngram] counts the chosen spans by their number of words,
    statistics["replacements"] int32 [B, 3] the (mask, keep, random) decisions, as the offline
    masker's stats count them.
  """
  features = dict(features)
  ids = features["input_word_ids"]
  uniforms = tf.unstack(features.pop("mask_uniforms"), axis=1)
  random_ids = features.pop("mask_random_ids")
  layout = _word_layout(features["input_mask"], features["input_type_ids"],
                        features.pop("token_boundary"), settings.do_whole_word_mask)
  budget = _budget(layout["length"], settings)
  taken_words, span_words = _choose_words(layout, budget, uniforms[0], uniforms[1], settings)
  chosen = layout["candidate"] & tf.gather(taken_words, tf.maximum(layout["word"], 0), batch_dims=1)
  masked, kept = uniforms[2] < 0.8, uniforms[3] < 0.5
  use_mask = chosen & masked
  use_random = chosen & ~masked & ~kept
  features["input_word_ids"] = tf.where(use_mask, settings.mask_id,
                                        tf.where(use_random, random_ids, ids))
  features.update(_predictions(ids, chosen, settings.max_predictions_per_seq))
  counts = tf.stack([
      tf.reduce_sum(tf.cast(flags, tf.int32), axis=1)
      for flags in (use_mask, chosen & ~masked & kept, use_random)
  ], axis=1)
  return features, {"span_words": span_words, "replacements": counts}


def _rows_segment_sum(values: tf.Tensor, segments: tf.Tensor, num_segments: int) -> tf.Tensor:
  """Per-row unsorted_segment_sum of [B, T] `values` into [B, num_segments]."""
  rows = tf.shape(values)[0]
  offsets = tf.range(rows)[:, None] * num_segments
  summed = tf.math.unsorted_segment_sum(values, segments + offsets, rows * num_segments)
  return tf.reshape(summed, [rows, num_segments])


def _word_layout(input_mask: tf.Tensor, segment_ids: tf.Tensor, token_boundary: tf.Tensor,
                 whole_words: bool) -> dict[str, tf.Tensor]:
  """Words of [CLS] A [SEP] B [SEP] ([B, T] inputs): which tokens may be masked, their words.

  The specials are found by position (data_prep.masking.word_groups): [CLS] at 0, the first [SEP]
  ends segment 0, the last [SEP] ends the sequence. The token after each special starts a word
  whatever its boundary says (a continuation piece can open B after truncation).
  """
  size = input_mask.shape[1]
  positions = tf.range(size)[None, :]
  real = input_mask > 0
  length = tf.reduce_sum(tf.cast(real, tf.int32), axis=1)
  first_segment = tf.reduce_sum(tf.cast(real & (segment_ids == 0), tf.int32), axis=1)
  special = ((positions == 0) | (positions == first_segment[:, None] - 1) |
             (positions == length[:, None] - 1))
  candidate = real & ~special
  after_special = tf.concat([tf.ones_like(special[:, :1]), special[:, :-1]], axis=1)
  begins = candidate & ((token_boundary > 0) | after_special) if whole_words else candidate
  word = tf.where(candidate, tf.cumsum(tf.cast(begins, tf.int32), axis=1) - 1, -1)
  word_sizes = _rows_segment_sum(tf.cast(candidate, tf.int32), tf.where(candidate, word, size),
                                 size + 1)[:, :size]
  return {
      "length":
          length,
      "candidate":
          candidate,
      "word":
          word,
      "num_words":
          tf.reduce_sum(tf.cast(begins, tf.int32), axis=1),
      "offsets":
          tf.concat([tf.zeros_like(word_sizes[:, :1]),
                     tf.cumsum(word_sizes, axis=1)], axis=1),  # [B, size + 1]
  }


def _budget(length: tf.Tensor, settings: MaskingSettings) -> tf.Tensor:
  """min(cap, max(1, round(length × prob))); tf.round rounds half to even, as Python's round."""
  if settings.masked_lm_prob == 0:
    return tf.zeros_like(length)  # the offline masker predicts nothing then
  wanted = tf.cast(tf.round(tf.cast(length, tf.float64) * settings.masked_lm_prob), tf.int32)
  return tf.minimum(settings.max_predictions_per_seq, tf.maximum(1, wanted))


def _choose_words(layout: Mapping[str, tf.Tensor], budget: tf.Tensor, order_uniform: tf.Tensor,
                  ngram_uniform: tf.Tensor,
                  settings: MaskingSettings) -> tuple[tf.Tensor, tf.Tensor]:
  """The offline masker's span loop (data_prep.masking._choose_spans), every row at once.

  Visit i of row b takes the row's i-th word in a random order; rows that reached their budget or
  ran out of words stop changing.

  Returns:
    (taken, span_words): bool [B, T] per word slot; int32 [B, ngram] spans chosen per word count.
  """
  size = order_uniform.shape[1]
  num_words, offsets = layout["num_words"][:, None], layout["offsets"]
  budget = budget[:, None]
  slots = tf.range(size)[None, :]
  # A uniformly random order of each row's words: sort uniform keys, unused slots last.
  order = tf.argsort(tf.where(slots < num_words, order_uniform, 2.0), axis=1, stable=True)
  cumulative = tf.constant(settings.cumulative_ngram_probabilities()[:-1], tf.float32)
  # n = bisect_right(cumulative, u) + 1 for every visit, drawn up front.
  lengths = 1 + tf.reduce_sum(tf.cast(ngram_uniform[:, :, None] >= cumulative, tf.int32), axis=2)
  alternatives = tf.range(1, settings.ngram + 1)[None, :]

  def active(i, selected):
    return (i < num_words) & (selected < budget)  # [B, 1]

  def body(i, selected, taken, span_words):
    first, n = tf.gather(order, i, axis=1)[:, None], tf.gather(lengths, i, axis=1)[:, None]
    start = tf.gather(offsets, first, batch_dims=1)
    # Shorter spans from the same start while the span passes the budget (sizes grow with n).
    sizes = tf.gather(offsets, tf.minimum(first + alternatives, num_words), batch_dims=1) - start
    fitting = tf.reduce_sum(tf.cast((alternatives <= n) & (selected + sizes <= budget), tf.int32),
                            axis=1, keepdims=True)
    alternative = tf.maximum(fitting, 1)
    words = tf.minimum(alternative, num_words - first)
    span = tf.gather(sizes, alternative - 1, batch_dims=1)
    in_span = (slots >= first) & (slots < first + words)
    overlaps = tf.reduce_any(in_span & taken, axis=1, keepdims=True)
    accept = active(i, selected) & (selected + span <= budget) & ~overlaps
    taken |= in_span & accept
    selected += tf.where(accept, span, 0)
    span_words += tf.cast(accept & (alternatives == words), tf.int32)
    return i + 1, selected, taken, span_words

  rows = tf.shape(order)[0]
  _, _, taken, span_words = tf.while_loop(
      lambda i, selected, *_: tf.reduce_any(active(i, selected)), body,
      (tf.constant(0), tf.zeros([rows, 1], tf.int32), tf.zeros([rows, size], tf.bool),
       tf.zeros([rows, settings.ngram], tf.int32)), maximum_iterations=size)
  return taken, span_words


def _random_ids(key: tf.Tensor, length: int, settings: MaskingSettings) -> tf.Tensor:
  """Uniform random replacement ids over the vocabulary's ids."""
  if not settings.never_sampled_ids:
    return tf.random.stateless_uniform([length], key, minval=0, maxval=settings.vocab_size,
                                       dtype=tf.int32, alg=_ALGORITHM)
  excluded = set(settings.never_sampled_ids)
  sampled = tf.constant([i for i in range(settings.vocab_size) if i not in excluded], tf.int32)
  index = tf.random.stateless_uniform([length], key, minval=0, maxval=int(sampled.shape[0]),
                                      dtype=tf.int32, alg=_ALGORITHM)
  return tf.gather(sampled, index)


def _predictions(ids: tf.Tensor, chosen: tf.Tensor, slots: int) -> dict[str, tf.Tensor]:
  """Chosen positions in ascending order, their original ids and weights, zero-padded to `slots`
  ([B, T] inputs, [B, slots] outputs)."""
  positions = tf.broadcast_to(tf.range(ids.shape[1]), tf.shape(ids))
  count = tf.reduce_sum(tf.cast(chosen, tf.int32), axis=1, keepdims=True)
  # Chosen tokens go to slots 0..count-1 in position order, the others to a discarded slot.
  slot = tf.where(chosen, tf.cumsum(tf.cast(chosen, tf.int32), axis=1) - 1, slots)
  return {
      "masked_lm_positions": _rows_segment_sum(positions, slot, slots + 1)[:, :slots],
      "masked_lm_ids": _rows_segment_sum(ids, slot, slots + 1)[:, :slots],
      "masked_lm_weights": tf.cast(tf.range(slots)[None, :] < count, tf.float32),
  }
