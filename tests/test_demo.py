"""The demo: the shipped corpora are the generator's output, and the pipeline runs end to end."""

import io
import os
import subprocess
import sys
import threading

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


@pytest.mark.parametrize("language", ["en", "zh"])
def test_shipped_classification_set_is_the_generated_one(language):
  for split, rows in demo.generate_classification_set(language).items():
    path = os.path.join(demo.shipped_classification_dir(language), f"{split}.tsv")
    with open(path, encoding="utf-8") as f:
      assert f.read() == demo.classification_tsv(rows)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_classification_set_is_balanced_distinct_and_new_to_the_queries(language):
  splits = demo.generate_classification_set(language)
  labels = sorted(demo.CLASSIFY_LABELS[language].values())
  for split, size in demo.CLASSIFY_SPLIT_SIZES:
    assert sorted(label for _, label in splits[split]) == sorted(labels * size)
  sentences = [text for rows in splits.values() for text, _ in rows]
  assert len(set(sentences)) == len(sentences) == 400
  assert not {text for text, _ in demo.CLASSIFY_QUERIES[language]} & set(sentences)
  assert all("\t" not in text and '"' not in text for text in sentences)
  assert {label for _, label in demo.CLASSIFY_QUERIES[language]} == set(labels)


def test_chinese_classification_set_uses_only_corpus_characters():
  """The demo's WordPiece vocabulary is built from the corpus: any other character is [UNK]."""
  with open(demo.shipped_corpus_path("zh"), encoding="utf-8") as f:
    corpus_characters = set(f.read())
  texts = [text for rows in demo.generate_classification_set("zh").values() for text, _ in rows]
  texts += [text for text, _ in demo.CLASSIFY_QUERIES["zh"]]
  assert set("".join(texts)) <= corpus_characters


def test_echo_progress_logs_everything_and_never_stays_silent():
  """Progress lines reach the console; a silence longer than the heartbeat gets a line of its own.

  The step's output waits, after its first progress line, until the console has shown a heartbeat.
  """
  console, heartbeat_shown = [], threading.Event()

  def echo(line):
    console.append(line)
    if "still running" in line:
      heartbeat_shown.set()

  def step_output():
    yield "I1203 02:07:10.528226 1 run_loop.py:263] step 50/100: loss=5.6220 time left 0:00:09\n"
    yield "some other log line\n"
    heartbeat_shown.wait(timeout=60)  # Synchronisation: the assertions below say if it came.
    yield "I1203 02:07:20.528226 1 api.py:460] Export: tracing the mlm signature\n"

  log = io.StringIO()
  demo.echo_progress(step_output(), log, echo, heartbeat_seconds=0.01)
  assert log.getvalue().count("\n") == 3 and "some other log line" in log.getvalue()
  assert console[0] == "    step 50/100: loss=5.6220 time left 0:00:09"
  assert console[-1] == "    Export: tracing the mlm signature"
  assert all(line.startswith("    ... still running (") for line in console[1:-1])
  assert len(console) >= 3


def _tree(directory):
  """{relative path: file content} of every file below `directory`."""
  return {
      os.path.relpath(os.path.join(root, name), directory):
          open(os.path.join(root, name), "rb").read() for root, _, names in os.walk(directory)
      for name in names
  }


def test_output_dir_is_created_or_reused_when_empty_and_marked(tmp_path):
  new = tmp_path / "new" / "demo"
  demo.prepare_output_dir(str(new))
  assert os.listdir(new) == [demo.DEMO_MARKER]
  empty = tmp_path / "empty"
  empty.mkdir()
  demo.prepare_output_dir(str(empty))
  assert os.listdir(empty) == [demo.DEMO_MARKER]


def test_previous_demo_output_is_cleared(tmp_path):
  demo.prepare_output_dir(str(tmp_path))
  (tmp_path / "model").mkdir()
  (tmp_path / "model" / "ckpt").write_text("old")
  (tmp_path / "albert_config.json").write_text("{}")
  (tmp_path / "link").symlink_to(tmp_path / "model")
  demo.prepare_output_dir(str(tmp_path))
  assert os.listdir(tmp_path) == [demo.DEMO_MARKER]


