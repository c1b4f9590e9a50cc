"""Benchmark: create_pretraining_data's local engine vs its Beam engine (FnApiRunner), same corpus,
same flags, same run.

Both run as the command line would (`albert-create-pretraining-data`, then the same with
`--runner=FnApiRunner -- <Beam options>`): the local engine with --num_workers processes, the
Beam engine multi-process with as many SDK workers (`--direct_running_mode=multi_processing`),
and optionally in one process. Reported for each: wall time, CPU time and peak RSS of the whole
process tree, instances/s and instances per CPU-second; then the Beam/local time ratio (target:
<= 1.5x) and whether the shards are byte-identical (they must be).

  python benchmarks/make_english_corpus.py --output=bench_output/english_corpus.txt   # ~28 MB
  albert-build-vocab --input_file=bench_output/english_corpus.txt --model_prefix=bench_output/spm30k
  python benchmarks/beam_bench.py --input_file=bench_output/english_corpus.txt \\
      --spm_model_file=bench_output/spm30k.model
"""

import json
import os
import sys

from absl import app
from absl import flags

# The measurement helpers and the shared flags (--input_file, --spm_model_file, --output_dir,
# --dupe_factor, --max_seq_length, --num_workers, --num_output_shards, --poll_seconds).
import create_pretraining_data_bench as data_bench  # pylint: disable=g-bad-import-order

from data_prep import sharded_writer  # pylint: disable=g-bad-import-order

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "beam_modes", ["multi_processing", "in_memory"],
    "FnApiRunner modes to measure: multi_processing (--num_workers SDK workers) "
    "and/or in_memory (one process).")
FLAGS.set_default("output_dir", "bench_output/beam")


def _measure(name, extra_args, common):
  """Runs the tool into its own directory; returns (result dict, shard paths)."""
  pattern = os.path.join(FLAGS.output_dir, name, "r-{shard}.tfrecord")
  seconds, cpu_seconds, peak, code = data_bench.run_measured([
      sys.executable, "-m", "data_prep.create_pretraining_data", *common,
      f"--output_file={pattern}", *extra_args
  ], os.path.join(FLAGS.output_dir, name + ".log"))
  paths = sharded_writer.output_paths(pattern, FLAGS.num_output_shards)
  instances = data_bench.count_tfrecords(paths) if code == 0 else 0
  result = data_bench.result_entry(seconds, cpu_seconds, peak, instances, code)
  print(
      f"{name}: {instances} instances in {seconds:.1f} s = "
      f"{result['instances_per_second']:.0f} instances/s ({cpu_seconds:.0f} CPU-s, "
      f"{result['instances_per_cpu_second']:.0f} instances per CPU-second), "
      f"peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
  return result, paths


def _same_bytes(paths_a, paths_b):
  for a, b in zip(paths_a, paths_b):
    with open(a, "rb") as reader_a, open(b, "rb") as reader_b:
      if reader_a.read() != reader_b.read():
        return False
  return True


def main(argv):
  del argv
  if not FLAGS.input_file or not FLAGS.spm_model_file:
    sys.exit("error: --input_file and --spm_model_file are required (see the module docstring).")
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  workers = max(FLAGS.num_workers, 1)
  common = [
      f"--input_file={FLAGS.input_file}", f"--spm_model_file={FLAGS.spm_model_file}",
      f"--max_seq_length={FLAGS.max_seq_length}", "--max_predictions_per_seq=20",
      f"--dupe_factor={FLAGS.dupe_factor}", f"--num_output_shards={FLAGS.num_output_shards}"
  ]
  results = {
      "corpus_mb": os.path.getsize(FLAGS.input_file) / 1e6,
      "dupe_factor": FLAGS.dupe_factor,
      "max_seq_length": FLAGS.max_seq_length,
      "cpu_count": os.cpu_count(),
      "workers": workers,
  }
  results["local"], local_paths = _measure("local", [f"--num_workers={workers}"], common)
  beam_args = {
      "multi_processing": [
          "--runner=FnApiRunner", "--", "--direct_running_mode=multi_processing",
          f"--direct_num_workers={workers}"
      ],
      "in_memory": ["--runner=FnApiRunner"],
  }
  for mode in FLAGS.beam_modes:
    name = f"beam_{mode}"
    results[name], paths = _measure(name, beam_args[mode], common)
    results[name]["identical_to_local"] = _same_bytes(local_paths, paths)
    ratio = results[name]["seconds"] / results["local"]["seconds"]
    results[name]["time_ratio_to_local"] = ratio
    memory_ratio = results[name]["peak_rss_mb"] / results["local"]["peak_rss_mb"]
    results[name]["peak_rss_ratio_to_local"] = memory_ratio
    print(
        f"{name}/local: time {ratio:.2f}x (target <= 1.5x), peak RSS {memory_ratio:.2f}x, "
        f"shards byte-identical: {results[name]['identical_to_local']}", flush=True)
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w", encoding="utf-8") as writer:
    json.dump(results, writer, indent=2)


if __name__ == "__main__":
  app.run(main)
