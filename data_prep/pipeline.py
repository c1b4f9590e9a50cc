"""create_pretraining_data as a library: stream the corpus in blocks, build records in parallel
worker processes, shuffle through a bounded buffer, write atomic shards and a summary.

Reproducibility: every random choice comes from a generator seeded by (random_seed, pass, document
index) or (random_seed, block index), and blocks are cut from the input independently of the number
of workers, so the output bytes are the same for any --num_workers.

Memory: the main process holds the blocks in flight (2 per worker) and the shuffle buffer; a worker
holds one block of text and its records. Neither grows with the corpus.

The original's global shuffle of all instances is approximated by: a shuffle of all instances
(all dupe passes) within a block, a random-replacement shuffle buffer across blocks, and
round-robin interleaving over the output shards. Random-next segments come from another document
of the same block instead of the whole corpus.
"""

import collections
import dataclasses
import multiprocessing
import os
import random
import time
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from albert_tf import tokenization
from data_prep import corpus_files
from data_prep import example_codec
from data_prep import instances
from data_prep import masking
from data_prep import sharded_writer
from data_prep import stats as stats_lib
from data_prep.chinese_words import ChineseWholeWordSegmentEncoder
from data_prep.corpus_files import CorpusError
from data_prep.segment_encoding import SentencePieceSegmentEncoder, WordPieceSegmentEncoder

_PROGRESS_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
  """Every option of create_pretraining_data; defaults are the original's (reference §2.1)."""
  input_file: str
  output_file: str
  vocab_file: Optional[str] = None
  spm_model_file: Optional[str] = None
  do_lower_case: bool = True
  do_whole_word_mask: bool = True
  do_permutation: bool = False
  favor_shorter_ngram: bool = True
  random_next_sentence: bool = False
  max_seq_length: int = 512
  ngram: int = 3
  max_predictions_per_seq: int = 20
  random_seed: int = 12345
  dupe_factor: int = 40
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  do_chinese_wwm: bool = False
  num_workers: int = 1
  num_output_shards: int = 1
  shuffle_buffer_size: int = 100_000
  block_bytes: int = 256 * 1024
  stats_file: Optional[str] = None


class Block(NamedTuple):
  """A run of whole documents (raw lines) cut from the input stream."""
  index: int
  first_document_index: int
  documents: List[List[str]]


def validate(config: PretrainingDataConfig) -> None:
  """Rejects impossible option values with one line naming the flag.

  Raises:
    CorpusError: an option is invalid.
  """
  if not config.spm_model_file and not config.vocab_file:
    raise CorpusError("give --spm_model_file (SentencePiece) or --vocab_file (WordPiece).")
  if config.do_chinese_wwm and config.spm_model_file:
    raise CorpusError("--do_chinese_wwm works with a WordPiece --vocab_file; drop --spm_model_file.")
  if config.max_seq_length < 5:
    raise CorpusError(f"--max_seq_length={config.max_seq_length} is too small: [CLS] A [SEP] B [SEP] "
                      "needs at least 5 positions.")
  max_targets = config.max_seq_length - 3
  if not 1 <= config.max_predictions_per_seq <= max_targets:
    raise CorpusError(f"--max_predictions_per_seq={config.max_predictions_per_seq} is impossible with "
                      f"--max_seq_length={config.max_seq_length}: use 1 to {max_targets}.")
  checks = [
      (0.0 <= config.masked_lm_prob <= 1.0, "--masked_lm_prob must be in [0, 1]"),
      (0.0 <= config.short_seq_prob <= 1.0, "--short_seq_prob must be in [0, 1]"),
      (config.ngram >= 1, "--ngram must be at least 1"),
      (config.dupe_factor >= 1, "--dupe_factor must be at least 1"),
      (config.num_workers >= 0, "--num_workers must be 0 or more"),
      (config.shuffle_buffer_size >= 0, "--shuffle_buffer_size must be 0 or more"),
      (config.block_bytes >= 1, "--block_bytes must be at least 1"),
  ]
  for ok, message in checks:
    if not ok:
      raise CorpusError(message + ".")


