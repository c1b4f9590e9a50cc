"""albert_tf.tasks.classifier_data processors on tiny files written here in their real layouts."""

import json
import os

import pytest

from albert_tf.tasks import classifier_data as cd


def _write(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8", newline="") as writer:
    writer.write(text)
  return str(path)


def _jsonl(*records):
  return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def _fields(examples):
  return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


def _tsv(*rows):
  return "".join("\t".join(row) + "\n" for row in rows)


def _one_line_error(call, pattern):
  with pytest.raises(cd.ClassifierDataError, match=pattern) as info:
    call()
  assert "\n" not in str(info.value)
  return str(info.value)


MNLI_HEADER = [
    "index", "promptID", "pairID", "genre", "s1_bp", "s2_bp", "s1_p", "s2_p", "sentence1",
    "sentence2"
]


def _mnli_row(index, first, second, *labels):
  return [index, "31193", "31193n", "fiction", "(x)", "(y)", "(X)", "(Y)", first, second, *labels]


# (task, file under data_dir, split, file text, expected (guid, text_a, text_b, label) rows), read
# with SentencePiece preprocessing and do_lower_case=True (lower-cased, accents stripped, spaces
# collapsed).
GLUE_CASES = [
    ("cola", "CoLA/train.tsv", "train",
     _tsv(["gj04", "1", "", "The Sailors  rode."],
          ["gj04", "0", "*", "The Horse Raced."]), [("train-0", "the sailors rode.", None, "1"),
                                                    ("train-1", "the horse raced.", None, "0")]),
    ("cola", "CoLA/test.tsv", "test", _tsv(["index", "sentence"],
                                           ["0", "Bill Left."]), [("0", "bill left.", None, "0")]),
    ("mnli", "MNLI/train.tsv", "train",
     _tsv(MNLI_HEADER + ["label1", "gold_label"],
          _mnli_row("0", "Conceptually Cream.", "Product Café.", "neutral",
                    "neutral")), [("0", "conceptually cream.", "product cafe.", "neutral")]),
    ("mnli", "MNLI/dev_matched.tsv", "dev",
     _tsv(
         MNLI_HEADER + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
         _mnli_row("7", "A b.", "C d.", "neutral", "entailment", "neutral", "neutral", "neutral",
                   "entailment")), [("7", "a b.", "c d.", "entailment")]),
    ("mnli", "MNLI/test_matched.tsv", "test", _tsv(MNLI_HEADER, _mnli_row("3", "E.", "F.")),
     [("3", "e.", "f.", "contradiction")]),
    ("mismnli", "MNLI/dev_mismatched.tsv", "dev",
     _tsv(MNLI_HEADER + ["label1", "gold_label"],
          _mnli_row("9", "G.", "H.", "x", "neutral")), [("9", "g.", "h.", "neutral")]),
    ("mismnli", "MNLI/test_mismatched.tsv", "test", _tsv(MNLI_HEADER, _mnli_row("4", "I.", "J.")),
     [("4", "i.", "j.", "contradiction")]),
    ("mrpc", "MRPC/train.tsv", "train",
     _tsv(["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
          ["1", "702876", "702977", "Amrozi accused \"him\".", "Referring to him."],
          ["0", "2108705", "2108831", "Yucaipa owned.", "Yucaipa bought."]),
     [("train-1", "amrozi accused \"him\".", "referring to him.", "1"),
      ("train-2", "yucaipa owned.", "yucaipa bought.", "0")]),
    ("mrpc", "MRPC/test.tsv", "test",
     _tsv(["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
          ["0", "1089874", "1089925", "PCCW's chief.", "Current Chief."]),
     [("0", "pccw's chief.", "current chief.", "0")]),
    ("sst-2", "SST-2/dev.tsv", "dev", _tsv(["sentence", "label"], ["Hide new secretions ", "0"]),
     [("dev-1", "hide new secretions", None, "0")]),
    ("sst-2", "SST-2/test.tsv", "test", _tsv(["index", "sentence"], ["0", "Uneasy Mishmash"]),
     [("0", "uneasy mishmash", None, "0")]),
    ("sts-b", "STS-B/train.tsv", "train",
     _tsv([
         "index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
         "sentence2", "score"
     ], [
         "0", "main-captions", "MSRvid", "2012test", "0001", "none", "none",
         "A plane is taking off.", "An air plane is taking off.", "5.000"
     ]), [("0", "a plane is taking off.", "an air plane is taking off.", 5.0)]),
    ("sts-b", "STS-B/test.tsv", "test",
     _tsv([
         "index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1",
         "sentence2"
     ], ["0", "main", "MSRvid", "2012", "0024", "-", "-", "A girl.", "A boy."]), [("0", "a girl.",
                                                                                   "a boy.", 0.0)]),
    ("qqp", "QQP/train.tsv", "train",
     _tsv(["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
          ["133273", "213221", "213222", "How is Life?", "Which is best?", "0"],
          ["5", "1", "2", "a line cut short"],
          ["7", "3", "4", "A?", "B?", "1"]), [("133273", "how is life?", "which is best?", "0"),
                                              ("7", "a?", "b?", "1")]),
    ("qqp", "QQP/test.tsv", "test", _tsv(["id", "question1", "question2"],
                                         ["0", "Why?", "How?"]), [("0", "why?", "how?", "0")]),
    ("qnli", "QNLI/train.tsv", "train",
     _tsv(["index", "question", "sentence", "label"],
          ["0", "What came?", "The thing came.", "entailment"]),
     [("0", "what came?", "the thing came.", "entailment")]),
    ("qnli", "QNLI/test.tsv", "test", _tsv(["index", "question", "sentence"],
                                           ["0", "Q?", "S."]), [("0", "q?", "s.", "entailment")]),
    ("rte", "RTE/dev.tsv", "dev",
     _tsv(["index", "sentence1", "sentence2", "label"],
          ["0", "Dana Reeve died.", "Christopher had an accident.", "not_entailment"]),
     [("0", "dana reeve died.", "christopher had an accident.", "not_entailment")]),
    ("rte", "RTE/test.tsv", "test", _tsv(["index", "sentence1", "sentence2"],
                                         ["0", "A.", "B."]), [("0", "a.", "b.", "entailment")]),
    ("wnli", "WNLI/train.tsv", "train",
     _tsv(["index", "sentence1", "sentence2", "label"],
          ["0", "I stuck a Pin.", "A hole.", "1"]), [("0", "i stuck a pin.", "a hole.", "1")]),
    ("wnli", "WNLI/test.tsv", "test", _tsv(["index", "sentence1", "sentence2"],
                                           ["0", "A.", "B."]), [("0", "a.", "b.", "0")]),
]


@pytest.mark.parametrize("task,relative,split,text,expected", GLUE_CASES,
                         ids=[f"{case[0]}-{case[2]}" for case in GLUE_CASES])
def test_glue_processors_read_the_original_layout(tmp_path, task, relative, split, text, expected):
  data_dir = str(tmp_path / "glue")
  path = _write(os.path.join(data_dir, relative), text)
  processor = cd.get_processor(task, use_spm=True, do_lower_case=True)
  assert processor.split_path(data_dir, split) == path
  assert _fields(processor.get_examples(data_dir, split)) == expected


def test_glue_labels_and_regression():
  labels = {
      name: cd.get_processor(name, use_spm=True, do_lower_case=True).get_labels()
      for name in ("cola", "mnli", "mismnli", "mrpc", "sst-2", "sts-b", "qqp", "qnli", "rte",
                   "wnli")
  }
  assert labels == {
      "cola": ["0", "1"],
      "mnli": ["contradiction", "entailment", "neutral"],
      "mismnli": ["contradiction", "entailment", "neutral"],
      "mrpc": ["0", "1"],
      "sst-2": ["0", "1"],
      "sts-b": [],
      "qqp": ["0", "1"],
      "qnli": ["entailment", "not_entailment"],
      "rte": ["entailment", "not_entailment"],
      "wnli": ["0", "1"]
  }
  regression = [
      name for name in cd.task_names()
      if cd.get_processor(name, use_spm=True, do_lower_case=True).is_regression
  ]
  assert regression == ["sts-b"]


@pytest.mark.parametrize(
    "use_spm,do_lower_case,expected",
    [
        (True, True, ("amrozi cafe said.", "he went.")),
        (True, False, ("Amrozi Cafe said.", "He went.")),
        # WordPiece: the text stays as it is (the WordPiece tokenizer lower-cases it itself).
        (False, True, ("Amrozi  Café said. ", "He went.")),
    ])
def test_process_text_follows_the_vocabulary_kind(tmp_path, use_spm, do_lower_case, expected):
  _write(tmp_path / "MRPC" / "dev.tsv",
         _tsv(["Quality", "a", "b", "c", "d"], ["1", "1", "2", "Amrozi  Café said. ", "He went."]))
  processor = cd.get_processor("MRPC", use_spm=use_spm, do_lower_case=do_lower_case)
  example, = processor.get_examples(str(tmp_path), "dev")
  assert (example.text_a, example.text_b) == expected


def test_task_names_and_case_insensitive_lookup():
  assert cd.task_names() == [
      "afqmc", "cmnli", "cola", "csl", "generic", "iflytek", "lcqmc", "mismnli", "mnli", "mrpc",
      "qnli", "qqp", "rte", "sst-2", "sts-b", "tnews", "wnli"
  ]
  for name in cd.task_names():
    assert cd.get_processor(name.upper(), use_spm=False, do_lower_case=True).name == name


# Chinese tasks, read with WordPiece (use_spm=False): text unchanged. `data_dir` is the task's own
# directory, as in albert_zh.
CHINESE_CASES = [
    ("lcqmc", "train.txt", "train",
     _tsv(["text_a", "text_b", "label"], ["喜欢打篮球的男生", "爱打篮球的男生", "1"],
          ["我手机丢了", "我想换个手机", "0"]), [("train-1", "喜欢打篮球的男生", "爱打篮球的男生", "1"),
                                      ("train-2", "我手机丢了", "我想换个手机", "0")]),
    ("lcqmc", "test.txt", "test", _tsv(["a", "b", "c"],
                                       ["谁有狂三", "狂三在哪", "0"]), [("test-1", "谁有狂三", "狂三在哪", "0")]),
    ("afqmc", "train.json", "train",
     _jsonl({
         "sentence1": "双十一花呗提额在哪",
         "sentence2": "里可以提花呗额度",
         "label": "0"
     }, {
         "sentence1": "花呗",
         "sentence2": "借呗",
         "label": 1
     }), [("train-0", "双十一花呗提额在哪", "里可以提花呗额度", "0"), ("train-1", "花呗", "借呗", "1")]),
    ("afqmc", "test.json", "test", _jsonl({
        "id": 0,
        "sentence1": "一",
        "sentence2": "二"
    }), [("test-0", "一", "二", "0")]),
    ("tnews", "dev.json", "dev",
     _jsonl({
         "label": "108",
         "label_desc": "news_edu",
         "sentence": "上课时学生手机响个不停",
         "keywords": ""
     }), [("dev-0", "上课时学生手机响个不停", None, "108")]),
    ("tnews", "test.json", "test", _jsonl({
        "id": 0,
        "sentence": "新闻"
    }), [("test-0", "新闻", None, "100")]),
    ("iflytek", "train.json", "train", _jsonl({
        "label": "118",
        "label_des": "其",
        "sentence": "应用"
    }), [("train-0", "应用", None, "118")]),
    ("iflytek", "test.json", "test", _jsonl({
        "id": 0,
        "sentence": "游戏"
    }), [("test-0", "游戏", None, "0")]),
    ("cmnli", "train.json", "train",
     _jsonl({
         "sentence1": "从概念上看",
         "sentence2": "产品和地理",
         "label": "neutral"
     }, {
         "sentence1": "没有",
         "sentence2": "共识",
         "label": "-"
     }, {
         "sentence1": "你知道",
         "sentence2": "他们",
         "label": "entailment"
     }), [("train-1", "从概念上看", "产品和地理", "neutral"), ("train-3", "你知道", "他们", "entailment")]),
    ("cmnli", "test.json", "test", _jsonl({
        "id": 0,
        "sentence1": "甲",
        "sentence2": "乙"
    }), [("test-1", "甲", "乙", "neutral")]),
    ("csl", "train.json", "train",
     _jsonl({
         "id": 1,
         "abst": "针对水声信号",
         "keyword": ["水声", "模型"],
         "label": "1"
     }), [("train-0", "水声 模型", "针对水声信号", "1")]),
    ("csl", "test.json", "test", _jsonl({
        "id": 0,
        "abst": "摘要",
        "keyword": ["词"]
    }), [("test-0", "词", "摘要", "0")]),
]


@pytest.mark.parametrize("task,name,split,text,expected", CHINESE_CASES,
                         ids=[f"{case[0]}-{case[2]}" for case in CHINESE_CASES])
def test_chinese_processors_read_the_albert_zh_layout(tmp_path, task, name, split, text, expected):
  path = _write(tmp_path / task / name, text)
  processor = cd.get_processor(task, use_spm=False, do_lower_case=True)
  assert processor.split_path(str(tmp_path / task), split) == path
  assert _fields(processor.get_examples(str(tmp_path / task), split)) == expected


def test_chinese_label_sets_are_albert_zh_ones():

  def labels(name):
    return cd.get_processor(name, use_spm=False, do_lower_case=True).get_labels()

  assert labels("tnews") == [
      "100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114",
      "115", "116"
  ]
  assert labels("iflytek") == [str(i) for i in range(119)]
  assert labels("cmnli") == ["contradiction", "entailment", "neutral"]
  assert labels("afqmc") == labels("csl") == labels("lcqmc") == ["0", "1"]


def test_generic_tsv_pair_with_labels_from_the_training_file(tmp_path):
  _write(
      tmp_path / "train.tsv",
      _tsv(["id", "question", "answer", "stars"], ["a", "Q One?", "A.", "10"],
           ["b", "Q two?", "B.", "2"], ["c", "Q3", "C", "0"]))
  _write(tmp_path / "test.tsv", _tsv(["question", "answer"], ["Q?", "A!"], ["R?", "B!"]))
  spec = cd.GenericTaskSpec(text_a_column="question", text_b_column="answer", label_column="stars")
  processor = cd.get_processor("generic", use_spm=True, do_lower_case=True, generic=spec)
  assert processor.name == "generic" and not processor.is_regression
  assert processor.get_labels(str(tmp_path)) == ["0", "2", "10"]  # integers sort numerically
  assert _fields(processor.get_examples(str(tmp_path),
                                        "train")) == [("train-0", "q one?", "a.", "10"),
                                                      ("train-1", "q two?", "b.", "2"),
                                                      ("train-2", "q3", "c", "0")]
  # Test files may lack the label column; guids are row indexes (submit_results.tsv's `index`).
  assert _fields(processor.get_examples(str(tmp_path), "test")) == [("0", "q?", "a!", "0"),
                                                                    ("1", "r?", "b!", "0")]


def test_generic_csv_with_quoting_and_a_given_label_list(tmp_path):
  _write(tmp_path / "dev.csv", 'label,text\npositive,"Good, really ""good"""\nnegative,Bad\n')
  spec = cd.GenericTaskSpec(text_a_column="text", label_list=["negative", "positive"])
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True, generic=spec)
  assert processor.split_path(str(tmp_path), "dev") == str(tmp_path / "dev.csv")
  assert processor.get_labels() == ["negative", "positive"]
  assert _fields(processor.get_examples(str(tmp_path), "dev")) == [
      ("dev-0", 'Good, really "good"', None, "positive"), ("dev-1", "Bad", None, "negative")
  ]


def test_generic_string_labels_sort_and_json_lines_regression(tmp_path):
  _write(tmp_path / "train.jsonl",
         _jsonl({
             "text_a": "x",
             "label": "b"
         }, {
             "text_a": "y",
             "label": "a"
         }))
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True)
  assert processor.get_labels(str(tmp_path)) == ["a", "b"]

  regression_dir = tmp_path / "regression"
  _write(regression_dir / "train.json",
         _jsonl({
             "s": "Fine",
             "score": 4.5
         }, {
             "s": "Poor",
             "score": "1"
         }))
  _write(regression_dir / "test.json", _jsonl({"s": "Hm"}))
  spec = cd.GenericTaskSpec(text_a_column="s", label_column="score", regression=True)
  processor = cd.get_processor("generic", use_spm=True, do_lower_case=True, generic=spec)
  assert processor.is_regression and processor.get_labels(str(regression_dir)) == []
  assert _fields(processor.get_examples(str(regression_dir),
                                        "train")) == [("train-0", "fine", None, 4.5),
                                                      ("train-1", "poor", None, 1.0)]
  assert _fields(processor.get_examples(str(regression_dir), "test")) == [("0", "hm", None, 0.0)]


def test_generic_file_format_chooses_between_files(tmp_path):
  _write(tmp_path / "train.tsv", _tsv(["text_a", "label"], ["tsv", "1"]))
  _write(tmp_path / "train.csv", "text_a,label\ncsv,1\n")
  data_dir = str(tmp_path)
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True,
                               generic=cd.GenericTaskSpec(file_format="csv"))
  assert [e.text_a for e in processor.get_examples(data_dir, "train")] == ["csv"]
  ambiguous = cd.get_processor("generic", use_spm=False, do_lower_case=True)
  _one_line_error(
      lambda: ambiguous.get_examples(data_dir, "train"),
      r"train\.tsv and .*train\.csv all exist: keep one train file, or pass "
      r"--file_format")


# Every user error: one line naming the file (and line) and the fix.
def test_unknown_task_name_lists_the_known_ones():
  _one_line_error(lambda: cd.get_processor("mnli-x", use_spm=True, do_lower_case=True),
                  r"unknown --task_name='mnli-x': use one of afqmc, cmnli, cola, .* tnews, wnli")


def test_missing_file_names_the_path_and_the_layout(tmp_path):
  processor = cd.get_processor("mrpc", use_spm=True, do_lower_case=True)
  message = _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"),
                            r"MRPC/train\.tsv not found: pass --data_dir=<the GLUE root>")
  assert message.startswith(str(tmp_path / "MRPC" / "train.tsv"))
  clue = cd.get_processor("tnews", use_spm=False, do_lower_case=True)
  _one_line_error(lambda: clue.get_examples(str(tmp_path), "dev"),
                  r"dev\.json not found: pass --data_dir=<the tnews directory>")


