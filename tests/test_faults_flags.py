"""Numbers are checked where they enter (issue 13, point 6).

The audit imports each command line in its own process (they define flags of the same names, so
two cannot share one) and lists its integer and float flags with their bounds and validators:
every one must be guarded, or be in EXEMPT with the reason any value is fine. absl's float parser
reads "nan" and "inf" and its bounds let NaN through, so every float flag must refuse NaN, inf and
-inf (NAN_MEANS_UNSET names the one whose NaN is the original's "not set"). Then bad values are
typed as a user would: exit 1, one line naming the flag, the value and what is allowed, and
nothing written.
"""

import functools
import json
import os
import re
import subprocess
import sys

from absl import flags
import pytest

from albert_tf import run_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every command line: module -> (error prefix, whether its flags are defined by define_flags()).
COMMAND_LINES = {
    "albert_tf.run_pretraining": ("albert-run-pretraining: error: ", False),
    "albert_tf.run_classifier": ("albert-run-classifier: error: ", False),
    "albert_tf.run_race": ("albert-run-race: error: ", False),
    "albert_tf.run_squad_v1": ("albert-run-squad-v1: error: ", False),
    "albert_tf.run_squad_v2": ("albert-run-squad-v2: error: ", False),
    "albert_tf.export_savedmodel": ("albert-export: error: ", False),
    "albert_tf.export_checkpoints": ("albert-export-checkpoints: error: ", False),
    "albert_tf.demo": ("albert_tf.demo: error: ", True),
    "data_prep.create_pretraining_data": ("error: ", False),
    "data_prep.build_vocab": ("error: ", False),
}
# Numeric flags without a bound or validator: why any value is fine.
EXEMPT = {
    ("data_prep.create_pretraining_data", "random_seed"):
        "seeds random.Random through its text ('{seed}:{pass}:{file}:{offset}'): any int works",
}
# Float flags whose NaN is allowed: why. inf and -inf are still refused.
NAN_MEANS_UNSET = {
    ("albert_tf.run_classifier", "threshold_to_export"):
        "the original's default, float('nan'), means no threshold output",
    ("albert_tf.export_savedmodel", "threshold_to_export"):
        "as run_classifier's",
}
# Imports the command line and prints its numeric flags as JSON: bounds, validators and, for
# floats, which of nan, inf and -inf the flag refuses (its parser or its validators).
AUDIT_SCRIPT = r"""
import importlib, json, sys
from absl import flags
FLAGS = flags.FLAGS
module = importlib.import_module(sys.argv[1])
if sys.argv[2] == "define":
  module.define_flags()
FLAGS.mark_as_parsed()
ours = [flag for name, defined in FLAGS.flags_by_module_dict().items()
        if name.split(".")[0] in ("albert_tf", "data_prep") for flag in defined]

def refuses(flag, text):
  try:
    flag.parse(text)
    for validator in flag.validators:
      validator.verify(FLAGS)
  except (flags.IllegalFlagValueError, flags.ValidationError):
    return True
  return False

audit = {}
for flag in ours:
  if flag.flag_type() not in ("int", "float"):
    continue
  entry = {"type": flag.flag_type(), "lower_bound": flag.parser.lower_bound,
           "upper_bound": flag.parser.upper_bound, "validators": len(flag.validators)}
  if flag.flag_type() == "float":
    entry["refuses"] = [text for text in ("nan", "inf", "-inf") if refuses(flag, text)]
  audit[flag.name] = entry
print(json.dumps(audit))
"""

# Command lines that import TensorFlow before parsing their flags (about 10 s a process).
IMPORT_TENSORFLOW = ("albert_tf.export_savedmodel", "albert_tf.export_checkpoints")

