"""Writes a fine-tuned AlbertClassifier as a versioned TF Serving SavedModel (`--task=classifier`).

`export_classifier` exports a classifier object; `export_classifier_from_checkpoint` is what
`albert-export --task=classifier` and run_classifier's `--export_dir` both run.
"""

import os
from typing import Optional, Sequence

from absl import logging
import tensorflow as tf

from albert_tf import checkpoints
from albert_tf import precision
from albert_tf.config import AlbertConfig
from albert_tf.export import exporter
from albert_tf.export.classifier_serving_module import ClassifierServingModule
from albert_tf.export.serving_module import TextTokenizer
from albert_tf.models.albert_classifier import AlbertClassifier
from albert_tf.models.hub_encoder import CONFIG_ASSET
from albert_tf.tasks import classifier_data
from albert_tf.tasks.classification import LABEL_LIST_FILE

_TEXT_SIGNATURES = "classify_text, classify_text_pair"


def export_classifier(classifier: AlbertClassifier, *, export_dir: str,
                      text_tokenizer: Optional[TextTokenizer], max_seq_length: int,
                      labels: Sequence[str], is_regression: bool, threshold: Optional[float],
                      version: Optional[int], overwrite: bool = False,
                      assets: Optional[dict[str, str]] = None) -> str:
  """Writes `classifier` with the classifier signatures to `export_dir/<version>`.

  Args:
    classifier: the classifier with its weights.
    export_dir: the base directory TF Serving polls.
    text_tokenizer: in-graph tokenizer (`exporter.create_text_tokenizer`), or None for the id and
      tf.Example signatures only.
    max_seq_length: length the text is packed to and the tf.Example features have.
    labels: the label names in label-id order (ignored for regression).
    is_regression: the classifier has one output, a score.
    threshold: returned as `threshold` by the serialized_example signature; None or NaN for none.
    version: the version directory; None for 1.
    overwrite: replace an existing version.
    assets: files to ship in `assets/` (name -> path).

  Returns:
    The version directory.

  Raises:
    ExportError: the labels do not fit the classifier, or the version exists without overwrite.

  Example:

    tokenizer = exporter.create_text_tokenizer("30k-clean.model", None, do_lower_case=True)
    export_classifier(classifier, export_dir="serving/sst2", text_tokenizer=tokenizer,
                      max_seq_length=128, labels=["0", "1"], is_regression=False,
                      threshold=None, version=None)
  """
  expected = 1 if is_regression else len(labels)
  if classifier.num_labels != expected:
    task = "a regression task needs" if is_regression else f"the {len(labels)} labels need"
    raise exporter.ExportError(
        f"the classifier has num_labels={classifier.num_labels} but {task} {expected}: pass the "
        "labels (or --is_regression) the classifier was fine-tuned with")
  module = ClassifierServingModule(classifier, text_tokenizer, max_seq_length=max_seq_length,
                                   labels=labels, is_regression=is_regression, threshold=threshold,
                                   assets=assets)
  path = exporter.export_serving_model(module, export_dir, 1 if version is None else version,
                                       overwrite=overwrite)
  logging.info("Wrote the classifier SavedModel to %s", path)
  return path


def classifier_checkpoint_prefix(init_checkpoint: str) -> str:
  """A run directory's model.ckpt-best (else its latest checkpoint), or the prefix given.

  Raises:
    ExportError: nothing there is a checkpoint.
  """
  best = os.path.join(init_checkpoint, checkpoints.BEST_CHECKPOINT_NAME)
  if tf.io.gfile.isdir(init_checkpoint) and tf.io.gfile.exists(best + ".index"):
    return best
  try:
    return checkpoints.resolve_checkpoint_prefix(init_checkpoint)
  except checkpoints.CheckpointError as error:
    raise exporter.ExportError(str(error)) from error


def check_labels(labels: Sequence[str], source: str) -> None:
  """Raises ExportError for an empty label list or one that names a label twice."""
  if not labels:
    raise exporter.ExportError(f"{source} names no label: list the task's labels (a regression "
                               "run's has none: pass --is_regression)")
  repeated = sorted({label for label in labels if labels.count(label) > 1})
  if repeated:
    raise exporter.ExportError(f"{source} lists {', '.join(repeated)} more than once: list each "
                               "label once, in label-id order")


def resolve_labels(label_list: Optional[Sequence[str]], num_labels: Optional[int],
                   is_regression: bool, run_dir: str) -> list[str]:
  """The label names: --label_list, else the run's label_list.txt, else "0".."num_labels-1".

  Args:
    label_list: labels given on the command line, or None.
    num_labels: the number of labels given on the command line, or None.
    is_regression: a regression task has no labels (an empty list is returned).
    run_dir: the directory of the checkpoint, where the fine-tuning run wrote label_list.txt.

  Raises:
    ExportError: the labels cannot be determined or contradict num_labels.
  """
  if num_labels is not None and num_labels < 1:
    raise exporter.ExportError(f"--num_labels={num_labels} must be at least 1")
  if is_regression:
    if label_list or num_labels not in (None, 1):
      raise exporter.ExportError("--is_regression exports one score: drop --label_list and "
                                 "--num_labels (or pass --num_labels=1)")
    return []
  label_file = os.path.join(run_dir, LABEL_LIST_FILE)
  if label_list:
    labels, source = list(label_list), "--label_list"
  elif tf.io.gfile.exists(label_file):
    labels, source = classifier_data.read_label_list(label_file), label_file
  elif num_labels:
    labels, source = [str(label_id) for label_id in range(num_labels)], "--num_labels"
  else:
    raise exporter.ExportError(f"no labels: {label_file} does not exist; pass --label_list "
                               "(names in label-id order) or --num_labels")
  check_labels(labels, source)
  if num_labels is not None and num_labels != len(labels):
    raise exporter.ExportError(f"--num_labels={num_labels} but {source} has {len(labels)} "
                               "labels: pass matching values")
  if len(labels) < 2:
    raise exporter.ExportError(f"{source} has one label; a classifier needs two or more (for "
                               "scores pass --is_regression)")
  return labels


