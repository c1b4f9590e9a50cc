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
_TAG_FIELD1 = b"\x0a"      # Example.features, Features.feature map entry, entry key, Int64List/FloatList.value
_TAG_FIELD2 = b"\x12"      # map entry value, Feature.float_list
_TAG_FIELD3 = b"\x1a"      # Feature.int64_list

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


_VARINT_SHIFTS = np.arange(0, 35, 7, dtype=np.uint64)


def varints(values: np.ndarray) -> bytes:
  """Protobuf varint encoding of non-negative integers below 2**35, vectorized."""
  values = np.asarray(values, dtype=np.uint64)
  if values.size == 0 or values.max() < 0x80:
    return values.astype(np.uint8).tobytes()
  groups = (values[:, None] >> _VARINT_SHIFTS[None, :]) & np.uint64(0x7F)
  num_bytes = 1 + np.sum(values[:, None] >= (np.uint64(1) << _VARINT_SHIFTS[1:])[None, :], axis=1)
  columns = np.arange(len(_VARINT_SHIFTS))[None, :]
  groups |= np.where(columns < (num_bytes[:, None] - 1), np.uint64(0x80), np.uint64(0))
  return groups[columns < num_bytes[:, None]].astype(np.uint8).tobytes()


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
  return tag + _varint(len(payload)) + payload


def int64_feature(values: np.ndarray) -> bytes:
  """A serialized `Feature` holding an Int64List of non-negative values (packed)."""
  return _length_delimited(_TAG_FIELD3, _length_delimited(_TAG_FIELD1, varints(values)))


def float_feature(values: np.ndarray) -> bytes:
  """A serialized `Feature` holding a FloatList (packed little-endian float32)."""
  packed = np.asarray(values, dtype="<f4").tobytes()
  return _length_delimited(_TAG_FIELD2, _length_delimited(_TAG_FIELD1, packed))


def serialize_example(features: Sequence[Tuple[bytes, bytes]]) -> bytes:
  """A serialized `tf.train.Example` from (UTF-8 name, serialized Feature) pairs, in that order."""
  entries = b"".join(
      _length_delimited(_TAG_FIELD1,
                        _length_delimited(_TAG_FIELD1, name) + _length_delimited(_TAG_FIELD2, feature))
      for name, feature in features)
  return _length_delimited(_TAG_FIELD1, entries)


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
  return [header + struct.pack("<I", int(header_crc)) + record + struct.pack("<I", int(data_crc))
          for header, header_crc, record, data_crc in zip(headers, header_crcs, records, data_crcs)]
