"""The name table: original TF1 ALBERT variable names <-> attribute paths of our Keras models.

One row per original scope (reference/original_albert.md §7.3), expanded for a config's number of
groups G and inner groups K. Rows are data, not code paths: a Dense row stands for its `kernel`
[in, out] and `bias` [out], a LayerNorm row for `gamma` and `beta`, a variable row for itself.
Shapes are written with the config fields they come from, so a mismatch can name the field.

Attribute paths are relative to a model that holds the backbone as `albert` (AlbertPretrainer,
AlbertClassifier); the backbone rows start with `albert.` (docs/architecture.md). For an
`AlbertModel` the `albert.` is dropped and no head rows apply. Heads are tables of their own: the
pretraining heads (`cls/...`, MLM and SOP) and run_classifier's head (root-scope `output_weights`
[num_labels, H] and `output_bias` [num_labels]).

Two layouts: Google's (google-research/albert, also Google's Chinese models and brightmart's
*_google ones), and brightmart/albert_zh's own (reference/albert_zh.md §4.1: `word_embeddings_2`
projection before the H-wide position/type embeddings, one `bert/encoder/layer_shared` block, an
H->H MLM transform), which `albert_tf.brightmart` models reproduce.

Each model declares what it holds of a checkpoint with `checkpoint_table()`, a `CheckpointTable`
(its config, its backbone's layout, its head); the checkpoint code reads and writes models through
that table and the attribute paths alone.

Example:

    for variable in original_variables(config):
      print(variable.name, variable.shape(config), variable.attribute_path)
    original_variable_shapes(config)["bert/pooler/dense/kernel"]   # (hidden_size, hidden_size)
    [variable.name for variable in head_variables(CLASSIFIER_HEAD)]  # output_weights, output_bias
    pretrainer.checkpoint_table().variables()   # backbone and pretraining heads
"""

import dataclasses
import re
from typing import Any, Iterator, Optional, Protocol, Sequence, Union, runtime_checkable

GOOGLE_LAYOUT = "google"
BRIGHTMART_LAYOUT = "brightmart"
BACKBONE_ATTRIBUTE = "albert"
GROUP_PATTERN = re.compile(r"/group_(\d+)/")
# The heads: keys of `head_variables`.
PRETRAINING_HEADS = "pretraining"
CLASSIFIER_HEAD = "classifier"
SQUAD_V1_HEAD = "squad_v1"
SQUAD_V2_HEAD = "squad_v2"
MULTIPLE_CHOICE_HEAD = "multiple_choice"
# The classifier head's size that is a property of the task, not of the AlbertConfig.
NUM_LABELS = "num_labels"

# A dimension is a config field name or a literal size.
Dimension = Union[str, int]

_DENSE = "dense"
_LAYER_NORM = "layer_norm"
_VARIABLE = "variable"


@dataclasses.dataclass(frozen=True)
class _Row:
  """One original scope: its name, our attribute path, its kind and the shape of its weight."""
  scope: str
  attribute: str
  kind: str
  dims: tuple[Dimension, ...]


# Only present when embedding_size != hidden_size.
_PROJECTION_ROWS = (_Row("bert/encoder/embedding_hidden_mapping_in", "embedding_projection", _DENSE,
                         ("embedding_size", "hidden_size")),)


def _embedding_rows(width: str, projection: tuple[_Row, ...] = ()) -> tuple[_Row, ...]:
  """The embedding tables; `width` is the config field of the type/position/LayerNorm width."""
  return (
      _Row("bert/embeddings/word_embeddings", "embeddings.word_embeddings", _VARIABLE,
           ("vocab_size", "embedding_size")),
      *projection,
      _Row("bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings", _VARIABLE,
           ("type_vocab_size", width)),
      _Row("bert/embeddings/position_embeddings", "embeddings.position_embeddings", _VARIABLE,
           ("max_position_embeddings", width)),
      _Row("bert/embeddings/LayerNorm", "embeddings.layer_norm", _LAYER_NORM, (width,)),
  )


