"""The bundled PP-OCR recognizer as a trainable torch module, and back to ONNX.

The ONNX graph is converted with ``onnx2torch`` after three rewrites: ``auto_pad=SAME_UPPER`` becomes
explicit pads (onnx2torch refuses it), the classifier's rows are cut to the classes being trained (the
Latin charset and any new characters), and the output softmax is dropped so that training sees logits;
onnxruntime's basic optimisations then fold what a trainer need not run separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["recognizer_network", "export_onnx"]


def recognizer_network(source: str | Path, rows: Sequence[int | None]) -> torch.nn.Module:
    """A torch module computing the logits ``(N, T, len(rows))`` of the CTC recognizer at ``source``.

    Parameters
    ----------
    source : path
        A PP-OCR CTC recognizer in ONNX whose output is a softmax over its classes.
    rows : sequence of int or None
        For each class of the new model, the class of ``source`` it starts from, or None for a new
        character (its row starts at zero weight and the lowest bias, so it is never read until trained).
    """
    import onnx

    try:
        from onnx2torch import convert
    except ImportError as exc:
        raise ImportError(f"fine-tuning needs onnx2torch ({exc}): pip install 'dask_ocr[train]', with the torchvision "
                          "build that matches your torch") from None
    model = onnx.load(str(source))
    _explicit_same_upper_pads(model)
    logits = _drop_output_softmax(model)
    _cut_classifier(model, logits, rows)
    network = convert(_simplified(model))
    _trainable_initializers(network)
    return network


def export_onnx(network: torch.nn.Module, metadata: dict[str, str]) -> bytes:
    """``softmax(network(x))`` as an ONNX file with a dynamic batch and width, as PP-OCR ships its models, with
    ``metadata`` (e.g. the ``character`` dictionary) in its properties."""
    import io

    import onnx

    buffer = io.BytesIO()
    torch.onnx.export(_Probabilities(network).eval(), (torch.zeros(1, 3, 48, 320),), buffer, input_names=["x"],
                      output_names=["probabilities"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "batch", 3: "width"}, "probabilities": {0: "batch", 1: "steps"}})
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()


class _Probabilities(torch.nn.Module):
    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x):
        return torch.softmax(self.network(x), dim=-1)


def _simplified(model):
    """``model`` after onnxruntime's basic graph rewrites (standard ONNX ops only): identities removed, biases and
    batch norms folded into the convolutions before them — the same function, a third fewer operations to train."""
    import tempfile

    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(Path(folder) / "simplified.onnx")
        onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return onnx.load(options.optimized_model_filepath)


def _trainable_initializers(network: torch.nn.Module) -> None:
    """Make the weights onnx2torch keeps as constants (those of ``MatMul``, ``Add`` and ``Mul`` nodes: linear
    layers, layer norms, biases, the classifier) trainable; scalars (epsilons, exponents) stay constants."""
    constants = getattr(network, "initializers", None)
    for name, tensor in list(constants.named_buffers(recurse=False)) if constants is not None else []:
        if tensor.is_floating_point() and tensor.numel() > 1:
            del constants._buffers[name]
            constants.register_parameter(name, torch.nn.Parameter(tensor))


def _explicit_same_upper_pads(model) -> None:
    """``auto_pad=SAME_UPPER`` with stride 1 as the explicit pads it means (the extra one at the end)."""
    from onnx import helper

    for node in model.graph.node:
        attributes = {attribute.name: attribute for attribute in node.attribute}
        if "auto_pad" not in attributes or attributes["auto_pad"].s != b"SAME_UPPER":
            continue
        kernel = list(attributes["kernel_shape"].ints)
        strides = list(attributes["strides"].ints) if "strides" in attributes else [1] * len(kernel)
        if any(stride != 1 for stride in strides):
            raise ValueError(f"{node.name}: SAME_UPPER with strides {strides} depends on the input size")
        begin = [(k - 1) // 2 for k in kernel]
        end = [k - 1 - b for k, b in zip(kernel, begin, strict=True)]
        node.attribute.remove(attributes["auto_pad"])
        node.attribute.append(helper.make_attribute("pads", begin + end))


def _drop_output_softmax(model) -> str:
    """Remove the softmax that produces the graph's output; the name of the logits it took."""
    output = model.graph.output[0]
    softmax = next((node for node in model.graph.node if node.op_type == "Softmax" and node.output[0] == output.name),
                   None)
    if softmax is None:
        raise ValueError("not a PP-OCR CTC recognizer: its output is not a softmax")
    model.graph.node.remove(softmax)
    producer = next(node for node in model.graph.node if softmax.input[0] in node.output)
    producer.output[list(producer.output).index(softmax.input[0])] = output.name
    return output.name


def _cut_classifier(model, logits: str, rows: Sequence[int | None]) -> None:
    """Keep (and order) the rows of the last ``MatMul`` + ``Add`` the logits come from; new rows start silent."""
    from onnx import numpy_helper

    producers = {output: node for node in model.graph.node for output in node.output}
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    node = producers[logits]
    while node.op_type == "Identity":
        node = producers[node.input[0]]
    add, matmul = node, producers.get(node.input[0])
    if add.op_type != "Add" or matmul is None or matmul.op_type != "MatMul":
        raise ValueError("not a PP-OCR CTC recognizer: its logits do not come from a linear layer")
    weight_name, bias_name = matmul.input[1], add.input[1]
    weight = numpy_helper.to_array(initializers[weight_name])
    bias = numpy_helper.to_array(initializers[bias_name])
    new_weight = np.zeros((weight.shape[0], len(rows)), dtype=weight.dtype)
    new_bias = np.full(len(rows), bias.min(), dtype=bias.dtype)
    for column, row in enumerate(rows):
        if row is not None:
            new_weight[:, column], new_bias[column] = weight[:, row], bias[row]
    for name, values in ((weight_name, new_weight), (bias_name, new_bias)):
        initializers[name].CopyFrom(numpy_helper.from_array(values, name))
    del model.graph.value_info[:]  # shapes inferred for the old classifier
    dims = model.graph.output[0].type.tensor_type.shape.dim
    dims[-1].Clear()
    dims[-1].dim_value = len(rows)