@pytest.mark.parametrize("task,relative,text,pattern", [
    ("mrpc", "MRPC/train.tsv", _tsv(["h"] * 5, ["1", "2", "3", "a", "b"], ["1", "2", "just one"]),
     r"MRPC/train\.tsv:3: 3 tab-separated columns, but MRPC train rows have at least 5"),
    ("cola", "CoLA/train.tsv", _tsv(["gj04", "1", "", "ok"], ["gj04", "1"]),
     r"CoLA/train\.tsv:2: 2 tab-separated columns, but CoLA train rows have at least 4"),
    ("qqp", "QQP/test.tsv", _tsv(["id", "q1", "q2"], ["0", "only q1"]),
     r"QQP/test\.tsv:2: 2 tab-separated columns, but QQP test rows have at least 3"),
    ("lcqmc", "train.txt", _tsv(["a", "b", "c"], ["x", "y"]),
     r"train\.txt:2: 2 tab-separated columns, but lcqmc lines have 3"),
])
def test_row_with_too_few_columns(tmp_path, task, relative, text, pattern):
  _write(tmp_path / relative, text)
  processor = cd.get_processor(task, use_spm=False, do_lower_case=True)
  split = "test" if "test" in relative else "train"
  _one_line_error(lambda: processor.get_examples(str(tmp_path), split),
                  pattern + r".*fix or remove")