# brightmart projects right after the lookup (no bias) and adds position/type embeddings at width H.
_EMBEDDING_ROWS = {
    GOOGLE_LAYOUT:
        _embedding_rows("embedding_size"),
    BRIGHTMART_LAYOUT:
        _embedding_rows(
            "hidden_size",
            (_Row("bert/embeddings/word_embeddings_2", "embeddings.word_embeddings_2", _VARIABLE,
                  ("embedding_size", "hidden_size")),)),
}

# One transformer block: (attribute, kind, dims, Google scope, brightmart scope). The scopes are
# relative to bert/encoder/transformer/group_{g}/inner_group_{k} (Google) and
# bert/encoder/layer_shared (brightmart); the attribute to encoder.groups[g][k].
_BLOCK_TABLE = (
    ("query", _DENSE, ("hidden_size", "hidden_size"), "attention_1/self/query",
     "attention/self/query"),
    ("key", _DENSE, ("hidden_size", "hidden_size"), "attention_1/self/key", "attention/self/key"),
    ("value", _DENSE, ("hidden_size", "hidden_size"), "attention_1/self/value",
     "attention/self/value"),
    ("attention_output", _DENSE, ("hidden_size", "hidden_size"), "attention_1/output/dense",
     "attention/output/dense"),
    ("attention_layer_norm", _LAYER_NORM, ("hidden_size",), "LayerNorm",
     "attention/output/LayerNorm"),
    ("intermediate", _DENSE, ("hidden_size", "intermediate_size"), "ffn_1/intermediate/dense",
     "intermediate/dense"),
    ("output_dense", _DENSE, ("intermediate_size", "hidden_size"),
     "ffn_1/intermediate/output/dense", "output/dense"),
    ("output_layer_norm", _LAYER_NORM, ("hidden_size",), "LayerNorm_1", "output/LayerNorm"),
)
_BLOCK_ROWS = {
    GOOGLE_LAYOUT:
        tuple(
            _Row(google, attribute, kind, dims) for attribute, kind, dims, google, _ in _BLOCK_TABLE
        ),
    BRIGHTMART_LAYOUT:
        tuple(
            _Row(brightmart, attribute, kind, dims)
            for attribute, kind, dims, _, brightmart in _BLOCK_TABLE),
}
_BLOCK_SCOPE = "bert/encoder/transformer/group_{g}/inner_group_{k}/"
_BRIGHTMART_BLOCK_SCOPE = "bert/encoder/layer_shared/"
_BLOCK_ATTRIBUTE = "encoder.groups[{g}][{k}]."

_POOLER_ROWS = (_Row("bert/pooler/dense", "pooler", _DENSE, ("hidden_size", "hidden_size")),)

# The heads, relative to the pretrainer itself. brightmart's MLM transform is H->H.
_MLM_ROWS = {
    layout: (
        _Row("cls/predictions/transform/dense", "masked_lm.transform", _DENSE,
             ("hidden_size", width)),
        _Row("cls/predictions/transform/LayerNorm", "masked_lm.layer_norm", _LAYER_NORM, (width,)),
        _Row("cls/predictions/output_bias", "masked_lm.output_bias", _VARIABLE, ("vocab_size",)),
    ) for layout, width in ((GOOGLE_LAYOUT, "embedding_size"), (BRIGHTMART_LAYOUT, "hidden_size"))
}
_SOP_ROWS = (
    _Row("cls/seq_relationship/output_weights", "sentence_order.output_weights", _VARIABLE,
         (2, "hidden_size")),
    _Row("cls/seq_relationship/output_bias", "sentence_order.output_bias", _VARIABLE, (2,)),
)
# run_classifier's head (classifier_utils.create_model) at the root scope, the same in both layouts.
_CLASSIFIER_ROWS = (
    _Row("output_weights", "classifier.output_weights", _VARIABLE, (NUM_LABELS, "hidden_size")),
    _Row("output_bias", "classifier.output_bias", _VARIABLE, (NUM_LABELS,)),
)

