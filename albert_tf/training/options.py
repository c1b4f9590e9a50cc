"""The settings of a training run, and the one home of the training flags' defaults.

Field names are the flag names of run_pretraining (run_classifier's train_step and warmup_step are
num_train_steps and num_warmup_steps) and the defaults are the original's flag defaults:
run_pretraining, run_classifier and run_flags define their flags with `defaults(...)[name]`, so each
default is written once, here. TensorFlow-free, so the command lines parse their flags before
TensorFlow starts.
"""

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
  from albert_tf.tasks import classifier_data


@dataclasses.dataclass
class LoopOptions:
  """The task-independent settings of a run (run_loop.TrainingRun)."""
  output_dir: str
  init_checkpoint: str | None = None
  do_train: bool = True
  do_eval: bool = False
  train_batch_size: int = 4096
  eval_batch_size: int = 64
  optimizer: str = "lamb"
  learning_rate: float = 0.00176
  poly_power: float = 1.0
  num_train_steps: int = 125000
  num_warmup_steps: int = 3125
  start_warmup_step: int = 0
  save_checkpoints_steps: int = 5000
  keep_checkpoint_max: int = 5
  steps_per_loop: int = 1000  # the original's --iterations_per_loop
  log_steps: int = 100
  jit_compile: bool = False
  mixed_precision: str = "none"
  seed: int | None = None
  gradient_clipping: str = "per_replica"
  gradient_accumulation_steps: int = 1  # micro-batches per step (trainer.Trainer)
  bias_correction: bool = False
  checkpoint_input_pipeline: bool = True
  eval_timeout_secs: int = 3600
  train_steps_flag: str = "num_train_steps"  # what messages call num_train_steps (run_classifier:
  # train_step)


@dataclasses.dataclass
class RunOptions(LoopOptions):
  """The settings of a pretraining run (pretraining_run.run)."""
  albert_config_file: str = ""
  input_file: str = ""
  init_from_group0: bool = False
  max_seq_length: int = 512
  max_predictions_per_seq: int = 20
  max_eval_steps: int = 100
  dynamic_masking: bool = False  # mask unmasked records in the input pipeline
  masked_lm_budget: float = 0.0  # > 0: dynamic masking with this masked_lm_prob


@dataclasses.dataclass
class FineTuningOptions(LoopOptions):
  """What every fine-tuning run has (classifier_run, squad_run, race_run), with the defaults of
  the original run_classifier and run_squad; a task's class restates what its original changes."""
  do_train: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  optimizer: str = "adamw"
  learning_rate: float = 5e-5
  save_checkpoints_steps: int = 1000
  albert_config_file: str = ""
  vocab_file: str | None = None
  spm_model_file: str | None = None
  cached_dir: str | None = None
  albert_hub_module_handle: str | None = None
  do_lower_case: bool = True
  max_seq_length: int = 512
  do_predict: bool = False
  predict_batch_size: int = 8


@dataclasses.dataclass
class ClassifierOptions(FineTuningOptions):
  """The settings of a run_classifier run (classifier_run.run), with its own defaults."""
  num_train_steps: int = 1000
  num_warmup_steps: int = 0
  data_dir: str = ""
  task_name: str = ""
  export_dir: str | None = None
  threshold_to_export: float = float("nan")
  generic: "classifier_data.GenericTaskSpec | None" = None
  train_steps_flag: str = "train_step"


@dataclasses.dataclass
class SquadOptions(FineTuningOptions):
  """The settings of a run_squad_v1 / run_squad_v2 run (squad_run.run), with their defaults.

  num_train_steps and num_warmup_steps are None unless given: squad_run then derives them from the
  training examples, num_train_epochs and warmup_proportion as the original does. do_eval is set by
  squad_run (--do_predict with --do_train evaluates every checkpoint); eval_batch_size is
  predict_batch_size.
  """
  version_2_with_negative: bool = False  # run_squad_v2
  num_train_steps: int | None = None
  num_warmup_steps: int | None = None
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  train_file: str | None = None
  predict_file: str | None = None
  train_feature_file: str | None = None
  predict_feature_file: str | None = None
  predict_feature_left_file: str | None = None
  max_seq_length: int = 384
  doc_stride: int = 128
  max_query_length: int = 64
  n_best_size: int = 20
  max_answer_length: int = 30
  use_einsum: bool = True  # run_squad_v1; accepted, the layers choose their own kernels
  start_n_top: int = 5  # run_squad_v2
  end_n_top: int = 5  # run_squad_v2
  dropout_prob: float = 0.1  # run_squad_v2: the answer-class dropout
  null_score_diff_threshold: float = 0.0  # v2: the no-answer threshold fixed in advance
  export_dir: str | None = None


@dataclasses.dataclass
class RaceOptions(FineTuningOptions):
  """The settings of a run_race run (race_run.run), with the original's defaults."""
  do_train: bool = True
  do_eval: bool = True
  learning_rate: float = 1e-5
  num_train_steps: int = 12000
  num_warmup_steps: int = 1000
  save_checkpoints_steps: int = 100
  data_dir: str = ""
  task_name: str = "race"
  train_file: str | None = None  # the records' paths (default: cached_dir/race_<split>.tf_record)
  eval_file: str | None = None
  predict_file: str | None = None
  dropout_prob: float = 0.1
  max_qa_length: int = 128
  high_only: bool = False
  middle_only: bool = False
  train_steps_flag: str = "train_step"


def defaults(options_class: type[LoopOptions]) -> dict[str, Any]:
  """{field name: default} of `options_class`'s fields that have one."""
  return {
      field.name: field.default
      for field in dataclasses.fields(options_class)
      if field.default is not dataclasses.MISSING
  }
