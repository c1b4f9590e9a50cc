"""Generated SQuAD-format data sets whose answers follow from the question (English and Chinese).

Each paragraph states facts of different kinds (where someone lives, how many things they sold or
friends they have, when they came back, which room is theirs), one fact per kind and each about a
different person; each question asks for one kind ("Where does the baker live?"), so a model
answers by reading the kind the question asks for and copying that fact's answer words. In version
2 sets every paragraph leaves one kind out and the questions about that kind are unanswerable
(`"is_impossible": true`, `"answers": []`, about a third of them), as in SQuAD 2.0.

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
from typing import Any, Dict, List, Tuple, Union

LANGUAGES = ("en", "zh")

_EN_PEOPLE = ("the baker", "the keeper", "the teacher", "the farmer", "the sailor", "the visitor",
              "the owner", "the winner", "the pupil", "the customer", "the engineer", "the student",
              "the judge", "the soldier", "José", "Marta")
_EN_PLACES = ("harbour", "village", "valley", "station", "museum", "library", "garden", "market",
              "school", "cinema", "bakery", "bridge", "river", "mountain", "square", "railway")
# Every character below occurs in tests/data/chinese_corpus.txt (so in the fixture WordPiece vocab).
_ZH_PEOPLE = tuple(("小明 小红 小文 小春 小英 小美 小丽 小安 "
                    "小静 小天 小月 小山 小花 小草 小风 小河").split())
_ZH_PLACES = tuple(("公园 图书馆 饭馆 湖边 中学 小店 山里 河边 "
                    "草地 花园 家里 村里 城市 地铁 阅览室 庄里").split())
_ZH_ROOM_LETTERS = "ABCDEFGH"


def _capitalized(text: str) -> str:
  return text[:1].upper() + text[1:]


_EN_SEASONS = ("spring", "summer", "autumn", "winter")


def _en_place(rng: random.Random, person: str) -> Tuple[str, str, str]:
  place = rng.choice(_EN_PLACES).capitalize()
  return f"{_capitalized(person)} lives near the {place}.", f"Where does {person} live?", place


def _en_count(rng: random.Random, person: str) -> Tuple[str, str, str]:
  count = str(rng.randint(2, 99))
  return (f"{_capitalized(person)} sold {count} loaves in the market.",
          f"How many loaves did {person} sell?", count)


def _en_season(rng: random.Random, person: str) -> Tuple[str, str, str]:
  season = rng.choice(_EN_SEASONS)
  return f"{_capitalized(person)} came back in {season}.", f"When did {person} come back?", season


def _zh_place(rng: random.Random, person: str) -> Tuple[str, str, str]:
  place = rng.choice(_ZH_PLACES)
  return f"{person}每天去{place}。", f"{person}每天去的地点是？", place


def _zh_room(rng: random.Random, person: str) -> Tuple[str, str, str]:
  room = f"{rng.choice(_ZH_ROOM_LETTERS)}{rng.randint(1, 99)}号"
  return f"{person}的房间是{room}。", f"{person}的房间是？", room


def _zh_friends(rng: random.Random, person: str) -> Tuple[str, str, str]:
  friends = f"{rng.randint(2, 99)}个"
  return f"{person}有{friends}朋友。", f"{person}有多少个朋友？", friends


# The kinds of fact: each makes (sentence, question, answer); the answer occurs once in the
# sentence.
_KINDS = {"en": (_en_place, _en_count, _en_season), "zh": (_zh_place, _zh_room, _zh_friends)}
_PEOPLE = {"en": _EN_PEOPLE, "zh": _ZH_PEOPLE}


def _paragraph(rng: random.Random, language: str, questions: int, version_2: bool,
               first_id: int) -> Dict[str, Any]:
  kinds = list(_KINDS[language])
  rng.shuffle(kinds)
  stated = kinds[1:] if version_2 else kinds  # v2: the first kind is left out
  people = rng.sample(_PEOPLE[language], k=len(kinds))
  facts = [kind(rng, person) for kind, person in zip(stated, people)]
  context = (" " if language == "en" else "").join(sentence for sentence, _, _ in facts)
  qas = []
  order = rng.sample(range(len(kinds)), k=len(kinds))  # each kind asked once per round
  for index in range(questions):
    qa_id = f"{language}{'v2' if version_2 else 'v1'}_{first_id + index:06d}"
    asked = order[index % len(kinds)]
    if version_2 and asked == 0:
      _, question, _ = kinds[0](rng, people[-1])
      qas.append({"id": qa_id, "question": question, "answers": [], "is_impossible": True})
      continue
    sentence, question, answer = facts[asked - 1 if version_2 else asked]
    answer_start = context.index(sentence) + sentence.index(answer)
    qa = {
        "id": qa_id,
        "question": question,
        "answers": [{
            "text": answer,
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
    questions_per_paragraph: questions per paragraph, about the kinds in a random order (the
      paragraph states every kind once, v2 all but one).

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
