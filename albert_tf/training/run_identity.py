"""What makes a run directory one run: its model config, its labels and its records' vocabulary.

A rerun into an existing --output_dir must train the same model on the same kind of data; anything
else would overwrite the run's files and then fail on restore, or silently mix two runs. So every
training run compares what the directory already records with what it is about to write, before it
writes anything (`check_run_directory`), and fails with one line naming the differing fields.

The vocabulary fingerprint comes from create_pretraining_data's stats file next to the records
(`records_vocabulary`); the trainer keeps it in the run's run_info.json (`record_run_info`), where
albert-export compares it with the vocabulary it is given (`recorded_vocabulary`).

This module imports TensorFlow only inside the functions that read run directories: the data tools
import it for `vocabulary_fingerprint` and stay TensorFlow-free.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Optional, Sequence

from albert_tf import file_io
from albert_tf.config import AlbertConfig

CONFIG_FILE = "albert_config.json"
RUN_INFO_FILE = "run_info.json"
# The stats file's key (data_prep/stats.py) and run_info.json's: {"file", "do_lower_case",
# "fingerprint"}.
VOCABULARY_KEY = "vocabulary"
# create_pretraining_data's summary next to its records: <output stem>.stats.json.
STATS_SUFFIX = ".stats.json"
_MALFORMED_FIX = "restore or delete the file"


class RunIdentityError(ValueError):
  """An existing run directory holds a run of another model, labels or vocabulary."""


@dataclasses.dataclass(frozen=True)
class RunIdentity:
  """What a run directory must agree on with every run that writes into it.

  Attributes:
    config: the model's config (albert_config.json).
    label_list: the labels in label-id order (label_list.txt); None when the task has none.
    vocabulary: the records' vocabulary entry ({"file", "do_lower_case", "fingerprint"}); None
      when unknown.
  """
  config: AlbertConfig
  label_list: Optional[Sequence[str]] = None
  vocabulary: Optional[dict] = None


def vocabulary_entry(*, spm_model_file: Optional[str], vocab_file: Optional[str],
                     do_lower_case: bool, fingerprint: str) -> dict:
  """The vocabulary entry of a run or a records' stats file: its file, casing and fingerprint."""
  return {
      "file": spm_model_file or vocab_file,
      "do_lower_case": do_lower_case,
      "fingerprint": fingerprint,
  }


def vocabulary_fingerprint(*, spm_model_file: Optional[str], vocab_file: Optional[str],
                           do_lower_case: bool) -> str:
  """SHA-256 of the vocabulary's kind, its file's bytes (the SentencePiece model wins, as in
  FullTokenizer) and the casing.

  Example:
    >>> import os, tempfile
    >>> vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(vocab_file, "w") as f:
    ...   _ = f.write("[PAD]")
    >>> fingerprint = vocabulary_fingerprint(spm_model_file=None, vocab_file=vocab_file,
    ...                                      do_lower_case=True)
    >>> len(fingerprint), fingerprint == vocabulary_fingerprint(
    ...     spm_model_file=None, vocab_file=vocab_file, do_lower_case=False)
    (64, False)
  """
  digest = hashlib.sha256(b"sentencepiece\n" if spm_model_file else b"wordpiece\n")
  with file_io.open_file(spm_model_file or vocab_file, "rb") as reader:
    digest.update(reader.read())
  digest.update(f"\ndo_lower_case={bool(do_lower_case)}".encode())
  return digest.hexdigest()


def _read_json(path: str, error_type: type[ValueError] = RunIdentityError,
               fix: str = _MALFORMED_FIX) -> Optional[Any]:
  """The JSON in `path`, or None when there is no such file; `error_type` when it is malformed."""
  if not file_io.exists(path):
    return None
  with file_io.open_file(path) as reader:
    text = reader.read()
  try:
    return json.loads(text)
  except json.JSONDecodeError as error:
    raise error_type(f"{path}:{error.lineno}:{error.colno}: malformed JSON ({error.msg}); "
                     f"{fix}") from None


def records_stats(record_files: Sequence[str], *, error_type: type[ValueError] = RunIdentityError,
                  fix: str = _MALFORMED_FIX) -> list[tuple[str, dict]]:
  """The create_pretraining_data stats files that describe `record_files`.

  A stats file `<dir>/*.stats.json` describes the record files of `<dir>` that its "shards" name.

  Args:
    record_files: the record files.
    error_type: what a malformed stats file raises (the caller's error), ...
    fix: ... with this advice at the end of its message.

  Returns:
    (stats path, its JSON object) of each stats file naming at least one of the records, by
    directory and then by name.
  """
  described = []
  for directory in sorted({os.path.dirname(path) for path in record_files}):
    names = {os.path.basename(path) for path in record_files if os.path.dirname(path) == directory}
    for stats_path in file_io.glob_files(os.path.join(directory, "*" + STATS_SUFFIX)):
      stats = _read_json(stats_path, error_type, fix)
      if not isinstance(stats, dict):
        continue
      if {os.path.basename(path) for path in stats.get("shards", ())} & names:
        described.append((stats_path, stats))
  return described


