"""Generated SQuAD-format data sets whose answers follow from the question (English and Chinese).

Each paragraph states a few facts about distinct people; each question names one person and asks
for one fact, so a model can answer by finding the name in the paragraph and copying the words of
the matching fact (a tiny model learns this in a few hundred steps). In version 2 sets about a
third of the questions ask about a person the paragraph does not mention: they are unanswerable
(`"is_impossible": true`, `"answers": []`), as in SQuAD 2.0.

The words are taken from the text fixtures (tests/data/*_corpus.txt), so the tiny SentencePiece
model and the WordPiece vocab of `tests/text_fixtures.py` cover them (every Chinese character used
here is in the WordPiece vocab). Chinese answers mix characters with ASCII letters and digits
("B12号"), and English text has upper-case letters and an accented name.

    from tests import squad_fixtures
    rng = random.Random(0)
    data = squad_fixtures.write_squad_json(tmp_path / "train.json", rng, num_questions=200,
                                           version_2=True, language="zh")
    answers = squad_fixtures.gold_answers(data)   # {question id: answer text or ""}
"""

import json
import os
import random
from typing import Any, Dict, List, Union

LANGUAGES = ("en", "zh")

_EN_PEOPLE = ("the baker", "the keeper", "the teacher", "the farmer", "the sailor", "the visitor",
              "the owner", "the winner", "the pupil", "the customer", "the engineer", "the student",
              "the judge", "the soldier", "José", "Marta")
_EN_PLACES = ("harbour", "village", "valley", "station", "museum", "library", "garden", "market",
              "school", "cinema", "bakery", "bridge", "river", "mountain", "square", "railway")
_EN_GOODS = ("lemons", "tomatoes", "pumpkins", "loaves", "postcards", "notebooks", "flowers",
             "beans")
# Every character below occurs in tests/data/chinese_corpus.txt (so in the fixture WordPiece vocab).
_ZH_PEOPLE = tuple(("小明 小红 小文 小春 小英 小美 小丽 小安 "
                    "小静 小天 小月 小山 小花 小草 小风 小河").split())
_ZH_PLACES = tuple(("公园 图书馆 饭馆 湖边 中学 小店 山里 河边 "
                    "草地 花园 家里 村里 城市 地铁 阅览室 庄里").split())
_ZH_ROOM_LETTERS = "ABCDEFGH"


def _capitalized(text: str) -> str:
  return text[:1].upper() + text[1:]


def _en_fact(rng: random.Random, person: str) -> Dict[str, str]:
  """One English fact: (sentence, question, answer); the answer occurs once in the sentence."""
  if rng.random() < 0.5:
    place = rng.choice(_EN_PLACES)
    sentence = f"{_capitalized(person)} lives near the {place.capitalize()}."
    return {
        "sentence": sentence,
        "question": f"Where does {person} live?",
        "answer": place.capitalize()
    }
  goods = rng.choice(_EN_GOODS)
  count = str(rng.randint(2, 99))
  sentence = f"{_capitalized(person)} sold {count} {goods} in the market."
  return {"sentence": sentence, "question": f"How many {goods} did {person} sell?", "answer": count}


def _zh_fact(rng: random.Random, person: str) -> Dict[str, str]:
  """One Chinese fact; room answers mix an ASCII letter, digits and a character ("B12号")."""
  if rng.random() < 0.5:
    place = rng.choice(_ZH_PLACES)
    sentence, question = f"{person}每天去{place}。", f"{person}每天去的地点是？"
    return {"sentence": sentence, "question": question, "answer": place}
  room = f"{rng.choice(_ZH_ROOM_LETTERS)}{rng.randint(1, 99)}号"
  sentence, question = f"{person}的房间是{room}。", f"{person}的房间是？"
  return {"sentence": sentence, "question": question, "answer": room}


def _paragraph(rng: random.Random, language: str, questions: int, version_2: bool,
               first_id: int) -> Dict[str, Any]:
  people = _EN_PEOPLE if language == "en" else _ZH_PEOPLE
  make_fact = _en_fact if language == "en" else _zh_fact
  chosen = rng.sample(people, k=min(len(people), questions + 3))
  present, absent = chosen[:questions + 1], chosen[questions + 1:]
  facts = [make_fact(rng, person) for person in present]
  joiner = " " if language == "en" else ""
  context = joiner.join(fact["sentence"] for fact in facts)
  qas = []
  for index in range(questions):
    qa_id = f"{language}{'v2' if version_2 else 'v1'}_{first_id + index:06d}"
    if version_2 and rng.random() < 1 / 3:
      question = make_fact(rng, rng.choice(absent))["question"]
      qas.append({"id": qa_id, "question": question, "answers": [], "is_impossible": True})
      continue
    fact = facts[index]
    sentence_start = context.index(fact["sentence"])
    answer_start = sentence_start + fact["sentence"].index(fact["answer"])
    qa = {
        "id": qa_id,
        "question": fact["question"],
        "answers": [{
            "text": fact["answer"],
            "answer_start": answer_start
        }]
    }
    if version_2:
      qa["is_impossible"] = False
    qas.append(qa)
  return {"context": context, "qas": qas}


def make_squad_data(rng: random.Random, num_questions: int, version_2: bool = False,
                    language: str = "en", questions_per_paragraph: int = 3) -> Dict[str, Any]:
  """Returns a SQuAD-format data set (`{"version": ..., "data": [...]}`) as a dict.

  Args:
    rng: the random source (the same seed gives the same data).
    num_questions: questions in all (the last paragraph may hold fewer).
    version_2: SQuAD 2.0 layout with about a third of the questions unanswerable.
    language: "en" (English, spaces between words) or "zh" (Chinese, no spaces).
    questions_per_paragraph: questions per paragraph; each paragraph states one more fact than it
      asks about, so the model must pick the right one.

  Returns:
    The data set; every answerable question has exactly one answer whose `answer_start` is the
    character offset of its text in the context.
  """
  if language not in LANGUAGES:
    raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}.")
  paragraphs = []
  made = 0
  while made < num_questions:
    count = min(questions_per_paragraph, num_questions - made)
    paragraphs.append(_paragraph(rng, language, count, version_2, made))
    made += count
  title = f"generated_{language}"
  return {
      "version": "v2.0" if version_2 else "1.1",
      "data": [{
          "title": title,
          "paragraphs": paragraphs
      }]
  }


def write_squad_json(path: Union[str, os.PathLike], rng: random.Random, num_questions: int,
                     version_2: bool = False, language: str = "en",
                     questions_per_paragraph: int = 3) -> Dict[str, Any]:
  """Writes `make_squad_data(...)` to `path` as UTF-8 JSON and returns the data set.

  Example:
    data = write_squad_json(tmp_path / "dev.json", random.Random(1), 60, version_2=True,
                            language="en")
  """
  data = make_squad_data(rng, num_questions, version_2, language, questions_per_paragraph)
  with open(path, "w", encoding="utf-8") as writer:
    json.dump(data, writer, ensure_ascii=False, indent=1)
  return data


def gold_answers(data: Dict[str, Any]) -> Dict[str, str]:
  """{question id: its (first) answer text, "" for unanswerable questions}."""
  answers = {}
  for article in data["data"]:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        answers[qa["id"]] = qa["answers"][0]["text"] if qa["answers"] else ""
  return answers


def question_ids(data: Dict[str, Any]) -> List[str]:
  """The question ids in file order."""
  return list(gold_answers(data))
