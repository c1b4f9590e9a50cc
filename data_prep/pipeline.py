"""create_pretraining_data as a library: the local engine (worker processes on this machine), and
what it shares with the Beam engine (beam_pipeline.py): the run's plan and its summary.

Both engines call the same pure functions: `corpus_files.read_blocks` cuts each input file into
blocks by byte offset, `BlockProcessor.process` turns a block into keyed, framed records and
counters, `sharded_writer` assigns each record to a shard by its key and sorts the shard. Every
random choice is seeded by (random_seed, pass, file index, document offset), so the output bytes
are the same for any --num_workers, for either engine and for any split of the work.

Memory: the main process holds the blocks in flight (2 per worker) and a spill buffer; a worker
holds one block of text and its records. Writing sorts one shard at a time (a shard's spill file
above `sharded_writer.SORT_MEMORY_BYTES` is first split by key range). Disk: the spill files take
the size of the output, beside it, until the shards are written.

The original's global shuffle of all instances is kept: sorting by a keyed hash of each record
orders all instances of the run uniformly at random. Random-next segments come from another
document of the same block instead of the whole corpus.
"""

import collections
import concurrent.futures
from concurrent.futures.process import BrokenProcessPool
import multiprocessing
import os
import time
from typing import Iterator, List, NamedTuple, Optional

from absl import logging

from albert_tf import file_io
from albert_tf import tokenization
from data_prep import corpus_files
from data_prep import sharded_writer
from data_prep import stats as stats_lib
from data_prep import text_encoding
from data_prep.block_processing import BlockProcessor
from data_prep.corpus_files import Block
from data_prep.corpus_files import CorpusError
from data_prep.pretraining_data_config import PretrainingDataConfig
from data_prep.pretraining_data_config import default_stats_path
from data_prep.pretraining_data_config import load_tokenizer
from data_prep.pretraining_data_config import validate

_PROGRESS_SECONDS = 10.0

_worker_processor: Optional[BlockProcessor] = None


class RunPlan(NamedTuple):
  """What a run writes, resolved and checked before any work starts (both engines)."""
  tokenizer: tokenization.FullTokenizer
  shard_paths: List[str]
  stats_path: str


def plan_run(config: PretrainingDataConfig) -> RunPlan:
  """Validates the options and the vocabulary and resolves the output names.

  Raises:
    CorpusError: a bad option, vocabulary or --output_file (one line).
  """
  validate(config)
  tokenizer = load_tokenizer(config)
  try:
    paths = sharded_writer.output_paths(config.output_file, config.num_output_shards)
  except ValueError as error:
    raise CorpusError(str(error)) from None
  stats_path = config.stats_file or default_stats_path(config.output_file)
  _check_stats_directory(stats_path, paths)
  return RunPlan(tokenizer, paths, stats_path)


def _check_stats_directory(stats_path: str, shard_paths: List[str]) -> None:
  """Refuses, before any work, a --stats_file whose directory is missing (unless the shards'
  own directory, made for them) or not a directory: likely a typo, found now rather than after
  the run."""
  directory = os.path.dirname(stats_path)
  if (not directory or file_io.is_remote(stats_path) or os.path.isdir(directory) or
      directory in {os.path.dirname(path) for path in shard_paths}):
    return
  problem = "is not a directory" if os.path.exists(directory) else "does not exist"
  raise CorpusError(f"--stats_file {stats_path}: {directory} {problem}; create the directory or "
                    "give another --stats_file (without it the summary goes next to the shards).")


def empty_corpus_error(input_files: List[str]) -> CorpusError:
  return CorpusError(f"no text found in {', '.join(input_files)}: the corpus is empty; give "
                     "files with one sentence per line and blank lines between documents.")


class SummaryFacts(NamedTuple):
  """What a run's summary says besides its counters (computed where the vocabulary is)."""
  shard_paths: List[str]
  input_files: List[str]
  vocabulary: dict
  masking: dict
  dynamic_masking: bool
  input_encoding: str = text_encoding.DEFAULT_ENCODING


def summary_facts(config: PretrainingDataConfig, plan: RunPlan,
                  input_files: List[str]) -> SummaryFacts:
  return SummaryFacts(plan.shard_paths, input_files, stats_lib.vocabulary(config),
                      stats_lib.masking(config, plan.tokenizer), config.dynamic_masking,
                      config.input_encoding)


def run_summary(facts: SummaryFacts, total: stats_lib.DataStats, shard_counts: List[int],
                seconds: float) -> dict:
  """The summary of a finished run (the same for both engines, apart from the timings)."""
  return stats_lib.summary(total, facts.shard_paths, shard_counts, facts.input_files, seconds,
                           facts.vocabulary, facts.masking, facts.dynamic_masking,
                           input_encoding=facts.input_encoding)


