r"""The rows of benchmarks/gpu_check.sh's summary table: appended by each part, printed at the end.

A row is one JSON object per line: part, variant, ours, peer, ratio, status ("ok", "skipped: ...",
"FAILED: ..."). The benchmarks append their own rows (--result_file); the script appends the rows
of parts that were skipped or failed.

    python benchmarks/summary_table.py row --file=rows.jsonl --part=serving --variant=float16 \
        --status="skipped: needs a GPU"
    python benchmarks/summary_table.py table --file=rows.jsonl
"""

import argparse
import json

COLUMNS = ("part", "variant", "ours", "peer", "ratio", "status")


def append_row(path: str, row: dict) -> None:
  """Appends `row` (COLUMNS keys; missing ones print as "-") to the rows file `path`."""
  with open(path, "a", encoding="utf-8") as f:
    f.write(json.dumps(row) + "\n")


def format_table(rows: list[dict]) -> str:
  """The rows as a Markdown table (pastes into benchmarks/README.md)."""
  cells = [[str(row.get(column, "-")) for column in COLUMNS] for row in rows]
  widths = [
      max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(COLUMNS)
  ]
  lines = [COLUMNS, ["-" * width for width in widths]] + cells
  return "\n".join("| " + " | ".join(cell.ljust(width)
                                     for cell, width in zip(line, widths)) + " |"
                   for line in lines)


def read_rows(path: str) -> list[dict]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  row = commands.add_parser("row", help="append a row")
  table = commands.add_parser("table", help="print the table")
  for command in (row, table):
    command.add_argument("--file", required=True, help="the rows file")
  for column in COLUMNS:
    row.add_argument(f"--{column}", default="-")
  arguments = parser.parse_args()
  if arguments.command == "row":
    append_row(arguments.file, {column: getattr(arguments, column) for column in COLUMNS})
  else:
    print(format_table(read_rows(arguments.file)))


if __name__ == "__main__":
  main()
