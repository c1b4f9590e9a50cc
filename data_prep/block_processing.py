"""Work of one block: tokenize its documents once, build the instances of every dupe pass, mask,
serialize, frame and key them. One pure function of the block and the config, called by both
engines: the local worker processes (pipeline.py) and the Beam pipeline (beam_pipeline.py).
Imports no TensorFlow (Beam workers need only numpy, sentencepiece, jieba and absl)."""

import random
from typing import List, Tuple

import numpy as np

from data_prep import example_codec
from data_prep import instances
from data_prep import masking
from data_prep import sharded_writer
from data_prep import stats as stats_lib
from data_prep.chinese_words import ChineseWholeWordSegmentEncoder
from data_prep.corpus_files import Block
from data_prep.pretraining_data_config import PretrainingDataConfig
from data_prep.pretraining_data_config import load_tokenizer
from data_prep.segment_encoding import SentencePieceSegmentEncoder
from data_prep.segment_encoding import WordPieceSegmentEncoder

# Masked instances are serialized in batches of about this many, which bounds a worker's memory to
# the block's serialized records plus one batch.
_SERIALIZE_EVERY = 4096


class BlockProcessor:
  """Turns a block of raw documents into keyed, framed TFRecords (one per worker process)."""

  def __init__(self, config: PretrainingDataConfig):
    self.config = config
    tokenizer = load_tokenizer(config)
    if config.do_chinese_wwm:
      self.encoder = ChineseWholeWordSegmentEncoder(tokenizer)
    elif tokenizer.is_sentencepiece:
      self.encoder = SentencePieceSegmentEncoder(tokenizer)
    else:
      self.encoder = WordPieceSegmentEncoder(tokenizer)
    self.cls_id = tokenizer.cls_id
    self.sep_id = tokenizer.sep_id
    self.options = masking.MaskingOptions(
        masked_lm_prob=config.masked_lm_prob,
        max_predictions_per_seq=config.max_predictions_per_seq, ngram=config.ngram,
        favor_shorter_ngram=config.favor_shorter_ngram,
        do_whole_word_mask=config.do_whole_word_mask or config.do_chinese_wwm,
        do_permutation=config.do_permutation, mask_id=tokenizer.mask_id,
        random_word_ids=list(tokenizer.vocab.values()))
    self.cumulative = masking.cumulative_ngram_probabilities(config.ngram,
                                                             config.favor_shorter_ngram)
    self.key_salt = sharded_writer.key_salt(config.random_seed)
    # Dynamic-masking records carry no masked-LM features (0 prediction slots).
    self.num_predictions = 0 if config.dynamic_masking else (config.max_predictions_per_seq *
                                                             (2 if config.do_permutation else 1))

  def process(self, block: Block) -> Tuple[List[sharded_writer.KeyedRecord], stats_lib.DataStats]:
    """All instances of all dupe passes over the block's documents, framed and keyed.

    Every random choice comes from a generator seeded by (random_seed, pass, file index, document
    offset), and the keys (`sharded_writer.record_keys`) decide the output order, so the result
    depends on the block alone: not on the worker, the process or the engine that runs it.
    """
    config = self.config
    indexed = []
    for offset, lines in zip(block.document_offsets, block.documents):
      segments = self.encoder.encode_lines(lines)
      if segments:
        indexed.append((offset, segments))
    documents = [segments for _, segments in indexed]
    block_stats = stats_lib.DataStats(documents=len(documents),
                                      segments=sum(len(d) for d in documents),
                                      replaced_bytes=block.replaced_bytes)
    records = []
    batch = _InstanceBatch()
    for pass_index in range(config.dupe_factor):
      for local_index, (offset, _) in enumerate(indexed):
        rng = random.Random(f"{config.random_seed}:{pass_index}:{block.file_index}:{offset}")
        pairs = instances.create_sentence_pairs(documents, local_index, config.max_seq_length,
                                                config.short_seq_prob, config.random_next_sentence,
                                                rng)
        for pair in pairs:
          batch.add(self._instance(pair, rng), len(pair.tokens_a.ids), pair.is_random_next)
        if len(batch.masked) >= _SERIALIZE_EVERY:
          records.extend(
              batch.serialize_into(block_stats, config.max_seq_length, self.num_predictions))
          batch = _InstanceBatch()
    records.extend(batch.serialize_into(block_stats, config.max_seq_length, self.num_predictions))
    return sharded_writer.record_keys(example_codec.frame_tfrecords(records),
                                      self.key_salt), block_stats

  def _instance(self, pair: instances.SentencePair, rng: random.Random) -> masking.MaskedSequence:
    """[CLS] A [SEP] B [SEP], masked (or left unmasked for --dynamic_masking)."""
    ids = np.concatenate(([self.cls_id], pair.tokens_a.ids, [self.sep_id], pair.tokens_b.ids,
                          [self.sep_id])).astype(np.int32)
    starts = np.concatenate(([True], pair.tokens_a.starts, [True], pair.tokens_b.starts, [True]))
    if self.config.dynamic_masking:
      return masking.unmasked_sequence(ids, starts, len(pair.tokens_a.ids))
    return masking.mask_sequence(ids, starts, len(pair.tokens_a.ids), self.options, self.cumulative,
                                 rng)


