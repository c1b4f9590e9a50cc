"""albert_tf.file_io: one pattern expander and the atomic writers, on local paths and ram://."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from albert_tf import file_io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _touch(path, text="x"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as writer:
    writer.write(text)


def test_expand_patterns_keeps_pattern_order_sorts_matches_and_skips_directories(tmp_path):
  for name in ("b.txt", "a.txt", "extra.txt"):
    _touch(str(tmp_path / "corpus" / name))
  os.makedirs(tmp_path / "corpus" / "sub.txt")
  pattern = f"{tmp_path}/extra.txt,{tmp_path}/corpus/*.txt"
  _touch(str(tmp_path / "extra.txt"))
  assert file_io.expand_patterns(f" {pattern} ,") == [
      f"{tmp_path}/extra.txt", f"{tmp_path}/corpus/a.txt", f"{tmp_path}/corpus/b.txt",
      f"{tmp_path}/corpus/extra.txt"
  ]


def test_expand_patterns_reads_tf_filesystems():
  tf.io.gfile.makedirs("ram://expand/sub")
  for name in ("2.tfrecord", "1.tfrecord"):
    with tf.io.gfile.GFile(f"ram://expand/{name}", "w") as writer:
      writer.write("x")
  assert file_io.expand_patterns("ram://expand/*") == [
      "ram://expand/1.tfrecord", "ram://expand/2.tfrecord"
  ]


@pytest.mark.parametrize("patterns, message", [
    ("", "--vocab_file is empty; pass one or more files or glob patterns, comma-separated."),
    (" , ", "--vocab_file is empty; pass one or more files or glob patterns, comma-separated."),
    ("/nonexistent/x-*", "--vocab_file pattern '/nonexistent/x-*' matches no file; check the path "
     "(quote globs so the shell does not expand them)."),
])
def test_expand_patterns_errors_are_one_line(patterns, message):
  with pytest.raises(file_io.FilePatternError) as error:
    file_io.expand_patterns(patterns, flag="--vocab_file")
  assert str(error.value) == message


def test_atomic_outputs_rename_all_on_success_and_nothing_on_error(tmp_path):
  paths = [str(tmp_path / "out" / "a"), str(tmp_path / "out" / "b")]
  with pytest.raises(RuntimeError):
    with file_io.atomic_outputs(paths) as temporaries:
      for temporary in temporaries:
        _touch(temporary)
      raise RuntimeError("interrupted")
  assert os.listdir(tmp_path / "out") == []
  with file_io.atomic_outputs(paths, temporary_suffix=".incomplete") as temporaries:
    assert temporaries == [path + ".incomplete" for path in paths]
    for temporary, text in zip(temporaries, ("1", "2")):
      _touch(temporary, text)
  assert sorted(os.listdir(tmp_path / "out")) == ["a", "b"]
  assert open(paths[1], encoding="utf-8").read() == "2"


def test_write_text_atomically_replaces_local_and_tf_filesystem_files(tmp_path):
  for path in (str(tmp_path / "new" / "t.txt"), "ram://atomic/t.txt"):
    file_io.write_text_atomically(path, "old")
    file_io.write_text_atomically(path, "né\n")
    with file_io.open_file(path, "r") as reader:
      assert reader.read() == "né\n"
  assert os.listdir(tmp_path / "new") == ["t.txt"]
  assert tf.io.gfile.listdir("ram://atomic") == ["t.txt"]


def test_open_file_creates_an_empty_file_on_tf_filesystems():
  with file_io.open_file("ram://empty/e.bin", "wb"):
    pass
  assert tf.io.gfile.exists("ram://empty/e.bin")


def test_atomic_prefix_renames_every_file_of_the_prefix(tmp_path):
  prefix = str(tmp_path / "ckpt" / "model.ckpt-best")
  with pytest.raises(RuntimeError):
    with file_io.atomic_prefix(prefix) as temporary:
      _touch(temporary + ".index")
      raise RuntimeError("interrupted")
  assert os.listdir(tmp_path / "ckpt") == []
  with file_io.atomic_prefix(prefix) as temporary:
    _touch(temporary + ".data-00000-of-00001", "data")
    _touch(temporary + ".index", "index")
  assert sorted(os.listdir(
      tmp_path / "ckpt")) == ["model.ckpt-best.data-00000-of-00001", "model.ckpt-best.index"]
  assert open(prefix + ".index", encoding="utf-8").read() == "index"


def test_atomic_directory_replaces_the_old_directory_only_when_complete(tmp_path):
  final = str(tmp_path / "export" / "1")
  _touch(os.path.join(final, "old.pb"))
  with pytest.raises(RuntimeError):
    with file_io.atomic_directory(final + "/") as temporary:
      _touch(os.path.join(temporary, "new.pb"))
      raise RuntimeError("interrupted")
  assert os.listdir(tmp_path / "export") == ["1"]
  assert os.listdir(final) == ["old.pb"]
  with file_io.atomic_directory(final) as temporary:
    _touch(os.path.join(temporary, "new.pb"))
  assert os.listdir(tmp_path / "export") == ["1"]
  assert os.listdir(final) == ["new.pb"]


def test_importing_file_io_and_config_does_not_import_tensorflow():
  code = ("import sys; import albert_tf.file_io, albert_tf.config; "
          "sys.exit('tensorflow' in sys.modules)")
  subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_make_parents_false_refuses_a_missing_directory_and_leaves_nothing(tmp_path):
  with pytest.raises(FileNotFoundError):
    file_io.write_text_atomically(str(tmp_path / "missing" / "c.json"), "{}", make_parents=False)
  assert os.listdir(tmp_path) == []
