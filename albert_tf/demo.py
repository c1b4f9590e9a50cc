r"""The end-to-end demo (`make demo`): corpus, vocab, records, pretraining, export, queries, then a
classifier fine-tuned from the pretrained model, exported and queried.

    python -m albert_tf.demo                  # English: SentencePiece vocab
    python -m albert_tf.demo --language=zh    # Chinese: WordPiece vocab + jieba whole-word masking

Every step runs the project's own command line (`python -m ...`) as a user would, on the corpus
shipped in albert_tf/demo/; the queries run in a fresh process that imports only tensorflow and
tensorflow_text, as TF Serving would. Outputs go to --output_dir (demo_output/<language>): the
pretrained model in model/ and serving/, the classifier (run_classifier's files) in classifier/ and
classifier_serving/.

The corpora are generated for this project by `generate_corpus` from small fact tables (capitals,
continents, languages, animals' legs, colours, sums) and a few sentence templates, so that a tiny
ALBERT trained for a few minutes on a CPU learns them. The classification sets
(albert_tf/demo/classify_<language>/{train,dev,test}.tsv: is a sentence about an animal or a city?)
come from the same tables and more templates, by `generate_classification_set`.
`python -m albert_tf.demo --regenerate_corpus` rewrites the shipped files.
"""

import functools
import json
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, Iterable, List, Sequence, TextIO, Tuple

from absl import flags

from albert_tf import command_line

FLAGS = flags.FLAGS
_ERROR_PREFIX = "albert_tf.demo: error: "

MAX_SEQ_LENGTH = 32
# Written first into --output_dir: a later run may clear a directory holding it, and no other.
DEMO_MARKER = ".albert-tf-demo"
MAX_PREDICTIONS_PER_SEQ = 5

# ---------------------------------------------------------------------------------------------
# The corpus: (country, capital, continent, language) in English then Chinese.
COUNTRIES = (
    ("France", "Paris", "Europe", "French", "法国", "巴黎", "欧洲", "法语"),
    ("Germany", "Berlin", "Europe", "German", "德国", "柏林", "欧洲", "德语"),
    ("Italy", "Rome", "Europe", "Italian", "意大利", "罗马", "欧洲", "意大利语"),
    ("Spain", "Madrid", "Europe", "Spanish", "西班牙", "马德里", "欧洲", "西班牙语"),
    ("Portugal", "Lisbon", "Europe", "Portuguese", "葡萄牙", "里斯本", "欧洲", "葡萄牙语"),
    ("Greece", "Athens", "Europe", "Greek", "希腊", "雅典", "欧洲", "希腊语"),
    ("Poland", "Warsaw", "Europe", "Polish", "波兰", "华沙", "欧洲", "波兰语"),
    ("Sweden", "Stockholm", "Europe", "Swedish", "瑞典", "斯德哥尔摩", "欧洲", "瑞典语"),
    ("Norway", "Oslo", "Europe", "Norwegian", "挪威", "奥斯陆", "欧洲", "挪威语"),
    ("Finland", "Helsinki", "Europe", "Finnish", "芬兰", "赫尔辛基", "欧洲", "芬兰语"),
    ("Denmark", "Copenhagen", "Europe", "Danish", "丹麦", "哥本哈根", "欧洲", "丹麦语"),
    ("Netherlands", "Amsterdam", "Europe", "Dutch", "荷兰", "阿姆斯特丹", "欧洲", "荷兰语"),
    ("Austria", "Vienna", "Europe", "German", "奥地利", "维也纳", "欧洲", "德语"),
    ("Hungary", "Budapest", "Europe", "Hungarian", "匈牙利", "布达佩斯", "欧洲", "匈牙利语"),
    ("Ireland", "Dublin", "Europe", "English", "爱尔兰", "都柏林", "欧洲", "英语"),
    ("Russia", "Moscow", "Europe", "Russian", "俄罗斯", "莫斯科", "欧洲", "俄语"),
    ("Ukraine", "Kyiv", "Europe", "Ukrainian", "乌克兰", "基辅", "欧洲", "乌克兰语"),
    ("Japan", "Tokyo", "Asia", "Japanese", "日本", "东京", "亚洲", "日语"),
    ("China", "Beijing", "Asia", "Chinese", "中国", "北京", "亚洲", "汉语"),
    ("Thailand", "Bangkok", "Asia", "Thai", "泰国", "曼谷", "亚洲", "泰语"),
    ("Vietnam", "Hanoi", "Asia", "Vietnamese", "越南", "河内", "亚洲", "越南语"),
    ("Indonesia", "Jakarta", "Asia", "Indonesian", "印度尼西亚", "雅加达", "亚洲", "印尼语"),
    ("Iran", "Tehran", "Asia", "Persian", "伊朗", "德黑兰", "亚洲", "波斯语"),
    ("Turkey", "Ankara", "Asia", "Turkish", "土耳其", "安卡拉", "亚洲", "土耳其语"),
    ("Mongolia", "Ulaanbaatar", "Asia", "Mongolian", "蒙古", "乌兰巴托", "亚洲", "蒙古语"),
    ("Nepal", "Kathmandu", "Asia", "Nepali", "尼泊尔", "加德满都", "亚洲", "尼泊尔语"),
    ("Egypt", "Cairo", "Africa", "Arabic", "埃及", "开罗", "非洲", "阿拉伯语"),
    ("Morocco", "Rabat", "Africa", "Arabic", "摩洛哥", "拉巴特", "非洲", "阿拉伯语"),
    ("Kenya", "Nairobi", "Africa", "Swahili", "肯尼亚", "内罗毕", "非洲", "斯瓦希里语"),
    ("Nigeria", "Abuja", "Africa", "English", "尼日利亚", "阿布贾", "非洲", "英语"),
    ("Ghana", "Accra", "Africa", "English", "加纳", "阿克拉", "非洲", "英语"),
    ("Brazil", "Brasilia", "South America", "Portuguese", "巴西", "巴西利亚", "南美洲", "葡萄牙语"),
    ("Peru", "Lima", "South America", "Spanish", "秘鲁", "利马", "南美洲", "西班牙语"),
    ("Chile", "Santiago", "South America", "Spanish", "智利", "圣地亚哥", "南美洲", "西班牙语"),
    ("Colombia", "Bogota", "South America", "Spanish", "哥伦比亚", "波哥大", "南美洲", "西班牙语"),
    ("Canada", "Ottawa", "North America", "English", "加拿大", "渥太华", "北美洲", "英语"),
    ("Cuba", "Havana", "North America", "Spanish", "古巴", "哈瓦那", "北美洲", "西班牙语"),
    ("Australia", "Canberra", "Oceania", "English", "澳大利亚", "堪培拉", "大洋洲", "英语"),
)
# (animal, legs) and (thing, colour), English then Chinese.
ANIMALS = (("dog", "four", "狗", "四"), ("cat", "four", "猫", "四"), ("horse", "four", "马",
                                                                  "四"), ("cow", "four", "牛", "四"),
           ("duck", "two", "鸭子", "两"), ("chicken", "two", "鸡", "两"), ("spider", "eight", "蜘蛛", "八"),
           ("ant", "six", "蚂蚁", "六"), ("bee", "six", "蜜蜂", "六"), ("octopus", "eight", "章鱼", "八"))