def records_vocabulary(record_files: Sequence[str]) -> Optional[dict]:
  """The vocabulary entry of the create_pretraining_data stats files next to `record_files`
  (`records_stats`).

  Returns:
    The entry, or None when no stats file next to the records records one.

  Raises:
    RunIdentityError: the records were made with different vocabularies.
  """
  found = {}  # fingerprint -> (entry, stats path)
  for stats_path, stats in records_stats(record_files):
    entry = stats.get(VOCABULARY_KEY)
    if entry:
      found.setdefault(entry["fingerprint"], (entry, stats_path))
  if len(found) > 1:
    sources = ", ".join(f"{entry['file']} ({path})" for entry, path in found.values())
    raise RunIdentityError(f"the records were made with different vocabularies: {sources}; train "
                           "on records of one vocabulary")
  return next(iter(found.values()))[0] if found else None


def recorded_vocabulary(run_dir: str) -> Optional[dict]:
  """The vocabulary entry the run in `run_dir` recorded in its run_info.json, or None."""
  info = _read_json(os.path.join(run_dir, RUN_INFO_FILE))
  return info.get(VOCABULARY_KEY) if isinstance(info, dict) else None


def _config_differences(old: AlbertConfig, new: AlbertConfig) -> list[str]:
  old_values, new_values = old.to_dict(), new.to_dict()
  return [
      f"{key} {old_values.get(key)} -> {new_values.get(key)}"
      for key in sorted(set(old_values) | set(new_values))
      if old_values.get(key) != new_values.get(key)
  ]


def _mismatch(output_dir: str, what: str, differences: str, source: str,
              fix: str) -> RunIdentityError:
  return RunIdentityError(f"--output_dir={output_dir} holds a run of another {what}: {differences} "
                          f"({source}); use a new --output_dir or {fix}")


def check_run_directory(output_dir: str, identity: RunIdentity) -> None:
  """Fails when `output_dir` already holds a run that `identity` does not match; reads only.

  Raises:
    RunIdentityError: the directory's albert_config.json, label_list.txt or recorded vocabulary
      differs from `identity` (one line naming the differing fields).
    AlbertConfigError: the directory's albert_config.json is unreadable.
  """
  config_path = os.path.join(output_dir, CONFIG_FILE)
  if file_io.exists(config_path):
    differences = _config_differences(AlbertConfig.from_json_file(config_path), identity.config)
    if differences:
      raise _mismatch(output_dir, "model", ", ".join(differences), config_path, "the run's config")
  if identity.label_list is not None:
    _check_labels(output_dir, identity.label_list)
  recorded = recorded_vocabulary(output_dir)
  if recorded and identity.vocabulary and recorded["fingerprint"] != identity.vocabulary[
      "fingerprint"]:
    raise _mismatch(output_dir, "vocabulary",
                    f"{_describe(recorded)} -> {_describe(identity.vocabulary)}",
                    os.path.join(output_dir,
                                 RUN_INFO_FILE), "records made with the run's vocabulary")


def _check_labels(output_dir: str, label_list: Sequence[str]) -> None:
  # Imported here: only classification runs have labels, and they have loaded these already.
  from albert_tf.tasks import classification  # pylint: disable=g-import-not-at-top
  from albert_tf.tasks import classifier_data  # pylint: disable=g-import-not-at-top
  labels_path = os.path.join(output_dir, classification.LABEL_LIST_FILE)
  if file_io.exists(labels_path):
    labels = classifier_data.read_label_list(labels_path)
    if labels != list(label_list):
      raise _mismatch(output_dir, "label list", f"{labels} -> {list(label_list)}", labels_path,
                      "the run's labels")


def _describe(vocabulary: dict) -> str:
  return (f"{vocabulary['file']} (do_lower_case={vocabulary['do_lower_case']}, sha256 "
          f"{vocabulary['fingerprint'][:12]})")


def record_run_info(output_dir: str, identity: RunIdentity) -> None:
  """Writes run_info.json (atomically) when `identity` knows a vocabulary the run does not record.
  """
  if identity.vocabulary and not recorded_vocabulary(output_dir):
    file_io.write_text_atomically(
        os.path.join(output_dir, RUN_INFO_FILE),
        json.dumps({VOCABULARY_KEY: identity.vocabulary}, indent=2, sort_keys=True) + "\n")


def other_vocabulary_message(init_checkpoint: Optional[str], *, spm_model_file: Optional[str],
                             vocab_file: Optional[str], do_lower_case: bool) -> Optional[str]:
  """A warning when the vocabulary given is not the one the run at `init_checkpoint` trained with.

  Args:
    init_checkpoint: a run directory or a checkpoint prefix in one (None: nothing to compare).
    spm_model_file, vocab_file, do_lower_case: the vocabulary given (the export's flags).

  Returns:
    The message, or None when they agree or the run recorded no vocabulary.
  """
  vocabulary_file = spm_model_file or vocab_file
  if not (init_checkpoint and vocabulary_file and os.path.isfile(vocabulary_file)):
    return None
  run_dir = init_checkpoint if os.path.isdir(init_checkpoint) else os.path.dirname(init_checkpoint)
  recorded = recorded_vocabulary(run_dir)
  if not recorded or recorded["fingerprint"] == vocabulary_fingerprint(
      spm_model_file=spm_model_file, vocab_file=vocab_file, do_lower_case=do_lower_case):
    return None
  return (f"--{'spm_model_file' if spm_model_file else 'vocab_file'}={vocabulary_file} "
          f"(--do_lower_case={do_lower_case}) is not the vocabulary the run trained with "
          f"({recorded['file']}, do_lower_case={recorded['do_lower_case']}, recorded in "
          f"{os.path.join(run_dir, RUN_INFO_FILE)}): the text signatures will tokenize "
          "differently; pass the run's vocabulary.")
