"""Row readers for tab-separated, comma-separated and JSON-lines files, keeping line numbers.

Every reader returns `(line_number, row)` pairs (1-based) so that errors can name the line.
"""

import csv
import io
import json
from typing import Any, Dict, List, Tuple

from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.file_io import read_text


def read_delimited(path: str, delimiter: str, quoted: bool) -> List[Tuple[int, List[str]]]:
  """Reads a tsv or csv file into (line number, fields) rows; blank lines are skipped.

  Args:
    path: the file.
    delimiter: "\\t" or ",".
    quoted: honour '"' quoting (what spreadsheets and pandas write). GLUE and albert_zh files are
      read unquoted, as the original does: a quote is a plain character there.

  Returns:
    The rows, in file order.

  Raises:
    ClassifierDataError: the file is not UTF-8 or a field cannot be parsed.
  """
  quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
  reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter,
                      quoting=quoting)
  rows = []
  try:
    for fields in reader:
      if fields:
        rows.append((reader.line_num, fields))
  except csv.Error as error:
    raise ClassifierDataError(f"{path}:{reader.line_num}: {error}; fix the line.") from None
  return rows


def read_json_lines(path: str) -> List[Tuple[int, Dict[str, Any]]]:
  """Reads a JSON-lines file (one object per line, as CLUE ships) into (line number, object) rows.

  Raises:
    ClassifierDataError: a line is not a JSON object (e.g. the file is one JSON array).
  """
  rows = []
  for number, line in enumerate(read_text(path).split("\n"), start=1):
    if not line.strip():
      continue
    try:
      value = json.loads(line)
    except json.JSONDecodeError as error:
      raise ClassifierDataError(f"{path}:{number}: not JSON ({error.msg}); write one JSON object "
                                "per line.") from None
    if not isinstance(value, dict):
      raise ClassifierDataError(f"{path}:{number}: a JSON {type(value).__name__}, not an object; "
                                "write one JSON object per line (JSON lines), not one array.")
    rows.append((number, value))
  return rows


def field_text(value: Any) -> str:
  """A JSON value as text: a list (csl's keywords) joined by spaces, as albert_zh does; null: ""."""
  if isinstance(value, list):
    return " ".join(str(item) for item in value)
  return "" if value is None else str(value)