def test_generic_row_with_the_wrong_number_of_columns(tmp_path):
  _write(tmp_path / "train.csv", "text_a,label\nfine,1\ntoo,many,fields\n")
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True)
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"),
                  r"train\.csv:3: 3 columns, but the header names 2; fix the line")


@pytest.mark.parametrize("task,relative,text,pattern", [
    ("sst-2", "SST-2/train.tsv", _tsv(["sentence", "label"], ["good", "1"], ["bad", "neg"]),
     r"SST-2/train\.tsv:3: label 'neg' is not one of sst-2's labels \['0', '1'\]"),
    ("cmnli", "train.json", _jsonl({
        "sentence1": "a",
        "sentence2": "b",
        "label": "maybe"
    }),
     r"train\.json:1: label 'maybe' is not one of cmnli's labels \['contradiction', 'entailment', "
     r"'neutral'\]"),
])
def test_label_not_in_the_label_list(tmp_path, task, relative, text, pattern):
  _write(tmp_path / relative, text)
  processor = cd.get_processor(task, use_spm=False, do_lower_case=True)
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"), pattern)


def test_generic_dev_label_missing_from_the_training_labels(tmp_path):
  _write(tmp_path / "train.tsv", _tsv(["text_a", "label"], ["x", "cat"], ["y", "dog"]))
  _write(tmp_path / "dev.tsv", _tsv(["text_a", "label"], ["z", "bird"]))
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True)
  _one_line_error(
      lambda: processor.get_examples(str(tmp_path), "dev"),
      r"dev\.tsv:2: label 'bird' is not one of generic's labels \['cat', 'dog'\]; fix "
      r"the line or give the full label list")


