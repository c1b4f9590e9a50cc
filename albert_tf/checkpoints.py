"""Loading and writing ALBERT checkpoints: original TF1 name-based ones and our object-based ones.

`load_checkpoint` fills an `AlbertModel`, `AlbertPretrainer` or `AlbertClassifier` from
  * an original TF1 checkpoint (Google's tarballs, TF-Hub's `module/`-prefixed variables, training
    checkpoints with optimizer slots, run_classifier's fine-tuned checkpoints), matched by name
    through the table in `checkpoint_names`, or
  * an object-based training checkpoint written by our trainer as
    `tf.train.Checkpoint(model=<AlbertPretrainer or AlbertClassifier>, optimizer=..., ...)`,
    matched by object path.
Both go through the same table, so both report what is missing, unexpected or mis-shaped in the
same words, and both refuse to load anything unless everything fits. A classifier started from a
pretraining checkpoint keeps its head's initialisation (reported in `LoadReport.not_found`), as
the original's run_classifier does. brightmart/albert_zh's own checkpoints load into the
`albert_tf.brightmart` models, through that layout's table.

What a model holds (its config, its backbone's layout, its head) is what the model declares with
`checkpoint_table()` (`checkpoint_names.CheckpointTable`); this module knows no model class. A new
fine-tuning model declares its table, and its head is a table in `checkpoint_names`.

Training checkpoints (`training_checkpoint`) record the step as the object `global_step`, which
`recorded_step` reads back, as it reads the `global_step` variable of TF1 checkpoints.

`save_original_checkpoint` writes the original TF1 names and shapes back (what the original code
and Hugging Face's converter read, and what run_classifier restores for a classifier).

Example:

    model = albert_tf.AlbertModel(albert_tf.AlbertConfig.from_preset("albert_base_v2"))
    report = albert_tf.load_checkpoint(model, "albert_base/model.ckpt-best")
    albert_tf.save_original_checkpoint(pretrainer, "export/model.ckpt", global_step=0)

    from albert_tf.models.albert_classifier import AlbertClassifier
    classifier = AlbertClassifier(config, num_labels=3)
    albert_tf.load_checkpoint(classifier, "albert_base")   # backbone; head kept at its init
"""

import contextlib
import dataclasses
import os
import re
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

from absl import logging
from google.protobuf import message as protobuf_message
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from albert_tf import checkpoint_names
from albert_tf import file_io
from albert_tf.checkpoint_names import CheckpointTable
from albert_tf.checkpoint_names import OriginalVariable

PathLike = Union[str, os.PathLike]

TF1_KIND = "tf1"
OBJECT_KIND = "object"

_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VARIABLE_VALUE = "VARIABLE_VALUE"
_HUB_PREFIX = "module/"
# The step of a checkpoint: a TF1 variable, and an object of our training checkpoints.
GLOBAL_STEP = "global_step"
# The checkpoint prefixes training writes: `model.ckpt-<step>`, and the best one kept apart.
CHECKPOINT_NAME = "model.ckpt"
BEST_CHECKPOINT_NAME = CHECKPOINT_NAME + "-best"
_OPTIMIZER_SLOT_SUFFIXES = ("/adam_m", "/adam_v")
_OPTIMIZER_SLOT_MARKERS = ("lamb_m", "lamb_v")
_CHECKPOINT_FILE_SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
_STEP_SUFFIX = re.compile(r"-(\d+)$")
# TF-Hub modules (and SavedModels) keep their variables under this prefix of their directory.
_MODULE_VARIABLES = os.path.join("variables", "variables")
# Names that only one layout has, and what to say when a checkpoint of that layout meets a model of
# another. BERT checkpoints are a classic mix-up (same `bert/` scope, per-layer `layer_<n>` blocks).
_BERT_LAYOUT = "bert"
_LAYOUT_MARKERS = {
    _BERT_LAYOUT: ("bert/encoder/layer_0/",),
    checkpoint_names.BRIGHTMART_LAYOUT:
        ("bert/embeddings/word_embeddings_2", "bert/encoder/layer_shared/"),
    checkpoint_names.GOOGLE_LAYOUT:
        ("bert/encoder/embedding_hidden_mapping_in/", "bert/encoder/transformer/"),
}
_LAYOUT_ADVICE = {
    _BERT_LAYOUT: ("the BERT layout", "it is a BERT checkpoint, not an ALBERT one; use the ALBERT "
                   "checkpoint that came with this albert_config.json"),
    checkpoint_names.BRIGHTMART_LAYOUT:
        ("the brightmart/albert_zh layout", "AlbertModel and AlbertPretrainer take the Google "
         "layout (Google's albert_{base,large,xlarge,xxlarge}_{v1,v2,zh} checkpoints, brightmart's "
         "albert_tiny_zh_google / albert_small_zh_google); load brightmart's own checkpoints into "
         "albert_tf.brightmart.BrightmartAlbertModel or BrightmartPretrainer"),
    checkpoint_names.GOOGLE_LAYOUT:
        ("the Google ALBERT layout", "load it into albert_tf.AlbertModel or AlbertPretrainer"),
}
_ATTRIBUTE_TOKEN = re.compile(r"\w+")