def load_tokenizer(config: PretrainingDataConfig) -> tokenization.FullTokenizer:
  """The FullTokenizer of the flags (a bad vocab raises CorpusError with one line)."""
  path = config.spm_model_file or config.vocab_file
  if not os.path.isfile(path):
    flag = "--spm_model_file" if config.spm_model_file else "--vocab_file"
    raise CorpusError(f"{flag}={path} does not exist.")
  try:
    return tokenization.FullTokenizer(vocab_file=config.vocab_file,
                                      do_lower_case=config.do_lower_case,
                                      spm_model_file=config.spm_model_file)
  except ValueError as error:
    raise CorpusError(str(error)) from None
  except (RuntimeError, OSError) as error:
    raise CorpusError(f"cannot load {path} as a SentencePiece model ({error}).") from None


def default_stats_path(output_file: str) -> str:
  """Summary JSON next to the output: records/train-{shard}.tfrecord -> records/train.stats.json."""
  first = output_file.split(",")[0].strip().replace(sharded_writer.SHARD_PLACEHOLDER, "")
  directory, name = os.path.split(first)
  stem = name.split(".")[0].rstrip("-_.") or "pretraining_data"
  return os.path.join(directory, stem + ".stats.json")


def iter_blocks(input_files: Sequence[str], block_bytes: int,
                counter: corpus_files.ReplacementCounter) -> Iterator[Block]:
  """Streams documents (blank-line separated; a new file starts a new document) in blocks.

  A block closes after the document that brings it to `block_bytes` of text, so block boundaries
  depend only on the input.
  """
  block_index = 0
  documents, size, first_document = [], 0, 0
  next_document = 0
  for path in input_files:
    document = []
    for line in _with_closing_blank_line(corpus_files.read_lines(path, counter)):
      if line.strip():
        document.append(line)
        size += len(line)
        continue
      if not document:
        continue
      documents.append(document)
      document = []
      next_document += 1
      if size >= block_bytes:
        yield Block(block_index, first_document, documents)
        block_index += 1
        documents, size, first_document = [], 0, next_document
  if documents:
    yield Block(block_index, first_document, documents)


def _with_closing_blank_line(lines: Iterator[str]) -> Iterator[str]:
  """The lines followed by one blank line, which closes the file's last document."""
  yield from lines
  yield ""