@pytest.mark.parametrize("make_foreign", ["file_inside", "is_a_file"])
def test_foreign_output_dir_is_refused_untouched(tmp_path, make_foreign):
  target = tmp_path / "mine"
  if make_foreign == "file_inside":
    (target / "thesis").mkdir(parents=True)
    (target / "thesis" / "chapter1.tex").write_text("a week of work")
    expected = f"--output_dir={target} is not empty and is not a previous demo output"
  else:
    target.write_text("a week of work")
    expected = f"--output_dir={target} is not a directory"
  before = _tree(tmp_path)
  with pytest.raises(demo.OutputDirError) as error:
    demo.prepare_output_dir(str(target))
  assert str(error.value).startswith(expected) and "pass a new or empty directory" in str(
      error.value)
  assert _tree(tmp_path) == before


def test_command_line_refuses_a_foreign_output_dir_in_one_line(tmp_path):
  (tmp_path / "notes.txt").write_text("keep me")
  result = subprocess.run([sys.executable, "-m", "albert_tf.demo", f"--output_dir={tmp_path}"],
                          capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 1
  assert result.stderr == (f"albert_tf.demo: error: --output_dir={tmp_path} is not empty and is "
                           f"not a previous demo output (no {demo.DEMO_MARKER} file in it); pass a "
                           "new or empty directory\n")
  assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.slow
def test_reduced_pipeline_end_to_end(tmp_path, capsys):
  """English (the README's command); the Chinese variant differs only in flags covered elsewhere.

  300 pretraining steps: after 200 or fewer, the tiny model's pooled output is still the same for
  every sentence (cosine 1.000), and 60 fine-tuning steps then leave the queries on one label.
  """
  language = "en"
  answers = demo.run_pipeline(language, str(tmp_path / "demo"), num_train_steps=300,
                              train_batch_size=16, dupe_factor=1, finetune_steps=60)
  queries = demo.QUERIES[language]
  assert len(answers["tokens"]) == len(queries)
  assert all(len(row) >= 1 and len(row[0]) == 3 for row in answers["tokens"])
  probabilities = np.array(answers["probabilities"][0])
  assert np.all(probabilities >= 0) and np.all(probabilities <= 1)
  assert [p for p in answers["mask_positions"][0] if p >= 0]  # The query's mask was found.
  assert len(answers["pooled_output"]) == len(demo.ENCODE_QUERIES[language])
  assert os.listdir(tmp_path / "demo" / "serving") == ["300"]
  printed = capsys.readouterr().out
  assert "fill_mask_text (top 3 per [MASK]):" in printed and queries[0] in printed
  assert "    step 100/300: loss=" in printed  # pretraining's progress reaches the console
  assert "    step 50/300: loss=" in printed  # every 50 steps (demo.PRETRAIN_LOG_STEPS)
  assert "    Export: tracing the fill_mask_text signature" in printed  # so does the export's

  classifier_dir = tmp_path / "demo" / "classifier"
  for name in ("eval_results.txt", "best_trial.txt", "model.ckpt-best.index", "label_list.txt",
               "test_results.tsv", "submit_results.tsv"):
    assert (classifier_dir / name).is_file(), name
  assert (classifier_dir / "label_list.txt").read_text().split() == ["animal", "city"]
  assert len((classifier_dir / "test_results.tsv").read_text().splitlines()) == 20
  assert os.listdir(tmp_path / "demo" / "classifier_serving") == ["60"]
  classify = answers["classify"]
  assert classify["best_step"] == 60 and classify["eval_accuracy"] >= 0.95  # measured: 1.0
  assert classify["labels"] == [label for _, label in demo.CLASSIFY_QUERIES[language]]
  assert all(0.9 < p <= 1 for p in classify["probabilities"])  # measured: 0.998
  assert "    step 60/60: loss=" in printed and "    Eval at step 60: eval_accuracy" in printed
  assert f"{demo.CLASSIFY_QUERIES[language][0][0]}  ->  animal (" in printed
