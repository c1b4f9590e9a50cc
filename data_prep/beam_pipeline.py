"""create_pretraining_data on Apache Beam (DirectRunner, FnApiRunner, Dataflow, Flink, Spark,
PortableRunner): the same per-block functions as the local engine, the same output bytes.

  byte ranges of each file -> Reshuffle -> blocks (corpus_files.read_blocks) -> Reshuffle
  -> BlockProcessor.process (keyed, framed records grouped by shard; DataStats)
  -> GroupByKey(shard) -> sort by key, write <shard>.incomplete      \\
  -> DataStats CombineFn -------------------------------------------> write the summary, rename all

Blocks and documents are named by (file index, byte offset), records by a keyed hash of their
bytes, and a shard is the sorted set of its records: how Beam splits, retries or orders the work
changes nothing in the output, and a retried bundle rewrites the same bytes under the same
temporary name. Inputs and outputs go through Beam's FileSystems (local paths, gs:// with
apache-beam[gcp], any Beam file system). The workers import no TensorFlow.

This is the only module of albert-tf that imports apache_beam.
"""

import dataclasses
import itertools
import json
import os
import shutil
import socket
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options import pipeline_options

from data_prep import corpus_files
from data_prep import pipeline
from data_prep import sharded_writer
from data_prep import stats as stats_lib
from data_prep import text_encoding
from data_prep.block_processing import BlockProcessor
from data_prep.corpus_files import CorpusError
from data_prep.pretraining_data_config import PretrainingDataConfig

# A reader task covers this much of a file (rounded to a multiple of --block_bytes).
DEFAULT_RANGE_BYTES = 64 << 20
_STATS = "stats"
_METRICS_NAMESPACE = "albert_tf"
_CONNECT_TIMEOUT_SECONDS = 5.0


def _open(path: str):
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _create(path: str):
  return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)


def match_inputs(patterns: str) -> List[Tuple[str, int]]:
  """(path, size) of the files of --input_file, in `file_io.expand_patterns`'s order: patterns in
  the given order, each pattern's matches sorted.

  Raises:
    CorpusError: a pattern matches no file, or no pattern is given.
  """
  files = []
  for pattern in (p.strip() for p in (patterns or "").split(",")):
    if not pattern:
      continue
    try:
      metadata = FileSystems.match([pattern])[0].metadata_list
    except (IOError, ValueError) as error:  # BeamIOError is an IOError
      raise CorpusError(
          f"--input_file pattern {pattern!r}: {' '.join(str(error).split())}") from None
    matches = sorted((m.path, m.size_in_bytes) for m in metadata if not os.path.isdir(m.path))
    if not matches:
      raise CorpusError(f"--input_file pattern {pattern!r} matches no file; check the path (quote "
                        "globs so the shell does not expand them).")
    files.extend(matches)
  if not files:
    raise CorpusError("--input_file is empty; pass one or more files or glob patterns, "
                      "comma-separated.")
  return files


@dataclasses.dataclass(frozen=True)
class _Vocabulary:
  """The vocabulary file's name and bytes, shipped to the workers with the pipeline."""
  flag: str  # "spm_model_file" or "vocab_file"
  name: str
  data: bytes


def _local_vocabulary(config: PretrainingDataConfig, directory: str):
  """The config with its vocabulary copied into `directory` (it may be on gs://), and the copy."""
  flag = "spm_model_file" if config.spm_model_file else "vocab_file"
  path = getattr(config, flag)
  if path is None:
    return config, None
  try:
    with _open(path) as reader:
      data = reader.read()
  except (IOError, ValueError) as error:
    raise CorpusError(f"--{flag}={path} cannot be read: {' '.join(str(error).split())}") from None
  vocabulary = _Vocabulary(flag, os.path.basename(path) or "vocab", data)
  return _with_vocabulary(config, vocabulary, directory), vocabulary


def _with_vocabulary(config: PretrainingDataConfig, vocabulary: _Vocabulary,
                     directory: str) -> PretrainingDataConfig:
  local = os.path.join(directory, vocabulary.name)
  with open(local, "wb") as writer:
    writer.write(vocabulary.data)
  return dataclasses.replace(config, **{vocabulary.flag: local})


