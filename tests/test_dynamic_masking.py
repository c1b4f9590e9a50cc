"""Dynamic masking (albert_tf.training.dynamic_masking) against the offline masker.

Records come from the real data tool (create_pretraining_data, with and without --dynamic_masking)
on a corpus assembled here from the English fixture sentences. Statistics are compared within
4 standard errors of the difference (binomial for proportions, the sample standard deviation for
per-instance fractions): both sides are random samples of the same distribution, so a correct
masker fails with probability below 1e-4 per comparison, while a wrong budget rule, a missing
fallback or a 1/n vs uniform n-gram choice moves the figures by far more than 4 SE at these sample
sizes (445 instances masked 4 times; the rarest category, 3-word spans, has ~440 per side).
"""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.training import dynamic_masking
from albert_tf.training import input_pipeline
from albert_tf.training import pretraining_run
from albert_tf.training.options import RunOptions
from data_prep import masking as offline_masking
from data_prep import pipeline
from tests import test_train_cli
from tests import test_train_support as support
from tests import text_fixtures

T, P = 64, 10
DUPE = 4  # offline passes; the dynamic pipeline reads its records DUPE times: the same budget


def _sentences(path):
  with open(path, encoding="utf-8") as f:
    return [line.strip() for line in f if line.strip()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """150 documents of 3-8 fixture sentences each (a reproducible shuffle)."""
  sentences = _sentences(text_fixtures.ENGLISH_CORPUS)
  rng = random.Random(7)
  documents = ["\n".join(rng.choices(sentences, k=rng.randint(3, 8))) for _ in range(150)]
  path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
  path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
  return str(path)


def _records(input_file, out, **options):
  config = pipeline.PretrainingDataConfig(input_file=input_file,
                                          output_file=str(out / "train.tfrecord"), max_seq_length=T,
                                          max_predictions_per_seq=P, num_workers=0, **options)
  return pipeline.create_pretraining_data(config), str(out / "train.tfrecord")


@pytest.fixture(scope="module")
def english(corpus, sp_model, tmp_path_factory):
  """(static summary, static file, dynamic summary, dynamic file) of the same corpus and flags."""
  static = _records(corpus, tmp_path_factory.mktemp("static"), spm_model_file=sp_model,
                    dupe_factor=DUPE)
  dynamic = _records(corpus, tmp_path_factory.mktemp("dynamic"), spm_model_file=sp_model,
                     dynamic_masking=True)
  return (*static, *dynamic)


def _dynamic_records(path):
  """Every record of `path` decoded as the dynamic pipeline decodes it, as NumPy."""
  return [{
      name: value.numpy()
      for name, value in input_pipeline.decode_record(raw, T, P, dynamic=True).items()
  }
          for raw in tf.data.TFRecordDataset(path)]


def _mask_all(records, settings, seed=0, stream=0):
  """Masks `records` with element keys 0, 1, ... as the pipeline does; returns a list of
  (features, statistics) per record."""
  base = dynamic_masking.element_key_base(seed, stream, 0)
  stacked = {name: np.stack([r[name] for r in records]) for name in records[0]}

  def draw(index, features):
    key = dynamic_masking.fold_index(base, index)
    return dict(features, **dynamic_masking.draw_randomness(key, T, settings))

  dataset = tf.data.Dataset.from_tensor_slices(stacked).enumerate().map(draw).batch(64).map(
      lambda batch: dynamic_masking.mask_batch(batch, settings)).unbatch()
  return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def _within(a, b, standard_error, what):
  assert abs(a - b) <= 4 * standard_error, f"{what}: {a:.4f} vs {b:.4f} (4 SE = " \
                                           f"{4 * standard_error:.4f})"


def _proportions_agree(counts_a, counts_b, what):
  """Each category's share agrees within 4 binomial SE of the difference."""
  counts_a, counts_b = np.asarray(counts_a, float), np.asarray(counts_b, float)
  n_a, n_b = counts_a.sum(), counts_b.sum()
  for k, (x, y) in enumerate(zip(counts_a, counts_b)):
    pooled = (x + y) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    _within(x / n_a, y / n_b, se, f"{what}[{k}]")


def _words(record):
  """Word index per position (-1 for [CLS], [SEP], padding), from token_boundary (independent)."""
  length = int(record["input_mask"].sum())
  num_a = int(np.sum(record["input_type_ids"][:length] == 0)) - 2
  specials = {0, num_a + 1, length - 1}
  word, current = np.full(T, -1), -1
  for position in range(length):
    if position in specials:
      continue
    if record["token_boundary"][position] or position - 1 in specials:
      current += 1
    word[position] = current
  return word


def _check_whole_words_and_features(record, masked, settings):
  """The output is a valid offline-style masking of `record`; returns the predictions."""
  count = int(masked["masked_lm_weights"].sum())
  positions = masked["masked_lm_positions"][:count]
  length = int(record["input_mask"].sum())
  budget = offline_masking.prediction_budget(length, settings.masked_lm_prob, P)
  assert 1 <= count <= budget
  assert (np.diff(positions) > 0).all()
  assert (masked["masked_lm_positions"][count:] == 0).all()
  assert (masked["masked_lm_ids"][count:] == 0).all()
  np.testing.assert_array_equal(masked["masked_lm_ids"][:count],
                                record["input_word_ids"][positions])
  unchanged = np.setdiff1d(np.arange(T), positions)
  np.testing.assert_array_equal(masked["input_word_ids"][unchanged],
                                record["input_word_ids"][unchanged])
  for name in ("input_mask", "input_type_ids", "next_sentence_labels"):
    np.testing.assert_array_equal(masked[name], record[name])
  word = _words(record)
  assert (word[positions] >= 0).all()  # never [CLS], [SEP] or padding
  chosen = set(word[positions].tolist())
  for w in chosen:  # whole words: every token of a chosen word is predicted
    assert set(np.flatnonzero(word == w).tolist()) <= set(positions.tolist())
  return count, chosen, word


@pytest.fixture(scope="module")
def english_masked(english):
  _, _, _, dynamic_file = english
  settings, _ = dynamic_masking.records_masking([dynamic_file])
  records = _dynamic_records(dynamic_file)
  return settings, records, _mask_all(records * DUPE, settings)


def test_settings_come_from_the_stats_file(english):
  _, _, summary, dynamic_file = english
  settings, stats_path = dynamic_masking.records_masking([dynamic_file])
  assert stats_path == dynamic_file.replace(".tfrecord", ".stats.json")
  assert settings == dynamic_masking.MaskingSettings(
      masked_lm_prob=0.15, max_predictions_per_seq=P, ngram=3, favor_shorter_ngram=True,
      do_whole_word_mask=True, mask_id=4, vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  assert summary["masking"]["mask_id"] == 4


def test_every_masking_is_whole_word_and_consistent(english_masked):
  settings, records, masked = english_masked
  at_budget = 0
  for i, (features, _) in enumerate(masked):
    record = records[i % len(records)]
    count, _, _ = _check_whole_words_and_features(record, features, settings)
    length = int(record["input_mask"].sum())
    at_budget += count == offline_masking.prediction_budget(length, 0.15, P)
  assert at_budget > 0.95 * len(masked)


def test_statistics_agree_with_the_offline_records(english, english_masked):
  """Masked fraction, span lengths, 80/10/10 and SOP labels vs. the data tool's own records."""
  static_summary, static_file, dynamic_summary, _ = english
  _, records, masked = english_masked
  static = [
      tf.train.Example.FromString(raw.numpy()).features.feature
      for raw in tf.data.TFRecordDataset(static_file)
  ]
  static_fraction = np.array([
      sum(f["masked_lm_weights"].float_list.value) / sum(f["input_mask"].int64_list.value)
      for f in static
  ])
  dynamic_fraction = np.array([
      features["masked_lm_weights"].sum() / features["input_mask"].sum() for features, _ in masked
  ])
  se = np.sqrt(static_fraction.var() / len(static_fraction) +
               dynamic_fraction.var() / len(dynamic_fraction))
  _within(dynamic_fraction.mean(), static_fraction.mean(), se, "masked fraction")
  replacements = static_summary["replacement_fractions"]
  _proportions_agree(
      np.sum([statistics["replacements"] for _, statistics in masked], axis=0),
      np.array([replacements["mask"], replacements["keep"], replacements["random"]]) *
      static_summary["masked_lm_predictions"], "mask/keep/random")
  # SOP labels pass through untouched, so their ratio is the data tool's.
  labels = np.array([features["next_sentence_labels"][0] for features, _ in masked])
  np.testing.assert_array_equal(labels, [r["next_sentence_labels"][0] for r in records] * DUPE)
  _proportions_agree([labels.sum(), len(labels) - labels.sum()], [
      static_summary["sentence_order_label_1_fraction"] * static_summary["instances"],
      (1 - static_summary["sentence_order_label_1_fraction"]) * static_summary["instances"]
  ], "SOP label 1")
  assert dynamic_summary["instances"] == len(records)


def _offline(records, settings, passes):
  """The offline masker (data_prep.masking) on the same instances, `passes` times each."""
  options = offline_masking.MaskingOptions(settings.masked_lm_prob, P, settings.ngram,
                                           settings.favor_shorter_ngram,
                                           settings.do_whole_word_mask, False, settings.mask_id,
                                           list(range(settings.vocab_size)))
  cumulative = offline_masking.cumulative_ngram_probabilities(settings.ngram,
                                                              settings.favor_shorter_ngram)
  results = []
  for i in range(passes * len(records)):
    record = records[i % len(records)]
    length = int(record["input_mask"].sum())
    num_a = int(np.sum(record["input_type_ids"][:length] == 0)) - 2
    results.append(
        offline_masking.mask_sequence(record["input_word_ids"][:length],
                                      record["token_boundary"][:length].astype(bool), num_a,
                                      options, cumulative, random.Random(i)))
  return results


def _span_counts(masked_sequences, ngram):
  counts = np.zeros(ngram)
  for sequence in masked_sequences:
    for words in sequence.span_words:
      counts[words - 1] += 1
  return counts


def test_span_lengths_and_counts_agree_with_the_offline_masker_on_the_same_instances(
    english_masked):
  settings, records, masked = english_masked
  offline = _offline(records, settings, DUPE)
  dynamic_spans = np.sum([statistics["span_words"] for _, statistics in masked], axis=0)
  offline_spans = _span_counts(offline, settings.ngram)
  assert offline_spans.min() > 300
  _proportions_agree(dynamic_spans, offline_spans, "span words")
  # Below the nominal 1/n shares (6/11, 3/11, 2/11) because of the fallback, as the original.
  assert dynamic_spans[0] / dynamic_spans.sum() > 6 / 11
  # Predictions per instance: the same budget rule, instance by instance.
  dynamic_counts = np.array([features["masked_lm_weights"].sum() for features, _ in masked])
  offline_counts = np.array([len(sequence.positions) for sequence in offline])
  assert np.mean(dynamic_counts == offline_counts) > 0.95
  _proportions_agree(np.sum([statistics["replacements"] for _, statistics in masked], axis=0),
                     np.sum([sequence.replacement_counts for sequence in offline], axis=0),
                     "mask/keep/random")


def test_chinese_whole_word_masking_uses_the_stored_jieba_words(tmp_path):
  vocab = text_fixtures.build_wordpiece_vocab(tmp_path)
  _, path = _records(f"{text_fixtures.CHINESE_CORPUS},{text_fixtures.MIXED_CORPUS}", tmp_path,
                     vocab_file=vocab, do_chinese_wwm=True, dupe_factor=1, dynamic_masking=True)
  settings, _ = dynamic_masking.records_masking([path])
  assert settings.do_whole_word_mask
  records = _dynamic_records(path)
  passes = 6
  masked = _mask_all(records * passes, settings)
  multi_token_words = 0
  for i, (features, _) in enumerate(masked):
    _, chosen, word = _check_whole_words_and_features(records[i % len(records)], features, settings)
    multi_token_words += sum(np.sum(word == w) > 1 for w in chosen)
  assert multi_token_words > 100  # jieba words of several characters are masked whole
  offline_spans = _span_counts(_offline(records, settings, passes), settings.ngram)
  dynamic_spans = np.sum([statistics["span_words"] for _, statistics in masked], axis=0)
  _proportions_agree(dynamic_spans, offline_spans, "Chinese span words")


def _take(iterator, count):
  return [tf.nest.map_structure(lambda t: t.numpy(), next(iterator)) for _ in range(count)]


def test_a_restored_pipeline_continues_the_same_mask_stream(english, tmp_path):
  _, static_file, _, dynamic_file = english
  settings, _ = dynamic_masking.records_masking([dynamic_file])

  def dataset():
    return input_pipeline.pretraining_dataset([dynamic_file], 8, T, P, seed=5, masking=settings)

  # The offline records' features, names, dtypes and static shapes: the model does not change.
  assert dataset().element_spec == input_pipeline.pretraining_dataset([static_file], 8, T,
                                                                      P).element_spec
  uninterrupted = _take(iter(dataset()), 6)
  iterator = iter(dataset())
  _take(iterator, 3)
  checkpoint = tf.train.Checkpoint(iterator=iterator)
  path = checkpoint.write(str(tmp_path / "position"))
  restored_iterator = iter(dataset())
  tf.train.Checkpoint(iterator=restored_iterator).read(path).assert_consumed()
  resumed = _take(restored_iterator, 3)
  for expected, actual in zip(uninterrupted[3:], resumed):
    for name in expected:
      np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_each_reading_draws_a_new_mask_and_evaluation_repeats_its_masks(english, tmp_path):
  _, _, _, dynamic_file = english
  settings, _ = dynamic_masking.records_masking([dynamic_file])
  small_file = str(tmp_path / "small.tfrecord")  # the first 40 records: 5 batches an epoch
  with tf.io.TFRecordWriter(small_file) as writer:
    for raw in tf.data.TFRecordDataset(dynamic_file).take(40):
      writer.write(raw.numpy())
  records = _dynamic_records(small_file)
  n = len(records)

  def eval_masks():
    dataset = input_pipeline.pretraining_dataset([small_file], 8, T, P, is_training=False,
                                                 masking=settings)
    batches = _take(iter(dataset), 2 * n // 8)
    return np.concatenate([b["masked_lm_positions"] for b in batches])

  first, second = eval_masks(), eval_masks()
  assert len(first) == 2 * n
  np.testing.assert_array_equal(first, second)  # every evaluation masks the same way
  # The same instances, one epoch later in the stream: other masks for nearly all of them.
  assert np.mean(np.any(first[:n] != first[n:], axis=1)) > 0.9


def test_batched_masking_equals_single_masking_and_compiles_with_xla(english_masked):
  settings, records, masked = english_masked
  key = dynamic_masking.element_key(0, 0, 0, tf.constant(3, tf.int64))
  single = dynamic_masking.mask_features(records[3], key, settings)
  for name, value in single.items():
    np.testing.assert_array_equal(np.asarray(value), masked[3][0][name], err_msg=name)
  batch = {name: np.stack([r[name] for r in records[:8]]) for name in records[0]}
  for name in ("mask_uniforms", "mask_random_ids"):
    batch[name] = np.stack([
        dynamic_masking.draw_randomness(
            dynamic_masking.element_key(0, 0, 0, tf.constant(j, tf.int64)), T,
            settings)[name].numpy() for j in range(8)
    ])
  compiled = tf.function(lambda b: dynamic_masking.mask_batch(b, settings), jit_compile=True)
  features, statistics = compiled(batch)
  for j in range(8):
    for name in single:
      np.testing.assert_array_equal(features[name][j].numpy(), masked[j][0][name], err_msg=name)
    np.testing.assert_array_equal(statistics["span_words"][j].numpy(), masked[j][1]["span_words"])


def test_record_kind_errors(english):
  _, static_file, _, dynamic_file = english
  with pytest.raises(
      input_pipeline.InputDataError,
      match=r"the records are unmasked \(create_pretraining_data --dynamic_masking: "
      r"no masked_lm_\* features\): pass --dynamic_masking"):
    input_pipeline.check_record_lengths([dynamic_file], T, P)
  with pytest.raises(
      input_pipeline.InputDataError,
      match=r"the records are already masked \(they hold masked_lm_positions\) but "
      "--dynamic_masking/--masked_lm_budget"):
    input_pipeline.check_record_lengths([static_file], T, P, dynamic_masking=True)
  input_pipeline.check_record_lengths([dynamic_file], T, 20, dynamic_masking=True)


def _options(tmp_path, input_file, **overrides):
  config = support.write_config(str(tmp_path), max_position_embeddings=T,
                                vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE)
  values = dict(output_dir=str(tmp_path / "run"), albert_config_file=config, input_file=input_file,
                max_seq_length=T, max_predictions_per_seq=P)
  return RunOptions(**{**values, **overrides})


def test_build_task_reads_the_settings_and_the_budget_flag(english, tmp_path):
  _, _, _, dynamic_file = english
  task = pretraining_run.build_task(_options(tmp_path, dynamic_file, dynamic_masking=True))
  assert task.masking.masked_lm_prob == 0.15 and task.masking.mask_id == 4
  task = pretraining_run.build_task(_options(tmp_path, dynamic_file, masked_lm_budget=0.3))
  assert task.masking.masked_lm_prob == 0.3
  with pytest.raises(input_pipeline.InputDataError,
                     match="made with max_predictions_per_seq=10 but --max_predictions_per_seq=20"):
    pretraining_run.build_task(
        _options(tmp_path, dynamic_file, dynamic_masking=True, max_predictions_per_seq=20))


def test_stats_file_errors(english, tmp_path):
  _, _, _, dynamic_file = english
  lone = tmp_path / "lone" / "train.tfrecord"
  lone.parent.mkdir()
  lone.write_bytes(open(dynamic_file, "rb").read())
  with pytest.raises(input_pipeline.InputDataError, match="no create_pretraining_data stats file"):
    pretraining_run.build_task(_options(tmp_path, str(lone), dynamic_masking=True))
  stats = json.loads(open(dynamic_file.replace(".tfrecord", ".stats.json")).read())
  stats["dynamic_masking"] = False
  (lone.parent / "train.stats.json").write_text(json.dumps(stats))
  with pytest.raises(input_pipeline.InputDataError, match="describes records masked offline"):
    pretraining_run.build_task(_options(tmp_path, str(lone), dynamic_masking=True))


def test_command_line_errors_are_one_line(english, tmp_path):
  _, static_file, _, dynamic_file = english
  data = (os.path.dirname(dynamic_file),
          support.write_config(str(tmp_path), max_position_embeddings=T,
                               vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE))
  common = dict(data=data, max_seq_length=T, max_predictions_per_seq=P)
  cases = [
      ("a", dict(input_file=dynamic_file), "pass --dynamic_masking to mask them on the fly"),
      ("b", dict(input_file=static_file, dynamic_masking=True), "the records are already masked"),
      ("c", dict(input_file=static_file, masked_lm_budget=0.2), "the records are already masked"),
      ("d", dict(input_file=dynamic_file, masked_lm_budget=2),
       "flag --masked_lm_budget=2: 2.0 is not a number in the range [0, 1]"),
  ]
  for name, overrides, expected in cases:
    assert expected in test_train_cli.cli_error(output_dir=tmp_path / name, **common, **overrides)


@pytest.mark.slow
def test_training_and_evaluating_on_dynamic_records(english, tmp_path):
  _, _, _, dynamic_file = english
  data = (os.path.dirname(dynamic_file),
          support.write_config(str(tmp_path), max_position_embeddings=T,
                               vocab_size=text_fixtures.SENTENCEPIECE_VOCAB_SIZE))
  settings = support.run_settings(data, tmp_path / "run", input_file=dynamic_file, max_seq_length=T,
                                  max_predictions_per_seq=P, dynamic_masking=True,
                                  num_train_steps=2, do_eval=True, max_eval_steps=2)
  support.run_cli_in_process([f"--{k}={v}" for k, v in settings.items()])
  assert os.path.exists(tmp_path / "run" / "model.ckpt-2.index")
  results = (tmp_path / "run" / "eval_results.txt").read_text()
  assert "masked_lm_accuracy" in results
