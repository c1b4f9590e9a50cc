"""AlbertConfig: the original `albert_config.json` schema, its validation and the bundled presets.

The field names, meanings and defaults are those of Google's `modeling.AlbertConfig`. Two things
differ on purpose:

* `vocab_size` is required. The original constructor accepts a missing vocab size (it then fails
  deep inside the graph); here a config without it is rejected when it is read.
* Values are validated when the config is created, and every error names the offending field (and
  the file it came from), instead of surfacing later as a shape error (or, for a NaN
  initializer_range, as NaN weights).
* NumPy scalars (np.int64(768), np.float32(0.1)) are taken as the Python numbers they equal, so
  the config always writes plain JSON numbers.

Every other missing key falls back to the original constructor default, which is the ALBERT-xxlarge
architecture (H=4096, 64 heads, I=16384). A warning lists the keys that fell back, because a
truncated config silently becoming xxlarge is a classic surprise. Unknown keys
(`net_structure_type`, `gap_size`, `num_memory_blocks`, `layers_to_keep`, ...) are kept and
written back.

Example:
  >>> config = AlbertConfig.from_preset("albert_base_v2")
  >>> config.hidden_size, config.embedding_size, config.num_hidden_layers
  (768, 128, 12)
  >>> import os, tempfile
  >>> path = os.path.join(tempfile.mkdtemp(), "albert_config.json")
  >>> config.to_json_file(path)
  >>> AlbertConfig.from_json_file(path) == config
  True
"""

import copy
import importlib.resources
import json
import math
import numbers
import os
import pathlib
from typing import Any, Mapping, Optional

from absl import logging

from albert_tf import file_io

# The original constructor defaults (google-research/albert modeling.py), i.e. ALBERT-xxlarge.
ORIGINAL_DEFAULTS = {
    "embedding_size": 128,
    "hidden_size": 4096,
    "num_hidden_layers": 12,
    "num_hidden_groups": 1,
    "num_attention_heads": 64,
    "intermediate_size": 16384,
    "inner_group_num": 1,
    "down_scale_factor": 1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}

REQUIRED_FIELDS = ("vocab_size",)
FIELDS = REQUIRED_FIELDS + tuple(ORIGINAL_DEFAULTS)

_POSITIVE_INT_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                        "num_hidden_groups", "num_attention_heads", "intermediate_size",
                        "inner_group_num", "down_scale_factor", "max_position_embeddings",
                        "type_vocab_size")
_PROBABILITY_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob")

# The `hidden_act` names; albert_tf.layers.activations maps each to its function. "gelu" is the tanh
# approximation (HF calls it "gelu_new").
ACTIVATIONS = ("gelu", "relu", "tanh", "linear")

PRESETS_PACKAGE = "albert_tf.presets"


class AlbertConfigError(ValueError):
  """An ALBERT config that cannot be used; the message names the field (and file)."""


def normalize_activation(hidden_act: Optional[str]) -> str:
  """Maps a `hidden_act` value to one of ACTIVATIONS as the original's get_activation does.

  Args:
    hidden_act: "gelu", "relu", "tanh" or "linear" in any case; "" and None mean "linear".

  Returns:
    The name in ACTIVATIONS.

  Raises:
    AlbertConfigError: any other name.
  """
  name = str(hidden_act).lower() if hidden_act else "linear"
  if name not in ACTIVATIONS:
    raise AlbertConfigError(
        f"hidden_act {hidden_act!r} is not supported; use one of {', '.join(ACTIVATIONS)}")
  return name


def check_attention_heads(hidden_size: int, num_attention_heads: int) -> None:
  """Raises AlbertConfigError unless the heads split the hidden size evenly."""
  if hidden_size % num_attention_heads:
    raise AlbertConfigError(f"hidden_size ({hidden_size}) must be divisible by num_attention_heads "
                            f"({num_attention_heads})")


def check_layer_groups(num_hidden_layers: int, num_hidden_groups: int) -> None:
  """Raises AlbertConfigError when some group would never be used (G > L)."""
  if num_hidden_groups > num_hidden_layers:
    raise AlbertConfigError(
        f"num_hidden_groups ({num_hidden_groups}) must not exceed num_hidden_layers "
        f"({num_hidden_layers}): groups beyond the layer count are never used")


def group_of_layer(layer: int, num_layers: int, num_groups: int) -> int:
  """The parameter group of layer `layer`: int(l / L * G), the original's float arithmetic."""
  return int(layer / num_layers * num_groups)


