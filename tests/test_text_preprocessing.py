"""The in-graph tokenizers give exactly FullTokenizer.encode's ids; packing follows the original."""

import io
import random
import sys
import unicodedata

import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf

from albert_tf import tokenization
from albert_tf.export import fill_mask
from albert_tf.export import input_packing
from albert_tf.export import text_normalization
from albert_tf.export.sentencepiece_text_tokenizer import SentencePieceTextTokenizer
from albert_tf.export.wordpiece_text_tokenizer import WordPieceTextTokenizer
from tests import text_fixtures

# English, Chinese, mixed, accents, full-width, digits with commas, emoji, control characters,
# Unicode case/normalization corner cases, empty and whitespace-only strings.
TEXTS = [
    "The Capital of FRANCE is Paris.",
    "In 1990, 12,000 people lived in x1990, and year 2001,2002, a1, b22,",
    "Café naïve résumé ﬁsh Ångström",
    "北京是中国的首都。",
    "我在Paris住了3年, 很喜欢café!",
    "ＡＢＣ１２３，４５６, ２００１,",
    "emoji 😀👍🏽 and ✨ sparkles",
    "",
    "   \t \n ",
    "İstanbul ΟΔΟΣ straße ½ …",
    "a\x00B tab\there\u00a0nbsp\u2028line\u200bzero\ufffdrep",
    "`quote` [brackets] {braces} <angle> ~tilde^ $dollar",
    "x" * 205 + " " + "ab" * 101,
]

_SP_WORDS = ("the capital of france is paris in 1990 1990 1990 1990, x1990, year 2001, had 12,000 "
             "people lived and a1, b22, cafe naive resume fish angstrom 北京 是 中国 的 首都 我 在 住 了 "
             "年 很 喜欢 emoji 😀 sparkles abc 123 456 istanbul οδος strasse quote brackets x1990, "
             "x1990, a1, a1, 1990 1990").split()


@pytest.fixture(scope="module")
def spm_model_file(tmp_path_factory):
  """A tiny unigram model (original id layout) trained on text where the digit-comma rule fires."""
  rng = random.Random(0)
  lines = [" ".join(rng.choice(_SP_WORDS) for _ in range(10)) for _ in range(2000)]
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=80,
                                 pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
                                 control_symbols=["[CLS]", "[SEP]", "[MASK]"],
                                 user_defined_symbols=["(", ")", '"', "-", ".", "–", "£", "€"],
                                 character_coverage=1.0, model_type="unigram", minloglevel=2)
  path = tmp_path_factory.mktemp("spm") / "tiny.model"
  path.write_bytes(model.getvalue())
  return str(path)


_WP_TOKENS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "capital", "of", "france", "is", "paris",
    ".", ",", "!", "。", "北", "京", "是", "中", "国", "的", "首", "都", "我", "在", "住", "了", "年", "很", "喜",
    "欢", "1", "##9", "##90", "##0", "12", "##000", "cafe", "caf", "##e", "##é", "na", "##ive",
    "fish", "ﬁ", "##sh", "i", "##stanbul", "οδος", "[", "]", "mask", "a", "b", "##b", "abc", "123",
    "ab", "##ab", "x", "##x", "`", "quote", "emoji", "Paris", "The", "tab", "here", "line", "zero",
    "##rep", "straße", "strasse", "½", "…", "..."
]


@pytest.fixture(scope="module")
def wordpiece_vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("wordpiece") / "vocab.txt"
  path.write_text("\n".join(_WP_TOKENS) + "\n", encoding="utf-8")
  return str(path)


