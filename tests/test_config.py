"""AlbertConfig: presets, JSON round trips and validation errors."""

import json
import os

import numpy as np
import pytest

from albert_tf import config as albert_config
from albert_tf.config import AlbertConfig
from albert_tf.config import AlbertConfigError

BASE_FIELDS = {
    "vocab_size": 30000,
    "embedding_size": 128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_hidden_groups": 1,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "inner_group_num": 1,
    "down_scale_factor": 1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}

# (L, H, I, heads) of the published English sizes (reference/original_albert.md §3.2).
ENGLISH_SIZES = {
    "base": (12, 768, 3072, 12),
    "large": (24, 1024, 4096, 16),
    "xlarge": (24, 2048, 8192, 16),
    "xxlarge": (12, 4096, 16384, 64),
}


def _write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


def test_list_presets_has_every_published_config():
  expected = {f"albert_{size}_{version}" for size in ENGLISH_SIZES for version in ("v1", "v2")}
  expected |= {f"albert_{size}_zh" for size in ENGLISH_SIZES}
  expected |= {"albert_tiny_zh_google", "albert_small_zh_google"}
  assert expected <= set(AlbertConfig.list_presets())
  assert AlbertConfig.list_presets() == sorted(AlbertConfig.list_presets())


@pytest.mark.parametrize("size", sorted(ENGLISH_SIZES))
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_english_presets_have_published_values(size, version):
  config = AlbertConfig.from_preset(f"albert_{size}_{version}")
  layers, hidden, intermediate, heads = ENGLISH_SIZES[size]
  if (size, version) == ("xlarge", "v2"):
    heads = 32  # the v2 tarball's albert_config.json (see docs/model.md)
  dropout = 0.1 if version == "v1" and size != "xxlarge" else 0.0
  assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size,
          config.num_attention_heads) == (layers, hidden, intermediate, heads)
  assert (config.vocab_size, config.embedding_size, config.max_position_embeddings) == (30000, 128,
                                                                                        512)
  assert (config.num_hidden_groups, config.inner_group_num, config.type_vocab_size) == (1, 1, 2)
  assert config.hidden_act == "gelu"
  assert config.hidden_dropout_prob == dropout
  assert config.attention_probs_dropout_prob == dropout
  assert config.initializer_range == 0.02
  assert {
      key: config.extra[key] for key in ("net_structure_type", "gap_size", "num_memory_blocks")
  } == {
      "net_structure_type": 0,
      "gap_size": 0,
      "num_memory_blocks": 0
  }
  assert config.down_scale_factor == 1


def test_xxlarge_v1_keeps_layers_to_keep():
  assert AlbertConfig.from_preset("albert_xxlarge_v1").extra["layers_to_keep"] == []


@pytest.mark.parametrize("size", sorted(ENGLISH_SIZES))
def test_google_chinese_presets(size):
  config = AlbertConfig.from_preset(f"albert_{size}_zh")
  layers, hidden, intermediate, heads = ENGLISH_SIZES[size]
  if size == "xxlarge":
    heads = 16  # google-research/albert#153
  assert (config.vocab_size, config.hidden_act) == (21128, "relu")
  assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size,
          config.num_attention_heads) == (layers, hidden, intermediate, heads)


@pytest.mark.parametrize("name,layers,hidden,intermediate", [
    ("albert_tiny_zh_google", 4, 312, 1248),
    ("albert_small_zh_google", 6, 384, 1536),
])
def test_albert_zh_google_presets(name, layers, hidden, intermediate):
  config = AlbertConfig.from_preset(name)
  assert (config.vocab_size, config.embedding_size, config.num_attention_heads) == (21128, 128, 12)
  assert (config.num_hidden_layers, config.hidden_size,
          config.intermediate_size) == (layers, hidden, intermediate)
  assert config.hidden_act == "gelu"
  assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0