class BlockProcessor:
  """Turns a block of raw documents into framed TFRecords (runs in each worker process)."""

  def __init__(self, config: PretrainingDataConfig):
    self.config = config
    tokenizer = load_tokenizer(config)
    if config.do_chinese_wwm:
      self.encoder = ChineseWholeWordSegmentEncoder(tokenizer)
    elif tokenizer.is_sentencepiece:
      self.encoder = SentencePieceSegmentEncoder(tokenizer)
    else:
      self.encoder = WordPieceSegmentEncoder(tokenizer)
    self.cls_id = tokenizer.cls_id
    self.sep_id = tokenizer.sep_id
    self.options = masking.MaskingOptions(
        masked_lm_prob=config.masked_lm_prob,
        max_predictions_per_seq=config.max_predictions_per_seq, ngram=config.ngram,
        favor_shorter_ngram=config.favor_shorter_ngram,
        do_whole_word_mask=config.do_whole_word_mask or config.do_chinese_wwm,
        do_permutation=config.do_permutation, mask_id=tokenizer.mask_id,
        random_word_ids=list(tokenizer.vocab.values()))
    self.cumulative = masking.cumulative_ngram_probabilities(config.ngram,
                                                             config.favor_shorter_ngram)
    self.num_predictions = config.max_predictions_per_seq * (2 if config.do_permutation else 1)

  def process(self, block: Block) -> Tuple[List[bytes], stats_lib.DataStats]:
    """All instances of all dupe passes over the block's documents, shuffled and framed."""
    config = self.config
    indexed = []
    for offset, lines in enumerate(block.documents):
      segments = self.encoder.encode_lines(lines)
      if segments:
        indexed.append((block.first_document_index + offset, segments))
    documents = [segments for _, segments in indexed]
    block_stats = stats_lib.DataStats(documents=len(documents),
                                      segments=sum(len(d) for d in documents))
    batch = _InstanceBatch()
    for pass_index in range(config.dupe_factor):
      for local_index, (document_index, _) in enumerate(indexed):
        rng = random.Random(f"{config.random_seed}:{pass_index}:{document_index}")
        pairs = instances.create_sentence_pairs(
            documents, local_index, config.max_seq_length, config.short_seq_prob,
            config.random_next_sentence, rng)
        for pair in pairs:
          batch.add(self._mask_pair(pair, rng), len(pair.tokens_a.ids), pair.is_random_next)
    batch.count_into(block_stats)
    records = batch.serialize(config.max_seq_length, self.num_predictions)
    random.Random(f"{config.random_seed}:block:{block.index}").shuffle(records)
    return example_codec.frame_tfrecords(records), block_stats

  def _mask_pair(self, pair: instances.SentencePair, rng: random.Random) -> masking.MaskedSequence:
    ids = np.concatenate(([self.cls_id], pair.tokens_a.ids, [self.sep_id], pair.tokens_b.ids,
                          [self.sep_id])).astype(np.int32)
    starts = np.concatenate(([True], pair.tokens_a.starts, [True], pair.tokens_b.starts, [True]))
    return masking.mask_sequence(ids, starts, len(pair.tokens_a.ids), self.options,
                                 self.cumulative, rng)


class _InstanceBatch:
  """Masked instances of a block, serialized together into tf.train.Examples."""

  def __init__(self):
    self.masked = []
    self.num_a = []
    self.labels = []

  def add(self, masked: masking.MaskedSequence, num_a: int, is_random_next: bool) -> None:
    self.masked.append(masked)
    self.num_a.append(num_a)
    self.labels.append(int(is_random_next))

  def count_into(self, block_stats: stats_lib.DataStats) -> None:
    for masked in self.masked:
      block_stats.tokens += len(masked.ids)
      block_stats.predictions += len(masked.positions)
      block_stats.masked += masked.replacement_counts[0]
      block_stats.kept += masked.replacement_counts[1]
      block_stats.randomized += masked.replacement_counts[2]
      block_stats.span_words.update(masked.span_words)
    block_stats.instances += len(self.masked)
    block_stats.random_next_labels += sum(self.labels)

  def serialize(self, max_seq_length: int, num_predictions: int) -> List[bytes]:
    """The original's features (reference §4.1), in its order, padded with zeros."""
    if not self.masked:
      return []
    lengths = np.array([len(m.ids) for m in self.masked])
    counts = np.array([len(m.positions) for m in self.masked])
    in_sequence = np.arange(max_seq_length)[None, :] < lengths[:, None]
    in_predictions = np.arange(num_predictions)[None, :] < counts[:, None]

    def padded(values, valid, dtype=np.int64):
      matrix = np.zeros(valid.shape, dtype=dtype)
      matrix[valid] = np.concatenate(values) if values else []
      return matrix

    second_segment = np.arange(max_seq_length)[None, :] >= np.array(self.num_a)[:, None] + 2
    return example_codec.serialize_examples([
        ("input_ids", padded([m.ids for m in self.masked], in_sequence)),
        ("input_mask", in_sequence.astype(np.int64)),
        ("segment_ids", (in_sequence & second_segment).astype(np.int64)),
        ("token_boundary", padded([m.token_boundary for m in self.masked], in_sequence)),
        ("masked_lm_positions", padded([m.positions for m in self.masked], in_predictions)),
        ("masked_lm_ids", padded([m.labels for m in self.masked], in_predictions)),
        ("masked_lm_weights", in_predictions.astype(np.float32)),
        ("next_sentence_labels", np.array(self.labels, dtype=np.int64)[:, None]),
    ])


