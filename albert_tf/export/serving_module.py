"""The TF Serving module: an AlbertPretrainer behind id and raw-text signatures (DESIGN §3.5)."""

import functools
from typing import Any, Callable, Dict, Optional, Sequence, Union

from absl import logging
import tensorflow as tf

from albert_tf.export import fill_mask
from albert_tf.export import input_packing
from albert_tf.export.sentencepiece_text_tokenizer import SentencePieceTextTokenizer
from albert_tf.export.untracked import Untracked
from albert_tf.export.wordpiece_text_tokenizer import WordPieceTextTokenizer

TextTokenizer = Union[SentencePieceTextTokenizer, WordPieceTextTokenizer]

ID_NAMES = ("input_word_ids", "input_mask", "input_type_ids")
IDS_SPEC = tf.TensorSpec([None, None], tf.int32)
TEXT_SPEC = tf.TensorSpec([None], tf.string)


def logged_function(name: str, input_signature: Sequence[tf.TensorSpec]) -> Callable:
  """Makes a serving function a tf.function of fixed `input_signature` that logs its tracing.

  A fixed signature lets `get_signatures` hand the function over untraced, so that
  `tf.saved_model.save` traces it once (it retraces functions traced before it is called), and
  lets the other functions call it without a trace of their own. Tracing is most of an export's
  time: the log lines show its progress.

  Args:
    name: what the function computes, for the log line.
    input_signature: the specs of the function's arguments (after `self` for a method).

  Returns:
    A decorator of functions and methods.
  """

  def decorate(method: Callable) -> Callable:

    @functools.wraps(method)
    def logged(*args, **kwargs):
      # Python code in a tf.function runs while tracing only: this logs once per trace.
      logging.info("Export: tracing %s", name)
      return method(*args, **kwargs)

    return tf.function(logged, input_signature=input_signature)

  return decorate


def tokenize_function(text_tokenizer: Optional[TextTokenizer]) -> Optional[Untracked]:
  """The tokenizer as one tf.function for every text signature of a module to call, or None.

  Traced once per export instead of once per call site; held untracked, so that it is no
  attribute of the SavedModel (its concrete function goes into the graphs that call it).

  Args:
    text_tokenizer: the module's in-graph tokenizer, or None for no text signatures.

  Returns:
    An `Untracked` holding the function (string [batch] -> int32 ids [batch, (tokens)]), or None.
  """
  if text_tokenizer is None:
    return None
  return Untracked(logged_function("the tokenizer", [TEXT_SPEC])(text_tokenizer.tokenize))


