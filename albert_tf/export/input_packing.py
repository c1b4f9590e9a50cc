"""Packs token ids into `[CLS] A [SEP] (B [SEP])` model inputs with core TF ops only.

Truncation follows the original `_truncate_seq_pair` (pop the last token of the longer segment,
of B on ties, until the pair fits). tensorflow-text's trimmers are not used: their ops are newer
than the tensorflow-text that TF Serving builds ship (tensorflow/serving#2267).
"""

from typing import Dict, Optional

import tensorflow as tf


def truncated_lengths(length_a: tf.Tensor, length_b: tf.Tensor,
                      budget: int) -> tuple[tf.Tensor, tf.Tensor]:
  """Closed form of `_truncate_seq_pair`: the lengths it leaves for each segment.

  Popping from the longer segment (B on ties) until the total fits leaves the shorter one whole when
  it takes at most half the budget, and otherwise ceil(budget/2) tokens of A, floor(budget/2) of B.

  Args:
    length_a: int32 [batch] lengths of segment A.
    length_b: int32 [batch] lengths of segment B (zeros for single segments).
    budget: the most tokens A and B may keep together.

  Returns:
    (kept_a, kept_b), int32 [batch] each.
  """
  kept_a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
  kept_b = tf.minimum(length_b, tf.maximum(budget - length_a, budget // 2))
  return kept_a, kept_b


def pack_inputs(segment_a: tf.RaggedTensor, segment_b: Optional[tf.RaggedTensor], seq_length: int,
                special_ids: Dict[str, int]) -> Dict[str, tf.Tensor]:
  """Builds the model's dict inputs from tokenized segments.

  Args:
    segment_a: int32 ragged ids [batch, (tokens)].
    segment_b: int32 ragged ids [batch, (tokens)] or None for single-segment inputs.
    seq_length: output length (padded with `pad_id`).
    special_ids: dict with `cls_id`, `sep_id` and `pad_id`.

  Returns:
    Dict of int32 [batch, seq_length]: input_word_ids, input_mask, input_type_ids.
  """
  batch_size = segment_a.nrows(out_type=tf.int32)
  cls = tf.fill([batch_size, 1], special_ids["cls_id"])
  sep = tf.fill([batch_size, 1], special_ids["sep_id"])
  if segment_b is None:
    kept_a = tf.minimum(segment_a.row_lengths(), seq_length - 2)
    pieces = [cls, _keep_first(segment_a, kept_a), sep]
    types = [0, 0, 0]
  else:
    kept_a, kept_b = truncated_lengths(segment_a.row_lengths(), segment_b.row_lengths(),
                                       seq_length - 3)
    pieces = [cls, _keep_first(segment_a, kept_a), sep, _keep_first(segment_b, kept_b), sep]
    types = [0, 0, 0, 1, 1]
  pieces = [tf.RaggedTensor.from_tensor(p) if isinstance(p, tf.Tensor) else p for p in pieces]
  word_ids = tf.concat(pieces, axis=1)
  type_ids = tf.concat([tf.ones_like(p) * t for p, t in zip(pieces, types)], axis=1)
  shape = [None, seq_length]
  return {
      "input_word_ids": word_ids.to_tensor(special_ids["pad_id"], shape=shape),
      "input_mask": tf.ones_like(word_ids).to_tensor(0, shape=shape),
      "input_type_ids": type_ids.to_tensor(0, shape=shape),
  }


def _keep_first(ids: tf.RaggedTensor, lengths: tf.Tensor) -> tf.RaggedTensor:
  """The first `lengths[i]` tokens of each row."""
  keep = tf.ragged.range(ids.row_lengths()) < tf.expand_dims(lengths, 1)
  return tf.ragged.boolean_mask(ids, keep)


def longest_row(input_mask: tf.Tensor,
                masked_lm_positions: Optional[tf.Tensor] = None) -> tf.Tensor:
  """The columns the encoder must run on: up to each batch's last attended position.

  Keys past every row's last `input_mask` 1 are masked in every row, and the original's additive
  mask (-10000) makes their softmax weight exactly 0 in float32, so dropping those columns leaves
  every other position's outputs unchanged. Left or interleaved padding is safe too (only trailing
  columns are dropped); TF Serving's `pad_variable_length_inputs`, which pads `input_mask` with its
  first element (1), only makes the padded columns count as real, as they did before.

  Args:
    input_mask: int [batch, seq] of 0/1.
    masked_lm_positions: optional int [batch, n] positions the MLM head reads; kept too.

  Returns:
    int32 scalar L, 1 <= L <= seq.
  """
  seq_length = tf.shape(input_mask)[1]
  columns = tf.range(1, seq_length + 1)
  ends = tf.where(tf.not_equal(input_mask, 0), columns[tf.newaxis, :], 0)
  longest = tf.reduce_max(tf.concat([tf.reshape(ends, [-1]), [1]], axis=0))
  if masked_lm_positions is not None:
    longest = tf.maximum(
        longest, tf.reduce_max(tf.concat([tf.reshape(masked_lm_positions, [-1]) + 1, [1]], axis=0)))
  return tf.minimum(longest, seq_length)


def trim_to_longest(inputs: Dict[str, tf.Tensor],
                    masked_lm_positions: Optional[tf.Tensor] = None) -> Dict[str, tf.Tensor]:
  """The id inputs cut to `longest_row` columns, so that short batches cost what they are."""
  longest = longest_row(inputs["input_mask"], masked_lm_positions)
  return {name: value[:, :longest] for name, value in inputs.items()}


def pad_sequence_output(sequence_output: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
  """A trimmed [batch, L, H] output back to the mask's [batch, seq, H], 0 where input_mask is 0.

  Padding positions get 0 rather than the encoder's output for a padding token (which depended on
  how much padding there was), so a row's outputs do not depend on the rest of its batch.
  """
  padding = tf.shape(input_mask)[1] - tf.shape(sequence_output)[1]
  padded = tf.pad(sequence_output, [[0, 0], [0, padding], [0, 0]])
  return padded * tf.cast(tf.not_equal(input_mask, 0), padded.dtype)[:, :, tf.newaxis]
