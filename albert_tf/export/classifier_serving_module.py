"""The TF Serving module of a fine-tuned classifier: raw-text, id and tf.Example signatures."""

import math
from typing import Dict, Optional, Sequence

import tensorflow as tf
import tf_keras

from albert_tf.export import input_packing
from albert_tf.export.serving_module import ID_NAMES
from albert_tf.export.serving_module import IDS_SPEC
from albert_tf.export.serving_module import TEXT_SPEC
from albert_tf.export.serving_module import TextTokenizer
from albert_tf.export.serving_module import logged_function
from albert_tf.export.serving_module import tokenize_function
from albert_tf.export.untracked import Untracked

# The original run_classifier's `_serving_input_receiver_fn`: its int64 features, in our order.
EXAMPLE_FEATURES = ("input_ids", "input_mask", "segment_ids")
# The original exported a bare receiver tensor, which the Estimator names "input".
_EXAMPLES_SPEC = tf.TensorSpec([None], tf.string, name="input")


class ClassifierServingModule(tf.Module):
  """Serving functions over an `AlbertClassifier`, in the style of official/nlp/serving.

  Signatures (`get_signatures()`), C = num_labels:
    serving_default: input_word_ids, input_mask, input_type_ids (int32 [batch, seq])
      -> logits, probabilities (float32 [batch, C]); regression: predictions (float32 [batch])
    serialized_example: input (serialized tf.Example [batch] with int64 input_ids, input_mask,
      segment_ids of length max_seq_length, as the original's export) -> probabilities
      (regression: the raw [batch, 1] scores), predictions (int32 argmax; regression: float32
      [batch]) and, when a threshold is given, the float32 scalar threshold
    classify_text: text (string [batch]) -> probabilities [batch, C], label_ids (int32 [batch]),
      labels (string [batch]); regression: predictions (float32 [batch])
    classify_text_pair: text, text_b (string [batch]) -> the same, packed `[CLS] a [SEP] b [SEP]`
  The text signatures exist only when a tokenizer is given.

  Example:

    from albert_tf.export.sentencepiece_text_tokenizer import SentencePieceTextTokenizer
    module = ClassifierServingModule(classifier, SentencePieceTextTokenizer("30k-clean.model"),
                                     labels=["negative", "positive"])
    tf.saved_model.save(module, "export/1", signatures=module.get_signatures())
  """

  def __init__(self, classifier: tf_keras.Model, text_tokenizer: Optional[TextTokenizer] = None,
               max_seq_length: int = 128, labels: Sequence[str] = (), is_regression: bool = False,
               threshold: Optional[float] = None, assets: Optional[Dict[str, str]] = None,
               name: str = "albert_classifier_serving"):
    """Initializes the module.

    Args:
      classifier: an `albert_tf.models.albert_classifier.AlbertClassifier` with its weights.
      text_tokenizer: in-graph tokenizer for the text signatures, or None for no text signatures.
      max_seq_length: length the text signatures pack to and the tf.Example features have.
      labels: the label names, index = label id (unused for regression).
      is_regression: one output read as a score instead of C class logits.
      threshold: a constant the serialized_example signature returns as `threshold` (the
        original's --threshold_to_export); None or NaN for none.
      assets: extra files to ship in `assets/` (name -> path), e.g. the config.
      name: module name.
    """
    super().__init__(name=name)
    # Weights as a plain list: saving writes the signatures only (see Untracked).
    self.model_variables = list(classifier.variables)
    self._classifier = Untracked(classifier)
    self.text_tokenizer = text_tokenizer
    self._tokenize = tokenize_function(text_tokenizer)
    self.max_seq_length = max_seq_length
    self._labels = tuple(labels)
    self.is_regression = is_regression
    self._threshold = None if threshold is None or math.isnan(threshold) else float(threshold)
    self.assets = {key: tf.saved_model.Asset(path) for key, path in (assets or {}).items()}

  def _logits(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    # Only the batch's longest row is run: the logits read position 0 only, so they are unchanged.
    inputs = input_packing.trim_to_longest(inputs)
    return tf.cast(self._classifier.value(inputs, training=False)["logits"], tf.float32)

  def _label_ids(self, probabilities: tf.Tensor) -> tf.Tensor:
    # The original takes the argmax of the probabilities, not of the logits.
    return tf.argmax(probabilities, axis=-1, output_type=tf.int32)

  @logged_function("the serving_default signature", [IDS_SPEC] * 3)
  def serve(self, input_word_ids, input_mask, input_type_ids):
    """Logits and probabilities (regression: predictions) for id inputs."""
    logits = self._logits(dict(zip(ID_NAMES, (input_word_ids, input_mask, input_type_ids))))
    if self.is_regression:
      return {"predictions": logits[:, 0]}
    return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}

  @logged_function("the serialized_example signature", [_EXAMPLES_SPEC])
  def serve_examples(self, serialized_examples):
    """The original's outputs for serialized tf.Examples (its `_serving_input_receiver_fn`)."""
    spec = tf.io.FixedLenFeature([self.max_seq_length], tf.int64)
    features = tf.io.parse_example(serialized_examples, {name: spec for name in EXAMPLE_FEATURES})
    logits = self._logits({
        ours: tf.cast(features[theirs], tf.int32)
        for ours, theirs in zip(ID_NAMES, EXAMPLE_FEATURES)
    })
    if self.is_regression:
      outputs = {"probabilities": logits, "predictions": logits[:, 0]}
    else:
      probabilities = tf.nn.softmax(logits, axis=-1)
      outputs = {"probabilities": probabilities, "predictions": self._label_ids(probabilities)}
    if self._threshold is not None:
      outputs["threshold"] = tf.constant(self._threshold, tf.float32)
    return outputs

  def _classify(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    logits = self._logits(inputs)
    if self.is_regression:
      return {"predictions": logits[:, 0]}
    probabilities = tf.nn.softmax(logits, axis=-1)
    label_ids = self._label_ids(probabilities)
    return {
        "probabilities": probabilities,
        "label_ids": label_ids,
        "labels": tf.gather(tf.constant(self._labels), label_ids)
    }

  def classify_text(self, text: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Tokenizes and packs `[CLS] text [SEP]`, then classifies."""
    return self._classify(
        input_packing.pack_inputs(self._tokenize.value(text), None, self.max_seq_length,
                                  self.text_tokenizer.special_ids))

  def classify_text_pair(self, text: tf.Tensor, text_b: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Tokenizes and packs `[CLS] text [SEP] text_b [SEP]` (longest-first truncation)."""
    return self._classify(
        input_packing.pack_inputs(self._tokenize.value(text), self._tokenize.value(text_b),
                                  self.max_seq_length, self.text_tokenizer.special_ids))

  def get_signatures(self) -> Dict[str, tf.types.experimental.PolymorphicFunction]:
    """The functions for `tf.saved_model.save(..., signatures=...)`, traced there once each.

    The text functions become signatures only (not attributes, which the saver would trace
    without a tokenizer too), and only when there is a tokenizer.
    """
    signatures = {"serving_default": self.serve, "serialized_example": self.serve_examples}
    if self.text_tokenizer is not None:
      signatures.update({
          name: logged_function(f"the {name} signature", [TEXT_SPEC] * arity)(function)
          for name, function, arity in (("classify_text", self.classify_text, 1),
                                        ("classify_text_pair", self.classify_text_pair, 2))
      })
    return signatures