COLOURS = (("banana", "yellow", "香蕉", "黄"), ("grass", "green", "草", "绿"),
           ("sky", "blue", "天空", "蓝"), ("snow", "white", "雪", "白"), ("coal", "black", "煤", "黑"),
           ("tomato", "red", "西红柿", "红"), ("milk", "white", "牛奶", "白"),
           ("lemon", "yellow", "柠檬", "黄"), ("leaf", "green", "树叶", "绿"), ("sea", "blue", "大海", "蓝"))
NUMBERS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    "zh": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
}
TEMPLATES = {
    "country": {
        "en":
            ("The capital of {0} is {1}.", "{1} is the capital of {0}.", "{0} is a country in {2}.",
             "People in {0} speak {3}.", "The main language of {0} is {3}.",
             "{1} is a city in {0}.", "Many people visit {1} every year."),
        "zh": ("{4}的首都是{5}。", "{5}是{4}的首都。", "{4}是{6}的一个国家。", "{4}人说{7}。", "{4}的主要语言是{7}。",
               "{5}是{4}的一个城市。", "每年有很多人去{5}旅游。"),
    },
    "animal": {
        "en": ("Each {0} has {1} legs.", "The {0} is an animal with {1} legs.",
               "Every {0} walks on {1} legs."),
        "zh": ("{2}有{3}条腿。", "{2}是有{3}条腿的动物。", "每只{2}都用{3}条腿走路。"),
    },
    "colour": {
        "en":
            ("The colour of the {0} is {1}.", "The {0} is {1}.", "Everyone knows the {0} is {1}."),
        "zh": ("{2}的颜色是{3}色。", "{2}是{3}色的。", "大家都知道{2}是{3}色的。"),
    },
    # Two entities per sentence: many distinct sentences, which SentencePiece needs to learn whole
    # words as pieces (it counts identical sentences once).
    "country_pair": {
        "en": ("The capital of {0} is {1} and the capital of {8} is {9}.",
               "People in {0} speak {3} and people in {8} speak {11}.",
               "{1} is in {0}, but {9} is in {8}."),
        "zh": ("{4}的首都是{5}，{12}的首都是{13}。", "{4}人说{7}，{12}人说{15}。", "{5}在{4}，{13}在{12}。"),
    },
    "animal_pair": {
        "en": ("Each {0} has {1} legs, but each {4} has {5} legs.", "A {0} and a {4} are animals."),
        "zh": ("{2}有{3}条腿，{6}有{7}条腿。", "{2}和{6}都是动物。"),
    },
    "sum": {
        "en": ("{0} plus {1} is {2}.", "If you add {0} and {1} you get {2}."),
        "zh": ("{0}加{1}等于{2}。", "{0}和{1}相加得{2}。"),
    },
}
# Fill-mask queries the demo asks (one [MASK] per WordPiece character in Chinese).
QUERIES = {
    "en": ("The capital of France is [MASK].", "People in Japan speak [MASK].",
           "Each spider has [MASK] legs.", "The colour of the banana is [MASK]."),
    "zh": ("法国的首都是[MASK][MASK]。", "日本人说[MASK]语。", "蜘蛛有[MASK]条腿。", "香蕉的颜色是[MASK]色。"),
}
ENCODE_QUERIES = {
    "en": ("Paris is the capital of France.", "The capital of France is Paris.",
           "A dog has four legs."),
    "zh": ("巴黎是法国的首都。", "法国的首都是巴黎。", "狗有四条腿。"),
}

