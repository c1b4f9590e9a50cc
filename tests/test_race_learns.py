"""run_race learns: on a generated 4-way multiple-choice set, dev accuracy rises from chance (25%)
to well above it.

Each article is about one topic (kitchen or school words among fillers); the answer is the option
that is a word of the article's topic, the distractors a word of the other topic and two fillers
(test_race_support.topic_articles). Telling topic words from fillers alone reaches 50%; matching
the option's topic to the article's reaches 100%. A tiny model trained for 200 steps (about 40 s
on one CPU core) must beat chance by a wide margin: at least 40% on 125 dev questions, where
guessing stays below 32% with probability 0.95.
"""

import os
import random

import pytest

from albert_tf.training import evaluation
from albert_tf.training import race_run
from tests import classifier_fixtures
from tests import test_race_support as support

STEPS = 200


@pytest.mark.slow
def test_dev_accuracy_rises_well_above_chance(tmp_path):
  workspace = classifier_fixtures.build_workspace(tmp_path)
  rng = random.Random(0)
  data_dir = str(tmp_path / "data")
  for split, count in (("train", 400), ("eval", 100)):
    support.write_race(data_dir, split, "middle", support.topic_articles(rng, count, "m"), "all")
    support.write_race(data_dir, split, "high", support.topic_articles(rng, count // 4, "h"),
                       "files")
  output_dir = str(tmp_path / "out")
  race_run.run(
      support.options(data_dir=data_dir, output_dir=output_dir,
                      albert_config_file=workspace["config"], spm_model_file=workspace["spm"],
                      init_checkpoint=workspace["checkpoint"], train_batch_size=16,
                      learning_rate=3e-3, num_train_steps=STEPS, num_warmup_steps=STEPS // 10,
                      save_checkpoints_steps=STEPS // 2, steps_per_loop=STEPS // 2,
                      log_steps=STEPS // 2, max_seq_length=20))
  results = evaluation.read_eval_results(output_dir)
  assert [int(result["global_step"]) for result in results] == [STEPS // 2, STEPS]
  final = results[-1]
  assert final["eval_accuracy"] >= 0.4, results
  assert final["eval_loss"] < 1.2, results  # chance: ln 4 = 1.386
  assert os.path.exists(os.path.join(output_dir, "model.ckpt-best.index"))
