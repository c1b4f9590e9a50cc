"""The one exception class of the SQuAD data layer."""


class SquadDataError(ValueError):
  """A user error in SQuAD-format data, features or flags.

  The message is one line that names the file (and the place in it) or the flag at fault and says
  how to fix it, so the command line can print it as it is and exit 1.

  Example:
    >>> raise SquadDataError("train.json: data[3].paragraphs[0].qas[2] has no 'answers'")
    Traceback (most recent call last):
    albert_tf...SquadDataError: train.json: data[3].paragraphs[0].qas[2] has no 'answers'
  """
