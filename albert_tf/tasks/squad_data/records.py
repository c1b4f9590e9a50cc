"""InputFeatures <-> TFRecord examples (the original's schema) and <-> JSON (no pickle).

Training records hold the original FeatureWriter's features: unique_ids, input_ids, input_mask,
segment_ids, p_mask (1 = may not be an answer: question, [SEP]s, padding), start_positions,
end_positions, is_impossible. Prediction records hold the first five. All are int64; the p_mask is
the original's, 1 - tf-models' paragraph_mask.

Post-processing needs the features themselves (the token -> character maps, max-context flags,
tokens), which the original pickled into `predict_feature_left_file`. Here they are a JSON list,
one object per feature, trimmed of padding (restored on reading, so a round trip is exact).
"""

import collections
from typing import Any, Dict, List

from official.nlp.data.squad_lib_sp import InputFeatures
import tensorflow as tf

TRAIN_FEATURE_NAMES = ("unique_ids", "input_ids", "input_mask", "segment_ids", "p_mask",
                       "start_positions", "end_positions", "is_impossible")
PREDICT_FEATURE_NAMES = TRAIN_FEATURE_NAMES[:5]


def p_mask(feature: InputFeatures) -> List[int]:
  """The original's p_mask: 1 where the token may not be an answer ([CLS] and the window are 0)."""
  return [1 - value for value in feature.paragraph_mask]


def serialize_feature(feature: InputFeatures, is_training: bool) -> bytes:
  """One tf.train.Example in the original FeatureWriter's schema."""

  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

  features = collections.OrderedDict()
  features["unique_ids"] = ints([feature.unique_id])
  features["input_ids"] = ints(feature.input_ids)
  features["input_mask"] = ints(feature.input_mask)
  features["segment_ids"] = ints(feature.segment_ids)
  features["p_mask"] = ints(p_mask(feature))
  if is_training:
    features["start_positions"] = ints([feature.start_position])
    features["end_positions"] = ints([feature.end_position])
    features["is_impossible"] = ints([int(bool(feature.is_impossible))])
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def feature_to_json(feature: InputFeatures) -> Dict[str, Any]:
  """A JSON-ready dict of one feature, without its padding."""
  length = sum(feature.input_mask)
  positions = sorted(feature.token_is_max_context)
  return {
      "unique_id": feature.unique_id,
      "example_index": feature.example_index,
      "doc_span_index": feature.doc_span_index,
      "tok_start_to_orig_index": list(feature.tok_start_to_orig_index),
      "tok_end_to_orig_index": list(feature.tok_end_to_orig_index),
      "max_context_first_position": positions[0] if positions else 0,
      "token_is_max_context": [int(feature.token_is_max_context[p]) for p in positions],
      "tokens": list(feature.tokens[:length]),
      "padding_token": feature.tokens[length] if length < len(feature.tokens) else None,
      "input_ids": list(feature.input_ids[:length]),
      "segment_ids": list(feature.segment_ids[:length]),
      "paragraph_mask": list(feature.paragraph_mask[:length]),
      "max_seq_length": len(feature.input_ids),
      "paragraph_len": feature.paragraph_len,
      "class_index": feature.class_index,
      "start_position": feature.start_position,
      "end_position": feature.end_position,
      "is_impossible": feature.is_impossible,
  }


def feature_from_json(value: Dict[str, Any]) -> InputFeatures:
  """The InputFeatures written by `feature_to_json`, padding restored."""
  length = len(value["input_ids"])
  padding = value["max_seq_length"] - length
  first = value["max_context_first_position"]
  return InputFeatures(
      unique_id=value["unique_id"], example_index=value["example_index"],
      doc_span_index=value["doc_span_index"],
      tok_start_to_orig_index=value["tok_start_to_orig_index"],
      tok_end_to_orig_index=value["tok_end_to_orig_index"], token_is_max_context={
          first + i: bool(flag) for i, flag in enumerate(value["token_is_max_context"])
      }, tokens=value["tokens"] + [value["padding_token"]] * padding,
      input_ids=value["input_ids"] + [0] * padding, input_mask=[1] * length + [0] * padding,
      segment_ids=value["segment_ids"] + [0] * padding, paragraph_len=value["paragraph_len"],
      class_index=value["class_index"], paragraph_mask=value["paragraph_mask"] + [0] * padding,
      start_position=value["start_position"], end_position=value["end_position"],
      is_impossible=value["is_impossible"])
