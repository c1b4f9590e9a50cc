"""SQuAD features: SentencePiece features equal an independent implementation of the original
algorithm (squad_utils.convert_examples_to_features, written here from its description, without
tf-models), the WordPiece path's exact ids and character spans on Chinese text, and the WordPiece
windows equal squad_lib_sp's windows on the same tokens."""

import dataclasses
import random
from typing import Dict, List, Optional

import pytest

from albert_tf import tokenization
from albert_tf.tasks import squad_data as sd
from albert_tf.tasks.squad_data import windows
from albert_tf.tasks.squad_data import wordpiece_alignment
from tests import squad_fixtures
from tests import text_fixtures

UNDERLINE = "\u2581"
# Unicode (accents, NFD marks, a ligature, CJK, emoji), whitespace runs, digit-comma numbers.
PARAGRAPHS = [
    "The harbour town woke slowly.  Marta opened the café at six,\tas she had done for "
    "almost thirty years. Her first customer was the lighthouse keeper, who bought two loaves.",
    "In 1990, the council decided to rebuild the old market hall. The project cost 1,250,000 "
    "pounds and took   nearly four years.\n\nCritics said the new roof looked like a boat 🙂.",
    "ALBERT 是一种轻量级的 BERT 模型。 The naïve re\u0301sume\u0301 of the ﬁrst model was "
    "written in English and 中文 by José, who liked tea.",
]
# (paragraph index, question, answer or None for unanswerable).
QUESTIONS = [
    (0, "Who opened the café?", "Marta"),
    (0, "When did Marta open the café?", "at six"),
    (0, "What did the lighthouse keeper buy every single morning of the year?", "two loaves"),
    (0, "Who closed the harbour?", None),
    (1, "When did the council decide?", "1990"),
    (1, "How much did the project cost?", "1,250,000 pounds"),
    (1, "What did the roof look like?", "a boat 🙂"),
    (1, "Who built the bridge?", None),
    (2, "Who wrote the résumé?", "José"),
    (2, "What is ALBERT?", "一种轻量级的 BERT 模型"),
    (2, "What was ﬁrst written?", "re\u0301sume\u0301 of the ﬁrst model"),
    (2, "What did José like?", "tea"),
]
SETTINGS = [
    sd.FeatureSettings(max_seq_length=32, doc_stride=5, max_query_length=8),
    sd.FeatureSettings(max_seq_length=40, doc_stride=11, max_query_length=12),
    sd.FeatureSettings(max_seq_length=128, doc_stride=128, max_query_length=64),
]


def _examples(is_training: bool) -> List[sd.SquadExample]:
  examples = []
  for index, (paragraph, question, answer) in enumerate(QUESTIONS):
    text = PARAGRAPHS[paragraph]
    example = sd.SquadExample(qas_id=f"q{index}", question_text=question, paragraph_text=text)
    if is_training:
      example.is_impossible = answer is None
      example.orig_answer_text = answer or ""
      example.start_position = -1 if answer is None else text.index(answer)
    examples.append(example)
  return examples


# ---------------------------------------------------------------------------------------------
# The reference: the original algorithm, written from its description.


@dataclasses.dataclass
class RefFeature:
  unique_id: int
  example_index: Optional[int]
  doc_span_index: int
  tok_start_to_orig_index: List[int]
  tok_end_to_orig_index: List[int]
  token_is_max_context: Dict[int, bool]
  input_ids: List[int]
  input_mask: List[int]
  segment_ids: List[int]
  p_mask: List[int]
  paragraph_len: int
  start_position: Optional[int]
  end_position: Optional[int]
  is_impossible: bool