# The classification set: sentences about animals or about cities, labelled. Each template is
# formatted with two distinct entities' columns concatenated (ANIMALS rows: {0}-{3} and {4}-{7};
# COUNTRIES rows: {0}-{7} and {8}-{15}), so a template may name one or two of them. The last three
# of each label share their frame with the other label's, so that the names decide, not the frame.
CLASSIFY_TEMPLATES = {
    "animal": {
        "en": ("The {0} is an animal.", "A {0} has {1} legs.", "Every {0} walks on {1} legs.",
               "My {0} likes to sleep in the sun.", "The {0} and the {4} are animals.",
               "A {0} has {1} legs and a {4} has {5} legs.", "We saw a {0} and a {4} on the farm.",
               "There is a small {0} in the garden.", "Everyone knows that a {0} is an animal.",
               "How many legs does a {0} have? It has {1}.",
               "The young {0} stays close to its mother.",
               "Children like to watch the {0} and the {4}.",
               "The {0} is eating, and the {4} is sleeping.",
               "A {0} is not the same animal as a {4}.", "Everyone likes the {0}.",
               "Here is a picture of a {0}.", "We talked about the {0} and the {4}."),
        "zh": ("{2}是动物。", "{2}有{3}条腿。", "每只{2}都用{3}条腿走路。", "{2}和{6}都是动物。", "{2}有{3}条腿，{6}有{7}条腿。",
               "大家都知道{2}是动物。", "{2}在草地里走路。", "很多人都爱{2}。", "{2}在家里。", "{2}是有{3}条腿的动物。",
               "{2}是动物，{6}也是动物。", "{2}的腿有{3}条。", "{2}和{6}在草地里走路。", "大家都爱{2}。", "{2}很美。",
               "很多人都知道{2}和{6}。"),
    },
    "city": {
        "en": ("{1} is a city in {0}.", "{1} is the capital of {0}.",
               "Many people visit {1} every year.", "The city of {1} is in {2}.",
               "People in {1} speak {3}.", "{1} is a big city with many streets.",
               "The streets of {1} are full of people.", "We took a train from {1} to {9}.",
               "{1} and {9} are both cities.", "The old town of {1} is beautiful.",
               "Many people live and work in {1}.", "There are many shops in the centre of {1}.",
               "The night trains to {1} are always full.", "She moved from {1} to {9} last year.",
               "Everyone likes {1}.", "Here is a picture of {1}.", "We talked about {1} and {9}."),
        "zh": ("{5}是一个城市。", "{5}是{4}的首都。", "很多人去{5}旅游。", "{5}和{13}都是城市。", "{5}在{6}。", "{5}人说{7}。",
               "{5}是一个大城市。", "每年都有很多人去{5}和{13}旅游。", "{5}有很多人。", "大家都知道{5}是一个大城市。", "{5}的路很多。",
               "{5}很美，很多人爱{5}。", "去{5}旅游的人很多。", "{5}是{6}的一个大城市。", "大家都爱{5}。", "{5}很美。",
               "很多人都知道{5}和{13}。"),
    },
}
CLASSIFY_LABELS = {"en": {"animal": "animal", "city": "city"}, "zh": {"animal": "动物", "city": "城市"}}
CLASSIFY_SPLIT_SIZES = (("train", 160), ("dev", 30), ("test", 10))  # sentences per label
# classify_text queries: new sentences (in none of the splits), with the label they should get.
CLASSIFY_QUERIES = {
    "en": (("A horse and a cow eat grass.", "animal"), ("Rome and Madrid are old cities.", "city"),
           ("The spider waits in its web with its eight legs.",
            "animal"), ("Tokyo is a busy city in Asia.", "city")),
    "zh": (
        ("马和牛都在草地里走路。", "动物"), ("很多人去北京和东京旅游。", "城市"), ("蜘蛛用八条腿走路。", "动物"), ("罗马是一个很美的城市。", "城市")),
}


