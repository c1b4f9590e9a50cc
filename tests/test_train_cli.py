"""albert-run-pretraining's user errors: one line, exit status 1, nothing written."""

import os

import pytest

from tests import test_train_support as support


@pytest.fixture(name="data", scope="module")
def fixture_data(tmp_path_factory):
  return support.write_run_inputs(str(tmp_path_factory.mktemp("records")))


def cli_error(data, output_dir, drop=(), **overrides):
  settings = support.run_settings(data, output_dir, **overrides)
  arguments = [f"--{k}={v}" for k, v in settings.items() if k not in drop]
  with pytest.raises(SystemExit) as raised:
    support.run_cli_in_process(arguments)
  message = str(raised.value.code)
  assert message.startswith("albert-run-pretraining: error: ") and "\n" not in message
  assert not os.path.exists(os.path.join(str(output_dir), "model.ckpt-2.index"))
  return message


@pytest.mark.parametrize("overrides,drop,expected", [
    ({"masked_lm_budget": 1}, (), "--masked_lm_budget > 0 (on-the-fly masking) is not supported: it "
     "was not implemented in the original either"),
    ({}, ("input_file",), "--input_file is required."),
    ({"input_file": "/nonexistent/train-*"}, (), "--input_file pattern '/nonexistent/train-*' "
     "matches no file"),
    ({"max_seq_length": 512}, (), "records have max_seq_length=16 (input_ids has 16 values) but "
     "--max_seq_length=512: pass --max_seq_length=16."),
    ({"max_predictions_per_seq": 20}, (), "records have max_predictions_per_seq=3"),
    ({"train_batch_size": 0}, (), "--train_batch_size=0 must be a positive integer."),
    ({"use_tpu": True, "distribution_strategy": "mirrored"}, (), "--use_tpu contradicts "
     "--distribution_strategy=mirrored."),
    ({"albert_config_file": "/nonexistent/albert_config.json"}, (), "/nonexistent/albert_config.json"),
])
def test_user_errors_are_one_line(data, tmp_path, overrides, drop, expected):
  assert expected in cli_error(data, tmp_path, drop=drop, **overrides)