def test_non_numeric_regression_label(tmp_path):
  header = ["i", "g", "f", "y", "o", "s1", "s2", "sentence1", "sentence2", "score"]
  _write(tmp_path / "STS-B" / "dev.tsv", _tsv(header, ["0"] * 7 + ["a", "b", "high"]))
  processor = cd.get_processor("sts-b", use_spm=True, do_lower_case=True)
  _one_line_error(
      lambda: processor.get_examples(str(tmp_path), "dev"),
      r"STS-B/dev\.tsv:2: label 'high' is not a number, and sts-b is a regression task")
  _write(tmp_path / "own" / "train.jsonl", _jsonl({"text_a": "x", "label": "n/a"}))
  generic = cd.get_processor("generic", use_spm=False, do_lower_case=True,
                             generic=cd.GenericTaskSpec(regression=True))
  _one_line_error(lambda: generic.get_examples(str(tmp_path / "own"), "train"),
                  r"train\.jsonl:1: label 'n/a' is not a number")


@pytest.mark.parametrize("name,text,pattern", [
    ("train.tsv", _tsv(["sentence", "label"], ["x", "1"]),
     r"train\.tsv:1: no column 'review' \(the columns are \['sentence', 'label'\]\); name the "
     r"right ones in text_a_column"),
    ("train.jsonl", _jsonl({
        "review": "x",
        "label": "1"
    }, {
        "review": "y",
        "stars": "1"
    }), r"train\.jsonl:2: no column 'label' \(the columns are \['review', 'stars'\]\)"),
])
def test_missing_named_column_lists_the_columns_present(tmp_path, name, text, pattern):
  _write(tmp_path / name, text)
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True,
                               generic=cd.GenericTaskSpec(text_a_column="review"))
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"), pattern)


