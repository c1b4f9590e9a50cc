"""The demo: the shipped corpora are the generator's output, and the pipeline runs end to end."""

import os

import numpy as np
import pytest

from albert_tf import demo


@pytest.mark.parametrize("language", ["en", "zh"])
def test_shipped_corpus_is_the_generated_one(language):
  with open(demo.shipped_corpus_path(language), encoding="utf-8") as f:
    assert f.read() == demo.generate_corpus(language)


def test_corpus_states_the_queried_facts():
  english = demo.generate_corpus("en")
  assert "The capital of France is Paris." in english
  assert "Each spider has eight legs." in english
  chinese = demo.generate_corpus("zh")
  assert "法国的首都是巴黎。" in chinese and "蜘蛛有八条腿。" in chinese
  documents = english.strip().split("\n\n")
  assert len(documents) == 1500 and all(2 <= len(d.splitlines()) <= 5 for d in documents)


@pytest.mark.slow
def test_reduced_pipeline_end_to_end(tmp_path, capsys):
  """English (the README's command); the Chinese variant differs only in flags covered elsewhere."""
  language = "en"
  answers = demo.run_pipeline(language, str(tmp_path / "demo"), num_train_steps=10,
                              train_batch_size=8, dupe_factor=1)
  queries = demo.QUERIES[language]
  assert len(answers["tokens"]) == len(queries)
  assert all(len(row) >= 1 and len(row[0]) == 3 for row in answers["tokens"])
  probabilities = np.array(answers["probabilities"][0])
  assert np.all(probabilities >= 0) and np.all(probabilities <= 1)
  assert [p for p in answers["mask_positions"][0] if p >= 0]  # The query's mask was found.
  assert len(answers["pooled_output"]) == len(demo.ENCODE_QUERIES[language])
  assert os.listdir(tmp_path / "demo" / "serving") == ["10"]
  printed = capsys.readouterr().out
  assert "fill_mask_text (top 3 per [MASK]):" in printed and queries[0] in printed