def _num_labels_message(name: str, found_shape: str, found: int, expected: int) -> str:
  task = "1 output (a regression task)" if expected == 1 else f"{expected} labels"
  return (f"{name} is {found_shape} (num_labels={found}) but the task has {task}: use a "
          "checkpoint fine-tuned for this task, or a pretraining checkpoint")


# Shape mismatches of a head size that belongs to the task, not to the AlbertConfig.
_TASK_FIELD_MESSAGES = {checkpoint_names.NUM_LABELS: _num_labels_message}


class CheckpointError(Exception):
  """Any checkpoint the user pointed at that cannot be loaded; the message is one line."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
  """The checkpoint path names no checkpoint."""


class CheckpointReadError(CheckpointError, ValueError):
  """The checkpoint's files exist but cannot be read (truncated, corrupt, a data shard missing)."""


class CheckpointMismatchError(CheckpointError, ValueError):
  """The checkpoint's variables do not fit the model (missing, unexpected or mis-shaped)."""


class CheckpointLayoutError(CheckpointMismatchError):
  """The checkpoint's layout (Google or brightmart/albert_zh) is not the model's."""


@dataclasses.dataclass(frozen=True)
class LoadReport:
  """What `load_checkpoint` did.

  Attributes:
    path: the checkpoint prefix that was read.
    kind: "tf1" (original name-based) or "object" (our object-based training checkpoint).
    loaded: {original name of the model variable: checkpoint key it was read from}.
    from_group0: {original name: the group_0 name it was initialised from}, by `init_from_group0`.
    ignored: checkpoint keys deliberately not loaded (optimizer slots, global_step, heads the
      model does not have; for object-based checkpoints, all outside the model).
    not_found: original names of model variables the checkpoint lacks and that keep their
      initialisation: a classifier's head when loading a pretraining checkpoint.
  """
  path: str
  kind: str
  loaded: dict[str, str]
  from_group0: dict[str, str]
  ignored: tuple[str, ...]
  not_found: tuple[str, ...] = ()

  def __str__(self) -> str:
    source = "original TF1" if self.kind == TF1_KIND else "object-based"
    text = (f"loaded {len(self.loaded)} variables from {source} checkpoint {self.path} "
            f"({len(self.from_group0)} of them from group_0), ignored {len(self.ignored)} "
            "checkpoint entries")
    if self.not_found:
      text += f", kept the initialisation of {', '.join(self.not_found)} (not in the checkpoint)"
    return text


