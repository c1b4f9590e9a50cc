"""Faults: text inputs that are not text of --input_encoding (issue 13, point 5).

UTF-16/UTF-32 corpora (with or without a byte-order mark), binary files and corpora in another
encoding stop albert-create-pretraining-data and albert-build-vocab in one line, exit 1, before
anything is written (every file under the test directory is compared by SHA-256 before and after).
--input_encoding is the way out: a UTF-16 corpus then gives the records of its UTF-8 twin, byte
for byte; ASCII-compatible codecs (gb18030, big5, shift_jis, cp1252) are read in their own bytes,
in any split of byte ranges (the Beam readers).
"""

import io
import json
import os
import random
import subprocess
import sys

import pytest

from data_prep import beam_pipeline
from data_prep import corpus_files
from data_prep import pipeline
from data_prep import sentencepiece_vocab
from data_prep import stats as stats_lib
from data_prep import text_encoding
from data_prep import wordpiece_vocab
from data_prep.corpus_files import CorpusError
from tests import text_fixtures
from tests.test_faults_outputs import _snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPD_FLAGS = ("--spm_model_file=spm.model", "--max_seq_length=32", "--max_predictions_per_seq=5",
             "--dupe_factor=1", "--num_workers=1", "--output_file=out/o.tfrecord")
VOCAB_FLAGS = ("--model_prefix=out/v", "--vocab_size=100")


def _text(path=text_fixtures.ENGLISH_CORPUS):
  with open(path, encoding="utf-8") as reader:
    return reader.read()


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
  return text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))


@pytest.fixture(name="corpora")
def fixture_corpora(tmp_path, spm_model):
  """tmp_path with spm.model and the corpora the cases name."""
  with open(spm_model, "rb") as reader:
    (tmp_path / "spm.model").write_bytes(reader.read())
  english, chinese = _text(), _text(text_fixtures.CHINESE_CORPUS)
  files = {
      "good.txt": english.encode("utf-8"),
      "bom16.txt": english.encode("utf-16"),
      "bom32.txt": english.encode("utf-32"),
      "le16.txt": english.encode("utf-16-le"),
      "zh16.txt": chinese.encode("utf-16-le"),
      "random.bin": random.Random(13).randbytes(20000),
      "gbk.txt": chinese.encode("gb18030"),
      "latin1.txt": "Déjà vu à l'été, où naïve Noël rêve.\n".encode("latin-1") * 40,
  }
  for name, data in files.items():
    (tmp_path / name).write_bytes(data)
  return tmp_path


def _run(module, args, cwd):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env={
      **os.environ, "PYTHONPATH": ROOT
  }, capture_output=True, text=True, timeout=300, check=False)


def _assert_refused(result, expected):
  """Exit 1 and exactly one error line, "error: " + `expected`."""
  assert result.returncode == 1, result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  assert [line for line in result.stderr.splitlines() if line.startswith("error:")
         ] == ["error: " + expected]


_CODEC_FIX = ("pass --input_encoding=<its codec> (e.g. gb18030, big5, shift_jis, latin-1, cp1252, "
              "utf-16-le) or convert it to UTF-8 with iconv.")


