"""Old command lines parse: every flag of the original create_pretraining_data.py,
run_pretraining.py and run_classifier.py exists in ours with a compatible type and the same default.

The original flags are read from the original's own DEFINE_* statements (tests/data/original_flags/,
copied from google-research/albert); ours from absl in one fresh process per command line (they
define flags of the same names, so two cannot share a process). That process also parses an
original-style command line: the original README's, plus every other original flag set to its
original default.
"""

import ast
import json
import math
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGINAL_FLAGS_DIR = os.path.join(REPO, "tests", "data", "original_flags")
OUR_MODULES = {
    "create_pretraining_data": "data_prep.create_pretraining_data",
    "run_pretraining": "albert_tf.run_pretraining",
    "run_classifier": "albert_tf.run_classifier",
    "run_squad_v1": "albert_tf.run_squad_v1",
    "run_squad_v2": "albert_tf.run_squad_v2",
    "run_race": "albert_tf.run_race",
}
# absl's Flag.flag_type() of what each DEFINE_* defines.
FLAG_TYPES = {
    "DEFINE_string": "string",
    "DEFINE_integer": "int",
    "DEFINE_float": "float",
    "DEFINE_bool": "bool",
    "DEFINE_enum": "string enum"
}
# Deliberate differences, (command, flag): (our type, our default).
ALLOWED_DIFFERENCES = {
    # A free string in the original, which only knew "adamw" and "lamb": an enum of the two says
    # so in --help and refuses a typo at parse time instead of training with the wrong optimizer.
    ("run_classifier", "optimizer"): ("string enum", "adamw"),
}
# The original README's command lines (its "..." replaced), in its spelling: True is `--flag`.
README_COMMANDS = {
    "create_pretraining_data": {
        "input_file": "corpus/*.txt",
        "output_file": "records/train.tfrecord",
        "spm_model_file": "30k-clean.model"
    },
    "run_pretraining": {
        "input_file": "records/train-*",
        "output_dir": "runs/base",
        "init_checkpoint": "albert_base/model.ckpt-best",
        "albert_config_file": "albert_config.json",
        "do_train": True,
        "do_eval": True,
        "train_batch_size": 4096,
        "eval_batch_size": 64,
        "max_seq_length": 512,
        "max_predictions_per_seq": 20,
        "optimizer": "lamb",
        "learning_rate": 0.00176,
        "num_train_steps": 125000,
        "num_warmup_steps": 3125,
        "save_checkpoints_steps": 5000,
        "masked_lm_budget": 0.0
    },
    "run_classifier": {
        "data_dir": "glue",
        "output_dir": "ft/mnli",
        "init_checkpoint": "albert_base/model.ckpt-best",
        "albert_config_file": "albert_config.json",
        "spm_model_file": "30k-clean.model",
        "do_train": True,
        "do_eval": True,
        "do_predict": True,
        "do_lower_case": True,
        "max_seq_length": 128,
        "optimizer": "adamw",
        "task_name": "MNLI",
        "warmup_step": 1000,
        "learning_rate": 3e-5,
        "train_step": 10000,
        "save_checkpoints_steps": 100,
        "train_batch_size": 128
    },
    # The original README's SQuAD commands (v1 and v2 differ only in the script).
    **{
        command: {
            "albert_config_file": "albert_config.json",
            "output_dir": f"ft/{command}",
            "train_file": "train.json",
            "predict_file": "dev.json",
            "train_feature_file": "train.tfrecord",
            "predict_feature_file": "dev.tfrecord",
            "predict_feature_left_file": "dev.left",
            "init_checkpoint": "albert_base/model.ckpt-best",
            "spm_model_file": "30k-clean.model",
            "do_lower_case": True,
            "max_seq_length": 384,
            "doc_stride": 128,
            "max_query_length": 64,
            "do_train": True,
            "do_predict": True,
            "train_batch_size": 48,
            "predict_batch_size": 8,
            "learning_rate": 5e-5,
            "num_train_epochs": 2.0,
            "warmup_proportion": .1,
            "save_checkpoints_steps": 5000,
            "n_best_size": 20,
            "max_answer_length": 30
        } for command in ("run_squad_v1", "run_squad_v2")
    },
    # The original README's RACE command.
    "run_race": {
        "albert_config_file": "albert_config.json",
        "output_dir": "ft/race",
        "train_file": "race/train.tfrecord",
        "eval_file": "race/dev.tfrecord",
        "data_dir": "data",
        "init_checkpoint": "albert_base/model.ckpt-best",
        "spm_model_file": "30k-clean.model",
        "max_seq_length": 512,
        "max_qa_length": 128,
        "do_train": True,
        "do_eval": True,
        "train_batch_size": 32,
        "eval_batch_size": 8,
        "learning_rate": 1e-5,
        "train_step": 12000,
        "warmup_step": 1000,
        "save_checkpoints_steps": 100
    },
}
# Imports one command line's module, dumps its flags' types and defaults, parses `argv` as the
# command line does (a bad flag exits with its one-line error) and dumps the parsed values.
DUMP_FLAGS = """
import importlib, json, sys
from absl import flags
from albert_tf import command_line
importlib.import_module(sys.argv[1])
defined = {name: [flags.FLAGS[name].flag_type(), flags.FLAGS[name].default] for name in flags.FLAGS}
command_line.parse_flags(json.loads(sys.argv[2]), "error: ")
print(json.dumps({"defined": defined,
                  "parsed": {name: flags.FLAGS[name].value for name in flags.FLAGS}}))
"""


