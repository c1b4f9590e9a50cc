"""The TF Serving module of a fine-tuned SQuAD model: `answer_question` from raw text, in the graph.

Everything the Python path does (`squad_data` features, the model, `squad_postprocess`) happens in
one graph with core TensorFlow and the tensorflow-text tokenizer ops of the text signatures:
  1. tokenize question and context with the export's in-graph tokenizer (the `FullTokenizer`
     ids the features use); keep the first max_query_length question tokens;
  2. cut the context into the original's windows (max_seq_length - question - 3 tokens, moving by
     min(that, doc_stride)) and pack each `[CLS] question [SEP] window [SEP]`;
  3. run the model on every window of the batch at once;
  4. choose the answer with `squad_postprocess`'s rules: the top n_best_size starts x ends (v1) or
     the model's top start_n_top x end_n_top (v2) of each window, a start with its maximum context
     in that window (the original `_check_is_max_context`, in float64 as Python computes it), the
     end in the window, end >= start, at most max_answer_length tokens; the best start + end score
     over all windows (ties: the earlier window, then the earlier candidate); v2's null score is
     the minimum cls_logits over the windows;
  5. rebuild the answer text from its tokens (the Python path cuts it from the original
     characters; see docs/serving.md for where the two can differ).
"""

from typing import Dict, Optional

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf import tokenization
from albert_tf.export import unicode_classes
from albert_tf.export.sentencepiece_text_tokenizer import SentencePieceTextTokenizer
from albert_tf.export.serving_module import TEXT_SPEC
from albert_tf.export.serving_module import TextTokenizer
from albert_tf.export.untracked import Untracked

# Served when no span of a question is valid (empty context, every candidate filtered out).
NO_ANSWER_SCORE = -1e6
# The original's null score of a question without any window (its running minimum's start value).
NO_WINDOW_NULL_SCORE = 1000000.0
_NEVER = -float("inf")