def _read_range(task: Tuple[int, str, int, int], block_bytes: int, encoding: str):
  """The blocks of one byte range of one file."""
  file_index, path, start, end = task
  with _open(path) as reader:
    yield from corpus_files.read_blocks(reader, file_index, block_bytes, start, end, encoding)


def check_inputs(files: Sequence[Tuple[str, int]], encoding: str) -> None:
  """Refuses a codec the byte-range readers cannot split, and files that are not text of it.

  Raises:
    CorpusError: one line with the fix.
  """
  if not text_encoding.is_ascii_compatible(encoding):
    raise CorpusError(
        f"--input_encoding={encoding} cannot be split into byte ranges by Beam's readers: convert "
        f"the files to UTF-8 first (iconv -f {encoding} -t UTF-8), or run the local engine (no "
        "--runner), which reads them as they are.")
  problem = text_encoding.first_problem([path for path, _ in files], encoding, _read_sample)
  if problem:
    raise CorpusError(problem)


def _read_sample(path: str) -> bytes:
  with _open(path) as reader:
    return reader.read(text_encoding.SAMPLE_BYTES)


class _ProcessBlocks(beam.DoFn):
  """BlockProcessor.process on each block: (shard, keyed records) and the block's DataStats."""

  def __init__(self, config: PretrainingDataConfig, vocabulary: _Vocabulary, num_shards: int):
    self.config = config
    self.vocabulary = vocabulary
    self.num_shards = num_shards
    self.instances = Metrics.counter(_METRICS_NAMESPACE, "instances")
    self.documents = Metrics.counter(_METRICS_NAMESPACE, "documents")

  def setup(self):
    # The tokenizer is loaded once per worker, from the vocabulary bytes shipped with the DoFn.
    self.directory = tempfile.mkdtemp(prefix="albert-tf-vocab-")
    self.processor = BlockProcessor(_with_vocabulary(self.config, self.vocabulary, self.directory))

  def teardown(self):
    shutil.rmtree(self.directory, ignore_errors=True)

  def process(self, block: corpus_files.Block):
    keyed, block_stats = self.processor.process(block)
    self.instances.inc(block_stats.instances)
    self.documents.inc(block_stats.documents)
    for shard, records in enumerate(sharded_writer.group_by_shard(keyed, self.num_shards)):
      if records:
        yield shard, records
    yield beam.pvalue.TaggedOutput(_STATS, block_stats)


class _MergeStats(beam.CombineFn):
  """Sums the DataStats of all blocks (the run's counters, as the local engine's merge)."""

  def create_accumulator(self) -> stats_lib.DataStats:
    return stats_lib.DataStats()

  def add_input(self, accumulator: stats_lib.DataStats, block_stats: stats_lib.DataStats):
    accumulator.merge(block_stats)
    return accumulator

  def merge_accumulators(self, accumulators: Iterable[stats_lib.DataStats]):
    total = stats_lib.DataStats()
    for accumulator in accumulators:
      total.merge(accumulator)
    return total

  def extract_output(self, accumulator: stats_lib.DataStats) -> stats_lib.DataStats:
    return accumulator


def _write_shard(element, shard_paths: Sequence[str]):
  """Sorts one shard's records by key and writes them under `<shard>.incomplete`."""
  shard, groups = element
  temporary = shard_paths[shard] + sharded_writer.INCOMPLETE_SUFFIX
  records = sharded_writer.sorted_records(itertools.chain.from_iterable(groups))
  with _create(temporary) as writer:
    for record in records:
      writer.write(record)
  yield shard, len(records)


def _commit(temporary: str, path: str) -> None:
  if not FileSystems.exists(temporary):
    return  # a retried finalize: renamed already
  if "://" not in temporary:  # local: on disk before the rename, as the local engine
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
      os.fsync(descriptor)
    finally:
      os.close(descriptor)
  FileSystems.rename([temporary], [path])


