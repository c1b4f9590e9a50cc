"""Exact parameter counts of the published English sizes (reference/original_albert.md §3.3)."""

import numpy as np
import numpy_albert  # tests/, on sys.path under pytest's default import mode
import pytest

from albert_tf.config import AlbertConfig
from albert_tf.models.albert_pretrainer import AlbertPretrainer

# size: (backbone, backbone + MLM + SOP heads), for V=30000.
PUBLISHED_COUNTS = {
    "base": (11_683_584, 11_813_810),
    "large": (17_683_968, 17_847_474),
    "xlarge": (58_724_864, 59_021_490),
    "xxlarge": (222_595_584, 223_158_450),
}


def _count(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


@pytest.mark.parametrize(
    "size",
    [
        "base",
        "large",
        pytest.param("xlarge", marks=pytest.mark.slow),
        pytest.param("xxlarge", marks=pytest.mark.slow),  # ~0.9 GB of float32, ~20 s to initialise
    ])
def test_parameter_counts(size):
  config = AlbertConfig.from_preset(f"albert_{size}_v2")
  pretrainer = AlbertPretrainer(config)
  pretrainer.build()  # creates the variables without a forward pass
  backbone, total = PUBLISHED_COUNTS[size]
  variables = pretrainer.trainable_variables
  assert len({id(v) for v in variables}) == len(variables)  # the tied table is counted once
  assert _count(pretrainer.albert.trainable_variables) == backbone
  assert _count(variables) == total == pretrainer.count_params()
  original = numpy_albert.original_shapes(config.to_dict())
  assert len(variables) == len(original)
  assert sum(int(np.prod(shape)) for shape in original.values()) == total
