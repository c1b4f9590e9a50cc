"""Tokenization of fill-mask queries: text with literal "[MASK]" markers -> ids with mask ids."""

import tensorflow as tf

MASK_MARKER = "[MASK]"


def tokenize_with_masks(text: tf.Tensor, tokenize, mask_id: int) -> tf.RaggedTensor:
  """Tokenizes each text with every "[MASK]" replaced by one `mask_id` token.

  The text is cut at the markers and every part is tokenized on its own (so the marker never reaches
  the tokenizer, which would split it into pieces), then the parts are joined with `mask_id`.

  Args:
    text: string tensor [batch].
    tokenize: callable, string tensor [n] -> int32 ragged ids [n, (tokens)].
    mask_id: id of the [MASK] token.

  Returns:
    int32 ragged ids [batch, (tokens)].
  """
  parts = tf.strings.split(text, sep=MASK_MARKER)
  part_ids = tokenize(parts.flat_values)
  position_in_row = tf.range(tf.size(parts.flat_values, out_type=tf.int64)) - tf.gather(
      parts.row_starts(), parts.value_rowids())
  is_last_part = position_in_row == tf.gather(parts.row_lengths(), parts.value_rowids()) - 1
  mask_after = tf.ragged.boolean_mask(
      tf.fill([tf.size(parts.flat_values), 1], tf.constant(mask_id, tf.int32)),
      tf.expand_dims(~is_last_part, 1))
  joined = tf.concat([part_ids, mask_after], axis=1)
  return parts.with_flat_values(joined).merge_dims(1, 2)


def mask_positions(input_word_ids: tf.Tensor, mask_id: int) -> tf.Tensor:
  """Positions of `mask_id` in each row, int32 [batch, max masks], padded with -1."""
  is_mask = tf.equal(input_word_ids, mask_id)
  positions = tf.ragged.boolean_mask(
      tf.broadcast_to(tf.range(tf.shape(input_word_ids)[1]), tf.shape(input_word_ids)), is_mask)
  return positions.to_tensor(default_value=-1)