def test_from_preset_accepts_json_suffix_and_rejects_unknown_names():
  assert AlbertConfig.from_preset("albert_base_v2.json") == AlbertConfig.from_preset(
      "albert_base_v2")
  with pytest.raises(AlbertConfigError, match=r"unknown preset 'albert_huge'.*albert_base_v2"):
    AlbertConfig.from_preset("albert_huge")


def test_json_file_round_trip_keeps_unknown_keys(tmp_path):
  values = dict(BASE_FIELDS, net_structure_type=0, layers_to_keep=[1, 2], custom={"a": 1})
  path = _write(tmp_path / "in.json", json.dumps(values))
  config = AlbertConfig.from_json_file(path)
  assert config.to_dict() == values
  out = str(tmp_path / "out.json")
  config.to_json_file(out)
  assert AlbertConfig.from_json_file(out) == config
  with open(out, encoding="utf-8") as f:
    text = f.read()
  assert text == json.dumps(values, indent=2, sort_keys=True) + "\n"
  assert sorted(os.listdir(tmp_path)) == ["in.json", "out.json"]


def test_to_json_file_into_missing_directory_fails_without_leaving_files(tmp_path):
  config = AlbertConfig.from_dict(BASE_FIELDS)
  with pytest.raises(OSError):
    config.to_json_file(str(tmp_path / "missing" / "albert_config.json"))
  assert os.listdir(tmp_path) == []


def test_missing_optional_fields_take_the_original_xxlarge_defaults():
  config = AlbertConfig.from_dict({"vocab_size": 30000})
  assert (config.hidden_size, config.num_attention_heads, config.intermediate_size) == (4096, 64,
                                                                                        16384)
  assert (config.embedding_size, config.num_hidden_layers, config.hidden_act) == (128, 12, "gelu")
  assert config.hidden_dropout_prob == 0.0


def test_missing_vocab_size_is_an_error_naming_the_field_and_file(tmp_path):
  values = dict(BASE_FIELDS)
  del values["vocab_size"]
  path = _write(tmp_path / "albert_config.json", json.dumps(values))
  with pytest.raises(AlbertConfigError) as error:
    AlbertConfig.from_json_file(path)
  message = str(error.value)
  assert "\n" not in message
  assert path in message and "vocab_size" in message


def test_malformed_json_names_file_line_and_column(tmp_path):
  path = _write(tmp_path / "bad.json", '{\n  "vocab_size": 30000,\n  "hidden_size": 768,,\n}\n')
  with pytest.raises(AlbertConfigError) as error:
    AlbertConfig.from_json_file(path)
  message = str(error.value)
  assert message.startswith(f"{path}:3:22: malformed JSON")
  assert "\n" not in message


def test_non_object_json_is_rejected(tmp_path):
  path = _write(tmp_path / "list.json", "[1, 2]")
  with pytest.raises(AlbertConfigError, match="must be a JSON object"):
    AlbertConfig.from_json_file(path)


def test_missing_file_is_a_one_line_error(tmp_path):
  path = str(tmp_path / "nope.json")
  with pytest.raises(AlbertConfigError, match=f"{path}: config file not found"):
    AlbertConfig.from_json_file(path)


@pytest.mark.parametrize("field,value,pattern", [
    ("num_attention_heads", 10, r"hidden_size \(768\) must be divisible by num_attention_heads"),
    ("num_hidden_layers", 0, "num_hidden_layers must be a positive integer"),
    ("vocab_size", "30000", "vocab_size must be a positive integer"),
    ("hidden_size", 768.0, "hidden_size must be a positive integer"),
    ("inner_group_num", 0, "inner_group_num must be a positive integer"),
    ("type_vocab_size", True, "type_vocab_size must be a positive integer"),
    ("num_hidden_groups", 13, r"num_hidden_groups \(13\) must not exceed num_hidden_layers"),
    ("hidden_act", "swish", "hidden_act 'swish' is not supported"),
    ("hidden_act", 3, "hidden_act must be a string"),
    ("hidden_dropout_prob", 1.0, r"hidden_dropout_prob must be a number in \[0, 1\)"),
    ("attention_probs_dropout_prob", -0.1, "attention_probs_dropout_prob must be a number"),
    ("initializer_range", 0, "initializer_range must be a positive, finite number"),
])
def test_invalid_values_name_the_field(tmp_path, field, value, pattern):
  path = _write(tmp_path / "albert_config.json", json.dumps(dict(BASE_FIELDS, **{field: value})))
  with pytest.raises(AlbertConfigError, match=pattern) as error:
    AlbertConfig.from_json_file(path)
  assert str(error.value).startswith(path + ": ")
  assert isinstance(error.value, ValueError)


