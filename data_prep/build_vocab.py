"""Builds a vocabulary from raw text files.

SentencePiece (default; English ALBERT): a unigram model with the original README's settings:
<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4, user symbols ( ) " - . – £ €, no <s>/</s>,
character_coverage 0.99995, shuffled input sentences (up to 10M). Lines go through the original
`preprocess_text` (whitespace collapse, NFKD, accents removed, lower-cased unless --nodo_lower_case)
before training, which is what create_pretraining_data feeds the model.

  albert-build-vocab --input_file='corpus/*.txt' --model_prefix=vocab/30k-clean --vocab_size=30000

WordPiece (--wordpiece; Chinese ALBERT): [PAD] [UNK] [CLS] [SEP] [MASK], every character with its
"##" form, then learned pieces, written to <model_prefix>.txt.

  albert-build-vocab --wordpiece --input_file='zh/*.txt' --model_prefix=vocab/zh --vocab_size=21128
"""

from absl import flags
from absl import logging

from albert_tf import command_line
from albert_tf import file_io
from albert_tf import run_flags
from data_prep import cli
from data_prep import corpus_files
from data_prep import sentencepiece_vocab
from data_prep import text_encoding
from data_prep import wordpiece_vocab
from data_prep.corpus_files import CorpusError

FLAGS = flags.FLAGS

flags.DEFINE_string("input_file", None, "Text files: comma-separated glob patterns.")
flags.DEFINE_string(
    "model_prefix", None, "Output prefix: <prefix>.model and <prefix>.vocab (SentencePiece) or "
    "<prefix>.txt (WordPiece).")
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size (the maximum, for WordPiece).",
                     lower_bound=1)
flags.DEFINE_bool("wordpiece", False, "Build a WordPiece vocab (Chinese) instead of SentencePiece.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case (and strip accents from) the training text.")
# SentencePiece's trainer refuses a coverage outside [0.98, 1] (with a C++ check message).
flags.DEFINE_float("character_coverage", 0.99995, "SentencePiece character coverage.",
                   lower_bound=0.98, upper_bound=1.0)
run_flags.register_finite("character_coverage")
flags.DEFINE_integer("input_sentence_size", 10_000_000,
                     "SentencePiece: sentences sampled (shuffled) for training.",
                     lower_bound=0)  # SentencePiece: 0 means every sentence
flags.DEFINE_bool("hard_vocab_limit", True,
                  "SentencePiece: fail if the corpus cannot give --vocab_size pieces.")
flags.DEFINE_integer("num_threads", 1, "SentencePiece trainer threads.", lower_bound=1)
flags.DEFINE_integer("min_count", 2, "WordPiece: lowest token count the learner may keep.",
                     lower_bound=1)
flags.DEFINE_integer("max_unique_chars", 20000, "WordPiece: alphabet size cap.", lower_bound=1)

text_encoding.define_flag()  # --input_encoding

flags.mark_flags_as_required(["input_file", "model_prefix"])


def check_outputs_spare_inputs() -> None:
  """Refuses a --model_prefix whose files are, or a rerun's --input_file would match, the corpus.

  Raises:
    CorpusError: a collision, in one line; nothing is written.
  """
  suffixes = (".txt",) if FLAGS.wordpiece else (".model", ".vocab")
  inputs = [("--input_file", pattern.strip()) for pattern in FLAGS.input_file.split(",")]
  try:
    file_io.check_outputs_spare_inputs(
        [("--model_prefix", FLAGS.model_prefix + suffix) for suffix in suffixes],
        [(flag, pattern) for flag, pattern in inputs if pattern])
  except file_io.OutputOverlapError as error:
    raise CorpusError(str(error)) from None


def build() -> str:
  """Builds the vocab the flags ask for; returns the written file."""
  input_files = file_io.expand_patterns(FLAGS.input_file)
  check_outputs_spare_inputs()
  corpus_files.check_text_files(input_files, FLAGS.input_encoding)
  if FLAGS.wordpiece:
    tokens = wordpiece_vocab.learn_wordpiece_vocab(input_files, FLAGS.vocab_size,
                                                   do_lower_case=FLAGS.do_lower_case,
                                                   min_count=FLAGS.min_count,
                                                   max_unique_chars=FLAGS.max_unique_chars,
                                                   input_encoding=FLAGS.input_encoding)
    path = FLAGS.model_prefix + ".txt"
    wordpiece_vocab.write_vocab(tokens, path)
  else:
    path = sentencepiece_vocab.train_sentencepiece(
        input_files, FLAGS.model_prefix, vocab_size=FLAGS.vocab_size,
        do_lower_case=FLAGS.do_lower_case, character_coverage=FLAGS.character_coverage,
        input_sentence_size=FLAGS.input_sentence_size, hard_vocab_limit=FLAGS.hard_vocab_limit,
        num_threads=FLAGS.num_threads, input_encoding=FLAGS.input_encoding)
  return path


def main(argv):
  del argv
  path = cli.run_action(build)
  logging.info("wrote %s", path)


def run():
  """Console-script entry point (albert-build-vocab)."""
  command_line.run(main, "error: ")


if __name__ == "__main__":
  run()