class AlbertConfig:
  """The hyper-parameters of an ALBERT model (the original `albert_config.json`).

  Attributes are the original field names (vocab_size, embedding_size, hidden_size,
  num_hidden_layers, num_hidden_groups, num_attention_heads, intermediate_size, inner_group_num,
  down_scale_factor, hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
  max_position_embeddings, type_vocab_size, initializer_range). Keys outside that schema are kept
  in `extra` and written back by `to_dict`.

  Example:
    >>> config = AlbertConfig(vocab_size=30000, hidden_size=768, num_attention_heads=12,
    ...                       intermediate_size=3072)
    >>> config.head_size
    64
  """

  def __init__(self, vocab_size: int, **kwargs: Any):
    """Creates and validates a config.

    Args:
      vocab_size: V, rows of the word embedding table.
      **kwargs: any other original field (missing ones take the original defaults) and any unknown
        key, which is kept verbatim.

    Raises:
      AlbertConfigError: a value is impossible; the message names the field.
    """
    self.vocab_size = _plain_number(vocab_size)
    for field, default in ORIGINAL_DEFAULTS.items():
      setattr(self, field, _plain_number(kwargs.pop(field, default)))
    self.extra = {key: _plain_number(value) for key, value in kwargs.items()}
    self.validate()

  # --- Derived values -------------------------------------------------------------------------

  @property
  def head_size(self) -> int:
    """D = hidden_size / num_attention_heads."""
    return self.hidden_size // self.num_attention_heads

  @property
  def activation(self) -> str:
    """`hidden_act` normalised to one of ACTIVATIONS."""
    return normalize_activation(self.hidden_act)

  def group_of_layer(self, layer: int) -> int:
    """The parameter group used by layer `layer` (0-based)."""
    return group_of_layer(layer, self.num_hidden_layers, self.num_hidden_groups)

  # --- Validation -----------------------------------------------------------------------------

  def validate(self) -> None:
    """Checks every field; raises AlbertConfigError naming the first bad one."""
    for field in _POSITIVE_INT_FIELDS:
      value = getattr(self, field)
      if not _is_number(value, int) or value < 1:
        raise AlbertConfigError(f"{field} must be a positive integer, got {value!r}")
    for field in _PROBABILITY_FIELDS:
      value = getattr(self, field)
      if not _is_number(value, (int, float)) or not 0 <= value < 1:  # Also false for NaN.
        raise AlbertConfigError(f"{field} must be a number in [0, 1), got {value!r}")
    if not _is_number(self.initializer_range,
                      (int, float)) or not (0 < self.initializer_range < math.inf):
      raise AlbertConfigError(f"initializer_range must be a positive, finite number (the "
                              f"initializers' stddev, e.g. 0.02), got {self.initializer_range!r}")
    if self.hidden_act is not None and not isinstance(self.hidden_act, str):
      raise AlbertConfigError(f"hidden_act must be a string, got {self.hidden_act!r}")
    normalize_activation(self.hidden_act)
    check_attention_heads(self.hidden_size, self.num_attention_heads)
    check_layer_groups(self.num_hidden_layers, self.num_hidden_groups)

  # --- Dict / JSON ----------------------------------------------------------------------------

  @classmethod
  def from_dict(cls, values: Mapping[str, Any], source: Optional[str] = None) -> "AlbertConfig":
    """Builds a config from a mapping with the original keys.

    Args:
      values: the JSON object. Missing keys other than vocab_size take the original defaults
        (xxlarge values); a warning lists them. Unknown keys are kept.
      source: where the values came from, prefixed to error messages (e.g. a file name).

    Returns:
      The validated config.

    Raises:
      AlbertConfigError: a required key is missing or a value is invalid.
    """
    prefix = f"{source}: " if source else ""
    if not isinstance(values, Mapping):
      raise AlbertConfigError(
          f"{prefix}an ALBERT config must be a JSON object, got {type(values).__name__}")
    missing_required = [field for field in REQUIRED_FIELDS if field not in values]
    if missing_required:
      raise AlbertConfigError(f"{prefix}missing required field {missing_required[0]}; add it (e.g. "
                              f'"vocab_size": 30000 for the English SentencePiece models)')
    defaulted = [field for field in ORIGINAL_DEFAULTS if field not in values]
    if defaulted:
      logging.warning(
          "%sfields missing from the ALBERT config take the original (xxlarge) "
          "defaults: %s", prefix, ", ".join(defaulted))
    try:
      return cls(**dict(values))
    except AlbertConfigError as e:
      raise AlbertConfigError(f"{prefix}{e}") from None

  @classmethod
  def from_json_string(cls, text: str, source: Optional[str] = None) -> "AlbertConfig":
    """Parses JSON text; a syntax error names the source, line and column."""
    try:
      values = json.loads(text)
    except json.JSONDecodeError as e:
      raise AlbertConfigError(f"{source or '<string>'}:{e.lineno}:{e.colno}: malformed JSON "
                              f"({e.msg}); fix the config file") from None
    return cls.from_dict(values, source=source)

  @classmethod
  def from_json_file(cls, path: "os.PathLike[str] | str") -> "AlbertConfig":
    """Reads an `albert_config.json` (local path or any tf.io.gfile URL such as gs://)."""
    path = os.fspath(path)
    return cls.from_json_string(_read_text(path), source=path)

  def to_dict(self) -> dict:
    """All fields plus the kept unknown keys."""
    values = {field: getattr(self, field) for field in FIELDS}
    values.update(copy.deepcopy(self.extra))
    return values

  def to_json_string(self) -> str:
    """JSON like the original: sorted keys, indent 2, trailing newline."""
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

  def to_json_file(self, path: "os.PathLike[str] | str") -> None:
    """Writes the config atomically: to a temporary name first, then renamed."""
    file_io.write_text_atomically(os.fspath(path), self.to_json_string(), make_parents=False)

  # --- Presets --------------------------------------------------------------------------------

  @classmethod
  def from_preset(cls, name: str) -> "AlbertConfig":
    """Loads a bundled config by name, e.g. "albert_base_v2" or "albert_base_zh"."""
    stem = name[:-len(".json")] if name.endswith(".json") else name
    presets = list_presets()
    if stem not in presets:
      raise AlbertConfigError(f"unknown preset {name!r}; available: {', '.join(presets)}")
    resource = _presets_dir() / f"{stem}.json"
    return cls.from_json_string(resource.read_text(encoding="utf-8"), source=f"preset {stem}")

  @staticmethod
  def list_presets() -> list[str]:
    """Names of the bundled configs, usable with `from_preset`."""
    return list_presets()

  # --- Python protocol ------------------------------------------------------------------------

  def __eq__(self, other: object) -> bool:
    return isinstance(other, AlbertConfig) and self.to_dict() == other.to_dict()

  def __repr__(self) -> str:
    fields = ", ".join(f"{key}={value!r}" for key, value in sorted(self.to_dict().items()))
    return f"AlbertConfig({fields})"


