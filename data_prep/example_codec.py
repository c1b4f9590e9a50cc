"""Fast tf.train.Example serialization and TFRecord framing without TensorFlow.

The data workers must not import TensorFlow (start-up time and hundreds of MB per process), so the
protobuf wire format of `tf.train.Example` and the TFRecord framing (length, masked CRC-32C of the
length, data, masked CRC-32C of the data) are written here directly. Tests parse the output with
`tf.io.parse_single_example` / `tf.data.TFRecordDataset` and compare against `tf.io.TFRecordWriter`.

CRC-32C is computed for a whole batch of records at once with NumPy: one table lookup per byte
position across all records of the batch, so the Python overhead is per byte position, not per
byte.
"""

import struct
from typing import List, Sequence, Tuple

import numpy as np

# Wire-format tags: (field number << 3) | wire type 2 (length-delimited).
# Field 1: Example.features, Features.feature map entry, entry key, Int64List/FloatList.value.
_TAG_FIELD1 = b"\x0a"
_TAG_FIELD2 = b"\x12"  # map entry value, Feature.float_list
_TAG_FIELD3 = b"\x1a"  # Feature.int64_list

_CRC32C_POLYNOMIAL = 0x82F63B78
_CRC_MASK_DELTA = 0xA282EAD8


def _crc32c_table() -> np.ndarray:
  table = np.arange(256, dtype=np.uint32)
  for _ in range(8):
    table = np.where(table & 1, (table >> 1) ^ np.uint32(_CRC32C_POLYNOMIAL), table >> 1)
  return table.astype(np.uint32)


_CRC_TABLE = _crc32c_table()


def _varint(value: int) -> bytes:
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def varints(values: np.ndarray) -> Tuple[bytes, np.ndarray]:
  """Protobuf varint encoding of non-negative integers below 2**35, vectorized.

  Args:
    values: any shape; encoded in row-major order.

  Returns:
    (the encoded bytes, the byte count of each value, shaped like `values`).
  """
  values = np.asarray(values, dtype=np.uint64)
  num_bytes = np.ones(values.shape, dtype=np.int64)
  for shift in (7, 14, 21, 28):
    num_bytes += values >= (np.uint64(1) << np.uint64(shift))
  width = int(num_bytes.max()) if values.size else 1
  if width == 1:
    return values.astype(np.uint8).tobytes(), num_bytes
  flat = values.reshape(-1)
  planes = np.empty((flat.size, width), dtype=np.uint8)
  for column in range(width):
    group = (flat >> np.uint64(7 * column)) & np.uint64(0x7F)
    continues = num_bytes.reshape(-1) > column + 1
    planes[:, column] = group.astype(np.uint8) | (continues.astype(np.uint8) << 7)
  keep = np.arange(width)[None, :] < num_bytes.reshape(-1, 1)
  return planes[keep].tobytes(), num_bytes


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
  return tag + _varint(len(payload)) + payload


class _FeatureHeaders:
  """Bytes that precede a feature's packed values in a serialized Example, by payload length.

  The map entry (key, then the Feature holding an Int64List or FloatList) nests three lengths, all
  determined by the payload length, so each length's header is built once and cached.
  """

  def __init__(self, name: bytes, is_float: bool):
    self.key = _length_delimited(_TAG_FIELD1, name)
    self.feature_tag = _TAG_FIELD2 if is_float else _TAG_FIELD3
    self.cache = {}

  def __call__(self, payload_length: int) -> bytes:
    header = self.cache.get(payload_length)
    if header is None:
      value_list = _TAG_FIELD1 + _varint(payload_length)
      feature = self.feature_tag + _varint(len(value_list) + payload_length) + value_list
      value = _TAG_FIELD2 + _varint(len(feature) + payload_length) + feature
      entry_length = len(self.key) + len(value) + payload_length
      header = _TAG_FIELD1 + _varint(entry_length) + self.key + value
      self.cache[payload_length] = header
    return header


def serialize_examples(features: Sequence[Tuple[str, np.ndarray]]) -> List[bytes]:
  """Serialized `tf.train.Example`s, one per row of the feature matrices.

  Args:
    features: (name, matrix [num_examples, length]) in the order to write them. Float matrices
      become FloatLists; integer matrices (non-negative) become Int64Lists.

  Returns:
    One serialized Example per row.
  """
  columns = []
  for name, matrix in features:
    is_float = np.issubdtype(matrix.dtype, np.floating)
    if is_float:
      payload = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
      row_bytes = np.full(matrix.shape[0], 4 * matrix.shape[1], dtype=np.int64)
    else:
      payload, num_bytes = varints(matrix)
      row_bytes = num_bytes.sum(axis=1)
    offsets = np.concatenate(([0], np.cumsum(row_bytes))).tolist()
    columns.append((_FeatureHeaders(name.encode("utf-8"), is_float), payload, offsets))
  examples = []
  for row in range(features[0][1].shape[0]):
    parts = []
    for headers, payload, offsets in columns:
      begin, end = offsets[row], offsets[row + 1]
      parts.append(headers(end - begin))
      parts.append(payload[begin:end])
    entries = b"".join(parts)
    examples.append(_TAG_FIELD1 + _varint(len(entries)) + entries)
  return examples


def crc32c_batch(records: Sequence[bytes]) -> np.ndarray:
  """CRC-32C (Castagnoli) of each record, as uint32."""
  count = len(records)
  if count == 0:
    return np.zeros(0, dtype=np.uint32)
  lengths = np.fromiter((len(r) for r in records), dtype=np.int64, count=count)
  order = np.argsort(-lengths, kind="stable")
  sorted_lengths = lengths[order]
  max_length = int(sorted_lengths[0])
  # Column-major byte matrix of the records sorted by decreasing length: the records still active
  # at byte position j are a prefix of column j.
  matrix = np.zeros((count, max_length), dtype=np.uint8)
  filled = np.arange(max_length)[None, :] < sorted_lengths[:, None]
  matrix[filled] = np.frombuffer(b"".join(records[i] for i in order), dtype=np.uint8)
  columns = np.ascontiguousarray(matrix.T)
  active = np.searchsorted(-sorted_lengths, -np.arange(max_length), side="left")
  crc = np.full(count, 0xFFFFFFFF, dtype=np.uint32)
  for position in range(max_length):
    live = int(active[position])
    state = crc[:live]
    crc[:live] = _CRC_TABLE[(state ^ columns[position, :live]) & 0xFF] ^ (state >> 8)
  result = np.empty(count, dtype=np.uint32)
  result[order] = crc ^ np.uint32(0xFFFFFFFF)
  return result


def masked_crc32c_batch(records: Sequence[bytes]) -> np.ndarray:
  """TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2**32."""
  crc = crc32c_batch(records).astype(np.uint64)
  rotated = ((crc >> np.uint64(15)) | (crc << np.uint64(17))) & np.uint64(0xFFFFFFFF)
  return ((rotated + np.uint64(_CRC_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def frame_tfrecords(records: Sequence[bytes]) -> List[bytes]:
  """Each record framed as a TFRecord: uint64 length, masked CRC of it, data, masked CRC of data."""
  headers = [struct.pack("<Q", len(r)) for r in records]
  header_crcs = masked_crc32c_batch(headers)
  data_crcs = masked_crc32c_batch(records)
  return [
      header + struct.pack("<I", int(header_crc)) + record + struct.pack("<I", int(data_crc))
      for header, header_crc, record, data_crc in zip(headers, header_crcs, records, data_crcs)
  ]
