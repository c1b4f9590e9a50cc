"""Builds and writes the SavedModels: the versioned TF Serving export and the reusable encoder."""

import contextlib
import os
import tempfile
from typing import Callable, Dict, Iterator, Optional

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints
from albert_tf import file_io
from albert_tf import output_lock
from albert_tf import precision
from albert_tf.config import AlbertConfig
from albert_tf.export import tflite_exporter
from albert_tf.export.sentencepiece_text_tokenizer import SentencePieceTextTokenizer
from albert_tf.export.serving_module import AlbertServingModule
from albert_tf.export.serving_module import TextTokenizer
from albert_tf.export.wordpiece_text_tokenizer import WordPieceTextTokenizer
from albert_tf.models.albert_pretrainer import AlbertPretrainer
from albert_tf.models.hub_encoder import CONFIG_ASSET

DTYPES = ("bfloat16", "float32")  # compute dtypes an export can be built in


class ExportError(ValueError):
  """A user error in what was asked to export; the message says what to change."""


def create_text_tokenizer(spm_model_file: Optional[str], vocab_file: Optional[str],
                          do_lower_case: bool,
                          signatures: str = "encode_text, fill_mask_text") -> TextTokenizer:
  """The in-graph tokenizer for a SentencePiece model or a WordPiece vocab (the model wins).

  Args:
    spm_model_file: SentencePiece model, or None.
    vocab_file: WordPiece vocabulary, used when no SentencePiece model is given.
    do_lower_case: lower-case as the vocabulary was built.
    signatures: the text signatures that need it, named in the error when no vocabulary is given.

  Raises:
    ExportError: neither file given, a file missing, or the vocabulary lacks special tokens.
  """
  path = spm_model_file or vocab_file
  if not path:
    raise ExportError(f"the text signatures ({signatures}) need a vocabulary: pass "
                      "--spm_model_file or --vocab_file, or --notext_signatures for id inputs only")
  if not tf.io.gfile.exists(path):
    raise ExportError(f"vocabulary {path} does not exist: check --spm_model_file/--vocab_file")
  try:
    if spm_model_file:
      return SentencePieceTextTokenizer(spm_model_file, do_lower_case=do_lower_case)
    return WordPieceTextTokenizer(vocab_file, do_lower_case=do_lower_case)
  except (ValueError, RuntimeError, OSError) as error:
    raise ExportError(f"cannot use vocabulary {path}: {error}") from error


def check_vocab_size(tokenizer: TextTokenizer, config: AlbertConfig, vocab_path: str) -> None:
  """Raises ExportError when the vocabulary and the config disagree on the vocabulary size."""
  if tokenizer.vocab_size != config.vocab_size:
    raise ExportError(
        f"vocabulary {vocab_path} has {tokenizer.vocab_size} tokens but the config says vocab_size="
        f"{config.vocab_size}: pass the vocabulary the model was trained with")


def check_required(**values: Optional[str]) -> None:
  """Raises ExportError naming the first flag whose value is empty."""
  for name, value in values.items():
    if not value:
      raise ExportError(f"--{name} is required")


def check_max_seq_length(max_seq_length: int, config: AlbertConfig) -> None:
  """Raises ExportError unless `[CLS] text [SEP]` fits and the positions exist."""
  if max_seq_length < 3:
    raise ExportError(f"--max_seq_length={max_seq_length} leaves no room for "
                      "[CLS] text [SEP]: use 3 or more")
  if max_seq_length > config.max_position_embeddings:
    raise ExportError(f"--max_seq_length={max_seq_length} exceeds the config's "
                      f"max_position_embeddings={config.max_position_embeddings}: pass "
                      f"--max_seq_length<={config.max_position_embeddings}, or omit it")


@contextlib.contextmanager
def staged_config_asset(config: AlbertConfig) -> Iterator[str]:
  """Yields the path of `config` written as `albert_config.json` in a temporary directory.

  An asset keeps its file name in `assets/`; staging gives every export the name HubEncoder reads,
  whatever the user's config file is called.
  """
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, CONFIG_ASSET)
    config.to_json_file(path)
    yield path


