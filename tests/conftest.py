"""Shared pytest setup: quiet TensorFlow logs, keep tests hermetic, and the vocabularies many
test files read (built once per test process)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests import text_fixtures  # noqa: E402  After the log level, which TensorFlow reads.


@pytest.fixture(scope="session")
def sp_model(tmp_path_factory):
  """text_fixtures' tiny SentencePiece model (read-only: tests must not change it)."""
  return text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="session")
def wp_vocab(tmp_path_factory):
  """text_fixtures' tiny WordPiece vocab (read-only: tests must not change it)."""
  return text_fixtures.build_wordpiece_vocab(tmp_path_factory.mktemp("wp"))