def _lcs_alignment(source: str, target: str, lower: bool):
  """The original's banded LCS between the paragraph (`source`) and the pieces' text (`target`).

  Cells outside the band hold 0; a cell prefers "up" (drop a source char), then "left" (drop a
  target char) when strictly larger, then "diagonal" on a match when strictly larger. The band
  is |n - m| + 5 wide, doubled once if under 80% of the source matched.
  """
  n, m = len(source), len(target)
  normalized = [tokenization.preprocess_text(c, remove_space=False, lower=lower) for c in source]
  width = abs(n - m) + 5
  for _ in range(2):
    score = [[0.0] * m for _ in range(n)]
    move = {}
    for i in range(n):
      for j in range(max(0, i - width), min(m, i + width)):
        best = score[i - 1][j] if i > 0 else 0.0
        if i > 0:
          move[i, j] = "up"
        if j > 0 and score[i][j - 1] > best:
          best, move[i, j] = score[i][j - 1], "left"
        diagonal = score[i - 1][j - 1] if i > 0 and j > 0 else 0.0
        if normalized[i] == target[j] and diagonal + 1 > best:
          best, move[i, j] = diagonal + 1, "diagonal"
        score[i][j] = best
    if score[n - 1][m - 1] > 0.8 * n:
      break
    width *= 2
  source_to_target, target_to_source = [None] * n, [None] * m
  i, j = n - 1, m - 1
  while i >= 0 and j >= 0 and (i, j) in move:
    if move[i, j] == "diagonal":
      source_to_target[i], target_to_source[j] = j, i
      i, j = i - 1, j - 1
    elif move[i, j] == "left":
      j -= 1
    else:
      i -= 1
  failed = all(v is None for v in source_to_target) or score[n - 1][m - 1] < 0.8 * n
  return source_to_target, target_to_source, failed


def _nearest(index: List[Optional[int]], pos: int, limit: Optional[int], is_start: bool) -> int:
  """The original `_convert_index`: map `pos` through `index`, interpolating unmatched slots."""
  if index[pos] is not None:
    return index[pos]
  after = pos
  while after < len(index) - 1 and index[after] is None:
    after += 1
  before = pos
  while before > 0 and index[before] is None:
    before -= 1
  if index[before] is None:  # nothing matched before pos
    if index[after] >= 1:
      return 0 if is_start else index[after] - 1
    return index[after]
  if index[after] is None:  # nothing matched after pos
    if limit is not None and index[before] < limit - 1:
      return index[before] + 1 if is_start else limit - 1
    return index[before]
  if index[after] > index[before] + 1:
    return index[before] + 1 if is_start else index[after] - 1
  return index[after] if is_start else index[before]


def _reference_tokens(example, tokenizer, settings: sd.FeatureSettings, is_training: bool):
  """(query ids, paragraph ids, first and last character of each piece, answer pieces or None),
  or None when the alignment fails (the original drops the example)."""
  sp, lower = tokenizer.sp_model, tokenizer.do_lower_case
  question = tokenization.preprocess_text(example.question_text, lower=lower)
  query = [sp.PieceToId(p) for p in tokenization.encode_pieces(sp, question)]
  query = query[:settings.max_query_length]
  text = example.paragraph_text
  pieces = tokenization.encode_pieces(sp, tokenization.preprocess_text(text, lower=lower))
  surfaces = [piece.replace(UNDERLINE, " ") for piece in pieces]
  char_piece, piece_first, piece_last = [], [], []
  for k, surface in enumerate(surfaces):
    piece_first.append(len(char_piece))
    char_piece += [k] * len(surface)
    piece_last.append(len(char_piece) - 1)
  orig_to_cat, cat_to_orig, failed = _lcs_alignment(text, "".join(surfaces), lower)
  if failed:
    return None
  starts = [_nearest(cat_to_orig, piece_first[k], len(text), True) for k in range(len(pieces))]
  ends = [_nearest(cat_to_orig, piece_last[k], len(text), False) for k in range(len(pieces))]
  answer = None
  if is_training and not example.is_impossible:
    first = example.start_position
    last = first + len(example.orig_answer_text) - 1
    answer = (char_piece[_nearest(orig_to_cat, first, None,
                                  True)], char_piece[_nearest(orig_to_cat, last, None, False)])
  return query, [sp.PieceToId(p) for p in pieces], starts, ends, answer


