"""The functions of the TFLite/LiteRT export: raw text in, encoder and fill-mask outputs out."""

from typing import Dict, Tuple, Union

import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.export import fill_mask
from albert_tf.export import tflite_tokenizers
from albert_tf.export.serving_module import TEXT_SPEC
from albert_tf.export.untracked import Untracked

TfliteTokenizer = Union[tflite_tokenizers.TfliteSentencePieceTokenizer,
                        tflite_tokenizers.TfliteWordPieceTokenizer]
SIGNATURES = ("encode_text", "fill_mask_text")


def pack_single(ids: tf.Tensor, lengths: tf.Tensor, special_ids: Dict[str,
                                                                      int]) -> Dict[str, tf.Tensor]:
  """`[CLS] ids [SEP]` padded to the batch's longest row (not to max_seq_length).

  Args:
    ids: int32 [batch, width] token ids (-1 padding), already cut to max_seq_length - 2.
    lengths: int32 [batch] tokens per row.
    special_ids: cls_id, sep_id, pad_id.

  Returns:
    int32 [batch, longest + 2] input_word_ids, input_mask, input_type_ids.
  """
  batch_size = tf.shape(ids)[0]
  column = tf.fill([batch_size, 1], special_ids["cls_id"])
  body = tf.concat([column, ids, column], axis=1)
  positions = tf.expand_dims(tf.range(tf.shape(body)[1]), 0)
  ends = tf.expand_dims(lengths, 1) + 1  # the [SEP] column of each row
  word_ids = tf.where(positions == ends, special_ids["sep_id"],
                      tf.where(positions < ends, body, special_ids["pad_id"]))
  longest = tf.reduce_max(tf.concat([lengths, [0]], axis=0)) + 2
  input_mask = tf.cast(positions <= ends, tf.int32)
  word_ids, input_mask = word_ids[:, :longest], input_mask[:, :longest]
  return {
      "input_word_ids": word_ids,
      "input_mask": input_mask,
      "input_type_ids": tf.zeros_like(word_ids),
  }