def load_pretrainer(config: AlbertConfig, init_checkpoint: str, dtype: str) -> AlbertPretrainer:
  """An AlbertPretrainer with the checkpoint's weights (original TF1 or our training checkpoint).

  Raises:
    ExportError: the checkpoint does not exist, cannot be read or does not match the config.
  """
  with precision.policy_scope(dtype):
    pretrainer = AlbertPretrainer(config)
    try:
      checkpoints.load_checkpoint(pretrainer, init_checkpoint)
    except checkpoints.CheckpointError as error:  # not found, unreadable, or not matching
      raise ExportError(" ".join(str(error).split())) from error
  return pretrainer


def serving_version(version: Optional[int], init_checkpoint: str) -> int:
  """The version directory: `version` if given, else the checkpoint's step (1 if 0 or unknown).

  Raises:
    ExportError: a negative version, or a checkpoint that does not exist or cannot be read.
  """
  if version is not None:
    if version < 0:
      raise ExportError(f"--version={version} is negative: TF Serving versions are integers >= 0")
    return version
  try:
    step = checkpoints.recorded_step(init_checkpoint)
  except checkpoints.CheckpointError as error:
    raise ExportError(" ".join(str(error).split())) from error
  if not step:
    logging.info("Checkpoint %s records no training step; exporting as version 1.", init_checkpoint)
    return 1
  return step


def write_atomically(final_dir: str, overwrite: bool, write: Callable[[str], None]) -> str:
  """Calls `write(temp_dir)` next to `final_dir`, then renames it into place.

  `final_dir` is locked meanwhile (output_lock), so two exports cannot interleave there.

  Raises:
    ExportError: `final_dir` exists and `overwrite` is False, or another export writes it.
  """
  final_dir = final_dir.rstrip("/")
  try:
    with output_lock.lock_output(final_dir):
      if tf.io.gfile.exists(final_dir) and not overwrite:
        raise ExportError(f"{final_dir} already exists: pass another --version, or --overwrite")
      for stale in file_io.remove_stale_temporaries(final_dir):
        logging.info("Removed %s, left by an export that was killed.", stale)
      with file_io.atomic_directory(final_dir) as temporary:
        write(temporary)
  except output_lock.OutputLockError as error:
    raise ExportError(str(error)) from error
  return final_dir


def export_serving_model(module: tf.Module, export_dir: str, version: int, overwrite: bool = False,
                         also_write: Optional[Callable[[str], None]] = None) -> str:
  """Writes a serving module with its signatures to `export_dir/<version>`; returns that path.

  Args:
    module: a serving module with a `serve` tf.function and `get_signatures()`
      (AlbertServingModule, ClassifierServingModule).
    export_dir: the base directory TF Serving polls.
    version: the version directory name.
    overwrite: replace an existing version instead of refusing.
    also_write: called with the (temporary) version directory after the SavedModel is in it,
      to add files that appear with it or not at all (the TFLite export).
  """

  def write(path: str) -> None:
    tf.saved_model.save(
        module, path, signatures=module.get_signatures(),
        options=tf.saved_model.SaveOptions(function_aliases={"serve": module.serve}))
    if also_write is not None:
      also_write(path)

  return write_atomically(os.path.join(export_dir, str(version)), overwrite, write)


def build_encoder(pretrainer: AlbertPretrainer) -> tf_keras.Model:
  """A functional Keras model over the pretrainer's backbone, taking the TF-Hub dict inputs."""
  inputs = {
      name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
      for name in ("input_word_ids", "input_mask", "input_type_ids")
  }
  outputs = pretrainer.albert(inputs)
  outputs = {
      "sequence_output": outputs["sequence_output"],
      "pooled_output": outputs["pooled_output"],
      "encoder_outputs": list(outputs["encoder_outputs"]),
  }
  return tf_keras.Model(inputs, outputs, name="albert_encoder")


def export_encoder(pretrainer: AlbertPretrainer, encoder_dir: str, overwrite: bool = False,
                   assets: Optional[Dict[str, str]] = None) -> str:
  """Writes the reusable (fine-tunable, TF-Hub style) encoder SavedModel to `encoder_dir`."""
  encoder = build_encoder(pretrainer)
  encoder.vocab_assets = {key: tf.saved_model.Asset(path) for key, path in (assets or {}).items()}

  def write(path: str) -> None:
    tf.saved_model.save(encoder, path)

  return write_atomically(encoder_dir, overwrite, write)


