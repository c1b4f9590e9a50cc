"""The settings that shape SQuAD features (the original's flags of the same names)."""

import dataclasses

from albert_tf.tasks.squad_data.errors import SquadDataError


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
  """How examples become windows of tokens; any change rebuilds the feature cache.

  Attributes:
    max_seq_length: tokens per window: [CLS] question [SEP] paragraph part [SEP], zero-padded.
    doc_stride: how far (in paragraph tokens) each window starts after the previous one.
    max_query_length: question tokens kept; longer questions are truncated (and counted).

  Example:
    >>> FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=16)
    FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=16)
    >>> FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=64)
    Traceback (most recent call last):
    albert_tf...SquadDataError: --max_seq_length=64 must be greater than --max_query_length + 3 ...
  """
  max_seq_length: int = 384
  doc_stride: int = 128
  max_query_length: int = 64

  def __post_init__(self):
    if self.max_query_length < 1:
      raise SquadDataError(f"--max_query_length={self.max_query_length} must be at least 1.")
    if self.max_seq_length <= self.max_query_length + 3:
      # The original's check: [CLS], two [SEP]s and at least one paragraph token must fit.
      raise SquadDataError(
          f"--max_seq_length={self.max_seq_length} must be greater than --max_query_length + 3 "
          f"= {self.max_query_length + 3} (the original's rule); raise it or lower "
          "--max_query_length.")
    if self.doc_stride < 1:
      raise SquadDataError(f"--doc_stride={self.doc_stride} must be at least 1 (the original "
                           "uses 128).")

  def as_dict(self) -> dict:
    """The settings by flag name (cache metadata)."""
    return dataclasses.asdict(self)
