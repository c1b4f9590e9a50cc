"""The Beam engine of create_pretraining_data (data_prep/beam_pipeline.py): byte-identical shards
and equal stats against the local engine on FnApiRunner (in-process and multi-process), reruns,
block identities independent of how files are split, no TensorFlow in the workers, and one-line
errors for runners that cannot run."""

import glob
import io
import json
import os
import subprocess
import sys

from apache_beam.options.pipeline_options import PipelineOptions
import pytest

from data_prep import beam_pipeline
from data_prep import corpus_files
from data_prep import pipeline
from data_prep import pretraining_data_config
from data_prep.corpus_files import CorpusError
from tests import text_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMING_AND_PLACE = ("seconds", "instances_per_second", "shards")


def _config(sp_model, out, **overrides):
  options = dict(input_file=",".join(text_fixtures.ALL_CORPORA),
                 output_file=str(out / "r-{shard}.tfrecord"), num_output_shards=3,
                 spm_model_file=sp_model, max_seq_length=64, max_predictions_per_seq=10,
                 dupe_factor=3, block_bytes=700, num_workers=0)
  options.update(overrides)
  return pipeline.PretrainingDataConfig(**options)


def _shards(out):
  return [open(p, "rb").read() for p in sorted(glob.glob(str(out / "r-*.tfrecord")))]


def _data_entries(summary):
  return {k: v for k, v in summary.items() if k not in TIMING_AND_PLACE}


@pytest.fixture(scope="module")
def local_run(sp_model, tmp_path_factory):
  out = tmp_path_factory.mktemp("local")
  return pipeline.create_pretraining_data(_config(sp_model, out)), out


def test_fn_api_runner_writes_the_local_bytes_and_stats(sp_model, local_run, tmp_path):
  local_summary, local_out = local_run
  # 700-byte reader ranges: every file is read by several tasks, in any order.
  summary = beam_pipeline.run_beam(_config(sp_model, tmp_path), "FnApiRunner", range_bytes=700)
  assert len(_shards(local_out)) == 3 and all(_shards(local_out))
  assert _shards(tmp_path) == _shards(local_out)
  assert _data_entries(summary) == _data_entries(local_summary)
  assert list(summary["shards"].values()) == list(local_summary["shards"].values())
  written = json.loads((tmp_path / "r.stats.json").read_text())
  assert _data_entries(written) == _data_entries(local_summary)
  assert sorted(os.listdir(tmp_path)) == [
      "r-00000-of-00003.tfrecord", "r-00001-of-00003.tfrecord", "r-00002-of-00003.tfrecord",
      "r.stats.json"
  ]
  # A rerun on the same output rewrites the same bytes.
  first = _shards(tmp_path)
  beam_pipeline.run_beam(_config(sp_model, tmp_path), "FnApiRunner")
  assert _shards(tmp_path) == first


def test_dynamic_masking_records_agree_too(sp_model, tmp_path):
  config = _config(sp_model, tmp_path / "local", dynamic_masking=True, dupe_factor=2)
  local = pipeline.create_pretraining_data(config)
  beam = beam_pipeline.run_beam(
      _config(sp_model, tmp_path / "beam", dynamic_masking=True, dupe_factor=2), "FnApiRunner")
  assert _shards(tmp_path / "beam") == _shards(tmp_path / "local")
  assert beam["dynamic_masking"] is True and _data_entries(beam) == _data_entries(local)


@pytest.mark.slow
def test_multi_process_fn_api_runner_writes_the_local_bytes(sp_model, local_run, tmp_path):
  local_summary, local_out = local_run
  summary = beam_pipeline.run_beam(
      _config(sp_model, tmp_path), "FnApiRunner",
      ["--direct_running_mode=multi_processing", "--direct_num_workers=2"], range_bytes=1400)
  assert _shards(tmp_path) == _shards(local_out)
  assert _data_entries(summary) == _data_entries(local_summary)


