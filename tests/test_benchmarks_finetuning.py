"""benchmarks/finetuning_bench.py --quick: it runs both models and prints consistent figures."""

import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# configs/albert_tiny_test.json, as --quick uses it: T, E, H, I, L, C (2 labels).
_SEQ, _EMBEDDING, _HIDDEN, _INTERMEDIATE, _LAYERS, _LABELS = 16, 16, 32, 37, 2, 2
_NUMBER = r"([0-9.]+)"


@pytest.fixture(scope="module")
def output():
  result = subprocess.run([sys.executable, "benchmarks/finetuning_bench.py", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def _row(output: str, label: str) -> tuple[float, float, float, list[float], float]:
  """(seq/s, MFU %, seq per CPU-second, window rates, warm-up loss) of one model's line."""
  match = re.search(
      re.escape(label) + rf": {_NUMBER} seq/s, MFU {_NUMBER}%, {_NUMBER} seq per "
      rf"CPU-second \(windows seq/s: ([0-9., ]+); warm-up loss {_NUMBER}\)", output)
  assert match, output
  windows = [float(w) for w in match.group(4).split(", ")]
  return (float(match.group(1)), float(match.group(2)), float(match.group(3)), windows,
          float(match.group(5)))


def _hand_counted_gflop() -> float:
  """3x the forward pass's multiply-adds, listed GEMM by GEMM as (m, k, n)."""
  t, e, h, i = _SEQ, _EMBEDDING, _HIDDEN, _INTERMEDIATE
  gemms = [(t, e, h)]  # embedding projection
  gemms += _LAYERS * ([(t, h, h)] * 4  # query, key, value, attention output
                      + [(t, h, t), (t, t, h)]  # q·kᵀ and probabilities·v, all heads
                      + [(t, h, i), (t, i, h)])  # feed-forward
  gemms += [(1, h, h), (1, h, _LABELS)]  # pooler, classifier head
  return 3 * sum(2 * m * k * n for m, k, n in gemms) / 1e9


def test_quick_shape_line(output):
  assert ("shape: albert_tiny_test, batch 4, sequence 16, 2 labels, AdamW, float32; "
          "1 warm-up step(s), 2 rounds x 5 step(s), median window") in output


def test_quick_flops_match_a_hand_count(output):
  match = re.search(
      rf"matmul float32 peak: {_NUMBER} GFLOP/s \(\[\d+, \d+\]x\[\d+, \d+\]\); "
      rf"([0-9.e-]+) GFLOP per training sequence", output)
  assert match, output
  assert float(match.group(1)) > 0
  assert float(match.group(2)) == pytest.approx(_hand_counted_gflop(), rel=1e-3)


def test_quick_rows_ratio_and_mfu_are_consistent(output):
  peak = float(re.search(rf"peak: {_NUMBER} GFLOP/s", output).group(1))
  rows = {
      name: _row(output, label)
      for name, label in (("ours", "ours (Trainer + ClassificationTask, jit_compile=False)"),
                          ("peer", "peer (tf-models-official BertClassifier + AlbertEncoder)"))
  }
  for rate, mfu, cpu_rate, windows, loss in rows.values():
    assert len(windows) == 2 and all(w > 0 for w in windows)
    # The median of two windows' seconds per step is their mean: B / mean(B / rate_i).
    assert rate == pytest.approx(2 / sum(1 / w for w in windows), rel=0.02)
    assert mfu == pytest.approx(100 * rate * _hand_counted_gflop() / peak, rel=0.05, abs=0.06)
    assert cpu_rate > 0
    # Both start from a random head on 2 balanced-ish classes: the loss is near ln 2.
    assert abs(loss - math.log(2)) < 0.1
  ratios = re.search(rf"ratio ours/peer: {_NUMBER}x wall-clock, {_NUMBER}x per CPU-second", output)
  assert ratios, output
  assert float(ratios.group(1)) == pytest.approx(rows["ours"][0] / rows["peer"][0], rel=0.02,
                                                 abs=0.006)
  assert float(ratios.group(2)) == pytest.approx(rows["ours"][2] / rows["peer"][2], rel=0.02,
                                                 abs=0.006)
  assert "jit_compile=True" not in output


# --- --task=squad --quick ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def squad_output():
  result = subprocess.run(
      [sys.executable, "benchmarks/finetuning_bench.py", "--task=squad", "--quick"], cwd=ROOT,
      capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def _squad_forward_gflop() -> float:
  """The encoder's GEMMs as in _hand_counted_gflop, then the span head (H -> 2 per token)."""
  t, e, h, i = _SEQ, _EMBEDDING, _HIDDEN, _INTERMEDIATE
  gemms = [(t, e, h)]
  gemms += _LAYERS * ([(t, h, h)] * 4 + [(t, h, t), (t, t, h)] + [(t, h, i), (t, i, h)])
  gemms += [(t, h, 2)]
  return sum(2 * m * k * n for m, k, n in gemms) / 1e9


@pytest.mark.slow
def test_squad_quick_reports_train_and_predict_of_both_models(squad_output):
  output = squad_output
  assert ("shape: albert_tiny_test, batch 4, sequence 16, SQuAD v1.1 span head, AdamW, float32; "
          "1 warm-up step(s), 2 rounds x 5 step(s), median window") in output
  match = re.search(
      rf"matmul float32 peak: {_NUMBER} GFLOP/s \(\[\d+, \d+\]x\[\d+, \d+\]\); "
      rf"([0-9.e-]+) GFLOP per training sequence, ([0-9.e-]+) GFLOP per predicted sequence", output)
  assert match, output
  peak = float(match.group(1))
  assert float(match.group(2)) == pytest.approx(3 * _squad_forward_gflop(), rel=1e-3)
  assert float(match.group(3)) == pytest.approx(_squad_forward_gflop(), rel=1e-3)
  rows = {}
  for name, label, gflop in (
      ("ours_train", "ours train (Trainer + SquadTask v1)", 3 * _squad_forward_gflop()),
      ("peer_train", "peer train (tf-models-official BertSpanLabeler + AlbertEncoder)",
       3 * _squad_forward_gflop()),
      ("ours_predict", "ours predict (Trainer.predict + SquadTask v1)", _squad_forward_gflop()),
      ("peer_predict", "peer predict (BertSpanLabeler + AlbertEncoder, tf.function)",
       _squad_forward_gflop()),
  ):
    note = r"; warm-up loss ([0-9.]+)" if name.endswith("train") else ""
    row = re.search(
        re.escape(label) + rf": {_NUMBER} seq/s, MFU {_NUMBER}%, {_NUMBER} seq per CPU-second "
        rf"\(windows seq/s: ([0-9., ]+){note}\)", output)
    assert row, output
    rate, mfu, cpu_rate = (float(row.group(index)) for index in (1, 2, 3))
    windows = [float(w) for w in row.group(4).split(", ")]
    assert len(windows) == 2 and all(w > 0 for w in windows) and cpu_rate > 0
    assert rate == pytest.approx(2 / sum(1 / w for w in windows), rel=0.02)
    assert mfu == pytest.approx(100 * rate * gflop / peak, rel=0.05, abs=0.06)
    if note:
      # A random span head over 16 positions: the start and end cross-entropies are near ln 16.
      assert abs(float(row.group(5)) - math.log(_SEQ)) < 0.2
    rows[name] = rate, cpu_rate
  for kind in ("train", "predict"):
    ratio = re.search(rf"ratio ours/peer {kind}: {_NUMBER}x wall-clock, {_NUMBER}x per CPU-second",
                      output)
    assert ratio, output
    ours, peer = rows[f"ours_{kind}"], rows[f"peer_{kind}"]
    assert float(ratio.group(1)) == pytest.approx(ours[0] / peer[0], rel=0.02, abs=0.006)
    assert float(ratio.group(2)) == pytest.approx(ours[1] / peer[1], rel=0.02, abs=0.006)
  assert "labels" not in output  # the classifier's lines are not printed
