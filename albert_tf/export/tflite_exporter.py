"""Writes the TFLite/LiteRT export: `model.tflite` (float32) and `model_int8.tflite` (int8 FFN).

Both take raw text (`encode_text`, `fill_mask_text`) with a dynamic sequence length and need only
TFLite builtins plus tensorflow-text's TFLite kernels:

    from ai_edge_litert import interpreter
    from tensorflow_text import tflite_registrar
    model = interpreter.InterpreterWithCustomOps(
        custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS, model_path="model.tflite")
    pooled = model.get_signature_runner("encode_text")(text=np.array(["Hi."]))["pooled_output"]
"""

import contextlib
import os
import tempfile
from typing import Callable, ContextManager, Iterator, List, Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema_fb
from tensorflow.lite.tools import flatbuffer_utils

from albert_tf.export.tflite_serving_module import TfliteServingModule
from albert_tf.export.tflite_serving_module import TfliteTokenizer
from albert_tf.export.tflite_tokenizers import TfliteSentencePieceTokenizer
from albert_tf.export.tflite_tokenizers import TfliteWordPieceTokenizer
from albert_tf.layers import shared_encoder
from albert_tf.layers import transformer_block

FLOAT_FILE = "model.tflite"
INT8_FILE = "model_int8.tflite"
# none: float32 only; dynamic_int8: also int8 weights with float activations, which needs no
# representative sample. Full-integer int8 is not offered: TFLite's calibrator cannot run the
# tensorflow-text kernels of the in-graph tokenizer, and activations in int8 lose too much (pooled
# cosine 0.80 against float32, measured on the base shape).
QUANTIZATIONS = ("none", "dynamic_int8")
# The Keras layers whose matmuls dynamic_int8 keeps in float32: the embedding projection and the
# attention projections. Int8 weights with per-token int8 activations there moved the pooled_output
# of the trained demo model by up to 1 - cosine = 0.0022 (target <= 0.001): ALBERT applies the one
# shared layer L times, the softmax sharpens small errors in q.k, and the pooler amplifies the
# [CLS] vector's error about 6x. With these float the minimum cosine is 0.9995, while the
# feed-forward block (2/3 of each layer's weights and FLOPs) stays int8.
FLOAT_LAYERS_IN_INT8 = ("embedding_projection", "query", "key", "value", "attention_output")
# The scopes the model is traced in for TFLite (see their docstrings): the feed-forward in H-wide
# slices (faster under XNNPACK) and the layers as one WHILE loop (shared weights packed once).
Scope = Callable[[], ContextManager[None]]
TRACE_SCOPES: Tuple[Scope, ...] = (transformer_block.split_feed_forward, shared_encoder.loop_layers)
# The custom ops of our graphs that `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS` resolves.
TFTEXT_CUSTOM_OPS = frozenset({
    "FastBertNormalize", "RaggedTensorToTensor", "TFText>ByteSplitByOffsets",
    "TFText>ByteSplitWithOffsets", "TFText>FastSentencepieceTokenize",
    "FastWordpieceTokenizeWithOffsets"
})


class TfliteExportError(ValueError):
  """The model cannot be written as TFLite; the message says which op or flag and why."""


def create_tflite_tokenizer(spm_model_file: Optional[str], vocab_file: Optional[str],
                            do_lower_case: bool) -> TfliteTokenizer:
  """The TFLite tokenizer for a SentencePiece model or a WordPiece vocab (the model wins)."""
  if spm_model_file:
    return TfliteSentencePieceTokenizer(spm_model_file, do_lower_case=do_lower_case)
  return TfliteWordPieceTokenizer(vocab_file, do_lower_case=do_lower_case)


def check_quantization(quantization: str) -> None:
  """Raises TfliteExportError for a quantization mode other than QUANTIZATIONS."""
  if quantization not in QUANTIZATIONS:
    raise TfliteExportError(
        f"--tflite_quantization={quantization} is not one of {', '.join(QUANTIZATIONS)} "
        "(full-integer int8 cannot calibrate the in-graph tokenizer ops; dynamic_int8 needs no "
        "representative sample)")


def write_tflite(pretrainer: tf.Module, tokenizer: TfliteTokenizer, directory: str,
                 max_seq_length: int, top_k: int, quantization: str = "none") -> List[str]:
  """Converts the text signatures to TFLite and writes the files into `directory`.

  Args:
    pretrainer: an AlbertPretrainer with its weights (float32 compute).
    tokenizer: a TfliteSentencePieceTokenizer or TfliteWordPieceTokenizer.
    directory: where `model.tflite` (and `model_int8.tflite`) go; the caller makes it atomic.
    max_seq_length: the most tokens a packed text keeps.
    top_k: candidates per mask in fill_mask_text.
    quantization: one of QUANTIZATIONS.

  Returns:
    The paths written.

  Raises:
    TfliteExportError: an op cannot convert (named, with the layer it belongs to), or a
      quantization setting is wrong.
  """
  check_quantization(quantization)
  written = []
  with tempfile.TemporaryDirectory() as saved_model_dir:
    with traced_for_tflite():
      module = TfliteServingModule(pretrainer, tokenizer, max_seq_length=max_seq_length,
                                   top_k=top_k)
      signatures = module.get_signatures()
      tf.saved_model.save(module, saved_model_dir, signatures=signatures)
    variants = [(FLOAT_FILE, None)]
    if quantization != "none":
      variants.append((INT8_FILE, quantization))
    float_content = None
    for file_name, mode in variants:
      logging.info("Export: converting %s to TFLite", file_name)
      content = _convert(saved_model_dir, list(signatures), mode)
      if mode is None:
        float_content = content
      else:
        content = keep_float_layers(content, float_content, FLOAT_LAYERS_IN_INT8)
      path = os.path.join(directory, file_name)
      with tf.io.gfile.GFile(path, "wb") as f:
        f.write(content)
      written.append(path)
  return written