def resolve_checkpoint_prefix(path: PathLike) -> str:
  """Turns a user's checkpoint path into a checkpoint prefix.

  Args:
    path: a prefix (`dir/model.ckpt-best`), one of its files (`.index`, `.data-*`, `.meta`), or a
      directory: its latest checkpoint per the `checkpoint` state file, else `model.ckpt-best`,
      else the highest-numbered `*-<step>` prefix, else its only checkpoint, else (a TF-Hub
      module's directory) `variables/variables`.

  Returns:
    The prefix.

  Raises:
    CheckpointNotFoundError: nothing there is a checkpoint.
  """
  path = _CHECKPOINT_FILE_SUFFIX.sub("", os.fspath(path))
  if tf.io.gfile.isdir(path):
    prefix = tf.train.latest_checkpoint(path) or _prefix_in_directory(path)
    if prefix is None:
      raise CheckpointNotFoundError(
          f"checkpoint directory {path} holds no checkpoint (no *.index file): "
          "pass a directory written by training or export, or a checkpoint prefix")
    return prefix
  if not tf.io.gfile.exists(path + ".index"):
    raise CheckpointNotFoundError(
        f"checkpoint {path} does not exist (no {path}.index): pass a checkpoint prefix such as "
        "dir/model.ckpt-best, or a directory holding checkpoints")
  return path


def _prefix_in_directory(directory: str) -> Optional[str]:
  prefixes = sorted(
      name[:-len(".index")] for name in tf.io.gfile.listdir(directory) if name.endswith(".index"))
  if not prefixes:
    module_variables = os.path.join(directory, _MODULE_VARIABLES)
    return module_variables if tf.io.gfile.exists(module_variables + ".index") else None
  if BEST_CHECKPOINT_NAME in prefixes:
    return os.path.join(directory, BEST_CHECKPOINT_NAME)
  numbered = [prefix for prefix in prefixes if step_in_name(prefix) is not None]
  return os.path.join(directory, max(numbered, key=step_in_name) if numbered else prefixes[0])


def step_in_name(prefix: str) -> Optional[int]:
  """The step in a checkpoint prefix named `<name>-<step>` (`dir/model.ckpt-500`), else None.

  TF's CheckpointManager and the original's Estimator both name checkpoints so.
  """
  match = _STEP_SUFFIX.search(prefix)
  return int(match.group(1)) if match else None


def training_checkpoint(model: tf.Module, optimizer: tf.Module) -> tf.train.Checkpoint:
  """The object-based checkpoint albert-tf training writes, which `load_checkpoint` and
  `recorded_step` read.

  Args:
    model: the trained model, saved as `model` (what `load_checkpoint` loads).
    optimizer: its optimizer (slots and `iterations`), saved as `optimizer`. Its `iterations`
      is also saved as `global_step`, where `recorded_step` finds the step through the public
      Checkpoint API, whatever names Keras gives the optimizer's own variables.

  Returns:
    The checkpoint, to save and restore with its usual methods or a CheckpointManager.
  """
  return tf.train.Checkpoint(model=model, optimizer=optimizer,
                             **{GLOBAL_STEP: optimizer.iterations})


def recorded_step(path: PathLike) -> Optional[int]:
  """The training step a checkpoint was written at, or None when it does not say.

  Read from the `global_step` variable of a TF1 checkpoint (the original's, and
  `save_original_checkpoint`'s) or the `global_step` object of a `training_checkpoint` (so a copy
  such as `model.ckpt-best` keeps its step), else from a `<name>-<step>` name (`step_in_name`).

  Args:
    path: a checkpoint prefix, one of its files, or a directory (see `resolve_checkpoint_prefix`).

  Raises:
    CheckpointNotFoundError: `path` names no checkpoint.
    CheckpointReadError: the checkpoint's files are truncated or corrupt.
  """
  prefix = resolve_checkpoint_prefix(path)
  files = _CheckpointFiles(prefix)
  step = None
  if _OBJECT_GRAPH_KEY in files.shapes:
    global_step = tf.Variable(-1, dtype=tf.int64)
    status = tf.train.Checkpoint(**{GLOBAL_STEP: global_step}).read(prefix).expect_partial()
    try:
      status.assert_existing_objects_matched()
      step = int(global_step.numpy())
    except AssertionError:  # Written without a global_step object.
      pass
  elif GLOBAL_STEP in files.shapes:
    step = int(files.tensor(GLOBAL_STEP))
  return step_in_name(prefix) if step is None else step


def _checkpoint_table(model: Any) -> CheckpointTable:
  """The table a model declares; raises TypeError for anything that declares none."""
  if not isinstance(model, checkpoint_names.CheckpointedModel):
    raise TypeError(f"expected an AlbertModel, AlbertPretrainer or AlbertClassifier (or an "
                    f"albert_tf.brightmart model), got {type(model).__name__}")
  return model.checkpoint_table()


