"""The pretraining task: AlbertPretrainer, MLM + SOP losses and metrics, pretraining TFRecords."""

import os
from typing import Mapping, Sequence

from absl import logging
import tensorflow as tf
import tf_keras

from albert_tf import checkpoints as checkpoint_loading
from albert_tf.config import AlbertConfig
from albert_tf.models import pretraining_objectives
from albert_tf.models.albert_pretrainer import AlbertPretrainer
from albert_tf.tasks import task as task_lib
from albert_tf.training import dynamic_masking
from albert_tf.training import input_pipeline
from albert_tf.training import run_identity


class PretrainingTask(task_lib.Task):
  """ALBERT pretraining as run_pretraining.py does it.

  The loss is the original's: Σ(w·nll)/(Σw + 1e-5) over the masked-LM predictions plus the mean
  sentence-order cross-entropy. Normalised by the global batch's sums (global clipping), each
  replica's share adds up to the original single-device loss of the global batch.

  Args:
    config: the model's AlbertConfig.
    input_files: the pretraining TFRecord files (training and evaluation read the same files, like
      the original).
    max_seq_length: sequence length of the records.
    max_predictions_per_seq: masked positions per record.
    max_eval_steps: batches per evaluation.
    seed: seed of the training shuffles.
    init_from_group0: warm-start every layer group from group_0 of the init checkpoint.
    masking: the masking settings of unmasked records (--dynamic_masking): the input pipeline masks
      them on the fly; None for records masked offline.

  Example:

    from albert_tf.training.trainer import Trainer
    task = PretrainingTask(config, files, max_seq_length=128, max_predictions_per_seq=20)
    with strategy.scope():
      model = task.build_model()   # an AlbertPretrainer, built
      optimizer = albert_tf.optimization.create_optimizer(1e-4, num_train_steps=1000,
                                                          num_warmup_steps=100)
    trainer = Trainer(strategy, task, model, optimizer, global_batch_size=64)
  """

  best_metric = "masked_lm_accuracy"

  def __init__(self, config: AlbertConfig, input_files: Sequence[str], *, max_seq_length: int,
               max_predictions_per_seq: int, max_eval_steps: int = 100, seed: int = 0,
               init_from_group0: bool = False,
               masking: dynamic_masking.MaskingSettings | None = None):
    self.config = config
    self.input_files = list(input_files)
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq
    self.max_eval_steps = max_eval_steps
    self.seed = seed
    self.init_from_group0 = init_from_group0
    self.masking = masking

  def identity(self) -> run_identity.RunIdentity:
    return run_identity.RunIdentity(self.config,
                                    vocabulary=run_identity.records_vocabulary(self.input_files))

  def write_run_files(self, output_dir: str) -> None:
    self.config.to_json_file(os.path.join(output_dir, run_identity.CONFIG_FILE))

  def build_model(self) -> tf_keras.Model:
    pretrainer = AlbertPretrainer(self.config)
    pretrainer.build()
    return pretrainer

  def batch_statistics(self, features: task_lib.Features) -> dict[str, tf.Tensor]:
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    return {
        "masked_lm_weight_sum": tf.reduce_sum(weights),
        "examples": tf.cast(tf.shape(weights)[0], tf.float32)
    }

  def compute_losses(self, features: task_lib.Features, outputs: task_lib.Outputs,
                     statistics: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    return pretraining_objectives.compute_pretraining_losses(
        features, outputs, masked_lm_weight_sum=statistics["masked_lm_weight_sum"],
        num_examples=statistics["examples"])

  def build_metrics(self) -> task_lib.TaskMetrics:
    return pretraining_objectives.PretrainingMetrics()

  def dataset(self, split: str, batch_size: int, input_pipeline_id: int = 0,
              num_input_pipelines: int = 1) -> tf.data.Dataset:
    return input_pipeline.pretraining_dataset(self.input_files, batch_size, self.max_seq_length,
                                              self.max_predictions_per_seq,
                                              is_training=split == "train",
                                              input_pipeline_id=input_pipeline_id,
                                              num_input_pipelines=num_input_pipelines,
                                              seed=self.seed, masking=self.masking)

  def num_eval_steps(self, eval_batch_size: int) -> int:
    del eval_batch_size  # The eval split repeats; the original runs max_eval_steps batches.
    return self.max_eval_steps

  def initialize(self, model: tf_keras.Model, init_checkpoint: str) -> None:
    report = checkpoint_loading.load_checkpoint(model, init_checkpoint,
                                                init_from_group0=self.init_from_group0)
    logging.info("Initialised from %s: %s", init_checkpoint, report)

  def progress_line(self, logs: Mapping[str, float]) -> str:
    return (f"loss={logs['loss']:.4f} masked_lm_accuracy={logs['masked_lm_accuracy']:.4f} "
            f"sentence_order_accuracy={logs['sentence_order_accuracy']:.4f}")