def list_presets() -> list[str]:
  """Names of the bundled configs (file names without `.json`), sorted."""
  return sorted(entry.name[:-len(".json")]
                for entry in _presets_dir().iterdir()
                if entry.name.endswith(".json"))


def _plain_number(value: Any) -> Any:
  """A NumPy (or other numbers.Real) scalar as the Python int or float it equals; else `value`."""
  if isinstance(value, bool) or not isinstance(value, numbers.Real) or type(value) in (int, float):
    return value
  return int(value) if isinstance(value, numbers.Integral) else float(value)


def _is_number(value: Any, types) -> bool:
  """Whether `value` is an instance of `types` (int and/or float) and not a bool."""
  return isinstance(value, types) and not isinstance(value, bool)


def _presets_dir():
  """The installed `albert_tf.presets` package, or `configs/` of a source checkout."""
  try:
    return importlib.resources.files(PRESETS_PACKAGE)
  except ModuleNotFoundError:
    # Running from a checkout that was not pip-installed: configs/ sits next to albert_tf/.
    return pathlib.Path(__file__).resolve().parent.parent / "configs"


def _read_text(path: str) -> str:
  """Reads a local file, or a remote one (gs://...) through tf.io.gfile."""
  if "://" in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top  (keeps `import config` light)
    if not tf.io.gfile.exists(path):
      raise AlbertConfigError(
          f"{path}: config file not found; pass the path of an albert_config.json")
    with tf.io.gfile.GFile(path, "r") as f:
      return f.read()
  if not os.path.isfile(path):
    raise AlbertConfigError(
        f"{path}: config file not found; pass the path of an albert_config.json")
  try:
    with open(path, encoding="utf-8") as f:
      return f.read()
  except UnicodeDecodeError as e:
    raise AlbertConfigError(
        f"{path}: not a UTF-8 text file ({e.reason}); pass a JSON config") from None