def test_unparsable_csv_field(tmp_path):
  _write(tmp_path / "train.csv", "text_a,label\nfine,1\n" + "x" * 140000 + ",1\n")
  processor = cd.get_processor("generic", use_spm=False, do_lower_case=True)
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"),
                  r"train\.csv:3: field larger than field limit \(131072\); fix the line")


def test_clue_line_without_its_field(tmp_path):
  _write(tmp_path / "train.json", _jsonl({"sentence1": "a", "label": "0"}))
  processor = cd.get_processor("afqmc", use_spm=False, do_lower_case=True)
  _one_line_error(
      lambda: processor.get_examples(str(tmp_path), "train"),
      r"train\.json:1: no 'sentence2' field \(the line has \['label', 'sentence1'\]\); "
      r"afqmc lines need \['sentence1', 'sentence2', 'label'\]")


@pytest.mark.parametrize("content,pattern", [
    (b'[{"sentence": "a", "label": "100"}]\n',
     r"train\.json:1: a JSON list, not an object; write one JSON object per line"),
    (b'{"sentence": "a", "label": "100"}\n{"sentence": \n',
     r"train\.json:2: not JSON \(Expecting value\); write one JSON object per line"),
    ('{"sentence": "a", "label": "100"}\n'.encode() + b'{"sentence": "\xff"}\n',
     r"train\.json:2: not UTF-8 text \(invalid start byte\); save the file as UTF-8"),
    (b"", r"train\.json holds no examples: give the tnews train data"),
])
def test_unreadable_files(tmp_path, content, pattern):
  (tmp_path / "train.json").write_bytes(content)
  processor = cd.get_processor("tnews", use_spm=False, do_lower_case=True)
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "train"), pattern)