@pytest.mark.parametrize("pattern, expected", [
    ("bom16.txt", "--input_file bom16.txt starts with a UTF-16 (little-endian) byte-order mark: it "
     "is not UTF-8 text; pass --input_encoding=utf-16 or convert it to UTF-8 (iconv -f utf-16 -t "
     "UTF-8 bom16.txt)."),
    ("bom32.txt", "--input_file bom32.txt starts with a UTF-32 (little-endian) byte-order mark: it "
     "is not UTF-8 text; pass --input_encoding=utf-32 or convert it to UTF-8 (iconv -f utf-32 -t "
     "UTF-8 bom32.txt)."),
    ("le16.txt", "--input_file le16.txt: 50% of its first 7734 bytes are NUL: it looks like "
     "UTF-16/UTF-32 without a byte-order mark or a binary file, not UTF-8 text; pass "
     "--input_encoding=utf-16-le or convert it to UTF-8 (iconv -f utf-16-le -t UTF-8 le16.txt)."),
    ("zh16.txt", "--input_file zh16.txt: 4% of its first 1198 bytes are NUL: it looks like "
     "UTF-16/UTF-32 without a byte-order mark or a binary file, not UTF-8 text; pass "
     "--input_encoding=utf-16-le or convert it to UTF-8 (iconv -f utf-16-le -t UTF-8 zh16.txt)."),
    ("good.txt,random.bin", "--input_file random.bin: 43% of its first 20000 bytes are not valid "
     "UTF-8: it is another encoding or not text; " + _CODEC_FIX),
    ("g*.txt", "--input_file gbk.txt: 61% of its first 1159 bytes are not valid UTF-8: it is "
     "another encoding or not text; " + _CODEC_FIX),
    ("latin1.txt", "--input_file latin1.txt: 24% of its first 1480 bytes are not valid UTF-8: it "
     "is another encoding or not text; " + _CODEC_FIX),
])
def test_create_pretraining_data_refuses_what_is_not_utf8_text(corpora, pattern, expected):
  before = _snapshot(corpora)
  result = _run("data_prep.create_pretraining_data", [f"--input_file={pattern}", *CPD_FLAGS],
                corpora)
  _assert_refused(result, expected)
  assert _snapshot(corpora) == before


@pytest.mark.parametrize("flags, expected", [
    (["--input_file=bom16.txt"], "--input_file bom16.txt starts with a UTF-16 (little-endian) "
     "byte-order mark: it is not UTF-8 text; pass --input_encoding=utf-16 or convert it to UTF-8 "
     "(iconv -f utf-16 -t UTF-8 bom16.txt)."),
    (["--input_file=random.bin", "--wordpiece"], "--input_file random.bin: 43% of its first 20000 "
     "bytes are not valid UTF-8: it is another encoding or not text; " + _CODEC_FIX),
    (["--input_file=good.txt", "--input_encoding=utf-16"], "--input_file good.txt cannot be read "
     "as utf-16 (UTF-16 stream does not start with BOM); " + _CODEC_FIX),
])
def test_build_vocab_refuses_what_is_not_text_of_its_encoding(corpora, flags, expected):
  before = _snapshot(corpora)
  _assert_refused(_run("data_prep.build_vocab", [*flags, *VOCAB_FLAGS], corpora), expected)
  assert _snapshot(corpora) == before


@pytest.mark.parametrize("module, flags", [
    ("data_prep.create_pretraining_data", ["--input_file=good.txt", *CPD_FLAGS]),
    ("data_prep.build_vocab", ["--input_file=good.txt", *VOCAB_FLAGS]),
])
def test_unknown_input_encoding_is_one_line(corpora, module, flags):
  before = _snapshot(corpora)
  result = _run(module, [*flags, "--input_encoding=utf-9"], corpora)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "error: flag --input_encoding=utf-9: not a Python text codec name; use e.g. utf-8, utf-16, "
      "gb18030 or latin-1 (see Python's list of standard encodings).")
  assert _snapshot(corpora) == before