class AlbertServingModule(tf.Module):
  """Serving functions over an `AlbertPretrainer`, in the style of official/nlp/serving.

  Every signature runs the encoder on the batch's longest row only (`input_packing.longest_row`):
  the text signatures still return ids padded to `max_seq_length`, and `sequence_output` is 0 at
  padding positions (input_mask 0).

  Signatures (`get_signatures()`):
    serving_default: input_word_ids, input_mask, input_type_ids (int32 [batch, seq])
      -> sequence_output [batch, seq, H], pooled_output [batch, H]
    mlm: the same + masked_lm_positions (int32 [batch, n]) -> mlm_logits [batch, n, vocab]
    sop: the ids -> sop_logits [batch, 2]
    encode_text: text (string [batch]) -> the packed ids + sequence_output, pooled_output
    encode_text_pair: text, text_b (string [batch]) -> the same with two segments
    fill_mask_text: text with "[MASK]" markers (string [batch]) -> top_k_ids, top_k_tokens,
      top_k_probabilities ([batch, masks, k]) and mask_positions ([batch, masks], -1 = padding)
  The text signatures exist only when a tokenizer is given. Float outputs are float32 whatever the
  compute dtype.

  Example:

    module = AlbertServingModule(pretrainer, SentencePieceTextTokenizer("30k-clean.model"))
    tf.saved_model.save(module, "export/1", signatures=module.get_signatures())
  """

  def __init__(self, pretrainer: tf.Module, text_tokenizer: Optional[TextTokenizer] = None,
               max_seq_length: int = 128, top_k: int = 5, assets: Optional[Dict[str, str]] = None,
               name: str = "albert_serving"):
    """Initializes the module.

    Args:
      pretrainer: an `albert_tf.AlbertPretrainer` with its weights loaded.
      text_tokenizer: in-graph tokenizer for the text signatures, or None for id signatures only.
      max_seq_length: length the text signatures pack and truncate to.
      top_k: how many candidates `fill_mask_text` returns per mask.
      assets: extra files to ship in `assets/` (name -> path), e.g. the config.
      name: module name.
    """
    super().__init__(name=name)
    # The weights are tracked as a plain list so that saving does not run the Keras SavedModel
    # serialization (which traces every layer's call functions): serving needs the signatures
    # only, and the reusable encoder export keeps the Keras form.
    self.model_variables = list(pretrainer.variables)
    self._pretrainer = Untracked(pretrainer)
    self.text_tokenizer = text_tokenizer
    self._tokenize = tokenize_function(text_tokenizer)
    self.max_seq_length = max_seq_length
    self.top_k = top_k
    self.assets = {key: tf.saved_model.Asset(path) for key, path in (assets or {}).items()}

  def _run(self, inputs: Dict[str, tf.Tensor], masked_lm_positions: tf.Tensor) -> Dict[str, Any]:
    inputs = input_packing.trim_to_longest(inputs, masked_lm_positions)
    outputs = self._pretrainer.value({
        **inputs, "masked_lm_positions": masked_lm_positions
    }, training=False)
    return {
        key: tf.cast(value, tf.float32)
        for key, value in outputs.items()
        if key in ("sequence_output", "pooled_output", "mlm_logits", "sop_logits")
    }

  @logged_function("the serving_default signature", [IDS_SPEC] * 3)
  def serve(self, input_word_ids, input_mask, input_type_ids):
    """sequence_output and pooled_output for id inputs."""
    inputs = dict(zip(ID_NAMES, (input_word_ids, input_mask, input_type_ids)))
    outputs = self._pretrainer.value.albert(input_packing.trim_to_longest(inputs), training=False)
    return {
        "sequence_output":
            input_packing.pad_sequence_output(tf.cast(outputs["sequence_output"], tf.float32),
                                              input_mask),
        "pooled_output":
            tf.cast(outputs["pooled_output"], tf.float32),
    }

  @logged_function("the mlm signature", [IDS_SPEC] * 4)
  def serve_mlm(self, input_word_ids, input_mask, input_type_ids, masked_lm_positions):
    """MLM logits [batch, n, vocab] at `masked_lm_positions`."""
    inputs = dict(zip(ID_NAMES, (input_word_ids, input_mask, input_type_ids)))
    return {"mlm_logits": self._run(inputs, masked_lm_positions)["mlm_logits"]}

  @logged_function("the sop signature", [IDS_SPEC] * 3)
  def serve_sop(self, input_word_ids, input_mask, input_type_ids):
    """Sentence-order logits [batch, 2] (index 1 = segments swapped, as in the original)."""
    inputs = dict(zip(ID_NAMES, (input_word_ids, input_mask, input_type_ids)))
    no_positions = tf.zeros([tf.shape(input_word_ids)[0], 1], tf.int32)
    return {"sop_logits": self._run(inputs, no_positions)["sop_logits"]}

  def _encode(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    outputs = self.serve(**inputs)
    return {**inputs, **outputs}

  def encode_text(self, text: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Tokenizes and packs `[CLS] text [SEP]`, then runs the encoder."""
    return self._encode(
        input_packing.pack_inputs(self._tokenize.value(text), None, self.max_seq_length,
                                  self.text_tokenizer.special_ids))

  def encode_text_pair(self, text: tf.Tensor, text_b: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Tokenizes and packs `[CLS] text [SEP] text_b [SEP]`, then runs the encoder."""
    return self._encode(
        input_packing.pack_inputs(self._tokenize.value(text), self._tokenize.value(text_b),
                                  self.max_seq_length, self.text_tokenizer.special_ids))

  def fill_mask_text(self, text: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Top-k tokens and probabilities for every "[MASK]" in the text."""
    special_ids = self.text_tokenizer.special_ids
    ids = fill_mask.tokenize_with_masks(text, self._tokenize.value, special_ids["mask_id"])
    inputs = input_packing.pack_inputs(ids, None, self.max_seq_length, special_ids)
    positions = fill_mask.mask_positions(inputs["input_word_ids"], special_ids["mask_id"])
    logits = self.serve_mlm(masked_lm_positions=tf.maximum(positions, 0), **inputs)["mlm_logits"]
    top_k = min(self.top_k, self.text_tokenizer.vocab_size)
    probabilities, top_ids = tf.math.top_k(tf.nn.softmax(logits, axis=-1), k=top_k)
    return {
        "top_k_ids": top_ids,
        "top_k_tokens": self.text_tokenizer.id_to_token(top_ids),
        "top_k_probabilities": probabilities,
        "mask_positions": positions,
    }

  def get_signatures(self) -> Dict[str, tf.types.experimental.PolymorphicFunction]:
    """The functions for `tf.saved_model.save(..., signatures=...)`, traced there once each.

    The text functions become signatures only (not attributes, which the saver would trace
    without a tokenizer too), and only when there is a tokenizer.
    """
    signatures = {"serving_default": self.serve, "mlm": self.serve_mlm, "sop": self.serve_sop}
    if self.text_tokenizer is not None:
      signatures.update({
          name: logged_function(f"the {name} signature", [TEXT_SPEC] * arity)(function)
          for name, function, arity in (("encode_text", self.encode_text,
                                         1), ("encode_text_pair", self.encode_text_pair, 2),
                                        ("fill_mask_text", self.fill_mask_text, 1))
      })
    return signatures
