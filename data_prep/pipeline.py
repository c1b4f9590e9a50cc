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
import multiprocessing
import time
from typing import Iterator, Optional

from absl import logging

from albert_tf import file_io
from data_prep import corpus_files
from data_prep import sharded_writer
from data_prep import stats as stats_lib
from data_prep.block_processing import BlockProcessor
from data_prep.corpus_files import Block
from data_prep.corpus_files import CorpusError
from data_prep.pretraining_data_config import PretrainingDataConfig
from data_prep.pretraining_data_config import default_stats_path
from data_prep.pretraining_data_config import load_tokenizer
from data_prep.pretraining_data_config import validate

_PROGRESS_SECONDS = 10.0

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
    CorpusError, file_io.FilePatternError: bad flags or input (one-line message); no final file
      is written then.
  """
  start_time = time.monotonic()
  validate(config)
  load_tokenizer(config)
  input_files = file_io.expand_patterns(config.input_file)
  try:
    paths = sharded_writer.output_paths(config.output_file, config.num_output_shards)
  except ValueError as error:
    raise CorpusError(str(error)) from None
  stats_path = config.stats_file or default_stats_path(config.output_file)
  logging.info("create_pretraining_data: %d input files -> %d shards, %d workers", len(input_files),
               len(paths), max(config.num_workers, 1))

  counter = corpus_files.ReplacementCounter()
  total = stats_lib.DataStats()
  buffer = sharded_writer.ShuffleBuffer(config.shuffle_buffer_size, f"{config.random_seed}:buffer")
  last_log = start_time
  with sharded_writer.ShardedRecordWriter(paths) as writer:
    blocks = corpus_files.iter_blocks(input_files, config.block_bytes, counter)
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
  result = stats_lib.summary(total, paths, writer.counts, counter.replaced_bytes, input_files,
                             time.monotonic() - start_time, stats_lib.vocabulary(config))
  stats_lib.write_summary(result, stats_path, temporary_suffix=sharded_writer.INCOMPLETE_SUFFIX)
  if counter.replaced_bytes:
    logging.warning("replaced %d invalid UTF-8 bytes with U+FFFD", counter.replaced_bytes)
  logging.info(
      "wrote %d instances (%d tokens, mean length %.1f, masked fraction %.4f, "
      "sentence-order label 1: %.3f) to %d shards in %.1f s; summary: %s", result["instances"],
      result["tokens"], result["mean_length"], result["masked_fraction"],
      result["sentence_order_label_1_fraction"], len(paths), result["seconds"], stats_path)
  return result