def test_a_few_bad_bytes_in_utf8_still_run():
  """The thresholds: stray bytes in UTF-8 text pass (and are replaced, counted); 1% do not."""
  text = _text().encode("utf-8")  # 3897 bytes
  assert text_encoding.sample_problem("c.txt", text) is None
  stray = text.replace(b".\n", b".\xff\n", 38)  # 38 bad bytes: under 1%
  assert text_encoding.sample_problem("c.txt", stray) is None
  assert text_encoding.sample_problem("c.txt", text.replace(
      b".\n", b".\xff\n",
      40)).startswith("--input_file c.txt: 1% of its first 3937 bytes are not valid UTF-8")
  few = b"a\xffb\xfe\n"  # a short file with a few stray bytes: under MIN_INVALID_BYTES
  assert text_encoding.sample_problem("c.txt", few) is None
  assert text_encoding.sample_problem("c.txt", b"a\x00b\n" + text) is None  # one NUL
  # A character cut at the end of a full-size sample is not an invalid byte.
  cut = ("\u4e2d" * (text_encoding.SAMPLE_BYTES // 3 + 1)).encode("utf-8")
  assert text_encoding.sample_problem("c.txt", cut[:text_encoding.SAMPLE_BYTES]) is None


def _create(corpus, out, **overrides):
  return pipeline.create_pretraining_data(_config(corpus.parent, corpus.name, out.name,
                                                  **overrides))


def _shards(out):
  return [(out / f"r-0000{i}-of-00002.tfr").read_bytes() for i in range(2)]


def _data_entries(summary):
  """The summary without its timings, paths and encoding."""
  left_out = (*stats_lib.TIMING_KEYS, "input_files", "shards", stats_lib.INPUT_ENCODING_KEY)
  return {key: value for key, value in summary.items() if key not in left_out}


def test_utf16_and_utf32_corpora_give_the_records_of_their_utf8_twin(corpora):
  utf8 = _create(corpora / "good.txt", corpora / "utf8")
  # The default leaves the summary as it was: no encoding entry.
  assert stats_lib.INPUT_ENCODING_KEY not in json.loads(
      (corpora / "utf8" / "r.stats.json").read_text())
  for name, codec, recorded in (("bom16.txt", "utf-16", "utf-16"),
                                ("le16.txt", "UTF-16LE", "utf-16-le"), ("bom32.txt", "utf32",
                                                                        "utf-32")):
    out = corpora / name.split(".")[0]
    summary = _create(corpora / name, out, input_encoding=codec)
    assert _shards(out) == _shards(corpora / "utf8")
    assert summary[stats_lib.INPUT_ENCODING_KEY] == recorded
    assert _data_entries(summary) == _data_entries(utf8)
    assert list(summary["shards"].values()) == list(utf8["shards"].values())
    assert json.loads((out / "r.stats.json").read_text()) == summary
    assert sorted(
        os.listdir(out)) == ["r-00000-of-00002.tfr", "r-00001-of-00002.tfr", "r.stats.json"]


_TRICKY_TEXT = ("a b\n中 文\n\n" + "\u3000" * 3000 + " \n" + "d e\nf\n\n\u3000\n  \n" + "g" * 5000 +
                "\nh\n\n\n")


@pytest.mark.parametrize("codec", ["gb18030", "big5", "shift_jis", "cp1252"])
def test_ascii_compatible_codecs_are_read_in_their_own_bytes_in_any_split(codec):
  """Blocks of a gb18030/big5/shift_jis/cp1252 file: the UTF-8 twin's documents, at the codec's
  byte offsets, the same for every split into byte ranges (as the Beam readers read). A blank line
  of ideographic spaces (big5 and shift_jis spell it with "@") longer than the backward scan's
  chunk sits before range starts."""
  text = _TRICKY_TEXT if codec != "cp1252" else _TRICKY_TEXT.replace("中 文", "ça va").replace(
      "\u3000", "\u00a0")
  text += "".join(c for c in _text() if c == c.encode(codec, "replace").decode(codec))
  data = text.encode(codec)
  expected = list(corpus_files.read_blocks(io.BytesIO(text.encode("utf-8")), 0, 10**9))
  for block_bytes in (7, 64, 700):
    whole = list(corpus_files.read_blocks(io.BytesIO(data), 0, block_bytes, encoding=codec))
    assert [d for b in whole for d in b.documents] == expected[0].documents
    offsets = [o for b in whole for o in b.document_offsets]
    assert offsets[:3] == [0, data.index("d e".encode(codec)), data.index(b"ggg")]
    assert sum(b.replaced_bytes for b in whole) == 0
    for range_bytes in (block_bytes, 3 * block_bytes):
      split = []
      for start, end in corpus_files.byte_ranges(len(data), block_bytes, range_bytes):
        split += corpus_files.read_blocks(io.BytesIO(data), 0, block_bytes, start, end, codec)
      assert split == whole


def test_invalid_utf16_bytes_are_replaced_and_counted_as_in_utf8(tmp_path):
  """A lone surrogate (2 bytes) and a cut last character (1 byte) of a UTF-16 stream: U+FFFD for
  each byte and 3 replaced bytes, as invalid bytes of a UTF-8 file."""
  data = "ab\n".encode("utf-16-le") + b"\x00\xd8" + "c\nd".encode("utf-16-le") + b"\x00"
  lines, line_encoding = text_encoding.byte_lines(io.BytesIO(data), "utf-16-le")
  (block,) = corpus_files.read_blocks(lines, 0, 100, encoding=line_encoding)
  assert block.documents == [["ab", "\ufffd\ufffdc", "d\ufffd"]] and block.replaced_bytes == 3
  (tmp_path / "c.txt").write_bytes(data)
  counter = corpus_files.ReplacementCounter()  # the vocabulary builders' reader
  assert list(corpus_files.read_lines(str(tmp_path / "c.txt"), counter,
                                      "utf-16-le")) == ["ab", "\ufffd\ufffdc", "d\ufffd"]
  assert counter.replaced_bytes == 3


def test_vocabularies_from_a_utf16_corpus_are_those_of_its_utf8_twin(corpora):
  sentencepiece_vocab.train_sentencepiece([str(corpora / "good.txt")], str(corpora / "a"),
                                          vocab_size=100, hard_vocab_limit=False)
  sentencepiece_vocab.train_sentencepiece([str(corpora / "bom16.txt")], str(corpora / "b"),
                                          vocab_size=100, hard_vocab_limit=False,
                                          input_encoding="utf-16")
  # The pieces and their scores (the .model also holds the trainer's paths).
  assert (corpora / "a.vocab").read_bytes() == (corpora / "b.vocab").read_bytes()
  counts = wordpiece_vocab.count_words([str(corpora / "zh16.txt")], True, "utf-16-le")
  assert counts == wordpiece_vocab.count_words([text_fixtures.CHINESE_CORPUS], True)
  assert counts == wordpiece_vocab.count_words([str(corpora / "gbk.txt")], True, "gb18030")


def test_command_lines_take_input_encoding(corpora):
  result = _run("data_prep.create_pretraining_data",
                ["--input_file=bom16.txt", "--input_encoding=utf-16", *CPD_FLAGS], corpora)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(corpora / "out" / "o.stats.json", encoding="utf-8") as reader:
    assert json.load(reader)[stats_lib.INPUT_ENCODING_KEY] == "utf-16"
  result = _run(
      "data_prep.build_vocab",
      ["--input_file=latin1.txt", "--input_encoding=latin-1", "--nohard_vocab_limit", *VOCAB_FLAGS],
      corpora)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "invalid" not in result.stderr  # no replaced bytes
  twin = corpora / "twin.txt"
  twin.write_bytes((corpora / "latin1.txt").read_bytes().decode("latin-1").encode("utf-8"))
  sentencepiece_vocab.train_sentencepiece([str(twin)], str(corpora / "twin"), vocab_size=100,
                                          hard_vocab_limit=False)
  assert (corpora / "out" / "v.vocab").read_bytes() == (corpora / "twin.vocab").read_bytes()


def test_beam_refuses_utf16_and_reads_gb18030_as_the_local_engine(corpora):
  with pytest.raises(CorpusError) as error:
    beam_pipeline.run_beam(_config(corpora, "bom16.txt", "beam16", input_encoding="utf-16"),
                           "FnApiRunner")
  assert str(error.value) == (
      "--input_encoding=utf-16 cannot be split into byte ranges by Beam's readers: convert the "
      "files to UTF-8 first (iconv -f utf-16 -t UTF-8), or run the local engine (no --runner), "
      "which reads them as they are.")
  assert not (corpora / "beam16").exists()
  local = _create(corpora / "gbk.txt", corpora / "local", input_encoding="gb18030")
  beam = beam_pipeline.run_beam(_config(corpora, "gbk.txt", "beam", input_encoding="gb18030"),
                                "FnApiRunner", range_bytes=500)
  assert _shards(corpora / "beam") == _shards(corpora / "local")
  assert _data_entries(beam) == _data_entries(local)
  assert beam[stats_lib.INPUT_ENCODING_KEY] == "gb18030"


def _config(corpora, corpus, out, **overrides):
  return pipeline.PretrainingDataConfig(input_file=str(corpora / corpus),
                                        output_file=str(corpora / out / "r-{shard}.tfr"),
                                        num_output_shards=2,
                                        spm_model_file=str(corpora / "spm.model"),
                                        max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2,
                                        block_bytes=500, num_workers=0, **overrides)