def load_classifier(config: AlbertConfig, num_labels: int, init_checkpoint: str,
                    dtype: str) -> AlbertClassifier:
  """An AlbertClassifier with a fine-tuned checkpoint's weights, head included.

  Raises:
    ExportError: the checkpoint cannot be read, does not match, or has no classifier head.
  """
  with precision.policy_scope(dtype):
    classifier = AlbertClassifier(config, num_labels=num_labels)
    try:
      report = checkpoints.load_checkpoint(classifier, init_checkpoint)
    except checkpoints.CheckpointError as error:
      raise exporter.ExportError(" ".join(str(error).split())) from error
  if report.not_found:
    raise exporter.ExportError(
        f"checkpoint {init_checkpoint} has no classifier head ({', '.join(report.not_found)} "
        "missing): pass a fine-tuned checkpoint, such as the run's model.ckpt-best")
  return classifier


def export_classifier_from_checkpoint(*, albert_config_file: str, init_checkpoint: str,
                                      export_dir: str, spm_model_file: Optional[str] = None,
                                      vocab_file: Optional[str] = None, do_lower_case: bool = True,
                                      max_seq_length: int = 128,
                                      label_list: Optional[Sequence[str]] = None,
                                      num_labels: Optional[int] = None, is_regression: bool = False,
                                      threshold: Optional[float] = None,
                                      version: Optional[int] = None, overwrite: bool = False,
                                      dtype: str = "float32", text_signatures: bool = True) -> str:
  """Exports a fine-tuned checkpoint (arguments as the albert-export flags of the same names).

  `init_checkpoint` is a fine-tuning run's output directory (its model.ckpt-best, else its latest
  checkpoint) or a checkpoint prefix, ours or an original run_classifier one. `threshold` is
  --threshold_to_export (NaN or None: no threshold output). `version` defaults to the checkpoint's
  step.

  Returns:
    The version directory.

  Raises:
    ExportError: a user error; the message names the flag or file and the fix.
    AlbertConfigError: the config file is invalid.
  """
  exporter.check_required(albert_config_file=albert_config_file, init_checkpoint=init_checkpoint,
                          export_dir=export_dir)
  config = AlbertConfig.from_json_file(albert_config_file)
  exporter.check_max_seq_length(max_seq_length, config)
  prefix = classifier_checkpoint_prefix(init_checkpoint)
  labels = resolve_labels(label_list, num_labels, is_regression, os.path.dirname(prefix))
  classifier = load_classifier(config, len(labels) or 1, prefix, dtype)
  return export_fine_tuned(classifier, config, prefix, export_dir=export_dir,
                           spm_model_file=spm_model_file, vocab_file=vocab_file,
                           do_lower_case=do_lower_case, max_seq_length=max_seq_length,
                           labels=labels, is_regression=is_regression, threshold=threshold,
                           version=version, overwrite=overwrite, text_signatures=text_signatures)


def export_fine_tuned(classifier: AlbertClassifier, config: AlbertConfig, checkpoint_prefix: str, *,
                      export_dir: str, spm_model_file: Optional[str], vocab_file: Optional[str],
                      do_lower_case: bool, max_seq_length: int, labels: Sequence[str],
                      is_regression: bool, threshold: Optional[float], version: Optional[int],
                      overwrite: bool, text_signatures: bool = True) -> str:
  """Exports a classifier holding `checkpoint_prefix`'s weights, with its vocabulary and config.

  The version defaults to the checkpoint's step; `assets/` gets the vocabulary and the encoder's
  config. Used by export_classifier_from_checkpoint and by run_classifier's --export_dir (which
  exports the model it trained, a TF-Hub encoder included).

  Raises:
    ExportError: as for export_classifier, or the vocabulary does not fit the config.
  """
  tokenizer = None
  if text_signatures:
    tokenizer = exporter.create_text_tokenizer(spm_model_file, vocab_file, do_lower_case,
                                               signatures=_TEXT_SIGNATURES)
    exporter.check_vocab_size(tokenizer, config, spm_model_file or vocab_file)
  version = exporter.serving_version(version, checkpoint_prefix)
  with exporter.staged_config_asset(config) as config_asset:
    assets = {CONFIG_ASSET: config_asset}
    if tokenizer is not None:
      assets["vocab"] = spm_model_file or vocab_file
    return export_classifier(classifier, export_dir=export_dir, text_tokenizer=tokenizer,
                             max_seq_length=max_seq_length, labels=labels,
                             is_regression=is_regression, threshold=threshold, version=version,
                             overwrite=overwrite, assets=assets)