def _tokenizer_pair(vocab_path, do_lower_case):
  """(FullTokenizer, in-graph tokenizer) for a SentencePiece model or a WordPiece vocab."""
  if vocab_path.endswith(".model"):
    return (tokenization.FullTokenizer(spm_model_file=vocab_path, do_lower_case=do_lower_case),
            SentencePieceTextTokenizer(vocab_path, do_lower_case=do_lower_case))
  return (tokenization.FullTokenizer(vocab_file=vocab_path, do_lower_case=do_lower_case),
          WordPieceTextTokenizer(vocab_path, do_lower_case=do_lower_case))


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("vocab", ["spm_model_file", "wordpiece_vocab_file"])
def test_ids_equal_full_tokenizer(vocab, do_lower_case, request):
  python_tokenizer, graph_tokenizer = _tokenizer_pair(request.getfixturevalue(vocab), do_lower_case)
  got = graph_tokenizer.tokenize(tf.constant(TEXTS)).to_list()
  assert got == [python_tokenizer.encode(text) for text in TEXTS]


@pytest.mark.parametrize(
    "build", [text_fixtures.build_sentencepiece_model, text_fixtures.build_wordpiece_vocab])
def test_ids_equal_full_tokenizer_on_shared_fixtures(build, tmp_path):
  """The project's shared fixture vocabularies, on every line of the fixture corpora."""
  python_tokenizer, graph_tokenizer = _tokenizer_pair(build(tmp_path), do_lower_case=True)
  lines = []
  for corpus in text_fixtures.ALL_CORPORA:
    with open(corpus, encoding="utf-8") as f:
      lines.extend(f.read().split("\n"))
  got = graph_tokenizer.tokenize(tf.constant(lines + TEXTS)).to_list()
  assert got == [python_tokenizer.encode(text) for text in lines + TEXTS]


def test_digit_comma_rule_fires_on_the_fixture(spm_model_file):
  """The fixture exercises both re-split branches: a bare "▁" dropped, a leading "▁" removed."""
  python_tokenizer = tokenization.FullTokenizer(spm_model_file=spm_model_file)
  raw = python_tokenizer.sp_model.EncodeAsPieces("x1990, a1,")
  assert "1990," in raw and "1," in raw
  assert python_tokenizer.tokenize("x1990, a1,") == ["▁", "x", "1990", ",", "▁a", "1", ","]


