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