class QaServingModule(tf.Module):
  """`answer_question` over an AlbertSquadV1 or AlbertSquadV2 model.

  Signature `answer_question`: question, context (string [batch]) -> answer (string [batch]), score
  (float32 [batch]: the answer span's start + end logit (v1) or log-probability (v2); -1e6 when no
  span is valid) and, for v2, is_impossible (bool [batch]: null score above the threshold; answer
  is then ""), null_score_diff (float32 [batch]: the null odds of null_odds.json) and
  best_non_null_answer (string [batch]).

  Example:

    module = QaServingModule(squad_model, SentencePieceTextTokenizer("30k-clean.model"),
                             version_2=True)
    tf.saved_model.save(module, "export/1", signatures=module.get_signatures())
  """

  def __init__(self, model: tf_keras.Model, text_tokenizer: TextTokenizer, *, version_2: bool,
               max_seq_length: int = 384, doc_stride: int = 128, max_query_length: int = 64,
               n_best_size: int = 20, max_answer_length: int = 30,
               null_score_diff_threshold: float = 0.0, assets: Optional[Dict[str, str]] = None,
               name: str = "albert_squad_serving"):
    """Initializes the module.

    Args:
      model: the fine-tuned AlbertSquadV1 (version_2=False) or AlbertSquadV2 with its weights.
      text_tokenizer: the in-graph tokenizer of the model's vocabulary.
      version_2: the model is an AlbertSquadV2 (log-probabilities, top-k outputs, a null score).
      max_seq_length, doc_stride, max_query_length: the feature settings of squad_data.
      n_best_size: v1: the starts and ends searched per window (v2 uses the model's top-k).
      max_answer_length: the longest answer, in tokens.
      null_score_diff_threshold: v2: no answer when the null score is above this.
      assets: files to ship in `assets/` (name -> path).
      name: module name.
    """
    super().__init__(name=name)
    self.model_variables = list(model.variables)
    self._model = Untracked(model)
    self.text_tokenizer = text_tokenizer
    # One function for question and context, traced once (see serving_module.tokenize_function).
    self._tokenize = Untracked(
        tf.function(text_tokenizer.tokenize, input_signature=[TEXT_SPEC], autograph=False))
    self.version_2 = version_2
    self.max_seq_length = max_seq_length
    self.doc_stride = doc_stride
    self.max_query_length = max_query_length
    self.n_best_size = n_best_size
    self.max_answer_length = max_answer_length
    self.null_score_diff_threshold = float(null_score_diff_threshold)
    self.assets = {key: tf.saved_model.Asset(path) for key, path in (assets or {}).items()}

  # Without autograph: this code has no tensor-dependent Python control flow, and converting it,
  # the tokenizer and the model took most of an export's time.
  @tf.function(input_signature=[TEXT_SPEC] * 2, autograph=False)
  def serve(self, question: tf.Tensor, context: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Answers each question from its context (see the class docstring for the outputs)."""
    logging.info("Export: tracing the answer_question signature")
    query_ids = self._tokenize.value(question)[:, :self.max_query_length]
    doc_ids = self._tokenize.value(context)
    windows = make_windows(query_ids.row_lengths(), doc_ids, self.max_seq_length, self.doc_stride)
    inputs = pack_windows(query_ids, doc_ids, windows, self.max_seq_length,
                          self.text_tokenizer.special_ids)
    if self.version_2:
      outputs = self._model.value(inputs, training=False)
      starts, ends, start_scores, end_scores = _v2_candidates(outputs)
    else:
      outputs = self._model.value({key: inputs[key] for key in inputs if key != "p_mask"},
                                  training=False)
      starts, ends, start_scores, end_scores = _v1_candidates(outputs, self.n_best_size)
    best = best_spans(windows, max_context_mask(windows, self.max_seq_length), starts, ends,
                      start_scores, end_scores, self.max_answer_length)
    answers = tf.where(best["found"], self._span_text(doc_ids, windows, best), "")
    scores = tf.where(best["found"], tf.cast(best["score"], tf.float32), NO_ANSWER_SCORE)
    if not self.version_2:
      return {"answer": answers, "score": scores}
    null_scores = tf.math.unsorted_segment_min(tf.cast(outputs["cls_logits"], tf.float32),
                                               windows["example"], windows["num_examples"])
    null_scores = tf.where(windows["num_windows"] > 0, null_scores, NO_WINDOW_NULL_SCORE)
    is_impossible = null_scores > self.null_score_diff_threshold
    return {
        "answer": tf.where(is_impossible, "", answers),
        "score": scores,
        "is_impossible": is_impossible,
        "null_score_diff": null_scores,
        "best_non_null_answer": answers,
    }

  def _span_text(self, doc_ids: tf.RaggedTensor, windows: Dict[str, tf.Tensor],
                 best: Dict[str, tf.Tensor]) -> tf.Tensor:
    """The text of each example's best span, rebuilt from its tokens ("" when none)."""
    first = gather_found(windows["flat_start"], best["window"], best["found"]) + best["start"]
    length = tf.where(best["found"], best["end"] - best["start"] + 1, 0)
    ids = tf.gather(doc_ids.flat_values, tf.ragged.range(first, first + length))
    return detokenize(self.text_tokenizer.id_to_token(ids), self.text_tokenizer)

  def get_signatures(self) -> Dict[str, tf.types.experimental.PolymorphicFunction]:
    """The function for `tf.saved_model.save(..., signatures=...)`, traced there once."""
    return {"answer_question": self.serve}


def make_windows(query_lengths: tf.Tensor, doc_ids: tf.RaggedTensor, max_seq_length: int,
                 doc_stride: int) -> Dict[str, tf.Tensor]:
  """The original's doc spans of every example, flattened to one row per window.

  Args:
    query_lengths: int64 [batch] question tokens kept.
    doc_ids: int32 [batch, (context tokens)].
    max_seq_length: the packed length.
    doc_stride: the original's doc_stride.

  Returns:
    int64 [windows]: "example" (its row in the batch), "doc_start" (its first context token),
    "flat_start" (the same in doc_ids.flat_values), "length" (its context tokens), "offset" (the
    position of its first context token after `[CLS] question [SEP]`); "num_windows" int64
    [batch]; "num_examples" and "num_doc_tokens" (scalars).
  """
  doc_lengths = doc_ids.row_lengths()
  capacity = tf.maximum(max_seq_length - query_lengths - 3, 1)
  step = tf.minimum(capacity, doc_stride)
  extra = tf.maximum(doc_lengths - capacity, 0)
  num_windows = tf.where(doc_lengths > 0, 1 + (extra + step - 1) // step, 0)
  example = tf.repeat(tf.range(tf.size(num_windows, out_type=tf.int64)), num_windows)
  doc_start = tf.ragged.range(num_windows).flat_values * tf.gather(step, example)
  length = tf.minimum(tf.gather(capacity, example), tf.gather(doc_lengths, example) - doc_start)
  return {
      "example": example,
      "doc_start": doc_start,
      "flat_start": tf.gather(doc_ids.row_starts(), example) + doc_start,
      "length": length,
      "offset": tf.gather(query_lengths, example) + 2,
      "num_windows": num_windows,
      "num_examples": tf.size(num_windows),
      "num_doc_tokens": tf.size(doc_ids.flat_values),
  }


def pack_windows(query_ids: tf.RaggedTensor, doc_ids: tf.RaggedTensor, windows: Dict[str,
                                                                                     tf.Tensor],
                 max_seq_length: int, special_ids: Dict[str, int]) -> Dict[str, tf.Tensor]:
  """`[CLS] question [SEP] window [SEP]` of every window, padded, with the v2 p_mask.

  Returns:
    input_word_ids, input_mask, input_type_ids (int32 [windows, max_seq_length]) and p_mask
    (float32, 1 where the answer may not be: everything but [CLS] and the window's tokens).
  """
  num_windows = tf.size(windows["example"])
  window_ids = tf.gather(
      doc_ids.flat_values,
      tf.ragged.range(windows["flat_start"], windows["flat_start"] + windows["length"]))
  questions = tf.gather(query_ids, windows["example"])
  cls = tf.RaggedTensor.from_tensor(tf.fill([num_windows, 1], special_ids["cls_id"]))
  sep = tf.RaggedTensor.from_tensor(tf.fill([num_windows, 1], special_ids["sep_id"]))
  pieces = [cls, questions, sep, window_ids, sep]
  word_ids = tf.concat(pieces, axis=1)
  type_ids = tf.concat([tf.ones_like(p) * t for p, t in zip(pieces, (0, 0, 0, 1, 1))], axis=1)
  answerable = tf.concat([
      tf.ones_like(cls),
      tf.zeros_like(questions),
      tf.zeros_like(sep),
      tf.ones_like(window_ids),
      tf.zeros_like(sep)
  ], axis=1)
  shape = [None, max_seq_length]
  return {
      "input_word_ids": word_ids.to_tensor(special_ids["pad_id"], shape=shape),
      "input_mask": tf.ones_like(word_ids).to_tensor(0, shape=shape),
      "input_type_ids": type_ids.to_tensor(0, shape=shape),
      "p_mask": 1.0 - tf.cast(answerable.to_tensor(0, shape=shape), tf.float32),
  }


def max_context_mask(windows: Dict[str, tf.Tensor], max_seq_length: int) -> tf.Tensor:
  """bool [windows, max_seq_length]: the context tokens whose maximum context is this window.

  The original's score of a token in a window is min(left, right context) + 0.01 * window length;
  the first window with the highest score wins. Computed in float64, as Python does.
  """
  relative = tf.ragged.range(windows["length"])
  lengths = tf.expand_dims(windows["length"], 1)
  score = (tf.cast(tf.minimum(relative, lengths - 1 - relative), tf.float64) +
           0.01 * tf.cast(lengths, tf.float64)).flat_values
  window = (tf.zeros_like(relative) +
            tf.expand_dims(tf.range(tf.size(lengths, out_type=tf.int64)), 1)).flat_values
  # One segment per context token of the batch: its index in doc_ids.flat_values.
  token = (relative + tf.expand_dims(windows["flat_start"], 1)).flat_values
  best_score = tf.math.unsorted_segment_max(score, token, windows["num_doc_tokens"])
  is_best = tf.equal(score, tf.gather(best_score, token))
  first_best = tf.math.unsorted_segment_min(tf.where(is_best, window, tf.int64.max), token,
                                            windows["num_doc_tokens"])
  is_max = relative.with_flat_values(is_best & tf.equal(window, tf.gather(first_best, token)))
  before = tf.RaggedTensor.from_row_lengths(tf.zeros([tf.reduce_sum(windows["offset"])], tf.bool),
                                            windows["offset"])
  return tf.concat([before, is_max], axis=1).to_tensor(False, shape=[None, max_seq_length])


def _v1_candidates(outputs: Dict[str, tf.Tensor], n_best_size: int):
  """The top n_best_size start and end positions of each window, all start x end pairs."""
  start_logits = tf.cast(outputs["start_logits"], tf.float32)
  end_logits = tf.cast(outputs["end_logits"], tf.float32)
  k = tf.minimum(n_best_size, tf.shape(start_logits)[1])
  start_scores, starts = tf.math.top_k(start_logits, k)
  end_scores, ends = tf.math.top_k(end_logits, k)
  return (tf.expand_dims(starts, 2) + tf.zeros_like(tf.expand_dims(ends, 1)),
          tf.expand_dims(ends, 1) + tf.zeros_like(tf.expand_dims(starts, 2)),
          tf.expand_dims(start_scores, 2), tf.expand_dims(end_scores, 1))


def _v2_candidates(outputs: Dict[str, tf.Tensor]):
  """The model's start_n_top starts x end_n_top ends of each window."""
  start_scores = tf.cast(outputs["start_top_log_probs"], tf.float32)
  starts = tf.cast(outputs["start_top_index"], tf.int32)
  k1 = tf.shape(starts)[1]
  ends = tf.reshape(tf.cast(outputs["end_top_index"], tf.int32), [tf.shape(starts)[0], k1, -1])
  end_scores = tf.reshape(tf.cast(outputs["end_top_log_probs"], tf.float32), tf.shape(ends))
  return (tf.expand_dims(starts, 2) + tf.zeros_like(ends), ends, tf.expand_dims(start_scores,
                                                                                2), end_scores)


def best_spans(windows: Dict[str, tf.Tensor], is_max_context: tf.Tensor, starts: tf.Tensor,
               ends: tf.Tensor, start_scores: tf.Tensor, end_scores: tf.Tensor,
               max_answer_length: int) -> Dict[str, tf.Tensor]:
  """Each example's best valid span: squad_postprocess's filter and order, over all its windows.

  Args:
    windows: from make_windows.
    is_max_context: from max_context_mask.
    starts, ends: int32 [windows, k1, k2] candidate positions (start-major, the Python order).
    start_scores, end_scores: float32, broadcastable to [windows, k1, k2].
    max_answer_length: the longest answer, in tokens.

  Returns:
    [batch] tensors: "found" (bool), "score" (float64 start + end, as Python adds them),
    "window" (int64, -1 when not found), "start", "end" (int64, context tokens within the window).
  """
  offset = tf.cast(tf.reshape(windows["offset"], [-1, 1, 1]), tf.int32)
  length = tf.cast(tf.reshape(windows["length"], [-1, 1, 1]), tf.int32)
  valid = (tf.gather(is_max_context, starts, batch_dims=1) & (ends - offset < length) &
           (ends >= starts) & (ends - starts + 1 <= max_answer_length))
  score = tf.cast(start_scores, tf.float64) + tf.cast(end_scores, tf.float64)
  num_windows = tf.shape(starts)[0]
  score = tf.reshape(tf.where(valid, score, _NEVER), [num_windows, -1])
  flat_starts = tf.reshape(starts - offset, [num_windows, -1])
  flat_ends = tf.reshape(ends - offset, [num_windows, -1])
  # The first best candidate of each window, then the first window with the example's best.
  window_best = tf.reduce_max(score, axis=1)
  candidate = _first_index(tf.equal(score, tf.expand_dims(window_best, 1)) & (score > _NEVER))
  example = windows["example"]
  num_examples = windows["num_examples"]
  example_best = tf.math.unsorted_segment_max(window_best, example, num_examples)
  window_ids = tf.range(tf.size(example, out_type=tf.int64))
  is_top = tf.equal(window_best, tf.gather(example_best, example)) & (window_best > _NEVER)
  best_window = tf.math.unsorted_segment_min(tf.where(is_top, window_ids, tf.int64.max), example,
                                             num_examples)
  found = best_window < tf.int64.max
  window = tf.where(found, best_window, -1)
  candidate = gather_found(tf.maximum(candidate, 0), window, found)
  return {
      "found":
          found,
      "score":
          tf.where(found, example_best, 0.0),
      "window":
          window,
      "start":
          tf.cast(tf.gather(gather_found(flat_starts, window, found), candidate, batch_dims=1),
                  tf.int64),
      "end":
          tf.cast(tf.gather(gather_found(flat_ends, window, found), candidate, batch_dims=1),
                  tf.int64),
  }


def gather_found(values: tf.Tensor, index: tf.Tensor, found: tf.Tensor) -> tf.Tensor:
  """values[index] where found, else zeros; works when `values` has no rows (no windows)."""
  zeros = tf.zeros(tf.concat([[1], tf.shape(values)[1:]], axis=0), values.dtype)
  padded = tf.concat([values, zeros], axis=0)
  return tf.gather(padded, tf.where(found, index, tf.shape(values, out_type=index.dtype)[0]))


def _first_index(mask: tf.Tensor) -> tf.Tensor:
  """int64 [rows]: the first True column of each row, -1 when none."""
  columns = tf.range(tf.shape(mask, out_type=tf.int64)[1])
  first = tf.reduce_min(tf.where(mask, columns, tf.int64.max), axis=1)
  return tf.where(first < tf.int64.max, first, -1)


def detokenize(tokens: tf.RaggedTensor, text_tokenizer: TextTokenizer) -> tf.Tensor:
  """Joins each row of tokens into text.

  SentencePiece: the pieces concatenated, "▁" read as a space, stripped. WordPiece: the tokens
  joined by spaces, "##" continuations glued to the token before, and no space next to a CJK
  character (the basic tokenizer splits each out; Chinese text has no spaces).
  """
  if isinstance(text_tokenizer, SentencePieceTextTokenizer):
    text = tf.strings.reduce_join(tokens, axis=1)
    text = tf.strings.regex_replace(text, tokenization.SPIECE_UNDERLINE, " ")
    return tf.strings.strip(text)
  text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
  text = tf.strings.regex_replace(text, " ##", "")
  cjk = unicode_classes.cjk_characters()
  text = tf.strings.regex_replace(text, f"({cjk}) ", r"\1")
  text = tf.strings.regex_replace(text, f" ({cjk})", r"\1")
  return tf.strings.strip(text)
