"""A per-thread switch that layers read when called, to choose how a traced graph is built."""

import contextlib
import threading
from typing import Iterator


class TraceFlag:
  """An on/off setting, off by default, turned on for one thread inside `scope()`.

  Layers read it in `call`, so it shapes the graphs of tf.functions traced in the scope (e.g. the
  TFLite export's) and leaves every other caller's graph as it was.

  Example:
    >>> flag = TraceFlag()
    >>> with flag.scope():
    ...   inside = flag.enabled
    >>> inside, flag.enabled
    (True, False)
  """

  def __init__(self):
    self._local = threading.local()

  @property
  def enabled(self) -> bool:
    return getattr(self._local, "enabled", False)

  @contextlib.contextmanager
  def scope(self) -> Iterator[None]:
    """Turns the flag on for this thread until the scope ends (nested scopes restore it)."""
    previous = self.enabled
    self._local.enabled = True
    try:
      yield
    finally:
      self._local.enabled = previous
