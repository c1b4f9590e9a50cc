"""Shared pytest setup: quiet TensorFlow logs, keep tests hermetic."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