# run_squad_v1's head (squad_utils.create_v1_model): start and end logits under `cls/squad`.
_SQUAD_V1_ROWS = (
    _Row("cls/squad/output_weights", "squad_head.output_weights", _VARIABLE, (2, "hidden_size")),
    _Row("cls/squad/output_bias", "squad_head.output_bias", _VARIABLE, (2,)),
)
# run_squad_v2's head (squad_utils.create_v2_model, XLNet's) at the root scope. The kernels of
# end_logits/dense_0 and answer_class/dense_0 are [2·H, H] (they read two H-vectors concatenated);
# their first dimension is written as hidden_size, the config field it follows.
_SQUAD_V2_ROWS = (
    _Row("start_logits/dense", "squad_head.start_dense", _DENSE, ("hidden_size", 1)),
    _Row("end_logits/dense_0", "squad_head.end_dense_0", _DENSE, ("hidden_size", "hidden_size")),
    _Row("end_logits/LayerNorm", "squad_head.end_layer_norm", _LAYER_NORM, ("hidden_size",)),
    _Row("end_logits/dense_1", "squad_head.end_dense_1", _DENSE, ("hidden_size", 1)),
    _Row("answer_class/dense_0", "squad_head.answer_dense_0", _DENSE,
         ("hidden_size", "hidden_size")),
    _Row("answer_class/dense_1/kernel", "squad_head.answer_dense_1.kernel", _VARIABLE,
         ("hidden_size", 1)),
)
# run_race's head (race_utils.create_model): one score per option, at the root scope like the
# classifier's (the same names, one row), applied to each option's pooled output.
_MULTIPLE_CHOICE_ROWS = (
    _Row("output_weights", "classifier.output_weights", _VARIABLE, (1, "hidden_size")),
    _Row("output_bias", "classifier.output_bias", _VARIABLE, (1,)),
)

# Every head but the pretraining ones is the same in both layouts.
_LAYOUT_FREE_HEAD_ROWS = (
    (CLASSIFIER_HEAD, _CLASSIFIER_ROWS),
    (SQUAD_V1_HEAD, _SQUAD_V1_ROWS),
    (SQUAD_V2_HEAD, _SQUAD_V2_ROWS),
    (MULTIPLE_CHOICE_HEAD, _MULTIPLE_CHOICE_ROWS),
)
_HEAD_ROWS = {
    PRETRAINING_HEADS: {
        layout: _MLM_ROWS[layout] + _SOP_ROWS for layout in (GOOGLE_LAYOUT, BRIGHTMART_LAYOUT)
    },
    **{
        head: {
            layout: rows for layout in (GOOGLE_LAYOUT, BRIGHTMART_LAYOUT)
        } for head, rows in _LAYOUT_FREE_HEAD_ROWS
    },
}

# What each kind of row stands for: (name suffix, attribute suffix, which dims give its shape).
_KIND_WEIGHTS = {
    _VARIABLE: (("", "", slice(None)),),
    _DENSE: (("/kernel", ".kernel", slice(None)), ("/bias", ".bias", slice(-1, None))),
    _LAYER_NORM: (("/gamma", ".gamma", slice(None)), ("/beta", ".beta", slice(None))),
}


@dataclasses.dataclass(frozen=True)
class OriginalVariable:
  """One variable of the original checkpoint layout.

  Attributes:
    name: the original TF1 name, e.g. "bert/pooler/dense/kernel".
    attribute_path: where it lives in an AlbertPretrainer, e.g. "albert.pooler.kernel".
    dims: its shape as config field names or literal sizes, e.g. ("hidden_size", "hidden_size").
  """
  name: str
  attribute_path: str
  dims: tuple[Dimension, ...]

  @property
  def is_head(self) -> bool:
    """Whether it belongs to a head (pretraining or classifier), absent from an AlbertModel."""
    return not self.attribute_path.startswith(BACKBONE_ATTRIBUTE + ".")

  def shape(self, config: Any) -> tuple[int, ...]:
    """The shape this config gives it (backbone and pretraining heads; not `num_labels`)."""
    return tuple(dim if isinstance(dim, int) else int(getattr(config, dim)) for dim in self.dims)

  def model_attribute_path(self) -> str:
    """The attribute path relative to an AlbertModel (backbone variables only)."""
    prefix = BACKBONE_ATTRIBUTE + "."
    if not self.attribute_path.startswith(prefix):
      raise ValueError(f"{self.name} is not a backbone variable")
    return self.attribute_path[len(prefix):]


