"""Tests of albert_tf.tokenization: exact ids on hand-made vocabs and fixture text."""

import os
import subprocess
import sys
import unicodedata

import pytest
import sentencepiece as spm

from albert_tf import tokenization
from tests import text_fixtures

# A hand-written WordPiece vocab: the id of each token is its line number. Line 22 is U+2028, which
# str.splitlines() would treat as a line break (shifting every later id).
_WORDPIECE_LINES = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "今",
    "天",
    "气",
    "好",
    "##天",
    "，",
    "hello",
    "world",
    "un",
    "##aff",
    "##able",
    ",",
    "!",
    "cafe",
    "naive",
    "1990",
    "ａ",
    "\u2028",
    "tensor",
    "##flow",
    "\U0001F642",
    "模",
    "型",
    "ｂ",
    "##ｂ",
    "x\t3.5",
]


@pytest.fixture(scope="module")
def wordpiece(tmp_path_factory):
  path = tmp_path_factory.mktemp("wp") / "vocab.txt"
  path.write_bytes("\n".join(_WORDPIECE_LINES).encode("utf-8") + b"\n")
  return tokenization.FullTokenizer(vocab_file=str(path), do_lower_case=True)


@pytest.fixture(scope="module")
def sp_model_file(tmp_path_factory):
  return text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="module")
def sentencepiece(sp_model_file):
  return tokenization.FullTokenizer(spm_model_file=sp_model_file, do_lower_case=True)


@pytest.fixture(scope="module")
def raw_sp(sp_model_file):
  return spm.SentencePieceProcessor(model_file=sp_model_file)


def _reference_preprocess(text):
  """The original preprocess_text, written out from reference §6.2."""
  text = " ".join(text.strip().split())
  text = unicodedata.normalize("NFKD", text)
  text = "".join(c for c in text if not unicodedata.combining(c))
  return text.lower()


# ---------------------------------------------------------------------------------------------
# WordPiece


def test_wordpiece_vocab_splits_on_newline_only(wordpiece):
  assert len(wordpiece.inv_vocab) == len(_WORDPIECE_LINES)
  assert wordpiece.vocab["tensor"] == 23
  assert wordpiece.vocab[" "] == 22  # the U+2028 line, blank after strip, as in the original
  assert wordpiece.vocab["x"] == 30  # first whitespace-separated field only


def test_wordpiece_special_ids(wordpiece):
  assert (wordpiece.pad_id, wordpiece.unk_id, wordpiece.cls_id, wordpiece.sep_id,
          wordpiece.mask_id) == (0, 1, 2, 3, 4)


@pytest.mark.parametrize(
    "text, expected_ids",
    [
        ("Hello, World!", [11, 16, 12, 17]),
        ("unaffable", [13, 14, 15]),
        ("Café NAÏVE", [18, 19]),  # lower-cased, accents stripped
        ("今天天气很好，", [5, 6, 6, 7, 1, 8, 10]),  # one token per CJK char, 很 unknown
        ("TensorFlow模型", [23, 24, 26, 27]),  # CJK split from Latin, ##flow continuation
        ("1990,", [20, 16]),
        ("ａｂ", [21, 29]),  # full-width kept (no NFKC), ## continuation
        ("\U0001F642 \U0001F680", [25, 1]),  # known and unknown emoji
        ("hel\x00lo\ufffd", [11]),  # NUL and U+FFFD removed by the cleaner
        ("hello\u2028world", [11, 12]),  # U+2028 separates words
        ("", []),
        (" \t\n ", []),
        ("a" * 201, [1]),  # words over 200 characters are [UNK]
    ])
def test_wordpiece_exact_ids(wordpiece, text, expected_ids):
  assert wordpiece.encode(text) == expected_ids
  assert wordpiece.convert_tokens_to_ids(wordpiece.tokenize(text)) == expected_ids


def test_wordpiece_ids_round_trip(wordpiece):
  assert wordpiece.convert_ids_to_tokens([13, 14, 15, 22]) == ["un", "##aff", "##able", " "]


def test_basic_tokenizer_offsets_point_at_source_characters():
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  text = "Héllo, 世界! ÅB\u0130x"
  pairs = basic.tokenize_with_offsets(text)
  assert [token for token, _ in pairs] == basic.tokenize(text)
  assert pairs[:5] == [("hello", 0), (",", 5), ("世", 7), ("界", 8), ("!", 9)]
  assert pairs[5][1] == 11  # "åbi̇x" -> "abix": the word still starts at Å


def test_basic_tokenizer_without_lower_case_keeps_case_and_accents():
  basic = tokenization.BasicTokenizer(do_lower_case=False)
  assert basic.tokenize("Café, OK") == ["Café", ",", "OK"]


