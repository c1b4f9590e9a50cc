"""Algorithm tests of create_pretraining_data against reference code written here from the
original's description (reference/original_albert.md §5), plus the record format."""

import random

import numpy as np
import pytest

from data_prep import example_codec
from data_prep import instances
from data_prep import masking
from data_prep.segment_encoding import Segment

CLS, SEP, MASK = 2, 3, 4

# ---------------------------------------------------------------------------------------------
# Reference implementations, list-based like the original (§5.2, §5.3, §5.4 - §5.7).


def reference_truncate(tokens_a, tokens_b, max_num_tokens, rng):
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    if rng.random() < 0.5:
      del trunc_tokens[0]
    else:
      trunc_tokens.pop()


def reference_pairs(all_documents, document_index, max_seq_length, short_seq_prob,
                    random_next_sentence, rng):
  document = all_documents[document_index]
  max_num_tokens = max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)
  out = []
  current_chunk, current_length, i = [], 0, 0
  while i < len(document):
    current_chunk.append(document[i])
    current_length += len(document[i])
    if i == len(document) - 1 or current_length >= target_seq_length:
      a_end = 1
      if len(current_chunk) >= 2:
        a_end = rng.randint(1, len(current_chunk) - 1)
      tokens_a = [t for seg in current_chunk[:a_end] for t in seg]
      tokens_b = []
      if len(current_chunk) == 1 or (random_next_sentence and rng.random() < 0.5):
        is_random_next = True
        target_b_length = target_seq_length - len(tokens_a)
        for _ in range(10):
          random_document_index = rng.randint(0, len(all_documents) - 1)
          if random_document_index != document_index:
            break
        random_document = all_documents[random_document_index]
        random_start = rng.randint(0, len(random_document) - 1)
        for j in range(random_start, len(random_document)):
          tokens_b.extend(random_document[j])
          if len(tokens_b) >= target_b_length:
            break
        i -= len(current_chunk) - a_end
      elif not random_next_sentence and rng.random() < 0.5:
        is_random_next = True
        tokens_b = [t for seg in current_chunk[a_end:] for t in seg]
        tokens_a, tokens_b = tokens_b, tokens_a
      else:
        is_random_next = False
        tokens_b = [t for seg in current_chunk[a_end:] for t in seg]
      reference_truncate(tokens_a, tokens_b, max_num_tokens, rng)
      out.append((tokens_a, tokens_b, is_random_next))
      current_chunk, current_length = [], 0
    i += 1
  return out


def reference_mask(tokens, is_start, num_a, rng, masked_lm_prob, max_predictions, ngram, whole_word,
                   vocab_ids):
  """§5.4 - §5.7 with the documented changes: n from `rng` (inverse CDF of 1/n weights), the start
  order from a forward Fisher-Yates shuffle drawn as it is consumed, and no word across [SEP]."""
  cand_indexes = []
  token_boundary = [0] * len(tokens)
  for i in range(len(tokens)):
    if i in (0, num_a + 1, len(tokens) - 1):
      token_boundary[i] = 1
      continue
    after_sep = i in (1, num_a + 2)
    if whole_word and cand_indexes and not is_start[i] and not after_sep:
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])
      if is_start[i]:
        token_boundary[i] = 1
  output = list(tokens)
  num_to_predict = min(max_predictions, max(1, int(round(len(tokens) * masked_lm_prob))))
  weights = [1.0 / n for n in range(1, ngram + 1)]
  cumulative = np.cumsum(np.array(weights) / sum(weights))
  ngram_indexes = [
      [cand_indexes[idx:idx + n] for n in range(1, ngram + 1)] for idx in range(len(cand_indexes))
  ]
  masked_lms, covered = [], set()
  for i in range(len(ngram_indexes)):
    if len(masked_lms) >= num_to_predict:
      break
    j = i + int(rng.random() * (len(ngram_indexes) - i))
    ngram_indexes[i], ngram_indexes[j] = ngram_indexes[j], ngram_indexes[i]
    cand_index_set = ngram_indexes[i]
    u = rng.random()
    n = next(k for k in range(ngram) if u < cumulative[k] or k == ngram - 1) + 1
    index_set = sum(cand_index_set[n - 1], [])
    n -= 1
    while len(masked_lms) + len(index_set) > num_to_predict:
      if n == 0:
        break
      index_set = sum(cand_index_set[n - 1], [])
      n -= 1
    if len(masked_lms) + len(index_set) > num_to_predict:
      continue
    if any(index in covered for index in index_set):
      continue
    for index in index_set:
      covered.add(index)
      if rng.random() < 0.8:
        output[index] = MASK
      elif rng.random() < 0.5:
        output[index] = tokens[index]
      else:
        output[index] = vocab_ids[rng.randint(0, len(vocab_ids) - 1)]
      masked_lms.append((index, tokens[index]))
  masked_lms.sort()
  return output, token_boundary, [p for p, _ in masked_lms], [label for _, label in masked_lms]