def export_savedmodel(*, albert_config_file: str, init_checkpoint: str, export_dir: str,
                      spm_model_file: Optional[str] = None, vocab_file: Optional[str] = None,
                      do_lower_case: bool = True, version: Optional[int] = None,
                      overwrite: bool = False, max_seq_length: int = 128, top_k: int = 5,
                      dtype: str = "float32", text_signatures: bool = True,
                      encoder_export_dir: Optional[str] = None, tflite: bool = False,
                      tflite_quantization: str = "none") -> str:
  """Runs the export (arguments as the flags of the same names); returns the version directory.

  Raises:
    ExportError: a user error; the message names the flag or file and the fix.
    AlbertConfigError: the config file is invalid.
  """
  check_required(albert_config_file=albert_config_file, init_checkpoint=init_checkpoint,
                 export_dir=export_dir)
  if top_k < 1:
    raise ExportError(f"--top_k={top_k} must be at least 1")
  config = AlbertConfig.from_json_file(albert_config_file)
  check_max_seq_length(max_seq_length, config)
  tokenizer = None
  if text_signatures:
    tokenizer = create_text_tokenizer(spm_model_file, vocab_file, do_lower_case)
    check_vocab_size(tokenizer, config, spm_model_file or vocab_file)
  tflite_writer = None
  if tflite:
    tflite_writer = _tflite_writer(spm_model_file, vocab_file, do_lower_case, text_signatures,
                                   dtype, tflite_quantization)
  version = serving_version(version, init_checkpoint)
  pretrainer = load_pretrainer(config, init_checkpoint, dtype)
  with staged_config_asset(config) as config_asset:
    assets = {CONFIG_ASSET: config_asset}
    if tokenizer is not None:
      assets["vocab"] = spm_model_file or vocab_file
    module = AlbertServingModule(pretrainer, tokenizer, max_seq_length=max_seq_length, top_k=top_k,
                                 assets=assets)
    also_write = None
    if tflite_writer is not None:

      def also_write(path: str) -> None:
        tflite_writer(pretrainer, path, max_seq_length, top_k)

    path = export_serving_model(module, export_dir, version, overwrite=overwrite,
                                also_write=also_write)
    logging.info("Wrote the serving SavedModel to %s", path)
    if encoder_export_dir:
      encoder_path = export_encoder(pretrainer, encoder_export_dir, overwrite=overwrite,
                                    assets=assets)
      logging.info("Wrote the reusable encoder SavedModel to %s", encoder_path)
  return path


def _tflite_writer(spm_model_file: Optional[str], vocab_file: Optional[str], do_lower_case: bool,
                   text_signatures: bool, dtype: str, quantization: str) -> Callable[..., None]:
  """Checks the TFLite flags; returns writer(pretrainer, directory, max_seq_length, top_k).

  Raises:
    ExportError: a TFLite setting that cannot work, before anything slow runs.
  """
  if not text_signatures:
    raise ExportError("--tflite exports the text signatures: drop --notext_signatures")
  if dtype != "float32":
    raise ExportError(f"--tflite converts float32 models (its int8 variant is "
                      f"--tflite_quantization=dynamic_int8), not --dtype={dtype}: drop --dtype")
  try:
    tflite_exporter.check_quantization(quantization)
    tokenizer = tflite_exporter.create_tflite_tokenizer(spm_model_file, vocab_file, do_lower_case)
  except (tflite_exporter.TfliteExportError, ValueError, RuntimeError, OSError) as error:
    raise ExportError(str(error)) from error

  def write(pretrainer: AlbertPretrainer, directory: str, max_seq_length: int, top_k: int) -> None:
    try:
      paths = tflite_exporter.write_tflite(pretrainer, tokenizer, directory, max_seq_length, top_k,
                                           quantization)
    except tflite_exporter.TfliteExportError as error:
      raise ExportError(str(error)) from error
    logging.info("Wrote %s", ", ".join(os.path.basename(p) for p in paths))

  return write