def _ensure_built(model: Any) -> CheckpointTable:
  """Checks the model is one of ours, then creates its variables if needed.

  Our models' `build()` creates every variable from the config alone, with the names a forward
  pass gives them below the model; under the model's own name scope, as a first call would open,
  the names are exactly a forward pass's.
  """
  table = _checkpoint_table(model)
  if not model.built:
    with tf.name_scope(model.name):
      model.build()
  return table


def _resolve_attribute(root: Any, path: str) -> Any:
  """Follows "encoder.groups[1][0].query.kernel" from `root` (names and list indices)."""
  value = root
  for token in _ATTRIBUTE_TOKEN.findall(path):
    value = value[int(token)] if token.isdigit() else getattr(value, token)
  return value


def _format_shape(shape: Iterable[int]) -> str:
  return "[" + ",".join(str(dim) for dim in shape) + "]"


def _collapse_scopes(names: list[str], universe: Iterable[str]) -> list[str]:
  """Lists `names`, writing a scope whose variables are all listed as "scope/* (n variables)"."""
  listed = set(names)
  universe = list(universe)
  collapsed = []
  for name in names:
    parts = name.split("/")
    for depth in range(1, len(parts)):
      scope = "/".join(parts[:depth]) + "/"
      members = [other for other in universe if other.startswith(scope)]
      if all(member in listed for member in members):
        entry = f"{scope}* ({len(members)} variables)"
        break
    else:
      entry = name
    if entry not in collapsed:
      collapsed.append(entry)
  return collapsed


class _Mismatch:
  """Collects every reason a checkpoint does not fit, to raise them together in one line."""

  def __init__(self):
    self.wrong_shapes: list[str] = []
    self.field_values: dict[str, set[int]] = {}
    self.task_fields: dict[str, str] = {}
    self.missing: list[str] = []
    self.unexpected: list[str] = []

  def check_shape(self, variable: OriginalVariable, key: str, found: list[int],
                  expected: list[int]) -> bool:
    if list(found) == list(expected):
      return True
    fields = []
    if len(found) == len(expected):
      for dim, found_size, expected_size in zip(variable.dims, found, expected):
        if found_size == expected_size or not isinstance(dim, str):
          continue
        if dim in _TASK_FIELD_MESSAGES:
          self.task_fields.setdefault(
              dim, _TASK_FIELD_MESSAGES[dim](key, _format_shape(found), found_size, expected_size))
          return False
        fields.append(dim)
        self.field_values.setdefault(dim, set()).add(int(found_size))
    hint = f" ({', '.join(dict.fromkeys(fields))})" if fields else ""
    self.wrong_shapes.append(f"{key} has shape {_format_shape(found)}, "
                             f"config expects {_format_shape(expected)}{hint}")
    return False

  def raise_if_any(self, path: str, config: Any, expected: Iterable[str], found: Iterable[str],
                   hints: Iterable[str] = ()) -> None:
    """Raises one CheckpointMismatchError naming everything collected, if anything was.

    A head sized for another task (num_labels) is the whole message: it is the user's mistake to
    fix first, whatever else differs.
    """
    if self.task_fields:
      raise CheckpointMismatchError(f"checkpoint {path} does not fit the task: " +
                                    "; ".join(self.task_fields.values()))
    if not (self.wrong_shapes or self.missing or self.unexpected):
      return
    parts = [
        f"{field} is {'/'.join(map(str, sorted(values)))} in the checkpoint but "
        f"{getattr(config, field)} in the config" for field, values in self.field_values.items()
    ]
    parts.extend(self.wrong_shapes)
    if self.missing:
      parts.append("missing: " + ", ".join(_collapse_scopes(self.missing, expected)))
    if self.unexpected:
      parts.append("unexpected: " + ", ".join(_collapse_scopes(self.unexpected, found)))
    parts.extend(hints)
    raise CheckpointMismatchError(f"checkpoint {path} does not match the config: " +
                                  "; ".join(parts))