def _document(rng: random.Random, language: str) -> List[str]:
  """One document: two to five sentences about one entity, in random order."""
  kinds = ("country", "country_pair", "animal", "animal_pair", "colour", "sum")
  kind = rng.choices(kinds, weights=(5, 3, 2, 1, 2, 1))[0]
  if kind == "sum":
    a, b = rng.randint(0, 5), rng.randint(0, 5)
    facts = (NUMBERS[language][a], NUMBERS[language][b], NUMBERS[language][a + b])
  elif kind.endswith("_pair"):
    first, second = rng.sample(COUNTRIES if kind == "country_pair" else ANIMALS, 2)
    facts = first + second
  else:
    facts = rng.choice({"country": COUNTRIES, "animal": ANIMALS, "colour": COLOURS}[kind])
  templates = TEMPLATES[kind][language]
  chosen = rng.sample(templates, k=min(len(templates), rng.randint(2, 5)))
  return [
      sentence[0].upper() + sentence[1:]
      for sentence in (template.format(*facts) for template in chosen)
  ]


def generate_corpus(language: str, num_documents: int = 1500, seed: int = 2026) -> str:
  """The demo corpus for "en" or "zh": one sentence per line, blank lines between documents."""
  rng = random.Random(seed)
  return "\n\n".join("\n".join(_document(rng, language)) for _ in range(num_documents)) + "\n"


def generate_classification_set(language: str,
                                seed: int = 2026) -> Dict[str, List[Tuple[str, str]]]:
  """The demo's labelled set for "en" or "zh": {split: [(sentence, label), ...]}, shuffled.

  Each label gets CLASSIFY_SPLIT_SIZES distinct sentences (a random template about two random
  entities each), so no sentence is in two splits.
  """
  rng = random.Random(seed)
  splits = {split: [] for split, _ in CLASSIFY_SPLIT_SIZES}
  queries = {text for text, _ in CLASSIFY_QUERIES[language]}
  for kind, table in (("animal", ANIMALS), ("city", COUNTRIES)):
    label = CLASSIFY_LABELS[language][kind]
    sentences = []
    while len(sentences) < sum(size for _, size in CLASSIFY_SPLIT_SIZES):
      first, second = rng.sample(table, 2)
      text = rng.choice(CLASSIFY_TEMPLATES[kind][language]).format(*first, *second)
      text = text[0].upper() + text[1:]
      if text not in sentences and text not in queries:
        sentences.append(text)
    start = 0
    for split, size in CLASSIFY_SPLIT_SIZES:
      splits[split].extend((text, label) for text in sentences[start:start + size])
      start += size
  for rows in splits.values():
    rng.shuffle(rows)
  return splits


def classification_tsv(rows: Sequence[Tuple[str, str]]) -> str:
  """A generic-task tsv file: a `text_a<TAB>label` header, then one row per sentence."""
  return "".join(f"{text}\t{label}\n" for text, label in [("text_a", "label"), *rows])


def shuffled_word_lines(corpus_text: str, num_lines: int = 3000, seed: int = 2026) -> str:
  """Lines of the corpus' own words in random order, added to the SentencePiece training input.

  The templated corpus repeats a few hundred distinct sentences; on such text the unigram trainer
  settles on sub-word fragments ("p", "ar", "is" for "paris"). The same words in varied contexts
  let it keep whole words as pieces, so a single [MASK] can stand for a word in the queries.
  """
  rng = random.Random(seed)
  words = corpus_text.replace(".", " ").replace(",", " ").split()
  return "\n".join(" ".join(rng.choices(words, k=8)) for _ in range(num_lines)) + "\n"


def shipped_corpus_path(language: str) -> str:
  """Path of the corpus shipped in the package (albert_tf/demo/corpus_<language>.txt)."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo", f"corpus_{language}.txt")


def shipped_classification_dir(language: str) -> str:
  """Directory of the shipped classification set (albert_tf/demo/classify_<language>/)."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo", f"classify_{language}")