def test_bad_spec_split_and_label_list_arguments(tmp_path):
  _one_line_error(lambda: cd.GenericTaskSpec(file_format="xlsx"),
                  r"unknown --file_format=xlsx: use tsv, csv or jsonl")
  _one_line_error(lambda: cd.GenericTaskSpec(regression=True, label_list=["a"]),
                  r"a regression task has no label list")
  _one_line_error(lambda: cd.GenericTaskSpec(label_list=["a", "b", "a"]), r"repeats a label")
  processor = cd.get_processor("cola", use_spm=True, do_lower_case=True)
  _one_line_error(lambda: processor.get_examples(str(tmp_path), "validation"),
                  r"unknown split 'validation': use one of train, dev, test")
  generic = cd.get_processor("generic", use_spm=True, do_lower_case=True)
  _one_line_error(generic.get_labels, r"the generic task needs --label_list, or the --data_dir")
  _one_line_error(lambda: generic.get_labels(str(tmp_path)),
                  r"train\.tsv not found: the labels come from the train file")


def test_label_list_file_round_trip(tmp_path):
  path = str(tmp_path / "out" / "label_list.txt")
  cd.write_label_list(path, ["negative", "positive", "0"])
  with open(path, encoding="utf-8") as reader:
    assert reader.read() == "negative\npositive\n0\n"
  assert cd.read_label_list(path) == ["negative", "positive", "0"]
  assert os.listdir(tmp_path / "out") == ["label_list.txt"]  # no temporary file left behind
  cd.write_label_list(path, [])
  assert cd.read_label_list(path) == []
  _one_line_error(lambda: cd.write_label_list(path, ["a\nb"]), r"label 'a\\nb' cannot be written")
  _one_line_error(lambda: cd.write_label_list(path, ["a", "a"]), r"repeats a label")
  _one_line_error(lambda: cd.read_label_list(str(tmp_path / "none.txt")),
                  r"none\.txt not found: it is written by training \(--do_train\)")
