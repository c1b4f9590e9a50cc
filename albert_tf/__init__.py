"""albert-tf: ALBERT (A Lite BERT) for TensorFlow 2 / tf_keras.

Public API:

    from albert_tf import AlbertConfig, AlbertModel, AlbertPretrainer
    from albert_tf import load_checkpoint, save_original_checkpoint

Names are resolved on first use, so `import albert_tf` (and the TensorFlow-free data tools that live
beside it) stay cheap to import.
"""

import importlib
from typing import Any

_EXPORTS = {
    "AlbertConfig": "albert_tf.config",
    "AlbertModel": "albert_tf.models.albert_model",
    "AlbertPretrainer": "albert_tf.models.albert_pretrainer",
    "load_checkpoint": "albert_tf.checkpoints",
    "save_original_checkpoint": "albert_tf.checkpoints",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
  if name not in _EXPORTS:
    raise AttributeError(f"module 'albert_tf' has no attribute {name!r}")
  return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
  return sorted(list(globals()) + __all__)