def _finalize(written: List[Tuple[int, int]], total: stats_lib.DataStats,
              facts: pipeline.SummaryFacts, stats_path: str, start_time: float) -> None:
  """Writes the summary under its temporary name, then renames every shard to its final name and
  the summary last (as the local engine); nothing for an empty corpus."""
  paths = facts.shard_paths
  temporaries = [path + sharded_writer.INCOMPLETE_SUFFIX for path in paths]
  if total.instances == 0:
    FileSystems.delete([t for t in temporaries if FileSystems.exists(t)])
    return
  counts = [0] * len(paths)
  for shard, count in written:
    counts[shard] = count
  for shard, temporary in enumerate(temporaries):
    if not counts[shard] and not FileSystems.exists(paths[shard]):
      with _create(temporary):
        pass  # a shard without records is an empty file, as in the local engine
  stats_temporary = stats_path + sharded_writer.INCOMPLETE_SUFFIX
  result = pipeline.run_summary(facts, total, counts, time.time() - start_time)
  with _create(stats_temporary) as writer:
    writer.write(stats_lib.summary_json(result).encode("utf-8"))
  for temporary, path in zip(temporaries, paths):
    _commit(temporary, path)
  _commit(stats_temporary, stats_path)


def build_pipeline(root: beam.Pipeline, config: PretrainingDataConfig, vocabulary: _Vocabulary,
                   files: Sequence[Tuple[str, int]], facts: pipeline.SummaryFacts, stats_path: str,
                   range_bytes: int, start_time: float) -> None:
  """Adds the create_pretraining_data transforms to `root` (see the module docstring)."""
  tasks = [(index, path, start, end)
           for index, (path, size) in enumerate(files)
           for start, end in corpus_files.byte_ranges(size, config.block_bytes, range_bytes)]
  processed = (
      root | "ByteRanges" >> beam.Create(tasks) | "SpreadRanges" >> beam.Reshuffle() |
      "ReadBlocks" >> beam.FlatMap(_read_range, config.block_bytes, config.input_encoding) |
      "SpreadBlocks" >> beam.Reshuffle() |
      "ProcessBlocks" >> beam.ParDo(_ProcessBlocks(config, vocabulary, len(
          facts.shard_paths))).with_outputs(_STATS, main="records"))
  written = (processed.records | "GroupByShard" >> beam.GroupByKey() |
             "WriteShards" >> beam.FlatMap(_write_shard, facts.shard_paths))
  total = processed[_STATS] | "MergeStats" >> beam.CombineGlobally(_MergeStats())
  _ = (written | "AllShards" >> beam.combiners.ToList() | "Finalize" >> beam.Map(
      _finalize, beam.pvalue.AsSingleton(total), facts, stats_path, start_time))


def _endpoint_error(runner: str, option: str, address: str) -> Optional[str]:
  """None if something accepts TCP connections at `address` (host:port), else the error line."""
  host, _, port = address.rpartition(":")
  host = host.split("://")[-1].strip("[]") or "localhost"
  try:
    with socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_SECONDS):
      return None
  except (OSError, ValueError) as error:
    return (f"--runner={runner}: nothing answers at {option}={address} ({error}); start the "
            "cluster or Beam job server there or fix the address (docs/data.md, \"Beam\")")


def check_runner(runner: str, options: pipeline_options.PipelineOptions) -> None:
  """Refuses a runner that cannot work here, with the fix, before the pipeline starts.

  Raises:
    CorpusError: the runner's cluster or job server is not reachable, or it needs Java.
  """
  line = None
  if runner == "FlinkRunner":
    master = options.view_as(pipeline_options.FlinkRunnerOptions).flink_master
    if master in ("[auto]", "[local]"):
      line = _needs_java(runner, "-- --flink_master=HOST:8081")
    else:
      line = _endpoint_error(runner, "--flink_master", master)
  elif runner == "SparkRunner":
    master = options.view_as(pipeline_options.SparkRunnerOptions).spark_master_url
    if master.startswith("local"):
      line = _needs_java(runner, "-- --spark_master_url=spark://HOST:7077")
    else:
      line = _endpoint_error(runner, "--spark_master_url", master)
  elif runner == "PortableRunner":
    endpoint = options.view_as(pipeline_options.PortableOptions).job_endpoint
    if not endpoint:
      line = ("--runner=PortableRunner needs the address of a Beam job server: pass "
              "-- --job_endpoint=HOST:8099 (docs/data.md, \"Beam\")")
    elif endpoint != "embed":
      line = _endpoint_error(runner, "--job_endpoint", endpoint)
  if line:
    raise CorpusError(line)


