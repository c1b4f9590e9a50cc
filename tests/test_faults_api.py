"""The Python API takes what users pass and names the input in every error (issue 13, point 10)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.models.albert_classifier import AlbertClassifier
from albert_tf.models.albert_model import AlbertModel
from albert_tf.models.albert_pretrainer import AlbertPretrainer

IDS = [[2, 10, 11, 3], [2, 12, 3, 0]]
MASK = [[1, 1, 1, 1], [1, 1, 1, 0]]
TYPES = [[0, 0, 1, 1], [0, 0, 0, 0]]
POSITIONS = [[1], [2]]
INTEGER_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.fixture(scope="module")
def config():
  return AlbertConfig.from_preset("albert_tiny_test")  # max_position_embeddings 64


@pytest.fixture(scope="module")
def models(config):
  tf.keras.utils.set_random_seed(0)
  return {
      "AlbertModel": AlbertModel(config),
      "AlbertPretrainer": AlbertPretrainer(config),
      "AlbertClassifier": AlbertClassifier(config, num_labels=2),
  }


def _inputs(name, convert=tf.constant, **overrides):
  inputs = {"input_word_ids": IDS, "input_mask": MASK, "input_type_ids": TYPES}
  if name == "AlbertPretrainer":
    inputs["masked_lm_positions"] = POSITIONS
  inputs.update(overrides)
  return {key: convert(value) for key, value in inputs.items()}


def _output(name, outputs):
  return outputs["mlm_logits" if name == "AlbertPretrainer" else "pooled_output"].numpy()


@pytest.fixture(scope="module")
def references(models):
  return {name: _output(name, model(_inputs(name))) for name, model in models.items()}


CONVERSIONS = {
    "list": lambda value: value,
    "int64_tensor": lambda value: tf.constant(value, tf.int64)
}
CONVERSIONS.update({
    f"numpy_{dtype.__name__}": (lambda value, dtype=dtype: np.array(value, dtype))
    for dtype in INTEGER_DTYPES
})
# Every conversion on the backbone; the two models built on it share its normalisation.
CASES = [("AlbertModel", conversion) for conversion in CONVERSIONS
        ] + [(name, conversion)
             for name in ("AlbertPretrainer", "AlbertClassifier")
             for conversion in ("list", "numpy_uint64")]


@pytest.mark.parametrize("name,conversion", CASES)
def test_lists_arrays_and_tensors_of_any_integer_dtype_give_identical_outputs(
    models, references, name, conversion):
  inputs = _inputs(name, CONVERSIONS[conversion])
  np.testing.assert_array_equal(_output(name, models[name](inputs)), references[name])


def test_a_boolean_mask_is_taken_as_zeros_and_ones(models, references):
  inputs = _inputs("AlbertModel", input_mask=np.array(MASK, bool))
  np.testing.assert_array_equal(_output("AlbertModel", models["AlbertModel"](inputs)),
                                references["AlbertModel"])


BAD_INPUTS = [
    ({
        "input_word_ids": np.array(IDS, np.float32)
    }, r"input_word_ids has dtype float32; pass integers \(any integer dtype, int32 is used\)"),
    ({
        "input_type_ids": tf.constant(TYPES, tf.float64)
    }, "input_type_ids has dtype float64; "),
    ({
        "input_word_ids": [[True, False, True, True]] * 2
    }, "input_word_ids has dtype bool; "),
    ({
        "input_word_ids": IDS[0]
    }, r"input_word_ids has shape \[4\]; pass \[batch, seq\] \(rank 2\), e.g. \[ids\]"),
    ({
        "input_mask": [MASK]
    }, r"input_mask has shape \[1, 2, 4\]; pass \[batch, seq\] \(rank 2\)"),
    ({
        "input_mask": MASK[:1]
    }, r"input_mask has shape \[1, 4\] but input_word_ids has \[2, 4\]; "
     r"pass inputs with the same \[batch, seq\] size"),
    ({
        "input_type_ids": [row[:3] for row in TYPES]
    }, r"input_type_ids has shape \[2, 3\] but input_word_ids has \[2, 4\]"),
    ({
        "input_word_ids": [[2, 10, 3], [2]]
    }, "input_word_ids has rows of different lengths; pad them to one length"),
    ({
        "input_word_ids": tf.ragged.constant([[2, 10, 3], [2]])
    }, "input_word_ids is a RaggedTensor; pad the rows to one length"),
    ({
        "input_word_ids": [[2] * 65] * 2,
        "input_mask": [[1] * 65] * 2,
        "input_type_ids": [[0] * 65] * 2
    }, r"input_word_ids has sequence length 65, which exceeds max_position_embeddings \(64\)"),
    ({
        "input_word_ids": [[], []],
        "input_mask": None,
        "input_type_ids": None
    }, r"input_word_ids is empty \(sequence length 0\); pass at least one token"),
    ({
        "input_word_ids": np.zeros([2, 0], np.int32),
        "input_mask": None,
        "input_type_ids": None
    }, r"input_word_ids is empty \(sequence length 0\)"),
]


@pytest.mark.parametrize("name", ["AlbertModel", "AlbertPretrainer", "AlbertClassifier"])
@pytest.mark.parametrize("overrides,message", BAD_INPUTS)
def test_bad_inputs_get_one_error_naming_the_input(models, name, overrides, message):
  inputs = dict(_inputs(name, convert=lambda value: value), **overrides)
  with pytest.raises(ValueError, match=f"^{name}: {message}") as error:
    models[name](inputs)
  assert "\n" not in str(error.value)


@pytest.mark.parametrize("inputs", [IDS, {"input_mask": MASK}])
def test_inputs_that_are_not_a_dict_with_ids_are_refused(models, inputs):
  with pytest.raises(ValueError, match=r"^AlbertModel takes a dict with input_word_ids \(and"):
    models["AlbertModel"](inputs)


def test_the_pretrainer_names_its_masked_positions(models):
  pretrainer = models["AlbertPretrainer"]
  with pytest.raises(
      ValueError, match="^AlbertPretrainer takes a dict with input_word_ids, "
      "masked_lm_positions"):
    pretrainer(_inputs("AlbertModel"))
  with pytest.raises(
      ValueError, match=r"^AlbertPretrainer: masked_lm_positions has shape \[1, 1\] "
      r"but input_word_ids has \[2, 4\]; pass inputs with the same batch size"):
    pretrainer(_inputs("AlbertPretrainer", masked_lm_positions=[[1]]))
  with pytest.raises(ValueError, match="^AlbertPretrainer: masked_lm_positions has dtype float32"):
    pretrainer(_inputs("AlbertPretrainer", masked_lm_positions=[[1.0], [2.0]]))


def test_traced_calls_check_static_shapes_and_add_no_ops(models):
  model = models["AlbertModel"]
  model(_inputs("AlbertModel"))  # variables exist before tracing, whichever test ran first

  @tf.function
  def pooled(inputs):
    return model(inputs)["pooled_output"]

  with pytest.raises(ValueError, match=r"AlbertModel: input_mask has shape \[1, 4\]"):
    pooled(_inputs("AlbertModel", input_mask=MASK[:1]))
  graph = pooled.get_concrete_function(_inputs("AlbertModel")).graph
  assert "Assert" not in [op.type for op in graph.get_operations()]


def test_a_config_with_numpy_values_builds_a_model_with_a_json_config(config):
  values = dict(config.to_dict(), hidden_size=np.int64(32), initializer_range=np.float64(0.02))
  model = AlbertModel(AlbertConfig(**values))
  assert json.loads(json.dumps(model.get_config()))["config"] == config.to_dict()
  assert model({"input_word_ids": np.array([IDS[0]], np.int64)})["pooled_output"].shape == (1, 32)