def test_special_ids_and_id_to_token(spm_model_file, wordpiece_vocab_file):
  sp = SentencePieceTextTokenizer(spm_model_file)
  assert sp.special_ids == {"pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3, "mask_id": 4}
  assert sp.vocab_size == 80
  assert sp.id_to_token(tf.constant([2, 4])).numpy().tolist() == [b"[CLS]", b"[MASK]"]
  wp = WordPieceTextTokenizer(wordpiece_vocab_file)
  assert wp.special_ids == {"pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3, "mask_id": 4}
  assert wp.vocab_size == len(_WP_TOKENS)
  assert wp.id_to_token(tf.constant([[5, 15]])).numpy().tolist() == [[b"the", "北".encode()]]


def _assigned_characters():
  """Every code point Python's unicodedata knows (ICU may know more; those are out of scope)."""
  return [
      chr(c)
      for c in range(sys.maxunicode + 1)
      if not 0xD800 <= c < 0xE000 and unicodedata.category(chr(c)) != "Cn"
  ]


def test_preprocess_text_equals_python_on_every_character():
  chars = _assigned_characters()
  # Pair each character with an upper-case letter and a combining accent: exercises lower-casing
  # context and mark removal around every code point.
  texts = [f"A{c}\u0301b" for c in chars]
  got = text_normalization.preprocess_text(tf.constant(texts), lower=True).numpy()
  expected = [tokenization.preprocess_text(t, lower=True).encode("utf-8") for t in texts]
  mismatches = [hex(ord(c)) for c, g, e in zip(chars, got, expected) if g != e]
  assert not mismatches


def test_bert_basic_tokenize_equals_python_on_every_character():
  chars = _assigned_characters()
  texts = [f"x{c}Y" for c in chars]
  python_tokenizer = tokenization.BasicTokenizer(do_lower_case=True)
  got = text_normalization.bert_basic_tokenize(tf.constant(texts), do_lower_case=True).to_list()
  mismatches = [
      hex(ord(c))
      for c, g, t in zip(chars, got, texts)
      if [token.decode("utf-8") for token in g] != python_tokenizer.tokenize(t)
  ]
  assert not mismatches


def _truncate_seq_pair(tokens_a, tokens_b, max_length):
  """The original loop, written out: pop from the longer list (B on ties) until the pair fits."""
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def test_truncated_lengths_equal_the_original_loop():
  cases = [(a, b, m) for a in range(12) for b in range(12) for m in range(1, 15)]
  length_a, length_b, budget = (np.array(column) for column in zip(*cases))
  for m in set(budget.tolist()):
    rows = budget == m
    kept_a, kept_b = input_packing.truncated_lengths(tf.constant(length_a[rows]),
                                                     tf.constant(length_b[rows]), int(m))
    for a, b, got_a, got_b in zip(length_a[rows], length_b[rows], kept_a.numpy(), kept_b.numpy()):
      tokens_a, tokens_b = list(range(a)), list(range(b))
      _truncate_seq_pair(tokens_a, tokens_b, m)
      assert (got_a, got_b) == (len(tokens_a), len(tokens_b)), (a, b, m)


SPECIAL_IDS = {"pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3, "mask_id": 4}


def test_pack_single_segment_truncates_and_pads():
  ids = tf.ragged.constant([[10, 11, 12, 13, 14, 15], [], [20]], dtype=tf.int32)
  packed = input_packing.pack_inputs(ids, None, 6, SPECIAL_IDS)
  np.testing.assert_array_equal(packed["input_word_ids"],
                                [[2, 10, 11, 12, 13, 3], [2, 3, 0, 0, 0, 0], [2, 20, 3, 0, 0, 0]])
  np.testing.assert_array_equal(packed["input_mask"],
                                [[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0]])
  np.testing.assert_array_equal(packed["input_type_ids"], np.zeros([3, 6]))


def test_pack_pair_follows_truncate_seq_pair():
  a = tf.ragged.constant([[10, 11, 12, 13, 14], [10], [10, 11]], dtype=tf.int32)
  b = tf.ragged.constant([[20, 21, 22], [20, 21, 22, 23, 24, 25], [20]], dtype=tf.int32)
  packed = input_packing.pack_inputs(a, b, 8, SPECIAL_IDS)
  np.testing.assert_array_equal(
      packed["input_word_ids"],
      [[2, 10, 11, 12, 3, 20, 21, 3], [2, 10, 3, 20, 21, 22, 23, 3], [2, 10, 11, 3, 20, 3, 0, 0]])
  np.testing.assert_array_equal(
      packed["input_type_ids"],
      [[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 0, 0]])
  np.testing.assert_array_equal(packed["input_mask"], [[1] * 8, [1] * 8, [1, 1, 1, 1, 1, 1, 0, 0]])


def test_fill_mask_tokenization_and_positions(spm_model_file):
  tokenizer = SentencePieceTextTokenizer(spm_model_file)
  python_tokenizer = tokenization.FullTokenizer(spm_model_file=spm_model_file)
  texts = ["the capital of france is [MASK].", "[MASK] [MASK] paris", "no mask here", ""]
  got = fill_mask.tokenize_with_masks(tf.constant(texts), tokenizer.tokenize, 4).to_list()
  encode = python_tokenizer.encode
  assert got == [
      encode("the capital of france is") + [4] + encode("."), [4, 4] + encode("paris"),
      encode("no mask here"), []
  ]
  positions = fill_mask.mask_positions(
      tf.constant([[2, 4, 7, 4, 3], [2, 7, 3, 0, 0], [2, 4, 3, 0, 0]]), mask_id=4)
  np.testing.assert_array_equal(positions, [[1, 3], [-1, -1], [1, -1]])