def _expand(rows: Sequence[_Row], scope_prefix: str = "",
            attribute_prefix: str = "") -> Iterator[OriginalVariable]:
  for row in rows:
    for name_suffix, attribute_suffix, dims in _KIND_WEIGHTS[row.kind]:
      yield OriginalVariable(name=scope_prefix + row.scope + name_suffix,
                             attribute_path=attribute_prefix + row.attribute + attribute_suffix,
                             dims=row.dims[dims])


def used_groups(config: Any) -> list[int]:
  """The groups some layer runs (`AlbertConfig.group_of_layer`, reference §7.4).

  The original creates a group's variables when a layer first enters its scope, so with more groups
  than layers (e.g. albert_zh's *_google_fast configs) the checkpoint has only these groups.
  """
  return sorted({config.group_of_layer(layer) for layer in range(int(config.num_hidden_layers))})


def original_variables(config: Any, include_heads: bool = True,
                       layout: str = GOOGLE_LAYOUT) -> list[OriginalVariable]:
  """Lists the original variables of a config, in the original order.

  Args:
    config: an `AlbertConfig`.
    include_heads: also list the MLM and SOP head variables (`cls/...`).
    layout: GOOGLE_LAYOUT, or BRIGHTMART_LAYOUT for brightmart/albert_zh's own checkpoints.

  Returns:
    The `OriginalVariable`s, without `global_step`.
  """
  backbone = BACKBONE_ATTRIBUTE + "."
  if layout == BRIGHTMART_LAYOUT:
    variables = list(_expand(_EMBEDDING_ROWS[layout], attribute_prefix=backbone))
    variables.extend(
        _expand(_BLOCK_ROWS[layout], _BRIGHTMART_BLOCK_SCOPE,
                backbone + _BLOCK_ATTRIBUTE.format(g=0, k=0)))
  elif layout == GOOGLE_LAYOUT:
    variables = list(_expand(_EMBEDDING_ROWS[layout], attribute_prefix=backbone))
    if int(config.embedding_size) != int(config.hidden_size):
      variables.extend(_expand(_PROJECTION_ROWS, attribute_prefix=backbone))
    for g in used_groups(config):
      for k in range(int(config.inner_group_num)):
        variables.extend(
            _expand(_BLOCK_ROWS[layout], _BLOCK_SCOPE.format(g=g, k=k),
                    backbone + _BLOCK_ATTRIBUTE.format(g=g, k=k)))
  else:
    raise ValueError(f"unknown checkpoint layout {layout!r}: use {GOOGLE_LAYOUT!r} or "
                     f"{BRIGHTMART_LAYOUT!r}")
  variables.extend(_expand(_POOLER_ROWS, attribute_prefix=backbone))
  if include_heads:
    variables.extend(head_variables(PRETRAINING_HEADS, layout))
  return variables


def head_variables(head: str, layout: str = GOOGLE_LAYOUT) -> list[OriginalVariable]:
  """Lists one head's original variables, with attribute paths relative to the model.

  Args:
    head: PRETRAINING_HEADS (`cls/predictions`, `cls/seq_relationship`) or CLASSIFIER_HEAD
      (`output_weights`, `output_bias`).
    layout: GOOGLE_LAYOUT or BRIGHTMART_LAYOUT.

  Returns:
    The `OriginalVariable`s, in the original order.
  """
  if head not in _HEAD_ROWS:
    raise ValueError(f"unknown head {head!r}: use one of {sorted(_HEAD_ROWS)}")
  return list(_expand(_HEAD_ROWS[head][layout]))