class _CheckpointFiles:
  """A checkpoint reader whose failures on unreadable files are one CheckpointReadError line.

  Attributes:
    prefix: the checkpoint prefix.
    shapes: {checkpoint key: shape}.
  """

  def __init__(self, prefix: str):
    self.prefix = prefix
    with self._read_errors():
      self._reader = tf.train.load_checkpoint(prefix)
      self.shapes = self._reader.get_variable_to_shape_map()

  def tensor(self, key: str) -> np.ndarray:
    with self._read_errors():
      return self._reader.get_tensor(key)

  def object_graph(self) -> trackable_object_graph_pb2.TrackableObjectGraph:
    with self._read_errors():
      return trackable_object_graph_pb2.TrackableObjectGraph.FromString(
          self._reader.get_tensor(_OBJECT_GRAPH_KEY))

  @contextlib.contextmanager
  def _read_errors(self) -> Iterator[None]:
    # IndexError is how the reader reports a truncated data file.
    try:
      yield
    except (tf.errors.OpError, IndexError, protobuf_message.DecodeError) as error:
      reason = (error.message
                if isinstance(error, tf.errors.OpError) else str(error)).strip().splitlines()[0]
      raise CheckpointReadError(
          f"checkpoint {self.prefix} cannot be read ({reason}): its files are incomplete or "
          "corrupt; copy or export it again") from None


def _is_ignored_tf1_name(name: str) -> bool:
  return (name == GLOBAL_STEP or name.endswith(_OPTIMIZER_SLOT_SUFFIXES) or
          any(marker in name for marker in _OPTIMIZER_SLOT_MARKERS))


def _check_layout(names: Iterable[str], path: str, model: Any, table: CheckpointTable) -> None:
  """Refuses a checkpoint that carries the names of the other layout than the model's."""
  for layout, markers in _LAYOUT_MARKERS.items():
    found = [marker for marker in markers if any(name.startswith(marker) for name in names)]
    if found and layout != table.layout:
      description, advice = _LAYOUT_ADVICE[layout]
      raise CheckpointLayoutError(
          f"checkpoint {path} uses {description} ({', '.join(found)} ...), which "
          f"{type(model).__name__} does not load: {advice}")


def _tf1_keys(files: _CheckpointFiles, model: Any,
              table: CheckpointTable) -> tuple[dict[str, str], list[str]]:
  """Maps original names to TF1 checkpoint keys; returns it with the keys to ignore."""
  keys, ignored = {}, []
  foreign_heads = table.foreign_head_roots()
  for key in sorted(files.shapes):
    name = key[len(_HUB_PREFIX):] if key.startswith(_HUB_PREFIX) else key
    if _is_ignored_tf1_name(name) or checkpoint_names.head_root(name) in foreign_heads:
      ignored.append(key)
    else:
      keys[name] = key
  _check_layout(keys, files.prefix, model, table)
  return keys, ignored


def _object_keys(files: _CheckpointFiles,
                 variables: list[OriginalVariable]) -> tuple[dict[str, str], list[str]]:
  """Maps original names to object-based checkpoint keys by walking the saved object graph."""
  graph = files.object_graph()

  def child(node_id: Optional[int], name: str) -> Optional[int]:
    if node_id is None:
      return None
    for reference in graph.nodes[node_id].children:
      if reference.local_name == name:
        return reference.node_id
    return None

  root = child(0, "model")
  if root is None:
    names = ", ".join(reference.local_name for reference in graph.nodes[0].children)
    raise CheckpointMismatchError(
        f"checkpoint {files.prefix} is object-based but has no `model` object (it has: {names}): "
        "pass an albert-tf training checkpoint, written as "
        "tf.train.Checkpoint(model=AlbertPretrainer)")
  # A pretrainer or classifier holds the backbone as `albert`; a bare AlbertModel is the backbone.
  holds_backbone = child(root, checkpoint_names.BACKBONE_ATTRIBUTE) is not None
  keys = {}
  for variable in variables:
    if holds_backbone:
      attribute_path = variable.attribute_path
    elif variable.is_head:
      continue
    else:
      attribute_path = variable.model_attribute_path()
    node = root
    for token in _ATTRIBUTE_TOKEN.findall(attribute_path):
      node = child(node, token)
    if node is None:
      continue
    for attribute in graph.nodes[node].attributes:
      if attribute.name == _VARIABLE_VALUE:
        keys[variable.name] = attribute.checkpoint_key
  ignored = sorted(set(files.shapes) - set(keys.values()) - {_OBJECT_GRAPH_KEY})
  return keys, ignored


