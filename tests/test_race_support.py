"""Inputs of the RACE tests, written for this project (no tests here): RACE files in both layouts
and a generated 4-way multiple-choice set whose answer follows from the article.

    write_race(data_dir, "train", "middle", articles, layout="all")    # RACE/train/middle/all.txt
    write_race(data_dir, "train", "high", articles, layout="files")    # RACE/train/high/<id>.txt
    articles = topic_articles(random.Random(0), 100, prefix="m")
"""

import json
import os
import random
from typing import Sequence

from albert_tf.training.options import RaceOptions
from tests import classifier_fixtures

SPLIT_DIRECTORIES = {"train": "train", "eval": "dev", "predict": "test"}
TOPICS = sorted(classifier_fixtures.TOPIC_WORDS)


def write_race(data_dir: os.PathLike, split: str, level: str, articles: Sequence[dict],
               layout: str) -> str:
  """Writes `articles` under data_dir/RACE/<split dir>/<level>/ in the original's layout ("all":
  all.txt, one JSON object per line) or upstream RACE's ("files": one <id> file per article).

  Returns:
    The level directory.
  """
  directory = os.path.join(os.fspath(data_dir), "RACE", SPLIT_DIRECTORIES[split], level)
  os.makedirs(directory, exist_ok=True)
  if layout == "all":
    with open(os.path.join(directory, "all.txt"), "w", encoding="utf-8") as f:
      f.write("".join(json.dumps(article) + "\n" for article in articles))
  else:
    for article in articles:
      with open(os.path.join(directory, article["id"]), "w", encoding="utf-8") as f:
        json.dump(article, f, indent=1)
  return directory


def topic_articles(rng: random.Random, count: int, prefix: str) -> list[dict]:
  """`count` articles of one question each: the article is about one topic (its topic words among
  fillers); the answer is the option that is a word of the article's topic; the others are a word
  of the other topic and two fillers. A reader that matches the option to the article's topic is
  always right; one that only tells topic words from fillers is right half of the time."""
  articles = []
  for index in range(count):
    topic = rng.choice(TOPICS)
    other = TOPICS[1 - TOPICS.index(topic)]
    words = classifier_fixtures.TOPIC_WORDS[topic]
    text = classifier_fixtures.sentence(rng, rng.sample(words, 2), length=rng.randint(3, 6))
    options = [
        rng.choice(words),
        rng.choice(classifier_fixtures.TOPIC_WORDS[other]),
        *rng.sample(classifier_fixtures.FILLER_WORDS, 2)
    ]
    rng.shuffle(options)
    answer = next(i for i, option in enumerate(options) if option in words)
    articles.append({
        "id": f"{prefix}{index}.txt",
        "article": text,
        "questions": ["the text is about _ ."],
        "options": [options],
        "answers": ["ABCD"[answer]]
    })
  return articles


def options(**settings) -> RaceOptions:
  """RaceOptions of a fast run (batch 8, 24 tokens, AdamW at 1e-3, seed 0) and `settings`."""
  defaults = dict(train_batch_size=8, eval_batch_size=8, predict_batch_size=8, max_seq_length=24,
                  max_qa_length=8, optimizer="adamw", learning_rate=1e-3, num_train_steps=4,
                  num_warmup_steps=0, save_checkpoints_steps=2, steps_per_loop=2, log_steps=2,
                  seed=0, dropout_prob=0.0)
  return RaceOptions(**{**defaults, **settings})