def _whole_and_split(data, block_bytes, range_bytes):
  whole = list(corpus_files.read_blocks(io.BytesIO(data), 0, block_bytes))
  split = []
  for start, end in corpus_files.byte_ranges(len(data), block_bytes, range_bytes):
    split += corpus_files.read_blocks(io.BytesIO(data), 0, block_bytes, start, end)
  return whole, split


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 700])
def test_blocks_do_not_depend_on_the_split_of_a_file(block_bytes):
  """Documents straddling range bounds, blank lines of spaces or U+3000, a blank line longer than
  the backward scan's chunk, invalid UTF-8, no final newline."""
  data = (b"a b\nc\n\n  \n" + "\u3000\n".encode() + b"d\xff e\nf\n\n" + b" " * 5000 + b"\n" +
          b"g" * 5000 + b"\nh\n\n\n" + open(text_fixtures.ENGLISH_CORPUS, "rb").read() + b"i")
  for range_bytes in (block_bytes, 3 * block_bytes, 10**6):
    whole, split = _whole_and_split(data, block_bytes, range_bytes)
    assert split == whole
  documents = [d for block in whole for d in block.documents]
  assert documents[:4] == [["a b", "c"], ["d\ufffd e", "f"], ["g" * 5000, "h"], documents[3]
                          ] and documents[-1][-1] == "i"
  assert sum(block.replaced_bytes for block in whole) == 1
  offsets = [o for block in whole for o in block.document_offsets]
  assert offsets[:3] == [0, data.index(b"d\xff"), data.index(b"ggg")]
  assert all(o // block_bytes == block.number for block in whole for o in block.document_offsets)


def test_empty_corpus_is_an_error_and_writes_nothing(sp_model, tmp_path):
  empty = tmp_path / "empty.txt"
  empty.write_text("\n  \n\n")
  with pytest.raises(CorpusError, match="the corpus is empty"):
    beam_pipeline.run_beam(_config(sp_model, tmp_path / "out", input_file=str(empty)),
                           "FnApiRunner")
  assert not glob.glob(str(tmp_path / "out" / "*"))


def test_runner_errors_name_the_fix():
  with pytest.raises(CorpusError, match=r"nothing answers at --flink_master=localhost:1 .*start"):
    beam_pipeline.check_runner("FlinkRunner", PipelineOptions(["--flink_master=localhost:1"]))
  with pytest.raises(CorpusError, match=r"needs the address of a Beam job server.*--job_endpoint"):
    beam_pipeline.check_runner("PortableRunner", PipelineOptions([]))
  with pytest.raises(CorpusError, match="nothing answers at --job_endpoint=localhost:1"):
    beam_pipeline.check_runner("PortableRunner", PipelineOptions(["--job_endpoint=localhost:1"]))
  not_installed = ImportError("Google Cloud Dataflow runner not available, please install "
                              "apache_beam[gcp]")
  assert "pip install 'apache-beam[gcp]==2.77.0'" in beam_pipeline.runner_error_line(
      "DataflowRunner", not_installed)
  with pytest.raises(CorpusError, match=r"unknown --runner=FooRunner; use one of DirectRunner"):
    pretraining_data_config.check_runner_flags("FooRunner", [])
  with pytest.raises(CorpusError, match=r"Beam pipeline options \(--project=p\) need --runner"):
    pretraining_data_config.check_runner_flags(None, ["--project=p"])
  # The command line's module defines absl flags: a process of its own, so that this test process
  # can still import other command lines.
  argv = ["prog", "--input_file=x", "--runner=DataflowRunner", "--project=p", "--", "--region=r"]
  code = ("import json, sys; from data_prep import create_pretraining_data as c; "
          "argv = json.loads(sys.argv[1]); print(c.misplaced_pipeline_option(argv)); "
          "print(c.misplaced_pipeline_option(argv[:3] + argv[4:]))")
  result = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
  misplaced, placed = result.stdout.splitlines()
  assert "unknown flag --project; put Beam pipeline options after --" in misplaced
  assert placed == "None"


def _run_cli(*args, prelude="pass"):
  code = (f"import sys; {prelude}; from data_prep import create_pretraining_data as c; "
          f"sys.argv = ['albert-create-pretraining-data', *{list(args)!r}]; c.run()")
  return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def _one_error_line(result):
  assert result.returncode == 1 and "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, result.stderr
  return errors[0]


def test_command_line_errors_are_one_line(sp_model, tmp_path):
  common = [
      f"--input_file={text_fixtures.ENGLISH_CORPUS}", f"--spm_model_file={sp_model}",
      f"--output_file={tmp_path}/r.tfrecord"
  ]
  line = _one_error_line(_run_cli(*common, "--runner=DataflowRunner", "--project=p"))
  assert "put Beam pipeline options after --" in line
  line = _one_error_line(
      _run_cli(*common, "--runner=FnApiRunner", prelude="sys.modules['apache_beam'] = None"))
  assert "--runner needs Apache Beam" in line and "pip install 'albert-tf[beam]'" in line
  assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_beam_engine_runs_without_tensorflow(sp_model, local_run, tmp_path):
  """The whole Beam path (launcher and workers) with TensorFlow made unimportable."""
  _, local_out = local_run
  result = _run_cli(f"--input_file={','.join(text_fixtures.ALL_CORPORA)}",
                    f"--spm_model_file={sp_model}",
                    f"--output_file={tmp_path}/r-{{shard}}.tfrecord", "--num_output_shards=3",
                    "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=3",
                    "--block_bytes=700", "--runner=FnApiRunner",
                    prelude="sys.modules['tensorflow'] = None")
  assert result.returncode == 0, result.stderr[-3000:]
  assert _shards(tmp_path) == _shards(local_out)


def test_worker_requirements_follow_the_constraints():
  with open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8") as reader:
    pins = dict(line.strip().split("==", 1) for line in reader if "==" in line)
  with open(os.path.join(ROOT, "data_prep", "beam_worker_requirements.txt"),
            encoding="utf-8") as reader:
    requirements = [line.strip() for line in reader if line.strip() and line[0] != "#"]
  assert [r.split("==")[0] for r in requirements] == ["absl-py", "jieba", "numpy", "sentencepiece"]
  for requirement in requirements:
    name, version = requirement.split("==")
    assert pins[name] == version, requirement
