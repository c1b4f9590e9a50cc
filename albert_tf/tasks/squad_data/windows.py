"""Windows over a tokenized paragraph -> InputFeatures, for the WordPiece path.

The SentencePiece path gets its windows from tf-models' `squad_lib_sp.convert_examples_to_features`,
which is the original algorithm. That function cannot be fed other tokens: it tokenizes with
`tokenizer.sp_model` and aligns pieces with its own SentencePiece-specific LCS inside the same loop,
with no entry point between alignment and windowing. So the WordPiece path, whose alignment is exact
(wordpiece_alignment.py), builds its windows here, with the same rules and the same InputFeatures
fields; tests/test_squad_features.py checks that these windows equal squad_lib_sp's on the same
tokens.

The rules (the original's): windows of at most max_seq_length - len(question) - 3 paragraph tokens,
each starting doc_stride tokens after the previous one, the last ending at the paragraph's end;
`[CLS] question [SEP] window [SEP]` with segment ids 0 then 1, zero-padded; a token is "max
context" in the window where min(left, right context) + 0.01 * window length is largest; in
training a window that does not contain the whole answer, and an unanswerable question, are
labelled at [CLS] (position 0) and marked impossible. `paragraph_mask` is 1 on [CLS] and the window
tokens (tf-models' convention; the original's p_mask is 1 - paragraph_mask).
"""

import dataclasses
from typing import Callable, List, Optional, Tuple

from official.nlp.data.squad_lib_sp import InputFeatures


@dataclasses.dataclass
class TokenizedExample:
  """An example's question and paragraph as token ids, before windowing.

  Attributes:
    query_ids: question ids, already truncated to max_query_length.
    doc_ids: paragraph token ids.
    tok_start_to_orig_index: first paragraph character of each paragraph token.
    tok_end_to_orig_index: last paragraph character of each paragraph token.
    tok_start_position: first answer token (training, answerable), else None.
    tok_end_position: last answer token (training, answerable), else None.
    is_impossible: the question has no answer (training).
  """
  query_ids: List[int]
  doc_ids: List[int]
  tok_start_to_orig_index: List[int]
  tok_end_to_orig_index: List[int]
  tok_start_position: Optional[int] = None
  tok_end_position: Optional[int] = None
  is_impossible: bool = False


def doc_spans(num_tokens: int, max_tokens_for_doc: int, doc_stride: int) -> List[Tuple[int, int]]:
  """(start, length) of each window over `num_tokens` paragraph tokens.

  Example:
    >>> doc_spans(10, 4, 3)
    [(0, 4), (3, 4), (6, 4)]
  """
  spans, start = [], 0
  while start < num_tokens:
    length = min(num_tokens - start, max_tokens_for_doc)
    spans.append((start, length))
    if start + length == num_tokens:
      break
    start += min(length, doc_stride)
  return spans


def is_max_context(spans: List[Tuple[int, int]], span_index: int, position: int) -> bool:
  """Whether window `span_index` gives paragraph token `position` its most context."""
  best_score, best_index = None, None
  for index, (start, length) in enumerate(spans):
    end = start + length - 1
    if position < start or position > end:
      continue
    score = min(position - start, end - position) + 0.01 * length
    if best_score is None or score > best_score:
      best_score, best_index = score, index
  return span_index == best_index


def _positions(example: TokenizedExample, span: Tuple[int, int],
               doc_offset: int) -> Tuple[int, int, bool]:
  """Training labels of one window: (start, end, impossible); [CLS] = 0 when not inside."""
  if example.is_impossible:
    return 0, 0, True
  start, length = span
  if example.tok_start_position < start or example.tok_end_position > start + length - 1:
    return 0, 0, True
  return (example.tok_start_position - start + doc_offset,
          example.tok_end_position - start + doc_offset, False)


def window_features(example: TokenizedExample, example_index: int, first_unique_id: int,
                    max_seq_length: int, doc_stride: int, is_training: bool, cls_id: int,
                    sep_id: int, id_to_piece: Callable[[int], str]) -> List[InputFeatures]:
  """The InputFeatures of one example, as squad_lib_sp.convert_examples_to_features makes them.

  Args:
    example: the tokenized example.
    example_index: its index in the converted list (None is stored in training, as the original).
    first_unique_id: the unique_id of the first window; the others follow.
    max_seq_length: tokens per window, padding included.
    doc_stride: window stride in paragraph tokens.
    is_training: fill start/end positions and is_impossible.
    cls_id, sep_id: the ids of [CLS] and [SEP].
    id_to_piece: maps ids to tokens (for InputFeatures.tokens, which squad post-processing reads).

  Returns:
    One feature per window.
  """
  query = example.query_ids
  spans = doc_spans(len(example.doc_ids), max_seq_length - len(query) - 3, doc_stride)
  doc_offset = len(query) + 2
  features = []
  for span_index, (start, length) in enumerate(spans):
    tokens = [cls_id] + query + [sep_id]
    paragraph_mask = [1] + [0] * (len(query) + 1)
    token_is_max_context = {
        doc_offset + i: is_max_context(spans, span_index, start + i) for i in range(length)
    }
    tokens += example.doc_ids[start:start + length] + [sep_id]
    paragraph_mask += [1] * length + [0]
    segment_ids = [0] * doc_offset + [1] * (length + 1)
    paragraph_len = len(tokens)
    padding = max_seq_length - paragraph_len
    input_mask = [1] * paragraph_len + [0] * padding
    tokens += [0] * padding
    segment_ids += [0] * padding
    paragraph_mask += [0] * padding
    start_position = end_position = None
    span_is_impossible = example.is_impossible
    if is_training:
      start_position, end_position, span_is_impossible = _positions(example, (start, length),
                                                                    doc_offset)
    features.append(
        InputFeatures(unique_id=first_unique_id + span_index,
                      example_index=None if is_training else example_index,
                      doc_span_index=span_index,
                      tok_start_to_orig_index=example.tok_start_to_orig_index[start:start + length],
                      tok_end_to_orig_index=example.tok_end_to_orig_index[start:start + length],
                      token_is_max_context=token_is_max_context,
                      tokens=[id_to_piece(token) for token in tokens], input_ids=tokens,
                      input_mask=input_mask, segment_ids=segment_ids, paragraph_len=paragraph_len,
                      class_index=0, paragraph_mask=paragraph_mask, start_position=start_position,
                      end_position=end_position, is_impossible=span_is_impossible))
  return features