def _group0_hint(missing: list[str], keys: Mapping[str, str]) -> list[str]:
  """Suggests init_from_group0 when exactly the groups beyond group_0 are missing."""
  if not missing or not all(
      checkpoint_names.GROUP_PATTERN.search(name) and checkpoint_names.group0_name(name) in keys
      for name in missing):
    return []
  return [
      "the checkpoint has fewer layer groups than num_hidden_groups: pass "
      "init_from_group0=True to initialise the other groups from group_0"
  ]


def _absent_optional_head(table: CheckpointTable, keys: Mapping[str, str]) -> tuple[str, ...]:
  """The names of an optional head the checkpoint has none of (they keep their initialisation)."""
  if not table.head_optional:
    return ()
  names = [variable.name for variable in table.head_variables()]
  return () if any(name in keys for name in names) else tuple(names)


def _match(model: Any, table: CheckpointTable, path: str, keys: Mapping[str, str],
           shapes: Mapping[str, list[int]], init_from_group0: bool,
           report_unexpected: bool) -> tuple[dict[str, tuple[Any, str, str]], tuple[str, ...]]:
  """Pairs each model variable with its checkpoint key, or raises listing all that does not fit.

  Returns:
    {original name: (model variable, checkpoint key, original name read)} and the names of the
    optional head left at its initialisation.
  """
  mismatch = _Mismatch()
  matched = {}
  used_keys = set()
  not_found = _absent_optional_head(table, keys)
  variables = [variable for variable in table.variables() if variable.name not in not_found]
  for variable in variables:
    source = variable.name
    if source not in keys and init_from_group0:
      source = checkpoint_names.group0_name(source)
    if source not in keys:
      mismatch.missing.append(variable.name)
      continue
    key = keys[source]
    used_keys.add(key)
    target = _resolve_attribute(model, table.attribute_path(variable))
    if mismatch.check_shape(variable, key, shapes[key], target.shape.as_list()):
      matched[variable.name] = (target, key, source)
  if report_unexpected:
    mismatch.unexpected = [key for key in keys.values() if key not in used_keys]
  hints = [] if init_from_group0 else _group0_hint(mismatch.missing, keys)
  mismatch.raise_if_any(path, table.config, [variable.name for variable in variables],
                        keys.values(), hints)
  return matched, not_found


def load_checkpoint(model: tf.Module, path: PathLike, init_from_group0: bool = False) -> LoadReport:
  """Loads an original TF1 or an albert-tf object-based checkpoint into a model.

  Args:
    model: an `AlbertModel`, `AlbertPretrainer` or `AlbertClassifier`, built or not. An
      AlbertModel takes the backbone only (head variables are ignored); a pretrainer also needs
      the MLM and SOP heads; a classifier takes run_classifier's `output_weights` and
      `output_bias` when the checkpoint has them (a fine-tuned one) and otherwise keeps its
      head's initialisation (a pretraining one).
    path: a checkpoint prefix, one of its files, or a directory (see `resolve_checkpoint_prefix`).
    init_from_group0: when the checkpoint has fewer layer groups than the config, initialise each
      absent `group_g` from `group_0`, like the original `--init_from_group0` (reference §7.7).

  Returns:
    A `LoadReport` of what was loaded and what was ignored.

  Raises:
    CheckpointNotFoundError: `path` names no checkpoint.
    CheckpointReadError: the checkpoint's files are truncated or corrupt; nothing is loaded.
    CheckpointMismatchError: variables are missing, unexpected (TF1 only) or of the wrong shape;
      all of them are listed in one message, and nothing is loaded. A classifier head with another
      number of labels than the model's is named alone.
    CheckpointLayoutError: the checkpoint has the brightmart/albert_zh layout and the model
      Google's, or the other way round.
  """
  prefix = resolve_checkpoint_prefix(path)
  table = _ensure_built(model)
  files = _CheckpointFiles(prefix)
  if _OBJECT_GRAPH_KEY in files.shapes:
    kind = OBJECT_KIND
    keys, ignored = _object_keys(files, table.variables())
  else:
    kind = TF1_KIND
    keys, ignored = _tf1_keys(files, model, table)
  matched, not_found = _match(model, table, prefix, keys, files.shapes, init_from_group0,
                              report_unexpected=kind == TF1_KIND)
  # Everything is read before anything is assigned, so a bad file leaves the model untouched.
  values = {key: files.tensor(key) for _, key, _ in matched.values()}
  for target, key, _ in matched.values():
    target.assign(np.asarray(values[key], dtype=target.dtype.as_numpy_dtype))
  report = LoadReport(
      path=prefix, kind=kind, loaded={
          name: key for name, (_, key, _) in matched.items()
      }, from_group0={
          name: source for name, (_, _, source) in matched.items() if source != name
      }, ignored=tuple(ignored), not_found=not_found)
  logging.info("%s: %s.", type(model).__name__, report)
  return report