def write_shipped_data() -> None:
  """Rewrites the shipped corpora and classification sets from their generators."""
  for language in ("en", "zh"):
    with open(shipped_corpus_path(language), "w", encoding="utf-8") as f:
      f.write(generate_corpus(language))
    os.makedirs(shipped_classification_dir(language), exist_ok=True)
    for split, rows in generate_classification_set(language).items():
      with open(os.path.join(shipped_classification_dir(language), f"{split}.tsv"), "w",
                encoding="utf-8") as f:
        f.write(classification_tsv(rows))


# ---------------------------------------------------------------------------------------------
# The pipeline.
_QUERY_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  Registers the tokenizer ops.
model = tf.saved_model.load(sys.argv[1])
queries = json.loads(sys.argv[2])
fill = model.signatures["fill_mask_text"](text=tf.constant(queries["fill_mask"]))
encode = model.signatures["encode_text"](text=tf.constant(queries["encode"]))
print(json.dumps({
    "tokens": [[[t.decode("utf-8") for t in mask] for mask in row]
               for row in fill["top_k_tokens"].numpy()],
    "probabilities": fill["top_k_probabilities"].numpy().tolist(),
    "mask_positions": fill["mask_positions"].numpy().tolist(),
    "pooled_output": encode["pooled_output"].numpy().tolist(),
    "num_tokens": encode["input_mask"].numpy().sum(axis=1).tolist(),
}))
"""
_CLASSIFY_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  Registers the tokenizer ops.
model = tf.saved_model.load(sys.argv[1])
answer = model.signatures["classify_text"](text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "labels": [label.decode("utf-8") for label in answer["labels"].numpy()],
    "probabilities": answer["probabilities"].numpy().max(axis=1).tolist(),
}))
"""
# Log lines a step echoes on the console (absl's prefix dropped) so that a long step shows how it
# goes: the training loop's progress and evaluations, fine-tuning's milestones and the export's
# tracing (most of its time).
_ECHOED_LINE = re.compile(r"\] ((?:step \d+/\d+:|Eval at step \d+:|(?:train|eval|predict): \d+ "
                          r"examples|Predicting |Exported |Export: tracing |Wrote the ).*)$")
# The longest a step stays silent on the console: after that long without a progress line, a line
# says it is still running (startup, tracing, saving).
HEARTBEAT_SECONDS = 15.0
# Pretraining's --log_steps: 100 steps take up to 20 s on a busy 2-core machine.
PRETRAIN_LOG_STEPS = 50
FINETUNE_STEPS = 60
FINETUNE_BATCH_SIZE = 32
FINETUNE_LEARNING_RATE = 5e-4


def _repo_root() -> str:
  return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_step(title: str, args: Sequence[str], log_file: str) -> None:
  """Runs `python <args>` with its output in `log_file`, echoing its progress (see
  echo_progress); stops the demo if it fails."""
  print(f"==> {title}", flush=True)
  start = time.time()
  env = {
      **os.environ, "PYTHONPATH":
          os.pathsep.join(p for p in (_repo_root(), os.environ.get("PYTHONPATH")) if p),
      "TF_CPP_MIN_LOG_LEVEL":
          "2"
  }
  # Line-buffered, so that the log file can be followed as the step runs.
  with open(log_file, "w", encoding="utf-8",
            buffering=1) as log, subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                                                  stderr=subprocess.STDOUT, env=env, text=True,
                                                  encoding="utf-8", errors="replace") as process:
    echo_progress(process.stdout, log, functools.partial(print, flush=True))
  if process.returncode != 0:
    with open(log_file, encoding="utf-8") as log:
      tail = log.read().splitlines()[-15:]
    print("\n".join(tail), file=sys.stderr)
    sys.exit(f"demo: step '{title}' failed (exit {process.returncode}); full log in {log_file}")
  print(f"    done in {time.time() - start:.0f} s (log: {log_file})", flush=True)


