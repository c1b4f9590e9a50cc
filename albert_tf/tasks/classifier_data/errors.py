"""The one exception class of the classifier data layer."""


class ClassifierDataError(ValueError):
  """A user error in classification data or flags.

  The message is one line that names the file (and line) or flag at fault and says how to fix it,
  so the command line can print it as it is and exit 1.

  Example:
    >>> raise ClassifierDataError("glue/MRPC/train.tsv not found: pass --data_dir=<GLUE root>")
    Traceback (most recent call last):
    albert_tf...ClassifierDataError: glue/MRPC/train.tsv not found: pass --data_dir=<GLUE root>
  """
