"""Benchmark: our create_pretraining_data vs tf-models-official's, same corpus, same run.

Both get SentencePiece tokenization, whole-word n-gram masking (n <= 3), max_seq_length 128,
20 predictions and the same dupe_factor. Reported for each: wall time, instances written,
instances/s and the peak RSS of the whole process tree (sum over the process and its children,
polled with psutil), then our/peer ratios. Targets (issue 3): throughput >= 10x, peak RSS <= 1/5.

  python benchmarks/make_english_corpus.py --output=bench_output/english_corpus.txt
  python benchmarks/create_pretraining_data_bench.py --input_file=bench_output/english_corpus.txt
"""

import json
import os
import resource
import struct
import subprocess
import sys
import time

from absl import app
from absl import flags
from absl import logging
import psutil

from data_prep import sharded_writer

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Corpus (one sentence per line, blank line between docs).")
flags.DEFINE_string("spm_model_file", None,
                    "SentencePiece model; default: train a 30k model on the corpus first.")
flags.DEFINE_string("output_dir", "bench_output/create_pretraining_data", "Scratch and results.")
flags.DEFINE_integer("dupe_factor", 5, "Passes over the corpus (both tools).")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length (both tools).")
flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Our worker processes.")
flags.DEFINE_integer("num_output_shards", 4, "Our output shards.")
flags.DEFINE_bool("run_peer", True, "Also run tf-models-official's script.")
flags.DEFINE_float("poll_seconds", 0.2, "RSS polling interval.")

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_measured(command, log_path):
  """Runs `command` (stderr to `log_path`).

  Returns:
    (wall seconds, CPU seconds of the whole process tree, peak RSS of the tree in bytes, exit code).
  """
  usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.monotonic()
  with open(log_path, "w", encoding="utf-8") as log:
    process = subprocess.Popen(command, cwd=_REPO_ROOT, stdout=subprocess.DEVNULL, stderr=log)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
      total = 0
      try:
        members = [root] + root.children(recursive=True)
      except psutil.Error:
        members = []
      for member in members:
        try:
          total += member.memory_info().rss
        except psutil.Error:
          pass
      peak = max(peak, total)
      time.sleep(FLAGS.poll_seconds)
  seconds = time.monotonic() - start
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu_seconds = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
  if process.returncode:
    with open(log_path, encoding="utf-8") as log:
      tail = log.read().splitlines()[-15:]
    logging.error("command failed: %s\n%s", " ".join(command), "\n".join(tail))
  return seconds, cpu_seconds, peak, process.returncode


def result_entry(seconds, cpu_seconds, peak, instances, code):
  """A run's figures as the benchmarks print and store them."""
  return {
      "seconds": seconds,
      "cpu_seconds": cpu_seconds,
      "instances": instances,
      "instances_per_second": instances / seconds,
      "instances_per_cpu_second": instances / max(cpu_seconds, 1e-9),
      "peak_rss_mb": peak / 2**20,
      "returncode": code
  }


def _print(name, result):
  print(f"{name}: {result['instances']} instances in {result['seconds']:.1f} s = "
        f"{result['instances_per_second']:.0f} instances/s ({result['cpu_seconds']:.0f} CPU-s, "
        f"{result['instances_per_cpu_second']:.0f} instances per CPU-second), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB")


def count_tfrecords(paths):
  """Number of records in TFRecord files (reads the framing only)."""
  count = 0
  for path in paths:
    with open(path, "rb") as reader:
      while True:
        header = reader.read(12)
        if len(header) < 12:
          break
        (length,) = struct.unpack("<Q", header[:8])
        reader.seek(length + 4, os.SEEK_CUR)
        count += 1
  return count


def main(argv):
  del argv
  if not FLAGS.input_file:
    sys.exit("error: --input_file is required (see benchmarks/make_english_corpus.py).")
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  model = FLAGS.spm_model_file
  if not model:
    prefix = os.path.join(FLAGS.output_dir, "bench_spm")
    subprocess.run([
        sys.executable, "-m", "data_prep.build_vocab", f"--input_file={FLAGS.input_file}",
        f"--model_prefix={prefix}", "--vocab_size=30000"
    ], cwd=_REPO_ROOT, check=True)
    model = prefix + ".model"
  corpus_mb = os.path.getsize(FLAGS.input_file) / 1e6
  common = [
      f"--input_file={FLAGS.input_file}", f"--max_seq_length={FLAGS.max_seq_length}",
      "--max_predictions_per_seq=20", f"--dupe_factor={FLAGS.dupe_factor}"
  ]
  results = {
      "corpus_mb": corpus_mb,
      "dupe_factor": FLAGS.dupe_factor,
      "max_seq_length": FLAGS.max_seq_length,
      "cpu_count": os.cpu_count()
  }

  ours_out = os.path.join(FLAGS.output_dir, "ours-{shard}.tfrecord")
  seconds, cpu_seconds, peak, code = run_measured([
      sys.executable, "-m", "data_prep.create_pretraining_data", *common,
      f"--output_file={ours_out}", f"--num_output_shards={FLAGS.num_output_shards}",
      f"--spm_model_file={model}", f"--num_workers={FLAGS.num_workers}"
  ], os.path.join(FLAGS.output_dir, "ours.log"))
  ours_files = sharded_writer.output_paths(ours_out, FLAGS.num_output_shards)
  instances = count_tfrecords(ours_files) if code == 0 else 0
  results["ours"] = result_entry(seconds, cpu_seconds, peak, instances, code)
  results["ours"]["num_workers"] = FLAGS.num_workers
  _print("ours", results["ours"])

  if FLAGS.run_peer:
    peer_out = os.path.join(FLAGS.output_dir, "peer.tfrecord")
    seconds, cpu_seconds, peak, code = run_measured([
        sys.executable, "-m", "official.nlp.data.create_pretraining_data", *common,
        f"--output_file={peer_out}", "--tokenization=SentencePiece", f"--sp_model_file={model}",
        "--do_whole_word_mask", "--max_ngram_size=3"
    ], os.path.join(FLAGS.output_dir, "peer.log"))
    instances = count_tfrecords([peer_out]) if code == 0 else 0
    results["peer"] = result_entry(seconds, cpu_seconds, peak, instances, code)
    _print("peer (tf-models-official)", results["peer"])
    ours, peer = results["ours"], results["peer"]
    if peer["instances"] and ours["instances"]:
      results["throughput_ratio"] = ours["instances_per_second"] / peer["instances_per_second"]
      results["peak_rss_ratio"] = ours["peak_rss_mb"] / peer["peak_rss_mb"]
      results["cpu_efficiency_ratio"] = (ours["instances_per_cpu_second"] /
                                         peer["instances_per_cpu_second"])
      print(f"ratios: throughput ours/peer = {results['throughput_ratio']:.1f}x (target >= 10x), "
            f"peak RSS ours/peer = {results['peak_rss_ratio']:.3f} (target <= 0.2), "
            f"instances per CPU-second ours/peer = {results['cpu_efficiency_ratio']:.1f}x")
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w", encoding="utf-8") as writer:
    json.dump(results, writer, indent=2)


if __name__ == "__main__":
  app.run(main)
