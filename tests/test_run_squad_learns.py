"""run_squad_v1/v2 learn (issue 10 item 7): fine-tuning a tiny checkpoint on generated SQuAD-format
data whose answers follow from the question (tests/squad_fixtures.py).

Each paragraph states facts of three kinds, one per kind and each about another person ("小花每天去
花园。小河的房间是F75号。..."), and each question asks for one kind ("小花每天去的地点是？" ->
"花园"). In the v2 set every paragraph leaves one kind out, and the questions about it (a third)
are unanswerable. The checkpoint is a freshly initialised pretrainer of the tiny config under the
original's TF1 names (a stand-in for a pretrained one: the test is that fine-tuning learns, not that
pretraining helped). Dev questions are generated apart from the training ones.

Fixed baselines: always the first token ("[CLS]", an empty answer) scores EM 0 on answerable
questions; answering every question of a paragraph with its first fact's answer scores about a
third; never abstaining is right on two thirds of v2 questions (the majority rate).

English uses a SentencePiece model learnt from the generated English text (the fixtures' 300-piece
model cuts these words into letters); it needs more steps than Chinese: EM 0.68 at 900 steps
(0.3 at 300).
"""

import json
import random

import numpy as np
import pytest

from albert_tf.training import squad_run
from albert_tf.training.options import SquadOptions
from data_prep import sentencepiece_vocab
from tests import classifier_fixtures
from tests import squad_fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(name="workspace", scope="module")
def fixture_workspace(tmp_path_factory) -> dict:
  return classifier_fixtures.build_workspace(tmp_path_factory.mktemp("workspace"))


def train_and_predict(tmp_path, language: str, version_2: bool, vocabulary: dict,
                      max_seq_length: int = 64, max_query_length: int = 16,
                      num_train_steps: int = 300) -> tuple:
  """Fine-tunes on 360 generated questions; returns (dev data, output_dir)."""
  squad_fixtures.write_squad_json(tmp_path / "train.json", random.Random(0), 360, version_2,
                                  language)
  dev = squad_fixtures.write_squad_json(tmp_path / "dev.json", random.Random(1), 60, version_2,
                                        language)
  checkpoint = classifier_fixtures.write_pretrained_checkpoint(tmp_path / "pretrained",
                                                               vocabulary["albert_config_file"])
  output_dir = tmp_path / "out"
  squad_run.run(
      SquadOptions(output_dir=str(output_dir), do_train=True, do_predict=True,
                   train_file=str(tmp_path / "train.json"), predict_file=str(tmp_path / "dev.json"),
                   version_2_with_negative=version_2, init_checkpoint=checkpoint,
                   max_seq_length=max_seq_length, doc_stride=max_seq_length // 2,
                   max_query_length=max_query_length, train_batch_size=16, predict_batch_size=32,
                   learning_rate=2e-3, num_train_steps=num_train_steps,
                   num_warmup_steps=num_train_steps // 10,
                   save_checkpoints_steps=num_train_steps // 2, steps_per_loop=num_train_steps // 2,
                   log_steps=num_train_steps // 2, n_best_size=5, max_answer_length=8, seed=0,
                   **vocabulary))
  return dev, output_dir


def english_vocabulary(tmp_path) -> dict:
  """A SentencePiece model learnt from generated English questions and paragraphs, as a user
  builds one from their corpus (the fixtures' 300-piece model cuts these words into letters), and a
  tiny config for it."""
  data = squad_fixtures.make_squad_data(random.Random(9), 600, version_2=False, language="en")
  corpus = tmp_path / "english.txt"
  corpus.write_text(
      "\n".join(line for article in data["data"] for paragraph in article["paragraphs"]
                for line in [paragraph["context"]] + [qa["question"] for qa in paragraph["qas"]]) +
      "\n", encoding="utf-8")
  model = sentencepiece_vocab.train_sentencepiece([str(corpus)], str(tmp_path / "english_spm"),
                                                  vocab_size=400, hard_vocab_limit=False)
  with open(str(tmp_path / "english_spm.vocab"), encoding="utf-8") as f:
    vocab_size = len(f.read().splitlines())
  config = classifier_fixtures.write_config(tmp_path / "config", vocab_size=vocab_size,
                                            max_position_embeddings=128)
  return {"albert_config_file": config, "spm_model_file": model}


def test_english_sentencepiece_v1_learns_the_answers(tmp_path):
  # English pieces are shorter than Chinese characters are words: a longer window, more steps.
  dev, output_dir = train_and_predict(tmp_path, "en", False, english_vocabulary(tmp_path),
                                      max_seq_length=96, num_train_steps=900)
  gold = squad_fixtures.gold_answers(dev)
  predictions = json.loads((output_dir / "predictions.json").read_text(encoding="utf-8"))
  assert list(predictions) == list(gold)
  em = float(np.mean([predictions[qid] == answer for qid, answer in gold.items()]))
  assert em >= 0.55, em  # measured 0.68; the first-fact baseline is 1/3
  # Answers keep their case: cut from the original characters ("Museum", not "museum").
  assert any(answer[:1].isupper() and predictions[qid] == answer for qid, answer in gold.items())
  blocks = classifier_fixtures.read_eval_blocks(output_dir)
  assert [int(block["global_step"]) for block in blocks] == [450, 900]
  best = max(blocks, key=lambda block: block["f1"])
  assert best["exact_match"] == pytest.approx(100 * em, abs=1e-3)


def test_chinese_wordpiece_v2_learns_to_answer_and_to_abstain(workspace, tmp_path):
  dev, output_dir = train_and_predict(tmp_path, "zh", True, {
      "albert_config_file": workspace["zh_config"],
      "vocab_file": workspace["vocab"]
  })
  gold = squad_fixtures.gold_answers(dev)
  # At the threshold fixed in advance (0.0): answer iff the null odds are at or below it.
  null_odds = json.loads((output_dir / "null_odds.json").read_text(encoding="utf-8"))
  nbest = json.loads((output_dir / "nbest_predictions.json").read_text(encoding="utf-8"))
  answers = {qid: nbest[qid][0]["text"] if null_odds[qid] <= 0.0 else "" for qid in gold}
  abstained_right = np.mean([(answers[qid] == "") == (answer == "") for qid, answer in gold.items()
                            ])
  answerable = [qid for qid, answer in gold.items() if answer]
  em_answerable = np.mean([answers[qid] == gold[qid] for qid in answerable])
  majority = len(answerable) / len(gold)
  assert 0.6 <= majority <= 0.75
  assert abstained_right >= majority + 0.2, (abstained_right, majority)
  assert em_answerable >= 0.7, em_answerable
  block = classifier_fixtures.read_eval_blocks(output_dir)[-1]
  assert block["fixed_threshold"] == 0.0
  assert block["fixed_threshold_exact"] == pytest.approx(
      100 * np.mean([answers[qid] == answer for qid, answer in gold.items()]), abs=1e-3)