class _InstanceBatch:
  """Masked instances of a block, serialized together into tf.train.Examples."""

  def __init__(self):
    self.masked = []
    self.num_a = []
    self.labels = []

  def add(self, masked: masking.MaskedSequence, num_a: int, is_random_next: bool) -> None:
    self.masked.append(masked)
    self.num_a.append(num_a)
    self.labels.append(int(is_random_next))

  def serialize_into(self, block_stats: stats_lib.DataStats, max_seq_length: int,
                     num_predictions: int) -> List[bytes]:
    """Adds the instances to `block_stats` and returns them serialized."""
    self._count_into(block_stats)
    return self._serialize(max_seq_length, num_predictions)

  def _count_into(self, block_stats: stats_lib.DataStats) -> None:
    for masked in self.masked:
      block_stats.tokens += len(masked.ids)
      block_stats.predictions += len(masked.positions)
      block_stats.masked += masked.replacement_counts[0]
      block_stats.kept += masked.replacement_counts[1]
      block_stats.randomized += masked.replacement_counts[2]
      block_stats.span_words.update(masked.span_words)
    block_stats.instances += len(self.masked)
    block_stats.random_next_labels += sum(self.labels)

  def _serialize(self, max_seq_length: int, num_predictions: int) -> List[bytes]:
    """The original's features (reference §4.1), in its order, padded with zeros.

    With `num_predictions` 0 (dynamic masking) the masked_lm_* features are left out.
    """
    if not self.masked:
      return []
    lengths = np.array([len(m.ids) for m in self.masked])
    counts = np.array([len(m.positions) for m in self.masked])
    in_sequence = np.arange(max_seq_length)[None, :] < lengths[:, None]
    in_predictions = np.arange(num_predictions)[None, :] < counts[:, None]

    def padded(values, valid, dtype=np.int64):
      matrix = np.zeros(valid.shape, dtype=dtype)
      matrix[valid] = np.concatenate(values) if values else []
      return matrix

    second_segment = np.arange(max_seq_length)[None, :] >= np.array(self.num_a)[:, None] + 2
    features = [
        ("input_ids", padded([m.ids for m in self.masked], in_sequence)),
        ("input_mask", in_sequence.astype(np.int64)),
        ("segment_ids", (in_sequence & second_segment).astype(np.int64)),
        ("token_boundary", padded([m.token_boundary for m in self.masked], in_sequence)),
    ]
    if num_predictions:
      features += [
          ("masked_lm_positions", padded([m.positions for m in self.masked], in_predictions)),
          ("masked_lm_ids", padded([m.labels for m in self.masked], in_predictions)),
          ("masked_lm_weights", in_predictions.astype(np.float32)),
      ]
    features.append(("next_sentence_labels", np.array(self.labels, dtype=np.int64)[:, None]))
    return example_codec.serialize_examples(features)