# A few numeric flags each audit must find.
EXPECTED_SOME = {
    "albert_tf.run_pretraining": ("learning_rate", "poly_power", "seed", "num_warmup_steps"),
    "albert_tf.run_classifier": ("learning_rate", "threshold_to_export", "num_gpus"),
    "albert_tf.run_race": ("dropout_prob", "max_qa_length"),
    "albert_tf.run_squad_v1": ("warmup_proportion", "num_train_epochs", "doc_stride"),
    "albert_tf.run_squad_v2": ("null_score_diff_threshold", "dropout_prob", "end_n_top"),
    "albert_tf.export_savedmodel": ("threshold_to_export", "version", "top_k"),
    "albert_tf.export_checkpoints": (),  # no numeric flag
    "albert_tf.demo": ("num_train_steps", "train_batch_size", "dupe_factor", "finetune_steps"),
    "data_prep.create_pretraining_data": ("masked_lm_prob", "random_seed", "block_bytes"),
    "data_prep.build_vocab": ("character_coverage", "vocab_size", "input_sentence_size"),
}


def audit(module: str) -> dict:
  """{flag: entry} of the numeric flags `module` defines, from a fresh process."""
  result = subprocess.run([
      sys.executable, "-c", AUDIT_SCRIPT, module, "define" if COMMAND_LINES[module][1] else "import"
  ], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_command_line_is_audited():
  """A new console script must join COMMAND_LINES (and so the audit)."""
  with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
    scripts = set(re.findall(r'"albert-[\w-]+=([\w.]+):run"', f.read()))
  assert scripts == set(COMMAND_LINES) - {"albert_tf.demo"}


@pytest.mark.parametrize("module", [
    pytest.param(module, marks=pytest.mark.slow) if module in IMPORT_TENSORFLOW else module
    for module in COMMAND_LINES
])
def test_every_numeric_flag_is_guarded_and_every_float_refuses_nan_and_inf(module):
  flags_found = audit(module)
  unguarded, non_finite = [], []
  for name, entry in flags_found.items():
    guarded = (entry["lower_bound"] is not None or entry["upper_bound"] is not None or
               entry["validators"] > 0)
    if (module, name) in EXEMPT:
      guarded = not guarded  # an exempt flag that gained a check must leave EXEMPT
    if not guarded:
      unguarded.append(name)
    if entry["type"] == "float":
      wanted = ["inf", "-inf"] if (module, name) in NAN_MEANS_UNSET else ["nan", "inf", "-inf"]
      if entry["refuses"] != wanted:
        non_finite.append(f"--{name} refuses {entry['refuses']}, not {wanted}")
  assert not unguarded, f"without bounds or validators (or exempt with one): {unguarded}"
  assert not non_finite
  # Every exemption names a numeric flag the module has (none is stale).
  assert {name for m, name in set(EXEMPT) | set(NAN_MEANS_UNSET) if m == module} <= set(flags_found)
  # The audit sees the flags it must (a module whose flags vanished would pass vacuously).
  assert set(EXPECTED_SOME[module]) <= set(flags_found)
  assert bool(flags_found) == bool(EXPECTED_SOME[module])


# Flags each command line needs to get past "required" (paths need not exist: flags come first).
REQUIRED = {
    "albert_tf.run_pretraining": [
        "--albert_config_file=c.json", "--input_file=r.tfrecord", "--output_dir=out"
    ],
    "albert_tf.run_classifier": [
        "--albert_config_file=c.json", "--data_dir=data", "--task_name=MNLI", "--output_dir=out",
        "--do_train"
    ],
    "albert_tf.run_race": [
        "--albert_config_file=c.json", "--data_dir=data", "--spm_model_file=v.model",
        "--output_dir=out"
    ],
    "albert_tf.run_squad_v1": ["--albert_config_file=c.json", "--output_dir=out", "--do_train"],
    "albert_tf.run_squad_v2": ["--albert_config_file=c.json", "--output_dir=out", "--do_train"],
    "albert_tf.export_savedmodel": [
        "--albert_config_file=c.json", "--init_checkpoint=ckpt", "--export_dir=out",
        "--task=classifier"
    ],
    "albert_tf.demo": ["--output_dir=out"],
    "data_prep.create_pretraining_data": [
        "--input_file=c.txt", "--output_file=out/r.tfrecord", "--spm_model_file=v.model"
    ],
    "data_prep.build_vocab": ["--input_file=c.txt", "--model_prefix=out/v"],
}
# (module, bad flag, what the line says is allowed). absl stops at the first bad value, so each is
# its own process.
BAD_VALUES = [
    ("albert_tf.run_pretraining", "--learning_rate=nan",
     "--learning_rate must be a finite number."),
    ("albert_tf.run_pretraining", "--learning_rate=-0.01", "--learning_rate must be above 0."),
    ("albert_tf.run_pretraining", "--poly_power=inf", "--poly_power must be a finite number."),
    ("albert_tf.run_pretraining", "--num_warmup_steps=-1", "-1 is not a non-negative integer"),
    ("albert_tf.run_pretraining", "--seed=-1", "-1 is not an integer in the range [0, 4294967295]"),
    ("albert_tf.run_pretraining", "--masked_lm_budget=nan", "must be a finite number."),
    ("albert_tf.run_classifier", "--threshold_to_export=inf",
     "--threshold_to_export must be a finite number (or nan: not set)."),
    ("albert_tf.run_classifier", "--train_batch_size=0", "0 is not a positive integer"),
    ("albert_tf.run_race", "--dropout_prob=1", "--dropout_prob must be in [0, 1)."),
    ("albert_tf.run_race", "--learning_rate=-inf", "--learning_rate must be a finite number."),
    ("albert_tf.run_squad_v1", "--warmup_proportion=nan", "must be a finite number."),
    ("albert_tf.run_squad_v1", "--num_train_epochs=0", "--num_train_epochs must be above 0."),
    ("albert_tf.run_squad_v2", "--null_score_diff_threshold=-inf", "must be a finite number."),
    ("albert_tf.run_squad_v2", "--dropout_prob=-0.1", "--dropout_prob must be in [0, 1)."),
    ("albert_tf.demo", "--finetune_steps=0", "0 is not a positive integer"),
    ("data_prep.create_pretraining_data", "--masked_lm_prob=nan", "must be a finite number."),
    ("data_prep.create_pretraining_data", "--short_seq_prob=1.5",
     "1.5 is not a number in the range [0, 1]"),
    ("data_prep.create_pretraining_data", "--max_seq_length=4", "4 is not integer >= 5"),
    ("data_prep.build_vocab", "--character_coverage=nan", "must be a finite number."),
    ("data_prep.build_vocab", "--character_coverage=0.5",
     "is not a number in the range [0.98, 1.0]"),
    ("data_prep.build_vocab", "--num_threads=0", "0 is not a positive integer"),
]


def run_bad(module: str, bad: str, cwd: str) -> subprocess.CompletedProcess:
  """`python -m module <required flags> bad` in `cwd`, as a user types it."""
  return subprocess.run([sys.executable, "-m", module, *REQUIRED[module], bad], cwd=cwd,
                        capture_output=True, text=True, timeout=300, check=False, env={
                            **os.environ, "PYTHONPATH": REPO,
                            "TF_CPP_MIN_LOG_LEVEL": "3"
                        })


def listing(directory: str) -> dict:
  """{relative path: bytes} of every file and directory under `directory`."""
  found = {}
  for root, dirs, files in os.walk(directory):
    for name in dirs + files:
      path = os.path.join(root, name)
      found[os.path.relpath(path,
                            directory)] = (None if os.path.isdir(path) else open(path, "rb").read())
  return found


def assert_refused_in_one_line(module: str, bad: str, allowed: str, tmp_path) -> None:
  (tmp_path / "c.txt").write_text("a corpus line\n", encoding="utf-8")
  before = listing(str(tmp_path))
  result = run_bad(module, bad, str(tmp_path))
  prefix = COMMAND_LINES[module][0]
  name, value = bad[2:].split("=")
  assert result.returncode == 1, result.stderr
  lines = result.stderr.strip().splitlines()
  # TensorFlow may log before the flags are parsed; the command's own output is one line.
  assert [line for line in lines if line.startswith(prefix)] == [lines[-1]]
  if "tensorflow" not in result.stderr.lower():
    assert len(lines) == 1, result.stderr
  line = lines[-1]
  assert line.startswith(f"{prefix}flag --{name}="), line
  assert value in line and allowed in line, line
  assert "Traceback" not in result.stderr
  assert listing(str(tmp_path)) == before  # nothing written: no output, lock or directory


@pytest.mark.parametrize("module,bad,allowed", BAD_VALUES)
def test_bad_number_is_one_line_naming_flag_value_and_range(module, bad, allowed, tmp_path):
  assert_refused_in_one_line(module, bad, allowed, tmp_path)


@pytest.mark.slow  # imports TensorFlow before parsing its flags: about 10 s
def test_export_bad_number_is_one_line(tmp_path):
  """One case: the audit shows its other numeric flags are bounded as run_squad's are."""
  assert_refused_in_one_line("albert_tf.export_savedmodel", "--threshold_to_export=-inf",
                             "must be a finite number (or nan: not set).", tmp_path)


# Odd but legal values the original runs with: the checks must not refuse them.
LEGAL_EDGES = {
    "albert_tf.run_pretraining": [
        "--num_warmup_steps=200", "--num_train_steps=100", "--poly_power=0", "--masked_lm_budget=1",
        "--seed=4294967295", "--learning_rate=1e-30", "--start_warmup_step=0"
    ],
    "albert_tf.run_classifier": ["--threshold_to_export=nan", "--warmup_step=0"],
    "albert_tf.run_squad_v1": ["--max_seq_length=128", "--doc_stride=200", "--warmup_proportion=1"],
    "albert_tf.run_squad_v2": ["--dropout_prob=0", "--null_score_diff_threshold=-12.5"],
    "albert_tf.run_race": ["--dropout_prob=0.999"],
    "data_prep.create_pretraining_data": [
        "--random_seed=-7", "--num_workers=0", "--masked_lm_prob=0", "--short_seq_prob=1"
    ],
    "data_prep.build_vocab": ["--character_coverage=1", "--input_sentence_size=0"],
}
PARSE_SCRIPT = r"""
import importlib, sys
from absl import flags
importlib.import_module(sys.argv[1])
flags.FLAGS(["prog", *sys.argv[2:]])
print("parsed")
"""


@pytest.mark.parametrize("module", sorted(LEGAL_EDGES))
def test_legal_edges_parse(module):
  """A warmup longer than training, a --doc_stride above --max_seq_length and the original's NaN
  --threshold_to_export all run in the original: no rule may refuse them."""
  result = subprocess.run(
      [sys.executable, "-c", PARSE_SCRIPT, module, *REQUIRED[module], *LEGAL_EDGES[module]],
      cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
  assert result.stdout.strip() == "parsed", result.stderr[-2000:]


@pytest.mark.parametrize("register,good,bad", [
    (run_flags.register_positive, ["1e-9", "3"], ["0", "-1e-9", "nan", "inf"]),
    (run_flags.register_dropout, ["0", "0.99"], ["1", "-0.01", "nan", "-inf"]),
    (run_flags.register_finite, ["-1e30", "0", "1e30"], ["nan", "inf", "-inf"]),
    (functools.partial(run_flags.register_finite, nan_means_unset=True), ["nan", "-3"
                                                                         ], ["inf", "-inf"]),
    (functools.partial(run_flags.register_float, low=0.98, high=1.0), ["0.98", "1"
                                                                      ], ["0.97", "1.01", "nan"]),
    (functools.partial(run_flags.register_float, low=-1.0, high=2.0,
                       low_open=True), ["2", "-0.5"], ["-1", "2.5"]),
])
def test_float_checks_keep_their_edges(register, good, bad):
  """absl's bounds let NaN through; these checks do not, and their edges are as documented."""
  for text in good + bad:
    values = flags.FlagValues()
    flags.DEFINE_float("x", 0.5, "A float.", flag_values=values)
    register("x", flag_values=values)
    try:
      values(["prog", f"--x={text}"])
    except flags.IllegalFlagValueError as error:
      assert text in bad, (text, error)
      assert str(error).startswith(f"flag --x={float(text)}: --x must be "), error
    else:
      assert text in good, text
