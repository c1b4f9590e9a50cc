"""Builds a real English corpus (~28 MB) for the data-preparation benchmark from Debian packages.

Downloads (without installing) `python3.11-doc` and `linux-doc-6.1` with `apt-get download`,
unpacks them with `dpkg-deb -x`, and converts the reStructuredText/text sources to the
create_pretraining_data format: one sentence per line, a blank line between documents (one source
file = one document). Markup-only lines (directives, underlines, tables) are dropped.

  python benchmarks/make_english_corpus.py --output=bench_output/english_corpus.txt
"""

import gzip
import os
import re
import subprocess
import tempfile

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "bench_output/english_corpus.txt", "Corpus file to write.")
flags.DEFINE_list("packages", ["python3.11-doc", "linux-doc-6.1"], "Debian packages to use.")
flags.DEFINE_float("max_megabytes", 28.0, "Stop after this much text (the benchmark uses ~28 MB).")
flags.DEFINE_string("work_dir", None, "Where to download/unpack (default: a temporary directory).")

_SOURCE_SUFFIXES = (".rst.txt", ".rst", ".rst.gz", ".txt", ".txt.gz")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_MARKUP = re.compile(r"^(\.\. |:[a-z]+:|[=\-~^*#+`_|]{3,}|[+|])")


def _read(path: str) -> str:
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt", encoding="utf-8", errors="replace") as reader:
    return reader.read()


def _sentences(text: str):
  for paragraph in re.split(r"\n\s*\n", text):
    lines = [line.strip() for line in paragraph.splitlines()]
    lines = [line for line in lines if line and not _MARKUP.match(line)]
    joined = " ".join(lines)
    for sentence in _SENTENCE_END.split(joined):
      if len(sentence.split()) >= 3 and sum(c.isalpha() for c in sentence) > len(sentence) // 2:
        yield sentence


def _source_files(root: str):
  for directory, _, names in sorted(os.walk(root)):
    for name in sorted(names):
      if name.endswith(_SOURCE_SUFFIXES) and "changelog" not in name.lower():
        yield os.path.join(directory, name)


def main(argv):
  del argv
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="albert_corpus_")
  unpacked = os.path.join(work_dir, "unpacked")
  os.makedirs(unpacked, exist_ok=True)
  subprocess.run(["apt-get", "download", *FLAGS.packages], cwd=work_dir, check=True)
  for name in sorted(os.listdir(work_dir)):
    if name.endswith(".deb"):
      subprocess.run(["dpkg-deb", "-x", os.path.join(work_dir, name), unpacked], check=True)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  documents = 0
  with open(FLAGS.output + ".incomplete", "w", encoding="utf-8") as writer:
    for path in _source_files(unpacked):
      sentences = list(_sentences(_read(path)))
      if sentences:
        writer.write("\n".join(sentences) + "\n\n")
        documents += 1
        if writer.tell() >= FLAGS.max_megabytes * 1e6:
          break
  os.replace(FLAGS.output + ".incomplete", FLAGS.output)
  logging.info("wrote %s: %d documents, %.1f MB", FLAGS.output, documents,
               os.path.getsize(FLAGS.output) / 1e6)


if __name__ == "__main__":
  app.run(main)