def load_fine_tuned(model: tf.Module, path: PathLike, head: str, fix: str) -> LoadReport:
  """`load_checkpoint` for a checkpoint that must hold the model's head as well.

  Args:
    model: a model with a head (a classifier, a SQuAD model, ...).
    path: the checkpoint.
    head: the head's name in the message, e.g. "classifier" or "SQuAD v2".
    fix: the checkpoint to pass instead, e.g. "a checkpoint fine-tuned by run_squad_v2".

  Raises:
    CheckpointMismatchError: a variable of the model (of its head) is not in the checkpoint.
  """
  report = load_checkpoint(model, path)
  if report.not_found:
    raise CheckpointMismatchError(
        f"checkpoint {path} has no {head} head ({', '.join(report.not_found)} missing): pass "
        f"{fix}, such as a run's model.ckpt-best")
  logging.info("Loaded %s: %s", path, report)
  return report


def _save_v2(prefix: str, tensors: Mapping[str, tf.Tensor]) -> None:
  names = list(tensors)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=[tensors[name] for name in names])


def save_original_checkpoint(model: tf.Module, path: PathLike, global_step: int = 0) -> str:
  """Writes a model's variables under the original TF1 names and shapes.

  The result is what the original `export_checkpoints.py` writes: the backbone, plus the MLM and SOP
  heads for a pretrainer, and an int64 `global_step`; no optimizer slots. For a classifier it is
  what the original run_classifier trains: the backbone plus root-scope `output_weights`
  [num_labels, H] and `output_bias` [num_labels], which its Estimator restores for eval, predict
  and export. It loads with `tf.compat.v1.train.Saver`, `tf.train.load_checkpoint`, the original
  code and Hugging Face's converter. Files appear complete or not at all (written under a
  temporary name, then renamed).

  Args:
    model: an `AlbertPretrainer` (backbone and heads), an `AlbertClassifier` (backbone and
      classifier head) or an `AlbertModel` (backbone only).
    path: the checkpoint prefix to write, e.g. "export/model.ckpt-best".
    global_step: the value of the `global_step` variable.

  Returns:
    The prefix written.
  """
  prefix = os.fspath(path)
  if tf.io.gfile.isdir(prefix):
    raise ValueError(f"checkpoint path {prefix} is a directory: pass a checkpoint prefix such as "
                     f"{os.path.join(prefix, 'model.ckpt')}")
  table = _ensure_built(model)
  tensors = {
      variable.name: tf.convert_to_tensor(_resolve_attribute(model, table.attribute_path(variable)))
      for variable in table.variables()
  }
  tensors[GLOBAL_STEP] = tf.constant(global_step, tf.int64)
  with file_io.atomic_prefix(prefix) as temporary:
    _save_v2(temporary, tensors)
  logging.info("Wrote %d variables under their original names to %s (global_step=%d).",
               len(tensors) - 1, prefix, global_step)
  return prefix