# json.loads reads NaN, Infinity and -Infinity, so a config file can hold them.
@pytest.mark.parametrize(
    "field", ["initializer_range", "hidden_dropout_prob", "attention_probs_dropout_prob"])
@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_floats_name_the_field(tmp_path, field, text):
  path = _write(tmp_path / "albert_config.json",
                json.dumps(dict(BASE_FIELDS, **{field: 0.5})).replace("0.5", text))
  with pytest.raises(AlbertConfigError) as error:
    AlbertConfig.from_json_file(path)
  expected = ("must be a positive, finite number"
              if field == "initializer_range" else r"must be a number in [0, 1)")
  value = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[text]
  assert str(error.value).startswith(f"{path}: {field} {expected}")
  assert str(error.value).endswith(f"got {value}") and "\n" not in str(error.value)


@pytest.mark.parametrize("field,value", [("vocab_size", np.float64(30000.0)),
                                         ("hidden_size", np.bool_(True)),
                                         ("num_hidden_layers", np.int64(-1))])
def test_numpy_values_are_checked_like_python_ones(field, value):
  with pytest.raises(AlbertConfigError, match=f"^{field} must be a positive integer, got "):
    AlbertConfig(**dict(BASE_FIELDS, **{field: value}))


def test_numpy_scalars_are_taken_as_plain_numbers():
  numpy_fields = {
      "vocab_size": np.int64(30000),
      "hidden_size": np.int32(768),
      "num_attention_heads": np.uint8(12),
      "intermediate_size": np.int16(3072),
      "hidden_dropout_prob": np.float64(0.1),
      "initializer_range": np.float64(0.02),
      "gap_size": np.int64(3)
  }
  config = AlbertConfig(**dict(BASE_FIELDS, **numpy_fields))
  written = json.loads(config.to_json_string())
  assert written == dict(BASE_FIELDS, hidden_dropout_prob=0.1, gap_size=3)
  assert all(type(config.to_dict()[key]) is type(written[key]) for key in numpy_fields)
  assert type(
      AlbertConfig(
          **dict(BASE_FIELDS, initializer_range=np.float32(0.5))).initializer_range) is float


@pytest.mark.parametrize("hidden_act,normalized", [("GELU", "gelu"), ("relu", "relu"),
                                                   ("", "linear"), (None, "linear"),
                                                   ("linear", "linear")])
def test_hidden_act_is_read_like_the_original(hidden_act, normalized):
  config = AlbertConfig.from_dict(dict(BASE_FIELDS, hidden_act=hidden_act))
  assert config.activation == normalized
  assert config.to_dict()["hidden_act"] == hidden_act


def test_group_of_layer_uses_the_original_float_arithmetic():
  assert [albert_config.group_of_layer(i, 12, 3) for i in range(12)] == [0] * 4 + [1] * 4 + [2] * 4
  assert [albert_config.group_of_layer(i, 12, 1) for i in range(12)] == [0] * 12
  assert [albert_config.group_of_layer(i, 4, 2) for i in range(4)] == [0, 0, 1, 1]
  # 15 / 22 * 22 == 14.999999999999998 in float64: the original puts layer 15 in group 14, not 15.
  assert albert_config.group_of_layer(15, 22, 22) == 14
  assert AlbertConfig.from_dict(dict(BASE_FIELDS, num_hidden_groups=3)).group_of_layer(5) == 1


def test_head_size():
  assert AlbertConfig.from_preset("albert_xxlarge_zh").head_size == 256
