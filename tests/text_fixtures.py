"""Shared text fixtures: small corpora written for this project, a tiny SentencePiece model, a tiny
WordPiece vocab. Other test modules import these; nothing here reads outside tests/.

    from tests import text_fixtures
    # <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4:
    model_path = text_fixtures.build_sentencepiece_model(tmp_path)
    # [PAD] [UNK] [CLS] [SEP] [MASK], CJK + ##CJK:
    vocab_path = text_fixtures.build_wordpiece_vocab(tmp_path)
"""

import os
from typing import Union

from data_prep import sentencepiece_vocab
from data_prep import wordpiece_vocab

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# One sentence per line, a blank line between documents.
ENGLISH_CORPUS = os.path.join(DATA_DIR, "english_corpus.txt")
CHINESE_CORPUS = os.path.join(DATA_DIR, "chinese_corpus.txt")
MIXED_CORPUS = os.path.join(DATA_DIR, "mixed_corpus.txt")
ALL_CORPORA = (ENGLISH_CORPUS, CHINESE_CORPUS, MIXED_CORPUS)

SENTENCEPIECE_VOCAB_SIZE = 300


def build_sentencepiece_model(tmp_dir: Union[str, os.PathLike]) -> str:
  """Trains a tiny unigram model (300 pieces, lower-cased English + mixed fixture text) in tmp_dir.

  The layout is the original's: <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4, the user symbols
  ( ) " - . – £ € at 5-12, then learned pieces. Training is deterministic and takes well under a
  second.

  Returns:
    The path of the `.model` file (the `.vocab` file sits next to it).
  """
  prefix = os.path.join(os.fspath(tmp_dir), "fixture_spm")
  return sentencepiece_vocab.train_sentencepiece([ENGLISH_CORPUS, MIXED_CORPUS], prefix,
                                                 vocab_size=SENTENCEPIECE_VOCAB_SIZE,
                                                 hard_vocab_limit=False)


def build_wordpiece_vocab(tmp_dir: Union[str, os.PathLike]) -> str:
  """Writes a tiny uncased Chinese + English WordPiece vocab learned from all fixture corpora.

  [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then every character of the corpora with its "##" form
  (so every CJK character of the fixtures is in the vocab), then English words and pieces.

  Returns:
    The path of `vocab.txt`.
  """
  tokens = wordpiece_vocab.learn_wordpiece_vocab(list(ALL_CORPORA), vocab_size=2000, min_count=1)
  path = os.path.join(os.fspath(tmp_dir), "vocab.txt")
  wordpiece_vocab.write_vocab(tokens, path)
  return path