def test_vocab_without_special_tokens_is_rejected(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("[PAD]\n[UNK]\nhello\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"lacks the special token\(s\) \[CLS\], \[SEP\], \[MASK\]"):
    tokenization.FullTokenizer(vocab_file=str(path))


# ---------------------------------------------------------------------------------------------
# SentencePiece


def test_sentencepiece_special_layout(sentencepiece, raw_sp):
  assert (sentencepiece.pad_id, sentencepiece.unk_id, sentencepiece.cls_id, sentencepiece.sep_id,
          sentencepiece.mask_id) == (0, 1, 2, 3, 4)
  assert [raw_sp.IdToPiece(i) for i in range(5, 13)] == ["(", ")", '"', "-", ".", "–", "£", "€"]
  assert len(sentencepiece.vocab) == text_fixtures.SENTENCEPIECE_VOCAB_SIZE


@pytest.mark.parametrize("text", [
    "The harbour town woke slowly on the first cold morning of the year.",
    "  Fishing   boats\trocked against the stone pier.  ",
    "Marta opened the bakery (at six) - \"as always\".",
    "今天天气很好, TensorFlow 模型",
])
def test_sentencepiece_encode_matches_reference_pipeline(sentencepiece, raw_sp, text):
  expected = raw_sp.encode(_reference_preprocess(text), out_type=int)
  assert sentencepiece.encode(text) == expected


def test_sentencepiece_user_symbols_have_fixed_ids(sentencepiece, raw_sp):
  # User-defined symbols are always their own pieces, with the original's ids 5-12.
  u, x = raw_sp.PieceToId("▁"), raw_sp.PieceToId("x")
  assert sentencepiece.encode('"(X)" - .') == [u, 7, 5, x, 6, 7, u, 8, u, 9]
  assert sentencepiece.encode("£ €")[1::2] == [11, 12]


def test_sentencepiece_accents_and_full_width_fold(sentencepiece):
  assert sentencepiece.encode("Café NAÏVE résumé") == sentencepiece.encode("cafe naive resume")
  assert sentencepiece.encode("ＡＢＣ１２３") == sentencepiece.encode("abc123")


def test_sentencepiece_emoji_known_and_unknown(sentencepiece, raw_sp):
  underline = raw_sp.PieceToId("▁")
  assert sentencepiece.encode("\U0001F642") == [underline, raw_sp.PieceToId("\U0001F642")]
  assert raw_sp.PieceToId("\U0001F642") != sentencepiece.unk_id
  assert sentencepiece.encode("\U0001F680") == [underline, sentencepiece.unk_id]


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_sentencepiece_empty_text(sentencepiece, text):
  assert sentencepiece.encode(text) == []
  assert sentencepiece.tokenize(text) == []


def test_tokenize_does_not_preprocess_but_encode_does(sentencepiece):
  assert sentencepiece.tokenize("Hello") != sentencepiece.tokenize("hello")
  assert sentencepiece.encode("Hello") == sentencepiece.encode("hello")


@pytest.mark.parametrize("text", ["in 2020, the school", "x2021, y", "2020, 2021, and 2024,"])
def test_digit_comma_rule_on_fixture_model(sentencepiece, raw_sp, text):
  raw_pieces = raw_sp.encode(text, out_type=str)
  assert any(tokenization.needs_digit_comma_split(p) for p in raw_pieces)  # the rule applies
  pieces = sentencepiece.tokenize(text)
  assert all(isinstance(p, str) for p in pieces)
  assert not any(tokenization.needs_digit_comma_split(p) for p in pieces)
  # The intended rule drops the dummy "▁" of the re-encoding, so the pieces still spell the text.
  assert "".join(pieces).replace("▁", " ").strip() == text


class _ScriptedSentencePiece:
  """EncodeAsPieces from a table: isolates the re-split rule from any learned model."""

  def __init__(self, table):
    self.table = table

  def EncodeAsPieces(self, text):  # pylint: disable=invalid-name
    return list(self.table[text])


@pytest.mark.parametrize(
    "table, text, expected",
    [
        ({
            "in 1990, x": ["▁in", "▁1990,", "▁x"],
            "1990": ["▁1990"]
        }, "in 1990, x", ["▁in", "▁1990", ",", "▁x"]),  # leading ▁ kept
        ({
            "x1990, y": ["▁x", "1990,", "▁y"],
            "1990": ["▁1990"]
        }, "x1990, y", ["▁x", "1990", ",", "▁y"]),  # dummy ▁ stripped
        ({
            "x19, y": ["▁x", "19,", "▁y"],
            "19": ["▁", "1", "9"]
        }, "x19, y", ["▁x", "1", "9", ",", "▁y"]),  # lone dummy ▁ dropped
        ({
            "a,": ["▁a,"]
        }, "a,", ["▁a,"]),  # no digit before the comma
    ])
def test_digit_comma_rule_scripted(table, text, expected):
  assert tokenization.encode_pieces(_ScriptedSentencePiece(table), text) == expected


@pytest.mark.parametrize("piece, is_start", [
    ("▁hello", True),
    ("<unk>", True),
    ("ello", False),
    ("'", True),
    ("t", False),
    ("...", False),
    (".", True),
    ("s", False),
    ("1990", True),
    ("é", True),
    ("模型", True),
    ("€", True),
    ("=", True),
    ("Ab", False),
])
def test_sentencepiece_start_piece_rule(piece, is_start):
  assert tokenization.is_start_piece_sp(piece) is is_start


def test_preprocess_text_matches_reference():
  for text in ["  Héllo\u00a0 ﬁne  “quotes” ½ ", "ÅNGSTRÖM", "ß and İ", ""]:
    assert tokenization.preprocess_text(text, lower=True) == _reference_preprocess(text)
  assert tokenization.preprocess_text(" A  b ", remove_space=False) == " A  b "
  assert tokenization.preprocess_text(b"caf\xc3\xa9") == "cafe"


def test_combining_marks_are_all_below_plane_2():
  assert all(not unicodedata.combining(chr(cp))
             for cp in range(tokenization._COMBINING_MARKS_END, 0x110000))  # pylint: disable=protected-access


def test_tokenization_does_not_import_tensorflow():
  code = ("import sys; import albert_tf.tokenization, data_prep.sentencepiece_vocab; "
          "sys.exit('tensorflow' in sys.modules)")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