def _reference_features(examples, tokenizer, settings: sd.FeatureSettings, is_training: bool):
  cls_id, sep_id = tokenizer.sp_model.PieceToId("[CLS]"), tokenizer.sp_model.PieceToId("[SEP]")
  features, unique_id = [], 1000000000
  for example_index, example in enumerate(examples):
    tokens = _reference_tokens(example, tokenizer, settings, is_training)
    if tokens is None:
      continue
    query, doc, starts, ends, answer = tokens
    spans = windows_of(len(doc), settings.max_seq_length - len(query) - 3, settings.doc_stride)
    for span_index, (start, length) in enumerate(spans):
      ids = [cls_id] + query + [sep_id]
      offset = len(ids)
      ids += doc[start:start + length] + [sep_id]
      used, pad = len(ids), settings.max_seq_length - len(ids)
      positions, impossible = (None, None), bool(example.is_impossible)
      if is_training:
        inside = answer is not None and start <= answer[0] and answer[1] < start + length
        positions = ((answer[0] - start + offset, answer[1] - start + offset) if inside else (0, 0))
        impossible = not inside
      features.append(
          RefFeature(
              unique_id=unique_id, example_index=None if is_training else example_index,
              doc_span_index=span_index, tok_start_to_orig_index=starts[start:start + length],
              tok_end_to_orig_index=ends[start:start + length], token_is_max_context={
                  offset + i: best_window(spans, start + i) == span_index for i in range(length)
              }, input_ids=ids + [0] * pad, input_mask=[1] * used + [0] * pad,
              segment_ids=[0] * offset + [1] * (length + 1) + [0] * pad,
              p_mask=[0] + [1] * (offset - 1) + [0] * length + [1] + [1] * pad, paragraph_len=used,
              start_position=positions[0], end_position=positions[1], is_impossible=impossible))
      unique_id += 1
  return features


def windows_of(num_tokens: int, size: int, stride: int):
  """Windows of `size` tokens every `stride` tokens; the last one reaches the end."""
  result = [(0, min(size, num_tokens))]
  while result[-1][0] + result[-1][1] < num_tokens:
    start = result[-1][0] + min(result[-1][1], stride)
    result.append((start, min(size, num_tokens - start)))
  return result


def best_window(spans, position: int) -> int:
  """The first window with the largest min(left, right) context + 0.01 * its length."""
  scores = [(min(position - s, s + n - 1 - position) + 0.01 * n, -k)
            for k, (s, n) in enumerate(spans)
            if s <= position < s + n]
  return -max(scores)[1]


# ---------------------------------------------------------------------------------------------


@pytest.fixture(name="spm_tokenizer", scope="module")
def fixture_spm_tokenizer(tmp_path_factory):
  model = text_fixtures.build_sentencepiece_model(tmp_path_factory.mktemp("spm"))
  return sd.make_tokenizer(spm_model_file=model, vocab_file=None, do_lower_case=True)


def _ours(examples, tokenizer, settings, is_training):
  features = []
  sd.convert_examples_to_features(examples, tokenizer, settings, is_training, features.append)
  return features


def _as_reference(feature) -> RefFeature:
  return RefFeature(unique_id=feature.unique_id, example_index=feature.example_index,
                    doc_span_index=feature.doc_span_index,
                    tok_start_to_orig_index=list(feature.tok_start_to_orig_index),
                    tok_end_to_orig_index=list(feature.tok_end_to_orig_index),
                    token_is_max_context=dict(feature.token_is_max_context),
                    input_ids=list(feature.input_ids), input_mask=list(feature.input_mask),
                    segment_ids=list(feature.segment_ids), p_mask=sd.p_mask(feature),
                    paragraph_len=feature.paragraph_len, start_position=feature.start_position,
                    end_position=feature.end_position, is_impossible=bool(feature.is_impossible))


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"seq{s.max_seq_length}")
@pytest.mark.parametrize("is_training", [True, False], ids=["train", "predict"])
def test_sentencepiece_features_equal_the_original_algorithm(spm_tokenizer, settings, is_training):
  examples = _examples(is_training)
  ours = [_as_reference(f) for f in _ours(examples, spm_tokenizer, settings, is_training)]
  reference = _reference_features(examples, spm_tokenizer, settings, is_training)
  assert len(ours) == len(reference)
  for got, want in zip(ours, reference):
    assert got == want
  if settings.max_seq_length == 32:
    # The fixture really exercises several windows, edges and unanswerable windows.
    assert len(ours) > 4 * len(examples)
    assert is_training is False or {f.is_impossible for f in ours} == {True, False}


