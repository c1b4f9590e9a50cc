"""Inputs of the run_classifier end-to-end tests, written for this project (no tests here).

Tiny configs, a stand-in pretrained checkpoint, and small generated task files in the layouts users
have: your own tsv (the generic task), GLUE's data_dir/<TASK>/*.tsv and albert_zh's lcqmc *.txt. The
generated sentences mix filler words with topic words, so a label that depends on the topic words is
learnable from word content alone.

    workspace = classifier_fixtures.build_workspace(tmp_path)   # spm, config, checkpoint, ...
    rows = classifier_fixtures.topic_rows(random.Random(0), 320)     # [(sentence, "kitchen"), ...]
    classifier_fixtures.write_tsv(tmp_path / "data" / "train.tsv", ["text_a", "label"], rows)
    classifier_run.run(classifier_fixtures.options(data_dir=..., output_dir=..., ...))
    classifier_fixtures.read_eval_blocks(output_dir)                 # [{key: value}, ...]
"""

import os
import random
from typing import Sequence

import numpy as np
import tf_keras

import albert_tf
from albert_tf import AlbertConfig
from albert_tf.training import classifier_run
from tests import text_fixtures

# Words that are one piece each in text_fixtures' SentencePiece model (so the topic of a sentence is
# visible token by token), grouped into two topics, and fillers that carry no topic.
TOPIC_WORDS = {
    "kitchen": ("recipe", "tea", "market", "open"),
    "school": ("pupil", "notebook", "record", "year"),
}
FILLER_WORDS = ("the", "a", "to", "on", "it", "for", "he", "we", "them", "like", "new", "change")

# Topic words in each regression sentence; the score is the fraction of kitchen words, times 5.
REGRESSION_TOPIC_WORDS = 3

# The line after each evaluation in eval_results.txt (the original's).
EVAL_SEPARATOR = "=" * 50

# Characters of text_fixtures' Chinese corpus (so every one is in the fixture WordPiece vocab).
CHINESE_CHARACTERS = ("今天早上天气很好我们一起去公园散步里有多人在跑"
                      "打太极拳和放风筝小朋友草地玩耍笑声传得远")