class TfliteServingModule(tf.Module):
  """`encode_text` and `fill_mask_text` over an `AlbertPretrainer`, made of TFLite-convertible ops.

  Signatures (`get_signatures()`), T = the batch's longest packed row (<= max_seq_length):
    encode_text: text (string [batch]) -> input_word_ids, input_mask (int32 [batch, T]),
      sequence_output [batch, T, H], pooled_output [batch, H]
    fill_mask_text: text with "[MASK]" markers (string [batch]) -> top_k_ids int32, top_k_tokens
      string, top_k_probabilities float32 ([batch, m, k]), mask_positions int32 [batch, m]
      (-1 = padding; m >= 1 even when no row has a mask)
  The text is packed `[CLS] text [SEP]`, truncated to max_seq_length as the SavedModel does.
  """

  def __init__(self, pretrainer: tf.Module, text_tokenizer: TfliteTokenizer,
               max_seq_length: int = 128, top_k: int = 5, name: str = "albert_tflite"):
    super().__init__(name=name)
    self.model_variables = list(pretrainer.variables)
    self._pretrainer = Untracked(pretrainer)
    self.text_tokenizer = text_tokenizer
    self.max_seq_length = max_seq_length
    self.top_k = min(top_k, text_tokenizer.vocab_size)

  def encode_text(self, text: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Tokenizes and packs `[CLS] text [SEP]`, then runs the encoder on the packed length."""
    ids, lengths = self.text_tokenizer.tokenize(text, self.max_seq_length - 2)
    inputs = pack_single(ids, lengths, self.text_tokenizer.special_ids)
    outputs = self._pretrainer.value.albert(inputs, training=False)
    return {
        "input_word_ids": inputs["input_word_ids"],
        "input_mask": inputs["input_mask"],
        "sequence_output": tf.cast(outputs["sequence_output"], tf.float32),
        "pooled_output": tf.cast(outputs["pooled_output"], tf.float32),
    }

  def fill_mask_text(self, text: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Top-k tokens and probabilities for every "[MASK]" in the text."""
    special_ids = self.text_tokenizer.special_ids
    ids, lengths = self._tokenize_with_masks(text)
    inputs = pack_single(ids, lengths, special_ids)
    word_ids = inputs["input_word_ids"]
    positions, _ = tflite_tokenizers.compact(
        tf.broadcast_to(tf.expand_dims(tf.range(tf.shape(word_ids)[1]), 0), tf.shape(word_ids)),
        tf.equal(word_ids, special_ids["mask_id"]), self.max_seq_length)
    logits = self._pretrainer.value({
        **inputs, "masked_lm_positions": tf.maximum(positions, 0)
    }, training=False)["mlm_logits"]
    probabilities, top_ids = tf.math.top_k(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1),
                                           k=self.top_k)
    return {
        "top_k_ids": top_ids,
        "top_k_tokens": tf.gather(tf.constant(self.text_tokenizer.tokens), top_ids),
        "top_k_probabilities": probabilities,
        "mask_positions": positions,
    }

  def _tokenize_with_masks(self, text: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """`fill_mask.tokenize_with_masks` with byte ops: each part between markers on its own."""
    max_tokens = self.max_seq_length - 2
    parts, counts, is_last = split_at_marker(text, fill_mask.MASK_MARKER, max_tokens + 1)
    ids, lengths = self.text_tokenizer.tokenize(parts, max_tokens)
    # Each part's tokens, then the mask id unless it is the row's last part.
    mask_column = tf.fill([tf.shape(ids)[0], 1], self.text_tokenizer.special_ids["mask_id"])
    with_mask = tf.concat([ids, mask_column], axis=1)
    columns = tf.expand_dims(tf.range(tf.shape(with_mask)[1]), 0)
    keep = (columns < tf.expand_dims(
        lengths, 1)) | ((columns == tf.shape(ids)[1]) & ~tf.expand_dims(is_last, 1))
    # Rows of parts -> rows of texts: [batch, parts, width] then compacted.
    part_index, part_valid = _part_grid(counts)
    grid = tf.gather(with_mask, part_index)
    grid_keep = tf.gather(keep, part_index) & tf.expand_dims(part_valid, 2)
    batch_size = tf.shape(text)[0]
    return tflite_tokenizers.compact(tf.reshape(grid, [batch_size, -1]),
                                     tf.reshape(grid_keep, [batch_size, -1]), max_tokens)

  def get_signatures(self) -> Dict[str, tf.types.experimental.PolymorphicFunction]:
    """The two text signatures, as tf.functions of a string [batch] input named `text`."""
    return {
        name: tf.function(getattr(self, name), input_signature=[TEXT_SPEC]) for name in SIGNATURES
    }


def split_at_marker(text: tf.Tensor, marker: str,
                    max_parts: int) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Cuts each text at every `marker` with byte ops (TFLite has no string split).

  Args:
    text: string [batch].
    marker: an ASCII marker that cannot overlap itself, e.g. "[MASK]".
    max_parts: the most parts kept per text (later ones could not fit anyway).

  Returns:
    parts (string [n]; a row's parts consecutive and in order), the number of parts of each row
    (int32 [batch]), whether each part is its row's last (bool [n]).
  """
  byte_rows = tf_text.ByteSplitter().split(text)
  marker_bytes = [ord(char) for char in marker]
  width = len(marker_bytes)
  bytes_, lengths = tflite_tokenizers.dense_rows(
      byte_rows.with_flat_values(tf.cast(byte_rows.flat_values, tf.int32)), 2**30)
  batch_size, columns = tf.shape(bytes_)[0], tf.shape(bytes_)[1]
  padded = tf.concat([bytes_, -tf.ones([batch_size, width], tf.int32)], axis=1)
  found = tf.ones([batch_size, columns], tf.bool)
  for offset, byte in enumerate(marker_bytes):
    found &= tf.equal(padded[:, offset:offset + columns], byte)
  # Part starts: 0 and after each marker; part ends: each marker and the text's end.
  positions = tf.broadcast_to(tf.expand_dims(tf.range(columns), 0), [batch_size, columns])
  always = tf.ones([batch_size, 1], tf.bool)
  starts, counts = tflite_tokenizers.compact(
      tf.concat([tf.zeros([batch_size, 1], tf.int32), positions + width], axis=1),
      tf.concat([always, found], axis=1), max_parts)
  ends, _ = tflite_tokenizers.compact(tf.concat([positions, tf.expand_dims(lengths, 1)], axis=1),
                                      tf.concat([found, always], axis=1), max_parts)
  is_last = tf.equal(tf.expand_dims(tf.range(tf.shape(starts)[1]), 0),
                     tf.expand_dims(tf.reduce_sum(tf.cast(found, tf.int32), axis=1), 1))
  valid = tf.expand_dims(tf.range(tf.shape(starts)[1]), 0) < tf.expand_dims(counts, 1)
  row_splits = tf.cast(tf.concat([[0], tf.cumsum(counts)], axis=0), tf.int64)
  flat = [tf.boolean_mask(values, valid) for values in (starts, ends, is_last)]
  start_offsets, end_offsets = (
      tf.RaggedTensor.from_row_splits(values, row_splits) for values in flat[:2])
  parts = tf_text.ByteSplitter().split_by_offsets(text, start_offsets, end_offsets)
  return parts.flat_values, counts, flat[2]


def _part_grid(counts: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """For consecutive parts, `counts` per row: the part index at [row, j] and whether it exists."""
  starts = tf.cumsum(counts, exclusive=True)
  width = tf.maximum(tf.reduce_max(tf.concat([counts, [0]], axis=0)), 1)
  columns = tf.expand_dims(tf.range(width), 0)
  valid = columns < tf.expand_dims(counts, 1)
  index = tf.where(valid, tf.expand_dims(starts, 1) + columns, 0)
  return index, valid