def _needs_java(runner: str, cluster_option: str) -> Optional[str]:
  if shutil.which("java"):
    return None
  return (f"--runner={runner} without a cluster runs Beam's job-server jar, which needs Java: "
          f"install a Java runtime, or use a cluster with {cluster_option}")


def runner_error_line(runner: str, error: BaseException) -> Optional[str]:
  """One line, with the fix, for a runner that is not installed or cannot start; else None."""
  message = " ".join(str(error).split())
  if isinstance(error, ImportError):
    return (f"--runner={runner} is not installed ({message}); for Dataflow and gs:// paths: "
            "pip install 'apache-beam[gcp]==2.77.0'")
  if "job server jar" in message or "job-server" in message:
    return (f"--runner={runner} could not fetch Beam's job-server jar (no network?): download it "
            "where the message says, or point to a running cluster or job server "
            f"(docs/data.md, \"Beam\"); Beam said: {message[:300]}")
  if type(error).__name__ == "FutureTimeoutError":
    return (f"--runner={runner}: the Beam job server did not answer in time; start it or fix "
            "-- --job_endpoint")
  if isinstance(error, ValueError) and "validations errors" in message:
    return f"--runner={runner}: Beam rejected the pipeline options: {message}"
  return None


def _instances_written(result) -> Optional[int]:
  """The run's instance count from the runner's metrics, or None when it reports none."""
  try:
    counters = result.metrics().query(
        MetricsFilter().with_namespace(_METRICS_NAMESPACE).with_name("instances"))["counters"]
  except (NotImplementedError, KeyError, AttributeError):
    return None
  if not counters:
    return None
  return sum((c.committed if c.committed is not None else c.attempted) for c in counters)


def run_beam(config: PretrainingDataConfig, runner: str, pipeline_args: Sequence[str] = (),
             range_bytes: int = DEFAULT_RANGE_BYTES) -> Dict:
  """Runs create_pretraining_data as a Beam pipeline on `runner`; returns the summary.

  Args:
    config: the same options as the local engine (num_workers is ignored: the runner decides).
    runner: one of pretraining_data_config.BEAM_RUNNERS.
    pipeline_args: Beam pipeline options, e.g. ["--project=p", "--region=r"].
    range_bytes: how much of a file one reader task covers (rounded to --block_bytes).

  Raises:
    CorpusError: bad flags or input, or a runner that cannot run here (one line); no final file
      is written then.
  """
  start_time = time.time()
  with tempfile.TemporaryDirectory(prefix="albert-tf-vocab-") as directory:
    local_config, vocabulary = _local_vocabulary(config, directory)
    plan = pipeline.plan_run(local_config)
    files = match_inputs(config.input_file)
    check_inputs(files, config.input_encoding)
    facts = pipeline.summary_facts(local_config, plan, [path for path, _ in files])
  # The summary names the vocabulary as given (it may be on gs://), not the local copy.
  facts = facts._replace(vocabulary={
      **facts.vocabulary, "file": config.spm_model_file or config.vocab_file
  })
  options = pipeline_options.PipelineOptions([f"--runner={runner}", *pipeline_args])
  check_runner(runner, options)
  root = beam.Pipeline(options=options)
  build_pipeline(root, config, vocabulary, files, facts, plan.stats_path, range_bytes, start_time)
  try:
    result = root.run()
    result.wait_until_finish()
  except Exception as error:  # pylint: disable=broad-except
    line = runner_error_line(runner, error)
    if line is None:
      raise
    raise CorpusError(line) from None
  if _instances_written(result) == 0 or not FileSystems.exists(plan.stats_path):
    raise pipeline.empty_corpus_error(facts.input_files)
  with _open(plan.stats_path) as reader:
    result_summary = json.loads(reader.read().decode("utf-8"))
  pipeline.log_summary(result_summary, plan.stats_path)
  return result_summary