def build_workspace(root: os.PathLike) -> dict:
  """Vocabularies, tiny configs for them, and a pretrained checkpoint, under `root`.

  Returns:
    {"root", "spm": SentencePiece model, "config": its albert_config.json, "checkpoint": a
    `write_pretrained_checkpoint` of that config, "vocab": WordPiece vocab.txt, "zh_config": its
    albert_config.json}.
  """
  root = os.fspath(root)
  spm = text_fixtures.build_sentencepiece_model(root)
  config = write_config(root, vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  vocab = text_fixtures.build_wordpiece_vocab(root)
  with open(vocab, encoding="utf-8") as f:
    vocab_size = len(f.read().splitlines())
  return {
      "root": root,
      "spm": spm,
      "config": config,
      "vocab": vocab,
      "zh_config": write_config(os.path.join(root, "zh"), vocab_size=vocab_size),
      "checkpoint": write_pretrained_checkpoint(os.path.join(root, "pretrained"), config)
  }


def options(**settings) -> classifier_run.ClassifierOptions:
  """ClassifierOptions of a fast run (batch 8, 16 tokens, AdamW at 1e-3, seed 0) and `settings`."""
  defaults = dict(train_batch_size=8, eval_batch_size=8, predict_batch_size=8, max_seq_length=16,
                  optimizer="adamw", learning_rate=1e-3, num_train_steps=4, num_warmup_steps=0,
                  save_checkpoints_steps=2, steps_per_loop=2, log_steps=2, seed=0)
  return classifier_run.ClassifierOptions(**{**defaults, **settings})


def write_config(directory: os.PathLike, **overrides) -> str:
  """Writes configs/albert_tiny_test.json with `overrides` (e.g. vocab_size) to
  `directory`/albert_config.json and returns its path."""
  values = AlbertConfig.from_preset("albert_tiny_test").to_dict()
  values.update(overrides)
  path = os.path.join(os.fspath(directory), "albert_config.json")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  AlbertConfig.from_dict(values).to_json_file(path)
  return path


def write_pretrained_checkpoint(directory: os.PathLike, config_file: str, seed: int = 0) -> str:
  """A freshly initialised AlbertPretrainer saved under the original TF1 names (model.ckpt-0): a
  stand-in for a pretrained checkpoint, in the form Google's releases have.

  Returns:
    The checkpoint prefix.
  """
  tf_keras.utils.set_random_seed(seed)
  pretrainer = albert_tf.AlbertPretrainer(AlbertConfig.from_json_file(config_file))
  pretrainer({
      "input_word_ids": np.zeros((1, 4), np.int32),
      "input_mask": np.ones((1, 4), np.int32),
      "input_type_ids": np.zeros((1, 4), np.int32),
      "masked_lm_positions": np.zeros((1, 1), np.int32)
  })
  return albert_tf.save_original_checkpoint(pretrainer,
                                            os.path.join(os.fspath(directory), "model.ckpt-0"))


def sentence(rng: random.Random, topic_words: Sequence[str], length: int = 6) -> str:
  """`length` filler words with `topic_words` inserted at random places."""
  words = [rng.choice(FILLER_WORDS) for _ in range(length)]
  for word in topic_words:
    words.insert(rng.randint(0, len(words)), word)
  return " ".join(words)


def topic_rows(rng: random.Random, count: int) -> list[tuple[str, str]]:
  """`count` distinct (sentence, topic) rows: one or two words of the topic among 3-8 fillers."""
  rows, seen = [], set()
  while len(rows) < count:
    topic = rng.choice(sorted(TOPIC_WORDS))
    words = [rng.choice(TOPIC_WORDS[topic]) for _ in range(rng.randint(1, 2))]
    text = sentence(rng, words, length=rng.randint(3, 8))
    if text not in seen:
      seen.add(text)
      rows.append((text, topic))
  return rows


def score_rows(rng: random.Random, count: int) -> list[tuple[str, float]]:
  """`count` distinct (sentence, score) rows; score = 5 x (kitchen words / topic words)."""
  rows, seen = [], set()
  while len(rows) < count:
    kitchen = rng.randint(0, REGRESSION_TOPIC_WORDS)
    words = ([rng.choice(TOPIC_WORDS["kitchen"]) for _ in range(kitchen)] +
             [rng.choice(TOPIC_WORDS["school"]) for _ in range(REGRESSION_TOPIC_WORDS - kitchen)])
    text = sentence(rng, words, length=rng.randint(2, 6))
    if text not in seen:
      seen.add(text)
      rows.append((text, 5.0 * kitchen / REGRESSION_TOPIC_WORDS))
  return rows


def chinese_text(rng: random.Random, length: int) -> str:
  """`length` random characters of CHINESE_CHARACTERS."""
  return "".join(rng.choice(CHINESE_CHARACTERS) for _ in range(length))


def write_tsv(path: os.PathLike, header: Sequence[str] | None, rows: Sequence[Sequence]) -> str:
  """Tab-separated rows (values through str), after a header line unless `header` is None."""
  path = os.fspath(path)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  lines = [header] if header is not None else []
  lines.extend(rows)
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join("\t".join(str(value) for value in line) + "\n" for line in lines))
  return path


def read_eval_blocks(output_dir: os.PathLike) -> list[dict[str, float]]:
  """eval_results.txt of the fine-tuning format as one {key: value} per evaluation (`best` too).

  The file prints each value in its shortest float32 form, so each is read back as that float32:
  the value the run held and compared with (a plain float() of the text can lie across it).
  """
  with open(os.path.join(os.fspath(output_dir), "eval_results.txt"), encoding="utf-8") as f:
    blocks = f.read().split(EVAL_SEPARATOR + "\n")
  assert blocks[-1] == "", "eval_results.txt must end with a separator line"
  evaluations = []
  for block in blocks[:-1]:
    pairs = (line.split(" = ") for line in block.splitlines())
    evaluations.append({key: float(np.float32(value)) for key, value in pairs})
  return evaluations


def read_tsv_rows(path: os.PathLike) -> list[list[str]]:
  """A tab-separated file's lines, split (each line must end with a line break)."""
  with open(path, encoding="utf-8") as f:
    text = f.read()
  assert text.endswith("\n"), f"{path} must end with a line break"
  return [line.split("\t") for line in text[:-1].split("\n")]