def test_sentencepiece_answers_map_back_to_their_text(spm_tokenizer):
  for example in _examples(True):
    features = _ours([example], spm_tokenizer, SETTINGS[1], True)
    answered = [f for f in features if not f.is_impossible]
    assert bool(answered) == (not example.is_impossible)
    for feature in features:
      if feature.is_impossible:
        assert feature.start_position == feature.end_position == 0
        continue
      offset = feature.tokens.index("[SEP]") + 1
      first = feature.tok_start_to_orig_index[feature.start_position - offset]
      last = feature.tok_end_to_orig_index[feature.end_position - offset]
      assert example.paragraph_text[first:last + 1].strip() == example.orig_answer_text


@pytest.mark.parametrize("is_training", [True, False], ids=["train", "predict"])
def test_wordpiece_windows_equal_squad_lib_sp_windows_on_the_same_tokens(
    spm_tokenizer, is_training):
  # The WordPiece path's windowing (windows.py) fed with the reference SentencePiece tokens gives
  # exactly squad_lib_sp's features: one set of window rules for both paths.
  settings = SETTINGS[0]
  examples = _examples(is_training)
  expected = [_as_reference(f) for f in _ours(examples, spm_tokenizer, settings, is_training)]
  got, unique_id = [], sd.BASE_UNIQUE_ID
  for example_index, example in enumerate(examples):
    query, doc, starts, ends, answer = _reference_tokens(example, spm_tokenizer, settings,
                                                         is_training)
    tokenized = windows.TokenizedExample(query_ids=query, doc_ids=doc,
                                         tok_start_to_orig_index=starts, tok_end_to_orig_index=ends,
                                         tok_start_position=answer[0] if answer else None,
                                         tok_end_position=answer[1] if answer else None,
                                         is_impossible=bool(is_training and example.is_impossible))
    features = windows.window_features(tokenized, example_index, unique_id, settings.max_seq_length,
                                       settings.doc_stride, is_training, spm_tokenizer.cls_id,
                                       spm_tokenizer.sep_id, spm_tokenizer.sp_model.IdToPiece)
    unique_id += len(features)
    got += [_as_reference(f) for f in features]
  assert got == expected


# ---------------------------------------------------------------------------------------------
# WordPiece (Chinese SQuAD-format data such as CMRC 2018).

WORDPIECE_VOCAB = ("[PAD] [UNK] [CLS] [SEP] [MASK] 小 河 的 房 间 是 号 。 "
                   "b ##12 cafe play ##ing naive !").split()
# Upper case, an accented letter, an NFD combining mark, a whitespace run and a tab.
WORDPIECE_TEXT = "小河的房间是B12号。  Café playing\tnai\u0308ve!"


@pytest.fixture(name="small_wordpiece", scope="module")
def fixture_small_wordpiece(tmp_path_factory):
  path = tmp_path_factory.mktemp("wordpiece") / "vocab.txt"
  path.write_text("\n".join(WORDPIECE_VOCAB) + "\n", encoding="utf-8")
  return sd.make_tokenizer(spm_model_file=None, vocab_file=str(path), do_lower_case=True)


def test_wordpiece_alignment_gives_each_piece_its_exact_characters(small_wordpiece):
  aligned = wordpiece_alignment.align_wordpieces(small_wordpiece, WORDPIECE_TEXT)
  assert [(t.piece, t.start, t.end) for t in aligned] == [("小", 0, 0), ("河", 1, 1), ("的", 2, 2),
                                                          ("房", 3, 3), ("间", 4, 4), ("是", 5, 5),
                                                          ("b", 6, 6), ("##12", 7, 8), ("号", 9, 9),
                                                          ("。", 10, 10), ("cafe", 13, 16),
                                                          ("play", 18, 21), ("##ing", 22, 24),
                                                          ("naive", 26, 31), ("!", 32, 32)]


