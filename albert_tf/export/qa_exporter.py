"""Writes a fine-tuned SQuAD model as a TF Serving SavedModel with `answer_question`.

`export_squad_from_checkpoint` is what `albert-export --task=squad_v1|squad_v2` runs;
`export_fine_tuned` exports a model already built (run_squad_v1/v2's --export_dir).
"""

from typing import Optional, Union

from absl import logging

from albert_tf import checkpoints
from albert_tf import precision
from albert_tf.config import AlbertConfig
from albert_tf.export import exporter
from albert_tf.export.classifier_exporter import classifier_checkpoint_prefix
from albert_tf.export.qa_serving_module import QaServingModule
from albert_tf.models.albert_squad_v1 import AlbertSquadV1
from albert_tf.models.albert_squad_v2 import AlbertSquadV2
from albert_tf.models.hub_encoder import CONFIG_ASSET

SquadModel = Union[AlbertSquadV1, AlbertSquadV2]
_SIGNATURE = "answer_question"
# --max_seq_length when none is given (the original run_squad's), unless the config has fewer.
DEFAULT_MAX_SEQ_LENGTH = 384


def check_settings(max_seq_length: int, doc_stride: int, max_query_length: int, n_best_size: int,
                   max_answer_length: int, config: AlbertConfig) -> None:
  """Raises ExportError naming the first setting that cannot work."""
  exporter.check_max_seq_length(max_seq_length, config)
  if max_query_length < 1 or max_query_length > max_seq_length - 4:
    raise exporter.ExportError(
        f"--max_query_length={max_query_length} must be between 1 and max_seq_length - 4 = "
        f"{max_seq_length - 4} (room for [CLS], [SEP], [SEP] and one context token)")
  for name, value in (("doc_stride", doc_stride), ("n_best_size", n_best_size),
                      ("max_answer_length", max_answer_length)):
    if value < 1:
      raise exporter.ExportError(f"--{name}={value} must be at least 1")


def load_squad_model(config: AlbertConfig, init_checkpoint: str, version_2: bool,
                     start_n_top: int = 5, end_n_top: int = 5,
                     dtype: str = "float32") -> SquadModel:
  """An AlbertSquadV1/V2 with a fine-tuned checkpoint's weights, head included.

  Raises:
    ExportError: the checkpoint cannot be read, does not match, or has no SQuAD head.
  """
  with precision.policy_scope(dtype):
    if version_2:
      model = AlbertSquadV2(config, start_n_top=start_n_top, end_n_top=end_n_top)
    else:
      model = AlbertSquadV1(config)
    try:
      report = checkpoints.load_checkpoint(model, init_checkpoint)
    except checkpoints.CheckpointError as error:
      raise exporter.ExportError(" ".join(str(error).split())) from error
  if report.not_found:
    task = "squad_v2" if version_2 else "squad_v1"
    raise exporter.ExportError(
        f"checkpoint {init_checkpoint} has no {task} head ({', '.join(report.not_found)} "
        "missing): pass a fine-tuned checkpoint, such as the run's model.ckpt-best")
  return model


def export_squad_from_checkpoint(*, albert_config_file: str, init_checkpoint: str, export_dir: str,
                                 version_2: bool, spm_model_file: Optional[str] = None,
                                 vocab_file: Optional[str] = None, do_lower_case: bool = True,
                                 max_seq_length: Optional[int] = None, doc_stride: int = 128,
                                 max_query_length: int = 64, n_best_size: int = 20,
                                 max_answer_length: int = 30, start_n_top: int = 5,
                                 end_n_top: int = 5, null_score_diff_threshold: float = 0.0,
                                 version: Optional[int] = None, overwrite: bool = False,
                                 dtype: str = "float32", text_signatures: bool = True) -> str:
  """Exports a fine-tuned SQuAD checkpoint (arguments as the flags of the same names).

  `init_checkpoint` is a run_squad output directory (its model.ckpt-best, else its latest
  checkpoint) or a checkpoint prefix, ours or an original run_squad_v1/v2 one.
  `max_seq_length` defaults to 384 (or the config's max_position_embeddings when smaller).
  `null_score_diff_threshold` (v2): no answer when the null score is above it.

  Returns:
    The version directory.

  Raises:
    ExportError: a user error; the message names the flag or file and the fix.
    AlbertConfigError: the config file is invalid.
  """
  exporter.check_required(albert_config_file=albert_config_file, init_checkpoint=init_checkpoint,
                          export_dir=export_dir)
  if not text_signatures:
    raise exporter.ExportError("a SQuAD export has only the answer_question signature, which "
                               "reads raw text: drop --notext_signatures")
  config = AlbertConfig.from_json_file(albert_config_file)
  if max_seq_length is None:
    max_seq_length = min(DEFAULT_MAX_SEQ_LENGTH, config.max_position_embeddings)
  check_settings(max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length,
                 config)
  prefix = classifier_checkpoint_prefix(init_checkpoint)
  model = load_squad_model(config, prefix, version_2, start_n_top, end_n_top, dtype)
  return export_fine_tuned(model, config, prefix, export_dir=export_dir,
                           spm_model_file=spm_model_file, vocab_file=vocab_file,
                           do_lower_case=do_lower_case, max_seq_length=max_seq_length,
                           doc_stride=doc_stride, max_query_length=max_query_length,
                           n_best_size=n_best_size, max_answer_length=max_answer_length,
                           version_2=version_2, null_score_diff_threshold=null_score_diff_threshold,
                           version=version, overwrite=overwrite)


def export_fine_tuned(model: SquadModel, config: AlbertConfig, checkpoint_prefix: str, *,
                      export_dir: str, spm_model_file: Optional[str], vocab_file: Optional[str],
                      do_lower_case: bool, max_seq_length: int, doc_stride: int,
                      max_query_length: int, max_answer_length: int, version_2: bool,
                      n_best_size: int = 20, null_score_diff_threshold: float = 0.0,
                      version: Optional[int] = None, overwrite: bool = False) -> str:
  """Exports `model` (holding `checkpoint_prefix`'s weights) with `answer_question`.

  The version defaults to the checkpoint's step; `assets/` gets the vocabulary and the config.

  Raises:
    ExportError: no or a missing vocabulary, one that does not fit the config, bad settings, or
      an existing version without overwrite.
  """
  check_settings(max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length,
                 config)
  tokenizer = exporter.create_text_tokenizer(spm_model_file, vocab_file, do_lower_case,
                                             signatures=_SIGNATURE)
  exporter.check_vocab_size(tokenizer, config, spm_model_file or vocab_file)
  version = exporter.serving_version(version, checkpoint_prefix)
  with exporter.staged_config_asset(config) as config_asset:
    module = QaServingModule(
        model, tokenizer, version_2=version_2, max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, n_best_size=n_best_size,
        max_answer_length=max_answer_length, null_score_diff_threshold=null_score_diff_threshold,
        assets={
            CONFIG_ASSET: config_asset,
            "vocab": spm_model_file or vocab_file
        })
    path = exporter.export_serving_model(module, export_dir, version, overwrite=overwrite)
  logging.info("Wrote the SQuAD %s SavedModel to %s", "v2" if version_2 else "v1", path)
  return path
