"""Tests of the vocab builders and the albert-build-vocab command line."""

import os
import subprocess
import sys

import sentencepiece as spm

from albert_tf import tokenization
from data_prep import sentencepiece_vocab
from data_prep import wordpiece_vocab
from tests import text_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ORIGINAL_LAYOUT = [
    "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(", ")", '"', "-", ".", "–", "£", "€"
]


def run_cli(*args):
  return subprocess.run([sys.executable, "-m", "data_prep.build_vocab", *args], cwd=ROOT,
                        capture_output=True, text=True)


def test_sentencepiece_cli_builds_the_original_layout(tmp_path):
  prefix = tmp_path / "vocab" / "en"
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}", f"--model_prefix={prefix}",
                   "--vocab_size=250")
  assert result.returncode == 0, result.stderr
  model = spm.SentencePieceProcessor(model_file=f"{prefix}.model")
  assert model.GetPieceSize() == 250
  assert [model.IdToPiece(i) for i in range(13)] == _ORIGINAL_LAYOUT
  assert model.bos_id() == -1 and model.eos_id() == -1
  assert all(model.IsControl(i) for i in (2, 3, 4)) and model.IsUnknown(1)
  # [CLS]/[SEP]/[MASK] are control symbols: never produced from text.
  assert not {2, 3, 4} & set(model.encode("[CLS] the [SEP] harbour [MASK]"))
  pieces = [model.IdToPiece(i) for i in range(13, 250)]
  assert all(p == p.lower() for p in pieces)  # trained on lower-cased text
  vocab_lines = (tmp_path / "vocab" / "en.vocab").read_text(encoding="utf-8").split("\n")
  assert [line.split("\t")[0] for line in vocab_lines[:13]] == _ORIGINAL_LAYOUT
  assert sorted(os.listdir(tmp_path / "vocab")) == ["en.model", "en.vocab"]


def test_sentencepiece_preprocessing_matches_the_data_pipeline(tmp_path):
  model_file = sentencepiece_vocab.train_sentencepiece([text_fixtures.ENGLISH_CORPUS],
                                                       str(tmp_path / "m"), vocab_size=250)
  tokenizer = tokenization.FullTokenizer(spm_model_file=model_file)
  # The corpus has "café", "naïve", "résumé", "José": the model saw them without accents (NFKD and
  # combining marks removed, as create_pretraining_data does), and lower-cased.
  assert not any(c in piece for piece in tokenizer.vocab for c in "éïÉJ")
  assert tokenizer.unk_id not in tokenizer.encode("Café naïve résumé")


def test_sentencepiece_vocab_too_large_is_one_line_error(tmp_path):
  result = run_cli(f"--input_file={text_fixtures.ENGLISH_CORPUS}", f"--model_prefix={tmp_path}/en",
                   "--vocab_size=30000")
  assert result.returncode != 0 and "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and "--vocab_size=30000" in errors[0] and "lower" in errors[0]
  assert os.listdir(tmp_path) == []


def test_missing_input_is_one_line_error(tmp_path):
  result = run_cli(f"--input_file={tmp_path}/nothing-*.txt", f"--model_prefix={tmp_path}/en")
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith("error: --input_file pattern")


def test_wordpiece_cli_builds_chinese_vocab(tmp_path):
  result = run_cli("--wordpiece", f"--input_file={text_fixtures.CHINESE_CORPUS}",
                   f"--model_prefix={tmp_path}/zh", "--vocab_size=1500", "--min_count=1")
  assert result.returncode == 0, result.stderr
  tokens = (tmp_path / "zh.txt").read_text(encoding="utf-8").split("\n")[:-1]
  assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  assert len(tokens) == len(set(tokens)) <= 1500
  corpus_chars = {
      c for c in open(text_fixtures.CHINESE_CORPUS, encoding="utf-8").read()
      if tokenization.is_chinese_char(c)
  }
  assert corpus_chars <= set(tokens)
  assert {"##" + c for c in corpus_chars} <= set(tokens)
  tokenizer = tokenization.FullTokenizer(vocab_file=str(tmp_path / "zh.txt"))
  assert tokenizer.unk_id not in tokenizer.encode("今天天气很好，我们一起去公园散步。")


def test_wordpiece_vocab_learns_english_pieces(tmp_path):
  tokens = wordpiece_vocab.learn_wordpiece_vocab([text_fixtures.ENGLISH_CORPUS], vocab_size=400,
                                                 min_count=2)
  assert tokens[:5] == wordpiece_vocab.RESERVED_TOKENS
  assert "the" in tokens and "##s" in tokens
  assert all(token == token.lower() for token in tokens[5:])


def test_wordpiece_empty_corpus_is_rejected(tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text("\n\n", encoding="utf-8")
  result = run_cli("--wordpiece", f"--input_file={empty}", f"--model_prefix={tmp_path}/zh")
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1].startswith("error: no text found")
  assert not os.path.exists(tmp_path / "zh.txt")


def test_wordpiece_learner_does_not_import_tensorflow():
  code = ("import sys; from data_prep import wordpiece_vocab; wordpiece_vocab._load_learner(); "
          "sys.exit('tensorflow' in sys.modules)")
  subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