# ---------------------------------------------------------------------------------------------


def _random_documents(rng, num_documents=6):
  """Documents of segments of distinct ids (document d, segment s: ids from d*10000 + s*100)."""
  documents = []
  for d in range(num_documents):
    doc = []
    for s in range(rng.randint(1, 9)):
      length = rng.randint(1, 40)
      doc.append(list(range(d * 10000 + s * 100, d * 10000 + s * 100 + length)))
    documents.append(doc)
  return documents


def _as_segments(documents):
  return [[Segment(np.array(seg, dtype=np.int32), np.ones(len(seg), dtype=bool))
           for seg in doc]
          for doc in documents]


def test_truncation_matches_reference():
  for seed in range(200):
    rng = random.Random(seed)
    a, b = list(range(rng.randint(1, 60))), list(range(100, 100 + rng.randint(1, 60)))
    max_num_tokens = rng.randint(2, 80)
    expected_a, expected_b = list(a), list(b)
    reference_truncate(expected_a, expected_b, max_num_tokens, random.Random(seed))
    (a0, a1), (b0, b1) = instances.truncate_seq_pair(len(a), len(b), max_num_tokens,
                                                     random.Random(seed))
    assert (a[a0:a1], b[b0:b1]) == (expected_a, expected_b)


@pytest.mark.parametrize("random_next_sentence", [False, True])
def test_sentence_pairs_match_reference(random_next_sentence):
  for seed in range(60):
    documents = _random_documents(random.Random(seed))
    segments = _as_segments(documents)
    for document_index in range(len(documents)):
      args = (64, 0.3, random_next_sentence)
      expected = reference_pairs(documents, document_index, *args, random.Random(seed))
      got = instances.create_sentence_pairs(segments, document_index, *args, random.Random(seed))
      assert [(p.tokens_a.ids.tolist(), p.tokens_b.ids.tolist(), p.is_random_next) for p in got
             ] == expected


def test_sentence_order_labels_follow_structure_and_balance():
  """Label 0: B continues A; label 1: B precedes A (swap) or comes from another document."""
  swaps = in_order = 0
  for seed in range(300):
    documents = _random_documents(random.Random(seed), num_documents=4)
    segments = _as_segments(documents)
    for document_index in range(len(documents)):
      for pair in instances.create_sentence_pairs(segments, document_index, 128, 0.0, False,
                                                  random.Random(seed * 7 + document_index)):
        a, b = pair.tokens_a.ids, pair.tokens_b.ids
        same_document = a[0] // 10000 == b[0] // 10000
        if not pair.is_random_next:
          assert same_document and b[0] > a[-1]
          in_order += 1
        elif same_document and b[-1] < a[0]:
          swaps += 1
  total = swaps + in_order
  assert total > 1000
  assert abs(swaps / total - 0.5) < 4 * (0.25 / total)**0.5


@pytest.mark.parametrize("whole_word, ngram, prob", [(True, 3, 0.15), (False, 3, 0.15),
                                                     (True, 1, 0.2), (True, 4, 0.5)])
def test_masking_matches_reference(whole_word, ngram, prob):
  vocab_ids = list(range(50))
  options = masking.MaskingOptions(prob, 20, ngram, True, whole_word, False, MASK, vocab_ids)
  cumulative = masking.cumulative_ngram_probabilities(ngram, True)
  for seed in range(300):
    rng = random.Random(seed)
    num_a, num_b = rng.randint(1, 60), rng.randint(1, 60)
    tokens = [CLS] + [rng.randint(5, 49) for _ in range(num_a)] + [SEP]
    tokens += [rng.randint(5, 49) for _ in range(num_b)] + [SEP]
    is_start = [rng.random() < 0.6 for _ in tokens]
    expected = reference_mask(tokens, is_start, num_a, random.Random(seed + 1), prob, 20, ngram,
                              whole_word, vocab_ids)
    got = masking.mask_sequence(np.array(tokens, dtype=np.int32), np.array(is_start), num_a,
                                options, cumulative, random.Random(seed + 1))
    assert got.ids.tolist() == expected[0]
    assert got.token_boundary.tolist() == expected[1]
    assert got.positions == expected[2]
    assert got.labels == expected[3]


@pytest.mark.parametrize("num_tokens, expected", [(20, 3), (50, 8), (100, 15), (130, 20), (512, 20),
                                                  (10, 2), (3, 1), (30, 4)])
