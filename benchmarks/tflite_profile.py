r"""Where a TFLite export's `encode_text` time goes: `perf record` over B=1 calls, by kernel.

    python benchmarks/serving_bench.py --work_dir=/tmp/serving   # writes the exports once
    python benchmarks/tflite_profile.py --work_dir=/tmp/serving [--file=model.tflite] [--length=128]

Loads `ours_tflite/<--file>` of a serving_bench `--work_dir` in a fresh process (XNNPACK, all
cores, as serving_bench times it), warms it up on the text of `--length` tokens that serving_bench
wrote (texts.json), then records `--seconds` of back-to-back calls with `perf record -p` (loading
and warm-up are not recorded) and prints the share of samples of the top symbols and of kernel
groups: XNNPACK GEMM microkernels, XNNPACK weight packing, other XNNPACK kernels, the thread pool,
the Python interpreter, the kernel and the rest. Needs Linux `perf` (Debian: `apt-get install
linux-perf`; Ubuntu: `linux-tools-$(uname -r)`).
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("work_dir", None, "A serving_bench.py --work_dir (after its timing run).")
flags.DEFINE_string("file", "model.tflite", "The TFLite file of <work_dir>/ours_tflite to profile.")
flags.DEFINE_integer("length", 128, "Tokens of the profiled text (a serving_bench --text_lengths).")
flags.DEFINE_integer("seconds", 20, "Seconds of calls recorded.")
flags.DEFINE_integer("top", 15, "Symbols printed.")
flags.mark_flag_as_required("work_dir")

_LOOP_SCRIPT = """
import json, os, sys
import numpy as np
from ai_edge_litert import interpreter
from tensorflow_text import tflite_registrar
path, texts_file, length = sys.argv[1:]
with open(texts_file) as f:
  text = np.array([json.load(f)[length]], object)
model = interpreter.InterpreterWithCustomOps(
    custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS, model_path=path,
    num_threads=os.cpu_count())
runner = model.get_signature_runner("encode_text")
for _ in range(3):
  runner(text=text)
print("ready", flush=True)
while True:
  runner(text=text)
"""

# (group, test on (shared object, symbol)), first match wins.
_GROUPS = (
    ("XNNPACK weight packing", lambda dso, sym: sym.startswith("xnn_") and "packw" in sym),
    ("XNNPACK GEMM microkernels", lambda dso, sym: sym.startswith("xnn_") and "gemm" in sym),
    ("other XNNPACK kernels", lambda dso, sym: sym.startswith("xnn_")),
    ("thread pool", lambda dso, sym: "pthreadpool" in sym or sym.startswith("thread_")),
    ("Python interpreter", lambda dso, sym: "python" in dso),
    ("Linux kernel", lambda dso, sym: dso.startswith("[kernel")),
    ("other", lambda dso, sym: True),
)
_REPORT_LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.+?)\s*$")


def _record(model_path: str, texts_file: str, data_file: str) -> None:
  """Starts the call loop, waits for its warm-up, records FLAGS.seconds of it into data_file."""
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  loop = subprocess.Popen(
      [sys.executable, "-c", _LOOP_SCRIPT, model_path, texts_file,
       str(FLAGS.length)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
  try:
    if loop.stdout.readline().strip() != "ready":
      raise app.UsageError(f"{model_path} did not load: run it with serving_bench.py first")
    print(f"recording {FLAGS.seconds} s of encode_text calls at T={FLAGS.length} ...", flush=True)
    subprocess.run([
        "perf", "record", "-F", "999", "-p",
        str(loop.pid), "-o", data_file, "--", "sleep",
        str(FLAGS.seconds)
    ], check=True, capture_output=True)
  finally:
    loop.kill()
    loop.wait()


def _samples(data_file: str) -> list[tuple[float, str, str]]:
  """(percent, shared object, symbol) of every line of `perf report --sort dso,sym`."""
  report = subprocess.run(
      ["perf", "report", "-i", data_file, "--stdio", "--no-children", "--sort", "dso,sym"],
      check=True, capture_output=True, text=True).stdout
  rows = []
  for line in report.splitlines():
    match = _REPORT_LINE.match(line)
    if match:
      rows.append((float(match.group(1)), match.group(2), match.group(3)))
  return rows


def main(argv):
  del argv  # Unused.
  if shutil.which("perf") is None:
    raise app.UsageError("perf is not installed: apt-get install linux-perf (Debian) or "
                         "linux-tools-$(uname -r) (Ubuntu)")
  model_path = os.path.join(FLAGS.work_dir, "ours_tflite", FLAGS.file)
  texts_file = os.path.join(FLAGS.work_dir, "texts.json")
  for path in (model_path, texts_file):
    if not os.path.exists(path):
      raise app.UsageError(f"{path} does not exist: pass the --work_dir of a serving_bench.py "
                           "run that timed the text exports")
  with tempfile.TemporaryDirectory() as scratch:
    data_file = os.path.join(scratch, "perf.data")
    _record(model_path, texts_file, data_file)
    rows = _samples(data_file)
  groups = collections.Counter()
  for percent, dso, symbol in rows:
    groups[next(name for name, test in _GROUPS if test(dso, symbol))] += percent
  print(f"\n{FLAGS.file}, encode_text B=1 T={FLAGS.length}: share of perf samples")
  for name, percent in groups.most_common():
    print(f"  {percent:6.1f}%  {name}")
  print(f"top {FLAGS.top} symbols:")
  for percent, dso, symbol in rows[:FLAGS.top]:
    print(f"  {percent:6.2f}%  {symbol[:90]}  ({os.path.basename(dso)})")


if __name__ == "__main__":
  app.run(main)