_worker_processor: Optional[BlockProcessor] = None


def _init_worker(config: PretrainingDataConfig) -> None:
  global _worker_processor
  _worker_processor = BlockProcessor(config)


def _process_in_worker(block: Block):
  return _worker_processor.process(block)


def _map_blocks(config: PretrainingDataConfig, blocks: Iterator[Block]):
  """Processed blocks in input order, with at most 2 blocks per worker in flight."""
  if config.num_workers <= 1:
    processor = BlockProcessor(config)
    for block in blocks:
      yield processor.process(block)
    return
  context = multiprocessing.get_context("spawn")
  with context.Pool(config.num_workers, initializer=_init_worker, initargs=(config,)) as pool:
    in_flight = collections.deque()
    for block in blocks:
      in_flight.append(pool.apply_async(_process_in_worker, (block,)))
      if len(in_flight) >= 2 * config.num_workers:
        yield in_flight.popleft().get()
    while in_flight:
      yield in_flight.popleft().get()


def create_pretraining_data(config: PretrainingDataConfig) -> dict:
  """Runs the whole pipeline; returns the summary (also written as JSON next to the output).

  Raises:
    CorpusError: bad flags or input (one-line message); no final file is written then.
  """
  start_time = time.monotonic()
  validate(config)
  load_tokenizer(config)
  input_files = corpus_files.expand_input_patterns(config.input_file)
  try:
    paths = sharded_writer.output_paths(config.output_file, config.num_output_shards)
  except ValueError as error:
    raise CorpusError(str(error)) from None
  stats_path = config.stats_file or default_stats_path(config.output_file)
  logging.info("create_pretraining_data: %d input files -> %d shards, %d workers",
               len(input_files), len(paths), max(config.num_workers, 1))

  counter = corpus_files.ReplacementCounter()
  total = stats_lib.DataStats()
  buffer = sharded_writer.ShuffleBuffer(config.shuffle_buffer_size, f"{config.random_seed}:buffer")
  writer = sharded_writer.ShardedRecordWriter(paths)
  last_log = start_time
  try:
    blocks = iter_blocks(input_files, config.block_bytes, counter)
    for framed, block_stats in _map_blocks(config, blocks):
      total.merge(block_stats)
      for record in framed:
        leaving = buffer.push(record)
        if leaving is not None:
          writer.write(leaving)
      now = time.monotonic()
      if now - last_log >= _PROGRESS_SECONDS:
        last_log = now
        elapsed = now - start_time
        logging.info("progress: %d documents (%.0f/s), %d instances (%.0f/s)", total.documents,
                     total.documents / elapsed, total.instances, total.instances / elapsed)
    for record in buffer.drain():
      writer.write(record)
    if total.instances == 0:
      raise CorpusError(f"no text found in {', '.join(input_files)}: the corpus is empty; give "
                        "files with one sentence per line and blank lines between documents.")
    writer.commit()
  except BaseException:
    writer.abort()
    raise
  result = stats_lib.summary(total, paths, writer.counts, counter.replaced_bytes, input_files,
                             time.monotonic() - start_time)
  sharded_writer.write_json_atomically(result, stats_path)
  if counter.replaced_bytes:
    logging.warning("replaced %d invalid UTF-8 bytes with U+FFFD", counter.replaced_bytes)
  logging.info("wrote %d instances (%d tokens, mean length %.1f, masked fraction %.4f, "
               "sentence-order label 1: %.3f) to %d shards in %.1f s; summary: %s",
               result["instances"], result["tokens"], result["mean_length"],
               result["masked_fraction"], result["sentence_order_label_1_fraction"], len(paths),
               result["seconds"], stats_path)
  return result