def test_prediction_budget_examples(num_tokens, expected):
  # 30 * 0.15 = 4.5 rounds to 4 (Python 3 banker's rounding, as the original under Python 3).
  assert masking.prediction_budget(num_tokens, 0.15, 20) == expected


def _span_statistics(pieces_per_word, num_sequences=1500):
  options = masking.MaskingOptions(0.15, 20, 3, True, True, False, MASK, list(range(1000)))
  cumulative = masking.cumulative_ngram_probabilities(3, True)
  rng = random.Random(7)
  counts = np.zeros(4)
  predictions = []
  for _ in range(num_sequences):
    starts = []
    while len(starts) < 509:
      size = rng.choice(pieces_per_word)
      starts += [True] + [False] * (size - 1)
    starts = np.array([True] + starts[:254] + [True] + starts[254:508] + [True])
    ids = np.full(len(starts), 7, dtype=np.int32)
    result = masking.mask_sequence(ids, starts, 254, options, cumulative, rng)
    predictions.append(len(result.positions))
    for n in result.span_words:
      counts[n] += 1
  return counts[1:] / counts.sum(), np.mean(predictions)


def test_span_length_distribution_matches_reference_simulation():
  """Reference §5.7 (T=512, cap 20): ~58/26/16% for one-piece words, ~61/25/14% for 1-3 pieces."""
  fractions, mean_predictions = _span_statistics([1])
  assert mean_predictions == 20
  np.testing.assert_allclose(fractions, [0.58, 0.26, 0.16], atol=0.02)
  fractions, mean_predictions = _span_statistics([1, 2, 3])
  np.testing.assert_allclose(fractions, [0.61, 0.25, 0.14], atol=0.02)
  assert mean_predictions > 19.9


def test_cumulative_ngram_probabilities():
  np.testing.assert_allclose(masking.cumulative_ngram_probabilities(3, True),
                             np.cumsum([6 / 11, 3 / 11, 2 / 11]))
  np.testing.assert_allclose(masking.cumulative_ngram_probabilities(3, False),
                             np.cumsum([2 / 11, 3 / 11, 6 / 11]))


def test_permutation_targets_are_disjoint_and_permuted():
  options = masking.MaskingOptions(0.15, 20, 3, True, True, True, MASK, list(range(50)))
  cumulative = masking.cumulative_ngram_probabilities(3, True)
  rng = random.Random(3)
  tokens = np.array([CLS] + list(range(5, 105)) + [SEP] + list(range(105, 205)) + [SEP],
                    dtype=np.int32)
  result = masking.mask_sequence(tokens, np.ones(len(tokens), dtype=bool), 100, options, cumulative,
                                 rng)
  assert len(result.positions) == 40 and len(set(result.positions)) == 40
  assert result.positions == sorted(result.positions)
  assert result.labels == [int(tokens[p]) for p in result.positions]
  untouched = np.setdiff1d(np.arange(len(tokens)), result.positions)
  assert (result.ids[untouched] == tokens[untouched]).all()


# ---------------------------------------------------------------------------------------------
# Record encoding


def test_crc32c_known_values():
  crcs = example_codec.crc32c_batch([b"123456789", b"", b"\x00" * 32, b"a"])
  assert crcs.tolist() == [0xE3069283, 0x0, 0x8A9136AA, 0xC1D04330]


def test_varints_match_protobuf_rules():
  values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**21, 2**28 + 5])
  expected = b"".join(_reference_varint(int(v)) for v in values)
  assert example_codec.varints(values)[0] == expected


def _reference_varint(value):
  out = []
  while True:
    byte = value & 0x7F
    value >>= 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def test_serialized_examples_parse_as_tf_train_example():
  from tensorflow.core.example import example_pb2  # pylint: disable=g-import-not-at-top
  ints = np.array([[0, 1, 300, 70000], [5, 0, 0, 2**30]])
  floats = np.array([[1.0, 0.5], [0.0, -2.25]], dtype=np.float32)
  for row, serialized in enumerate(example_codec.serialize_examples([("ids", ints),
                                                                     ("w", floats)])):
    example = example_pb2.Example.FromString(serialized)
    assert list(example.features.feature["ids"].int64_list.value) == ints[row].tolist()
    assert list(example.features.feature["w"].float_list.value) == floats[row].tolist()


def test_tfrecord_framing_matches_tensorflow_writer(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  records = [
      rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
      for n in (0, 1, 3, 4, 5, 8, 127, 128, 1000, 4099)
  ]
  path = str(tmp_path / "tf.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  assert b"".join(example_codec.frame_tfrecords(records)) == open(path, "rb").read()