@contextlib.contextmanager
def traced_for_tflite(scopes: Sequence[Scope] = TRACE_SCOPES) -> Iterator[None]:
  """Enters `scopes` (by default the export's TRACE_SCOPES) for the tf.functions traced inside."""
  with contextlib.ExitStack() as stack:
    for scope in scopes:
      stack.enter_context(scope())
    yield


def _convert(saved_model_dir: str, signature_keys: List[str], quantization: Optional[str]) -> bytes:
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                       signature_keys=signature_keys)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  converter.allow_custom_ops = True  # the tensorflow-text kernels; others are refused below
  if quantization:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  try:
    content = converter.convert()
  except Exception as error:  # pylint: disable=broad-except
    # The converter reports with a multi-line MLIR dump: keep its first line.
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise TfliteExportError(f"TFLite conversion failed: {first_line}") from error
  check_custom_ops(content)
  return content


def check_custom_ops(content: bytes) -> None:
  """Raises TfliteExportError naming an op that neither TFLite nor tensorflow-text can run.

  `allow_custom_ops` lets the tensorflow-text ops through, and with them any other op the
  converter could not lower; the first such op is reported with the tensor it computes, whose
  name carries the Keras layer (e.g. `albert/encoder/...`).
  """
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
  codes = model.operatorCodes
  for subgraph in model.subgraphs:
    for operator in subgraph.operators:
      custom = codes[operator.opcodeIndex].customCode
      if custom and custom.decode() not in TFTEXT_CUSTOM_OPS:
        outputs = ", ".join(subgraph.tensors[i].name.decode() for i in operator.outputs)
        raise TfliteExportError(
            f"TFLite cannot run op {custom.decode()} (computing {outputs}): it is neither a "
            "TFLite builtin nor a tensorflow-text kernel; rewrite that layer with convertible ops")


def keep_float_layers(quantized: bytes, float_model: bytes, layers: Sequence[str]) -> bytes:
  """The dynamic-range model with the float32 weights of `layers`' FULLY_CONNECTED ops put back.

  The converter's dynamic-range quantizer has no public option to leave chosen ops in float (its
  denylists apply to full-integer calibration only), so the int8 weight tensors of those ops are
  replaced by the float model's, found by the op's output tensor name (which carries the Keras
  layer, e.g. `albert/encoder/group_0_inner_group_0/query/MatMul;...`). A FULLY_CONNECTED op with
  float32 weights runs in float32.

  Args:
    quantized: the dynamic-range model.
    float_model: the float32 model converted from the same SavedModel.
    layers: Keras layer names; an op whose output name has `/<layer>/` keeps float32 weights.

  Returns:
    The model, serialized.

  Raises:
    TfliteExportError: an op of `layers` has no float32 twin, or its weights feed other ops.
  """
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(quantized))
  reference = flatbuffer_utils.convert_bytearray_to_object(bytearray(float_model))
  for graph, float_graph in zip(model.subgraphs, reference.subgraphs):
    float_weights = {
        name: float_graph.tensors[operator.inputs[1]]
        for name, operator in _fully_connected(reference, float_graph)
    }
    restored = set()
    for name, operator in _fully_connected(model, graph):
      weights = graph.tensors[operator.inputs[1]]
      if not any(f"/{layer}/" in name for layer in layers) or operator.inputs[1] in restored:
        continue
      if name not in float_weights:
        raise TfliteExportError(f"TFLite int8: no float32 op computes {name}")
      original = float_weights[name]
      model.buffers[weights.buffer].data = reference.buffers[original.buffer].data
      weights.type, weights.quantization = original.type, original.quantization
      restored.add(operator.inputs[1])
    _check_only_fully_connected_reads(model, graph, restored)
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _fully_connected(model, graph) -> List[Tuple[str, object]]:
  """(output tensor name, operator) of every FULLY_CONNECTED op of a subgraph."""
  fully_connected = schema_fb.BuiltinOperator.FULLY_CONNECTED
  found = []
  for operator in graph.operators:
    code = model.operatorCodes[operator.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) == fully_connected:
      found.append((graph.tensors[operator.outputs[0]].name.decode(), operator))
  return found


def _check_only_fully_connected_reads(model, graph, tensors: set) -> None:
  """Raises TfliteExportError if a restored weight tensor is read other than as FC weights."""
  for operator in graph.operators:
    code = model.operatorCodes[operator.opcodeIndex]
    is_fully_connected = max(
        code.builtinCode, code.deprecatedBuiltinCode) == schema_fb.BuiltinOperator.FULLY_CONNECTED
    for position, index in enumerate(operator.inputs):
      if index in tensors and not (is_fully_connected and position == 1):
        raise TfliteExportError(
            f"TFLite int8: the weights of {graph.tensors[index].name.decode()} are also read by "
            "another op, so they cannot stay float32 for one of them")
