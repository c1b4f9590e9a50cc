"""RACE data: the original's and upstream RACE's files -> examples -> cached TFRecords -> tf.data.

Two layouts of `data_dir/RACE/{train,dev,test}/{middle,high}/` are read (data_dir may also be the
RACE directory itself):
* the original run_race.py's: one `all.txt` per level, a JSON object per line;
* upstream RACE's (the RACE.tar.gz download): one file per article, `*.txt`, each one JSON object.
Each object has `article`, `questions`, `options` (4 per question), `answers` ("A".."D") and `id`.

Examples are the original race_utils.RaceProcessor's: the text goes through the original's
`process_text` (SentencePiece: preprocess_text, lower-cased with do_lower_case; WordPiece: as is),
and each option becomes `question` with every `_` replaced by the option, or `question option`
when the question has no `_`. Features are race_utils.convert_single_example's: per option
`[CLS] article [SEP] question+option [SEP]`, the option side keeping its last max_qa_length
tokens and the article cut to fit. Records hold the original schema (input_ids, input_mask,
segment_ids: int64 [4·max_seq_length]; label_ids; is_real_example), cached like the classifier's
(`albert_tf.tasks.feature_cache`): a `.metadata.json` sidecar records every setting, the
vocabulary fingerprint and a digest of the examples, and any change rebuilds the records.

Example:
  examples = read_race_examples("data", "train", use_spm=True, do_lower_case=True)
  path, count = cached_race_features(record_path("ft/race", "train"), examples, tokenizer,
                                     FeatureSettings(max_seq_length=512, max_qa_length=128),
                                     vocab_fingerprint=fingerprint)
  dataset = race_dataset(path, batch_size=32, max_seq_length=512, is_training=True)
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf

from albert_tf import tokenization
from albert_tf.tasks import classifier_data
from albert_tf.tasks import feature_cache
from albert_tf.tasks.classifier_data.file_io import read_text

LEVELS = ("middle", "high")
LABELS = ("A", "B", "C", "D")
NUM_CHOICES = len(LABELS)
# Our split names -> the RACE directories ("eval" is dev, "predict" test).
SPLIT_DIRECTORIES = {"train": "train", "eval": "dev", "predict": "test"}
ALL_FILE = "all.txt"
# Bump when the record layout changes, so that older caches rebuild.
_CACHE_FORMAT = 1


class RaceDataError(classifier_data.ClassifierDataError):
  """Missing or malformed RACE files, or settings that cannot hold a question; one line."""


@dataclasses.dataclass(frozen=True)
class RaceExample:
  """One question: its article, the 4 question+option texts, the answer index and the level."""
  example_id: str
  context: str
  endings: Tuple[str, ...]
  label: int
  level: str


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
  """What shapes the features (the original's --max_seq_length and --max_qa_length)."""
  max_seq_length: int = 512
  max_qa_length: int = 128


def race_directory(data_dir: str, split: str) -> str:
  """`data_dir/RACE/<split dir>`, or `data_dir/<split dir>` when data_dir is the RACE directory."""
  name = SPLIT_DIRECTORIES[split]
  nested = os.path.join(data_dir, "RACE", name)
  if tf.io.gfile.isdir(nested) or not tf.io.gfile.isdir(os.path.join(data_dir, name)):
    return nested
  return os.path.join(data_dir, name)


def read_race_examples(data_dir: str, split: str, *, use_spm: bool, do_lower_case: bool,
                       high_only: bool = False, middle_only: bool = False) -> List[RaceExample]:
  """The examples of `split` ("train", "eval" or "predict"), middle school first, as the original.

  Raises:
    RaceDataError: both high_only and middle_only, a level directory in neither layout, or a
      malformed file (the message names the file and line).
  """
  if high_only and middle_only:
    raise RaceDataError("--high_only and --middle_only together leave no data: pass one of them.")
  directory = race_directory(data_dir, split)
  levels = [
      level for level in LEVELS
      if not ((level == "middle" and high_only) or (level == "high" and middle_only))
  ]
  present = [level for level in levels if tf.io.gfile.isdir(os.path.join(directory, level))]
  if not present:
    raise RaceDataError(f"{directory} holds no RACE data: expected "
                        f"{_layouts(directory, levels)}.")
  examples = []
  for level in present:
    for source, article in _articles(os.path.join(directory, level)):
      examples.extend(_article_examples(article, source, level, use_spm, do_lower_case))
  logging.info("Read %d %s RACE questions from %s.", len(examples), split, directory)
  return examples


def _articles(level_directory: str) -> Iterator[Tuple[str, Any]]:
  """(file:line, JSON object) of each article of a level directory, in either layout."""
  all_file = os.path.join(level_directory, ALL_FILE)
  if tf.io.gfile.exists(all_file):
    for number, line in enumerate(read_text(all_file).splitlines(), 1):
      if line.strip():
        yield f"{all_file}:{number}", _parse(line, f"{all_file}:{number}")
    return
  files = sorted(tf.io.gfile.glob(os.path.join(level_directory, "*.txt")))
  if not files:
    raise RaceDataError(f"{level_directory} holds no RACE data: expected "
                        f"{_layouts(os.path.dirname(level_directory), [level_directory])}.")
  for path in files:
    yield path, _parse(read_text(path), path)


def _layouts(directory: str, levels: Sequence[str]) -> str:
  """The two layouts RACE data may have under `directory`, for error messages."""
  names = os.path.basename(levels[0]) if len(levels) == 1 else "{" + ",".join(levels) + "}"
  level_path = os.path.join(directory, names)
  return (f"{level_path}/{ALL_FILE} (JSON lines, the original run_race layout) or "
          f"{level_path}/*.txt (one JSON article per file, upstream RACE)")


def _parse(text: str, source: str) -> Any:
  try:
    return json.loads(text)
  except ValueError as error:
    raise RaceDataError(f"{source}: not a JSON object ({error}); each RACE article is one JSON "
                        "object with article, questions, options, answers and id.") from None


def _article_examples(article: Any, source: str, level: str, use_spm: bool,
                      do_lower_case: bool) -> List[RaceExample]:
  """The original RaceProcessor.read_examples for one article."""
  fields = ("article", "questions", "options", "answers")
  if not isinstance(article, dict) or any(field not in article for field in fields):
    raise RaceDataError(f"{source}: a RACE article needs the fields {', '.join(fields)} (and id).")
  questions, options, answers = article["questions"], article["options"], article["answers"]
  if not len(questions) == len(options) == len(answers):
    raise RaceDataError(f"{source}: {len(questions)} questions, {len(options)} option lists and "
                        f"{len(answers)} answers: each question needs its options and answer.")

  def process_text(text: str) -> str:
    if use_spm:
      return tokenization.preprocess_text(text, lower=do_lower_case)
    return tokenization.convert_to_unicode(text)

  context = process_text(article["article"])
  example_id = str(article.get("id", os.path.basename(source)))
  examples = []
  for index, (question, choices, answer) in enumerate(zip(questions, options, answers)):
    if len(choices) != NUM_CHOICES or answer not in LABELS:
      raise RaceDataError(f"{source}: question {index + 1} has {len(choices)} options and answer "
                          f"{answer!r}: RACE questions have 4 options and an answer in A-D.")
    question = process_text(question)
    endings = []
    for choice in choices:
      option = process_text(choice)
      endings.append(
          question.replace("_", option) if "_" in question else " ".join([question, option]))
    examples.append(RaceExample(example_id, context, tuple(endings), ord(answer) - ord("A"), level))
  return examples


def convert_example(example: RaceExample, tokenizer: Any,
                    settings: FeatureSettings) -> dict[str, List[List[int]]]:
  """race_utils.convert_single_example: {input_ids, input_mask, segment_ids} [4][T] lists."""
  context_tokens = tokenizer.tokenize(example.context)
  features = {"input_ids": [], "input_mask": [], "segment_ids": []}
  length = settings.max_seq_length
  for ending in example.endings:
    ending_tokens = tokenizer.tokenize(ending)[-settings.max_qa_length:]
    context = context_tokens[:length - 3 - len(ending_tokens)]
    tokens = [
        tokenization.CLS_TOKEN, *context, tokenization.SEP_TOKEN, *ending_tokens,
        tokenization.SEP_TOKEN
    ]
    padding = [0] * (length - len(tokens))
    features["input_ids"].append(tokenizer.convert_tokens_to_ids(tokens) + padding)
    features["input_mask"].append([1] * len(tokens) + padding)
    features["segment_ids"].append([0] * (len(context) + 2) + [1] * (len(ending_tokens) + 1) +
                                   padding)
  return features


def record_path(cached_dir: str, split: str) -> str:
  """The cache file of `split`: `{cached_dir}/race_{train,eval,predict}.tf_record`."""
  return os.path.join(cached_dir, f"race_{split}.tf_record")


def cached_race_features(path: str, examples: Sequence[RaceExample], tokenizer: Any,
                         settings: FeatureSettings, vocab_fingerprint: str) -> Tuple[str, int]:
  """Writes the features of `examples` to `path`, or reuses it when it is up to date.

  Args:
    path: the record file (e.g. `record_path(...)`, or the original's --train_file).
    examples: `read_race_examples(...)`.
    tokenizer: an `albert_tf.tokenization.FullTokenizer`.
    settings: the lengths.
    vocab_fingerprint: `classifier_data.vocab_fingerprint(...)` of the tokenizer's vocabulary.

  Returns:
    (path, number of examples).

  Raises:
    RaceDataError: max_qa_length leaves no room for the article.
  """
  if not 1 <= settings.max_qa_length <= settings.max_seq_length - 4:
    raise RaceDataError(
        f"--max_qa_length={settings.max_qa_length} with --max_seq_length="
        f"{settings.max_seq_length} leaves no room for the article: use a max_qa_length between 1 "
        f"and max_seq_length - 4 (the original: 128 and 512).")
  metadata = {
      "format": _CACHE_FORMAT,
      "task": "race",
      "max_seq_length": settings.max_seq_length,
      "max_qa_length": settings.max_qa_length,
      "vocab_fingerprint": vocab_fingerprint,
      "do_lower_case": bool(tokenizer.do_lower_case),
      "num_examples": len(examples),
      "examples_sha256": _examples_digest(examples),
  }
  feature_cache.ensure(
      path, metadata, len(examples), lambda:
      (_serialize(convert_example(example, tokenizer, settings), example.label)
       for example in examples))
  return path, len(examples)


def _examples_digest(examples: Sequence[RaceExample]) -> str:
  digest = hashlib.sha256()
  for example in examples:
    digest.update(json.dumps(dataclasses.astuple(example), ensure_ascii=False).encode() + b"\n")
  return digest.hexdigest()


def _serialize(features: dict[str, List[List[int]]], label: int) -> bytes:
  """One tf.train.Example in the original run_race schema (options flattened)."""

  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

  record = {name: ints(sum(rows, [])) for name, rows in features.items()}
  record["label_ids"] = ints([label])
  record["is_real_example"] = ints([1])
  return tf.train.Example(features=tf.train.Features(feature=record)).SerializeToString()


def race_dataset(path: str, *, batch_size: int, max_seq_length: int, is_training: bool,
                 seed: int = 0, input_pipeline_id: int = 0, num_input_pipelines: int = 1,
                 num_choices: int = NUM_CHOICES) -> tf.data.Dataset:
  """Batches of RACE features: input_word_ids, input_mask, input_type_ids int32 [B, 4, T],
  label_ids and is_real_example int32 [B].

  The classifier's pipeline (`classifier_data.classifier_dataset`, i.e.
  `record_dataset.fine_tuning_dataset`: the original's shuffle buffer, static batches, eval batches
  padded with is_real_example 0) over the flattened records of `cached_race_features` (or of the
  original run_race), reshaped per option.
  """
  dataset = classifier_data.classifier_dataset(path, batch_size=batch_size,
                                               max_seq_length=num_choices * max_seq_length,
                                               is_training=is_training, is_regression=False,
                                               seed=seed, input_pipeline_id=input_pipeline_id,
                                               num_input_pipelines=num_input_pipelines)

  def per_option(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    return {
        name: (tf.reshape(value, [batch_size, num_choices, max_seq_length])
               if value.shape.rank == 2 else value) for name, value in batch.items()
    }

  return dataset.map(per_option)


def optional_path(path: Optional[str], cached_dir: str, split: str) -> str:
  """An explicit record file (the original's --train_file, ...) or the cache's."""
  return path or record_path(cached_dir, split)