def head_root(name: str) -> str:
  """The scope an original head variable lives under: `cls/<head>` under `cls` (the pretraining
  heads and SQuAD v1 share `cls/`), else the name's first component."""
  parts = name.split("/")
  return "/".join(parts[:2]) if parts[0] == "cls" and len(parts) > 2 else parts[0]


def head_roots(head: str) -> frozenset[str]:
  """The scopes a head's variables live under (`head_root`): e.g. {"cls/predictions",
  "cls/seq_relationship"}, or the classifier's names.

  A checkpoint name under a root of another head than the model's is a head the model does not
  have (the pretraining heads when fine-tuning, the classifier when loading a backbone).
  """
  return frozenset(head_root(variable.name) for variable in head_variables(head))


def heads() -> tuple[str, ...]:
  """Every head the name table knows."""
  return tuple(_HEAD_ROWS)


def original_variable_shapes(config: Any, include_heads: bool = True,
                             layout: str = GOOGLE_LAYOUT) -> dict[str, tuple[int, ...]]:
  """{original TF1 name: shape} for a config, e.g. for writing or checking an exported checkpoint.

  Args:
    config: an `AlbertConfig`.
    include_heads: include the MLM and SOP head variables (`cls/...`).
    layout: GOOGLE_LAYOUT or BRIGHTMART_LAYOUT.

  Returns:
    An ordered dict of names to shapes, without `global_step` (int64 scalar when written).
  """
  return {
      variable.name: variable.shape(config)
      for variable in original_variables(config, include_heads, layout)
  }


def group0_name(name: str) -> str:
  """The name `init_from_group0` falls back to: group_g -> group_0 (reference §7.7)."""
  return GROUP_PATTERN.sub("/group_0/", name, count=1)


@dataclasses.dataclass(frozen=True)
class CheckpointTable:
  """What a model holds of an original checkpoint, as the model declares it.

  Attributes:
    config: the model's AlbertConfig (the shapes, and the fields a mismatch message names).
    layout: its backbone's layout, GOOGLE_LAYOUT or BRIGHTMART_LAYOUT.
    head: the head the model adds to its backbone (PRETRAINING_HEADS or CLASSIFIER_HEAD), held
      beside the backbone, which is then the model's attribute `albert`; None for a backbone.
    head_optional: a checkpoint may lack the head, which then keeps its initialisation (a
      classifier started from a pretraining checkpoint, as the original's run_classifier does).
  """
  config: Any
  layout: str = GOOGLE_LAYOUT
  head: Optional[str] = None
  head_optional: bool = False

  def with_head(self, head: str, optional: bool = False) -> "CheckpointTable":
    """The table of a model that holds this backbone as `albert` and adds `head`."""
    return dataclasses.replace(self, head=head, head_optional=optional)

  def head_variables(self) -> list[OriginalVariable]:
    """The head's variables, in the original order; empty for a backbone."""
    return head_variables(self.head, self.layout) if self.head else []

  def variables(self) -> list[OriginalVariable]:
    """The backbone's variables, then the head's, in the original order."""
    return (original_variables(self.config, include_heads=False, layout=self.layout) +
            self.head_variables())

  def attribute_path(self, variable: OriginalVariable) -> str:
    """Where `variable` lives, relative to the model."""
    return variable.attribute_path if self.head else variable.model_attribute_path()

  def foreign_head_roots(self) -> frozenset[str]:
    """Name roots of heads the model does not have: a checkpoint's variables there are ignored."""
    own = head_roots(self.head) if self.head else frozenset()
    return frozenset().union(*(head_roots(head) for head in heads())) - own


@runtime_checkable
class CheckpointedModel(Protocol):
  """A model that `albert_tf.checkpoints` can load and write: it declares its `CheckpointTable`."""

  def checkpoint_table(self) -> CheckpointTable:
    """The model's config, layout and head."""