def literal(node: ast.expr):
  """The value of a DEFINE_* default: a literal, or float("nan")."""
  if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
    return float(node.args[0].value)
  return ast.literal_eval(node)


def original_flags(command: str) -> dict:
  """{name: (absl flag type, default)} of the original's DEFINE_* statements for `command`."""
  with open(os.path.join(ORIGINAL_FLAGS_DIR, command + ".txt"), encoding="utf-8") as file:
    tree = ast.parse(file.read())
  found = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in FLAG_TYPES:
      # run_squad_v1's export_dir gives its default as a keyword.
      keywords = {keyword.arg: keyword.value for keyword in node.keywords}
      default = node.args[1] if len(node.args) > 1 else keywords["default"]
      found[node.args[0].value] = (FLAG_TYPES[node.func.attr], literal(default))
  return found


def original_command(command: str) -> dict:
  """README_COMMANDS[command] plus every other original flag at its (non-None) default."""
  defaults = {
      name: default for name, (_, default) in original_flags(command).items() if default is not None
  }
  return {**defaults, **README_COMMANDS[command]}


def argv(values: dict) -> list[str]:
  arguments = ["original"]
  for name, value in values.items():
    if isinstance(value, bool):
      arguments.append(f"--{name}" if value else f"--no{name}")
    else:
      arguments.append(f"--{name}={value}")
  return arguments


def same(ours, original) -> bool:
  nan = isinstance(original, float) and math.isnan(original)
  return (isinstance(ours, float) and math.isnan(ours)) if nan else ours == original


@pytest.fixture(name="ours", scope="module")
def fixture_ours() -> dict:
  """{command: {"defined": {name: [type, default]}, "parsed": {name: value}}}, run in parallel."""
  processes = {
      command:
          subprocess.Popen([
              sys.executable, "-c", DUMP_FLAGS, module,
              json.dumps(argv(original_command(command)))
          ], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for command, module in OUR_MODULES.items()
  }
  dumps = {}
  for command, process in processes.items():
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"{command}: {stderr}"
    dumps[command] = json.loads(stdout.strip().splitlines()[-1])
  return dumps


def test_the_original_definitions_are_all_read():
  assert {
      command: len(original_flags(command)) for command in OUR_MODULES
  } == {
      "create_pretraining_data": 17,
      "run_pretraining": 28,
      "run_classifier": 32,
      "run_squad_v1": 34,
      "run_squad_v2": 35,
      "run_race": 35
  }
  assert original_flags("run_pretraining")["masked_lm_budget"] == ("float", 0)
  assert original_flags("run_classifier")["optimizer"] == ("string", "adamw")


@pytest.mark.parametrize("command", sorted(OUR_MODULES))
def test_every_original_flag_has_its_type_and_default(ours, command):
  defined = ours[command]["defined"]
  for name, (flag_type, default) in original_flags(command).items():
    assert name in defined, f"{command}: --{name} is missing"
    expected = ALLOWED_DIFFERENCES.get((command, name), (flag_type, default))
    assert defined[name][0] == expected[0], f"{command}: --{name} is a {defined[name][0]}"
    assert same(defined[name][1],
                expected[1]), (f"{command}: --{name} defaults to {defined[name][1]}")


@pytest.mark.parametrize("command", sorted(OUR_MODULES))
def test_an_original_command_line_parses_to_its_values(ours, command):
  parsed = ours[command]["parsed"]
  for name, value in original_command(command).items():
    assert same(parsed[name], value), f"{command}: --{name} parsed to {parsed[name]}"
  if command == "run_pretraining":
    assert parsed["masked_lm_budget"] == 0.0