def echo_progress(lines: Iterable[str], log: TextIO, echo: Callable[[str], None],
                  heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
  """Copies a step's output lines to `log` and echoes its progress lines (see _ECHOED_LINE).

  When `heartbeat_seconds` pass without a progress line, echoes a line with the time so far, so
  that the console never looks stuck.

  Args:
    lines: the step's output, e.g. its stdout pipe.
    log: the step's log file.
    echo: prints one console line.
    heartbeat_seconds: the longest silence on the console.
  """
  received = queue.Queue()

  def read() -> None:  # A thread, so that waiting for the next line can time out.
    for line in lines:
      received.put(line)
    received.put(None)

  threading.Thread(target=read, daemon=True).start()
  start = last_echo = time.monotonic()
  while True:
    try:
      line = received.get(timeout=max(0.0, last_echo + heartbeat_seconds - time.monotonic()))
    except queue.Empty:
      echo(f"    ... still running ({time.monotonic() - start:.0f} s so far)")
      last_echo = time.monotonic()
      continue
    if line is None:
      return
    log.write(line)
    echoed = _ECHOED_LINE.search(line.rstrip("\n"))
    if echoed:
      echo(f"    {echoed.group(1)}")
      last_echo = time.monotonic()


def _query(title: str, script: str, version_dir: str, payload: object) -> dict:
  """Runs `script` on the SavedModel in a fresh process importing only tensorflow and
  tensorflow_text, as TF Serving would; returns the JSON it prints."""
  print(f"==> {title} (a fresh process importing only tensorflow + tensorflow_text)", flush=True)
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  env.pop("PYTHONPATH", None)
  result = subprocess.run([sys.executable, "-c", script, version_dir,
                           json.dumps(payload)], capture_output=True, text=True, env=env,
                          check=False)
  if result.returncode != 0:
    sys.exit(f"demo: querying {version_dir} failed:\n{result.stderr[-2000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def _newest_version(export_dir: str) -> str:
  return os.path.join(export_dir, sorted(os.listdir(export_dir), key=int)[-1])


def _demo_config(vocab_size: int, language: str) -> dict:
  """A tiny ALBERT (0.2M parameters besides embeddings): learns the corpus in minutes on a CPU."""
  return {
      "vocab_size": vocab_size,
      "embedding_size": 64,
      "hidden_size": 128,
      "num_hidden_layers": 3,
      "num_hidden_groups": 1,
      "num_attention_heads": 4,
      "intermediate_size": 512,
      "inner_group_num": 1,
      "down_scale_factor": 1,
      "hidden_act": "relu" if language == "zh" else "gelu",
      "hidden_dropout_prob": 0.0,
      "attention_probs_dropout_prob": 0.0,
      "max_position_embeddings": MAX_SEQ_LENGTH,
      "type_vocab_size": 2,
      "initializer_range": 0.02,
  }


def _vocab_size(vocab_path: str, language: str) -> int:
  from albert_tf import tokenization  # TensorFlow-free; imported late to keep --help fast.
  if language == "zh":
    return len(tokenization.FullTokenizer(vocab_file=vocab_path).inv_vocab)
  return len(tokenization.FullTokenizer(spm_model_file=vocab_path).vocab)


class OutputDirError(ValueError):
  """--output_dir holds something the demo did not make; the message says what to do."""


def prepare_output_dir(output_dir: str) -> None:
  """Empties (or creates) `output_dir` for a run, and marks it as demo output.

  Only a directory the demo made (it holds DEMO_MARKER, written before anything else) or an empty
  one is cleared: the demo never deletes files it did not write.

  Args:
    output_dir: the --output_dir of the run.

  Raises:
    OutputDirError: `output_dir` is a file, or a non-empty directory without DEMO_MARKER.
  """
  if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
    raise OutputDirError(f"--output_dir={output_dir} is not a directory; pass a new or empty "
                         "directory")
  entries = os.listdir(output_dir) if os.path.isdir(output_dir) else []
  if entries and DEMO_MARKER not in entries:
    raise OutputDirError(f"--output_dir={output_dir} is not empty and is not a previous demo "
                         f"output (no {DEMO_MARKER} file in it); pass a new or empty directory")
  for entry in entries:
    if entry == DEMO_MARKER:  # Kept, so that an interrupted clear leaves the directory ours.
      continue
    entry_path = os.path.join(output_dir, entry)
    if os.path.isdir(entry_path) and not os.path.islink(entry_path):
      shutil.rmtree(entry_path)
    else:
      os.remove(entry_path)
  os.makedirs(output_dir, exist_ok=True)
  with open(os.path.join(output_dir, DEMO_MARKER), "w", encoding="utf-8") as f:
    f.write("Output of `python -m albert_tf.demo`, which deletes this directory's contents when "
            "it runs again with this --output_dir.\n")


def run_pipeline(language: str, output_dir: str, num_train_steps: int, train_batch_size: int,
                 dupe_factor: int, finetune_steps: int = FINETUNE_STEPS) -> dict:
  """Runs every step; returns the query results (also printed), the classifier's under
  "classify".

  Raises:
    OutputDirError: see `prepare_output_dir`.
  """
  prepare_output_dir(output_dir)
  path = functools.partial(os.path.join, output_dir)
  total = time.time()
  vocab_path = _build_vocab(language, path)
  vocab_flag = (f"--vocab_file={vocab_path}"
                if language == "zh" else f"--spm_model_file={vocab_path}")
  config_file = path("albert_config.json")
  with open(config_file, "w", encoding="utf-8") as f:
    json.dump(_demo_config(_vocab_size(vocab_path, language), language), f, indent=2)
  _pretrain(language, path, vocab_flag, config_file, num_train_steps, train_batch_size, dupe_factor)

  _run_step("Exporting the TF Serving SavedModel", [
      "-m", "albert_tf.export_savedmodel", f"--albert_config_file={config_file}",
      f"--init_checkpoint={path('model')}", vocab_flag, f"--export_dir={path('serving')}",
      f"--max_seq_length={MAX_SEQ_LENGTH}", "--top_k=3"
  ], path("export_savedmodel.log"))
  version_dir = _newest_version(path("serving"))
  queries = {"fill_mask": list(QUERIES[language]), "encode": list(ENCODE_QUERIES[language])}
  answers = _query("Querying the SavedModel", _QUERY_SCRIPT, version_dir, queries)
  _print_answers(queries, answers)

  answers["classify"] = _fine_tune_and_classify(language, path, vocab_flag, config_file,
                                                finetune_steps)
  print(f"\nDemo finished in {time.time() - total:.0f} s. SavedModels: {version_dir} (pretrained), "
        f"{answers['classify']['version_dir']} (classifier)")
  return answers


def _build_vocab(language: str, path: Callable[..., str]) -> str:
  """Builds the vocabulary (SentencePiece for "en", WordPiece for "zh"); returns its file."""
  corpus = shipped_corpus_path(language)
  vocab_input = corpus
  vocab_flags = ["--wordpiece", "--vocab_size=3000", "--min_count=1"]
  if language == "en":
    vocab_input = path("vocab_input.txt")
    with open(corpus, encoding="utf-8") as f:
      text = f.read()
    with open(vocab_input, "w", encoding="utf-8") as f:
      f.write(text + shuffled_word_lines(text))
    vocab_flags = ["--vocab_size=1000", "--nohard_vocab_limit"]
  _run_step("Building the vocabulary", [
      "-m", "data_prep.build_vocab", f"--input_file={vocab_input}",
      f"--model_prefix={path('vocab')}", *vocab_flags
  ], path("build_vocab.log"))
  return path("vocab.txt") if language == "zh" else path("vocab.model")


def _pretrain(language: str, path: Callable[..., str], vocab_flag: str, config_file: str,
              num_train_steps: int, train_batch_size: int, dupe_factor: int) -> None:
  """Writes the pretraining records and pretrains into path("model")."""
  _run_step(
      "Creating pretraining TFRecords",
      [
          "-m",
          "data_prep.create_pretraining_data",
          f"--input_file={shipped_corpus_path(language)}",
          f"--output_file={path('records', 'train.tfrecord')}",
          vocab_flag,
          f"--max_seq_length={MAX_SEQ_LENGTH}",
          f"--max_predictions_per_seq={MAX_PREDICTIONS_PER_SEQ}",
          # Single-word masks: the demo's queries ask for one word per [MASK].
          f"--dupe_factor={dupe_factor}",
          "--ngram=1",
          "--num_workers=2",
          *(["--do_chinese_wwm"] if language == "zh" else [])
      ],
      path("create_pretraining_data.log"))
  _run_step(f"Pretraining a tiny ALBERT for {num_train_steps} steps on the CPU", [
      "-m", "albert_tf.run_pretraining", f"--albert_config_file={config_file}",
      f"--input_file={path('records', '*.tfrecord')}", f"--output_dir={path('model')}",
      f"--max_seq_length={MAX_SEQ_LENGTH}", f"--max_predictions_per_seq={MAX_PREDICTIONS_PER_SEQ}",
      f"--train_batch_size={train_batch_size}", f"--num_train_steps={num_train_steps}",
      f"--num_warmup_steps={num_train_steps // 10}", "--learning_rate=0.01", "--optimizer=lamb",
      f"--save_checkpoints_steps={num_train_steps}", f"--log_steps={PRETRAIN_LOG_STEPS}", "--seed=0"
  ], path("run_pretraining.log"))


def _fine_tune_and_classify(language: str, path: Callable[..., str], vocab_flag: str,
                            config_file: str, steps: int) -> dict:
  """Fine-tunes the pretrained model on the shipped animal/city set with run_classifier (train,
  dev evaluation, test predictions, export), then queries the exported classify_text."""
  data_dir = shipped_classification_dir(language)
  _run_step(
      f"Fine-tuning a classifier (animal or city?) for {steps} steps on {data_dir}",
      [
          "-m",
          "albert_tf.run_classifier",
          "--task_name=generic",
          f"--data_dir={data_dir}",
          f"--albert_config_file={config_file}",
          f"--init_checkpoint={path('model')}",
          vocab_flag,
          f"--output_dir={path('classifier')}",
          f"--max_seq_length={MAX_SEQ_LENGTH}",
          "--do_train",
          "--do_eval",
          "--do_predict",
          f"--train_batch_size={FINETUNE_BATCH_SIZE}",
          f"--eval_batch_size={FINETUNE_BATCH_SIZE}",
          f"--predict_batch_size={FINETUNE_BATCH_SIZE}",
          f"--learning_rate={FINETUNE_LEARNING_RATE}",
          f"--train_step={steps}",
          f"--warmup_step={steps // 10}",
          # One checkpoint, at the end: model.ckpt-best keeps the first of equally accurate
          # ones, and this easy task reaches dev accuracy 1.0 long before the model is confident.
          f"--save_checkpoints_steps={steps}",
          "--log_steps=10",
          "--seed=0",
          f"--export_dir={path('classifier_serving')}"
      ],
      path("run_classifier.log"))
  # The original's best_trial.txt, `<last step>:<best step>:<best eval_accuracy>`, read as a user
  # would (the evaluation module that writes it would load TensorFlow into this process).
  with open(path("classifier", "best_trial.txt"), encoding="utf-8") as f:
    _, best_step, accuracy = f.read().split(":")
  version_dir = _newest_version(path("classifier_serving"))
  texts = [text for text, _ in CLASSIFY_QUERIES[language]]
  answers = _query("Querying the classifier's classify_text", _CLASSIFY_SCRIPT, version_dir, texts)
  print(f"\nclassify_text (the exported checkpoint: step {best_step}, dev eval_accuracy "
        f"{float(accuracy):.3f}):")
  for text, label, probability in zip(texts, answers["labels"], answers["probabilities"]):
    print(f"  {text}  ->  {label} ({probability:.2f})")
  return {
      **answers, "eval_accuracy": float(accuracy),
      "best_step": int(best_step),
      "version_dir": version_dir
  }


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
  dot = sum(x * y for x, y in zip(a, b))
  norm = (sum(x * x for x in a) * sum(y * y for y in b))**0.5
  return dot / norm if norm else 0.0


def _print_answers(queries: dict, answers: dict) -> None:
  print("\nfill_mask_text (top 3 per [MASK]):")
  for text, masks, probabilities in zip(queries["fill_mask"], answers["tokens"],
                                        answers["probabilities"]):
    print(f"  {text}")
    for index, (tokens, probs) in enumerate(zip(masks, probabilities)):
      if answers["mask_positions"][queries["fill_mask"].index(text)][index] < 0:
        continue
      candidates = ", ".join(
          f"{token.lstrip(chr(0x2581))} ({p:.2f})" for token, p in zip(tokens, probs))
      print(f"    [MASK] {index + 1}: {candidates}")
  print("\nencode_text (pooled_output, cosine similarity between sentences):")
  texts, pooled = queries["encode"], answers["pooled_output"]
  for i, text in enumerate(texts):
    print(f"  [{i}] {text}  ({answers['num_tokens'][i]} tokens, "
          f"first values {[round(v, 3) for v in pooled[i][:4]]})")
  for i in range(len(texts)):
    for j in range(i + 1, len(texts)):
      print(f"  cos([{i}], [{j}]) = {_cosine(pooled[i], pooled[j]):.3f}")


def define_flags() -> None:
  """Defines the demo's flags (only when run as a program).

  Importing the module (the tests do) must not claim flag names that other command lines of the
  project define too, e.g. run_pretraining's --num_train_steps.
  """
  flags.DEFINE_enum("language", "en", ["en", "zh"],
                    "en: SentencePiece; zh: WordPiece + Chinese WWM.")
  flags.DEFINE_string("output_dir", None, "Working directory (default: demo_output/<language>).")
  flags.DEFINE_integer("num_train_steps", 3000, "Pretraining steps.", lower_bound=1)
  flags.DEFINE_integer("train_batch_size", 32, "Pretraining batch size.", lower_bound=1)
  flags.DEFINE_integer("dupe_factor", 8, "Passes over the corpus when creating the records.",
                       lower_bound=1)
  flags.DEFINE_integer("finetune_steps", FINETUNE_STEPS, "Fine-tuning steps of the classifier.",
                       lower_bound=1)
  flags.DEFINE_bool("regenerate_corpus", False,
                    "Rewrite the shipped corpora and classification sets and exit.")


def main(argv):
  del argv  # Unused.
  if FLAGS.regenerate_corpus:
    write_shipped_data()
    return
  output_dir = FLAGS.output_dir or os.path.join("demo_output", FLAGS.language)
  try:
    run_pipeline(FLAGS.language, output_dir, FLAGS.num_train_steps, FLAGS.train_batch_size,
                 FLAGS.dupe_factor, FLAGS.finetune_steps)
  except OutputDirError as error:
    sys.exit(f"{_ERROR_PREFIX}{error}")


if __name__ == "__main__":
  define_flags()
  command_line.run(main, _ERROR_PREFIX)