def test_wordpiece_features_have_exact_ids_windows_and_answer_positions(small_wordpiece):
  example = sd.SquadExample("zh0", "小河的房间是？", WORDPIECE_TEXT, orig_answer_text="B12号",
                            start_position=6)
  settings = sd.FeatureSettings(max_seq_length=16, doc_stride=3, max_query_length=4)
  features = []
  stats = sd.convert_examples_to_features([example], small_wordpiece, settings, True,
                                          features.append)
  assert stats == sd.ConversionStats(num_features=3, truncated_questions=1, dropped_examples=0)
  doc = [5, 6, 7, 8, 9, 10, 13, 14, 11, 12, 15, 16, 17, 18, 19]
  query = [5, 6, 7, 8]  # 小河的房 (the question's 7 tokens truncated to 4)
  for index, (start, answer_start) in enumerate([(0, 12), (3, 9), (6, 6)]):
    feature = features[index]
    assert feature.unique_id == sd.BASE_UNIQUE_ID + index
    assert feature.input_ids == [2] + query + [3] + doc[start:start + 9] + [3]
    assert feature.segment_ids == [0] * 6 + [1] * 10
    assert sd.p_mask(feature) == [0] + [1] * 5 + [0] * 9 + [1]
    assert (feature.start_position, feature.end_position) == (answer_start, answer_start + 2)
    assert not feature.is_impossible
    assert feature.tokens[feature.start_position:feature.end_position + 1] == ["b", "##12", "号"]
    assert feature.tok_start_to_orig_index[feature.start_position - 6] == 6
    assert feature.tok_end_to_orig_index[feature.end_position - 6] == 9
  # Token 7 (##12) has most context in the middle window (4 each side); token 0 is only in the
  # first.
  assert features[1].token_is_max_context[6 + 7 - 3]
  assert not features[0].token_is_max_context[6 + 7]
  assert not features[2].token_is_max_context[6 + 7 - 6]
  assert features[0].token_is_max_context[6]


def test_wordpiece_training_window_without_the_answer_is_labelled_at_cls(small_wordpiece):
  example = sd.SquadExample("zh1", "小河", WORDPIECE_TEXT, orig_answer_text="naïve",
                            start_position=WORDPIECE_TEXT.index("nai"))
  example.orig_answer_text = WORDPIECE_TEXT[example.start_position:-1]
  settings = sd.FeatureSettings(max_seq_length=12, doc_stride=4, max_query_length=2)
  features = []
  sd.convert_examples_to_features([example], small_wordpiece, settings, True, features.append)
  labels = [(f.start_position, f.end_position, f.is_impossible) for f in features]
  # 15 paragraph tokens, 7 per window: windows start at 0, 4, 8; "naive" is token 13.
  assert labels == [(0, 0, True), (0, 0, True), (4 + 13 - 8, 4 + 13 - 8, False)]


@pytest.fixture(name="fixture_wordpiece", scope="module")
def fixture_fixture_wordpiece(tmp_path_factory):
  vocab_file = text_fixtures.build_wordpiece_vocab(tmp_path_factory.mktemp("fixture_vocab"))
  return sd.make_tokenizer(spm_model_file=None, vocab_file=vocab_file, do_lower_case=True)


@pytest.mark.parametrize("version_2", [False, True], ids=["v1", "v2"])
def test_chinese_fixture_answers_map_back_to_the_exact_answer_characters(
    tmp_path, fixture_wordpiece, version_2):
  tokenizer = fixture_wordpiece
  path = str(tmp_path / "zh.json")
  data = squad_fixtures.write_squad_json(path, random.Random(3), 40, version_2, "zh")
  answers = squad_fixtures.gold_answers(data)
  examples = sd.read_squad_examples(path, is_training=True, version_2_with_negative=version_2)
  settings = sd.FeatureSettings(max_seq_length=24, doc_stride=6, max_query_length=10)
  mixed = 0
  for example in examples:
    features = []
    sd.convert_examples_to_features([example], tokenizer, settings, True, features.append)
    answered = [f for f in features if not f.is_impossible]
    assert bool(answered) == bool(answers[example.qas_id])
    for feature in answered:
      assert "[UNK]" not in feature.tokens[feature.start_position:feature.end_position + 1]
      offset = feature.tokens.index("[SEP]") + 1
      first = feature.tok_start_to_orig_index[feature.start_position - offset]
      last = feature.tok_end_to_orig_index[feature.end_position - offset]
      assert example.paragraph_text[first:last + 1] == answers[example.qas_id]
      mixed += any(c.isascii() for c in answers[example.qas_id])
  assert mixed > 0  # answers such as "B12号" mix ASCII and Chinese