def log_summary(result: dict, stats_path: str) -> None:
  if result["replaced_invalid_utf8_bytes"]:
    encoding = result.get(stats_lib.INPUT_ENCODING_KEY, text_encoding.DEFAULT_ENCODING)
    logging.warning("replaced %d invalid %s bytes with U+FFFD",
                    result["replaced_invalid_utf8_bytes"], text_encoding.display_name(encoding))
  logging.info(
      "wrote %d instances (%d tokens, mean length %.1f, masked fraction %.4f, "
      "sentence-order label 1: %.3f) to %d shards in %.1f s; summary: %s", result["instances"],
      result["tokens"],
      result["mean_length"], result["masked_fraction"], result["sentence_order_label_1_fraction"],
      len(result["shards"]), result["seconds"], stats_path)


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
  # A ProcessPoolExecutor, not a multiprocessing.Pool: when a worker dies (the out-of-memory
  # killer, a kill -9) the Pool replaces it and waits forever for the block it held; the executor
  # fails every pending block at once with BrokenProcessPool.
  executor = concurrent.futures.ProcessPoolExecutor(config.num_workers,
                                                    mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_init_worker, initargs=(config,))
  with executor:
    in_flight = collections.deque()
    try:
      for block in blocks:
        in_flight.append(executor.submit(_process_in_worker, block))
        if len(in_flight) >= 2 * config.num_workers:
          yield in_flight.popleft().result()
      while in_flight:
        yield in_flight.popleft().result()
    except BrokenProcessPool:
      raise CorpusError(
          "a data worker process died (killed by a signal, e.g. the out-of-memory killer): no "
          "output was written under its final name; rerun, with fewer --num_workers or a smaller "
          "--block_bytes if memory is short") from None


def create_pretraining_data(config: PretrainingDataConfig) -> dict:
  """Runs the whole pipeline on this machine; returns the summary (also written as JSON next to
  the output).

  Raises:
    CorpusError, file_io.FilePatternError: bad flags or input (one-line message); no final file
      is written then.
  """
  start_time = time.monotonic()
  plan = plan_run(config)
  input_files = file_io.expand_patterns(config.input_file)
  corpus_files.check_text_files(input_files, config.input_encoding)
  logging.info("create_pretraining_data: %d input files -> %d shards, %d workers", len(input_files),
               len(plan.shard_paths), max(config.num_workers, 1))
  total = stats_lib.DataStats()
  last_log = start_time
  with sharded_writer.ShardSpill.next_to(plan.shard_paths) as spill:
    blocks = corpus_files.iter_blocks(input_files, config.block_bytes, config.input_encoding)
    for keyed, block_stats in _map_blocks(config, blocks):
      total.merge(block_stats)
      spill.add(keyed)
      now = time.monotonic()
      if now - last_log >= _PROGRESS_SECONDS:
        last_log = now
        elapsed = now - start_time
        logging.info("progress: %d documents (%.0f/s), %d instances (%.0f/s)", total.documents,
                     total.documents / elapsed, total.instances, total.instances / elapsed)
    if total.instances == 0:
      raise empty_corpus_error(input_files)
    logging.info("writing %d shards (sorted by record key)", len(plan.shard_paths))
    result = _write_outputs(spill, plan, summary_facts(config, plan, input_files), total,
                            start_time)
  log_summary(result, plan.stats_path)
  return result


def _write_outputs(spill: sharded_writer.ShardSpill, plan: RunPlan, facts: SummaryFacts,
                   total: stats_lib.DataStats, start_time: float) -> dict:
  """Writes the shards and the summary under temporary names, then renames the shards and the
  summary last: a summary that cannot be written leaves no shard under its final name."""
  stats_temporary = plan.stats_path + sharded_writer.INCOMPLETE_SUFFIX
  with file_io.atomic_output(plan.stats_path, temporary_suffix=sharded_writer.INCOMPLETE_SUFFIX,
                             make_parents=False):
    with spill.shards_written(plan.shard_paths):
      result = run_summary(facts, total, spill.counts, time.monotonic() - start_time)
      try:
        stats_lib.write_summary(result, stats_temporary)
      except OSError as error:
        raise CorpusError(
            f"--stats_file {plan.stats_path} cannot be written ({error.strerror or error}): no "
            "shard was renamed to its final name; fix the path or give another --stats_file, "
            "then rerun.") from None
  return result
