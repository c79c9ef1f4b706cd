"""onnxruntime sessions with explicit threading, device placement and memory settings, and int8 quantization.

``benchmarks/profile.py`` measured the session settings side by side: the CPU memory arena on makes
the PP-OCR models 1.2-1.3x faster per call (without it every activation tensor is a fresh allocation
that page-faults on first touch), at the price of holding the largest call's memory for the life
of the session; ``ORT_ENABLE_ALL`` beats the lower optimisation levels (its NCHWc layouts), and the
parallel execution mode has nothing to run in parallel in these sequential graphs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

__all__ = ["make_session", "cuda_available", "uses_gpu", "session_settings", "quantize_model", "cached_int8_model",
           "SESSION_DEFAULTS"]

#: The session settings :func:`make_session` uses unless told otherwise.
SESSION_DEFAULTS = {"arena": True, "optimization": "all", "execution_mode": "sequential"}
_OPTIMIZATION = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                 "all": "ORT_ENABLE_ALL"}
_EXECUTION = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}


def cuda_available() -> bool:
    """Whether onnxruntime was built with, and can see, the CUDA execution provider."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def uses_gpu(use_gpu: bool | None) -> bool:
    """Whether a session asked for with ``use_gpu`` runs on CUDA: ``None`` when available, ``True`` insists.

    Raises
    ------
    RuntimeError
        ``use_gpu=True`` where onnxruntime has no CUDA execution provider.
    """
    gpu = cuda_available() if use_gpu is None else use_gpu
    if gpu and not cuda_available():
        raise RuntimeError("use_gpu=True but onnxruntime has no CUDAExecutionProvider here; "
                           "install the 'gpu' extra (onnxruntime-gpu) on a machine with CUDA")
    return bool(gpu)


def session_settings(threads: int, arena: bool = True, optimization: str = "all",
                     execution_mode: str = "sequential"):
    """The ``onnxruntime.SessionOptions`` of :func:`make_session`.

    Parameters
    ----------
    threads : int
        Intra-op threads.
    arena : bool
        Keep onnxruntime's CPU memory arena: faster calls, memory held at the largest call's peak.
    optimization : {"all", "extended", "basic", "disable"}
        Graph optimisation level.
    execution_mode : {"sequential", "parallel"}
        Run independent graph branches one after the other or at once (inter-op threads).
    """
    import onnxruntime as ort

    if optimization not in _OPTIMIZATION:
        raise ValueError(f"optimization must be one of {sorted(_OPTIMIZATION)}, got {optimization!r}")
    if execution_mode not in _EXECUTION:
        raise ValueError(f"execution_mode must be one of {sorted(_EXECUTION)}, got {execution_mode!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = bool(arena)
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPTIMIZATION[optimization])
    options.execution_mode = getattr(ort.ExecutionMode, _EXECUTION[execution_mode])
    return options


def make_session(path: str | Path, threads: int, use_gpu: bool | None, **settings):
    """Create an inference session for ``path``.

    Parameters
    ----------
    threads : int
        Intra-op threads.  Dask already runs one task per worker thread, so inside a cluster this
        is 1 by default; oversubscribing cores makes everything slower.
    use_gpu : bool or None
        ``None`` uses CUDA when available; ``True`` insists on it.
    **settings
        ``arena``, ``optimization``, ``execution_mode``: see :func:`session_settings`
        (defaults :data:`SESSION_DEFAULTS`).
    """
    import onnxruntime as ort

    unknown = set(settings) - set(SESSION_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown session settings {sorted(unknown)}; known: {sorted(SESSION_DEFAULTS)}")
    options = session_settings(threads, **{**SESSION_DEFAULTS, **settings})
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if uses_gpu(use_gpu) else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def quantize_model(source: str | Path, target: str | Path, calibration: Iterable[np.ndarray] | None = None,
                   per_channel: bool = False) -> Path:
    """Write an int8 copy of the ONNX model ``source`` to ``target``.

    Parameters
    ----------
    source, target : path
    calibration : iterable of numpy.ndarray, optional
        Model inputs (as the backend feeds them) to calibrate activation ranges on: static
        quantization (QDQ, unsigned activations and signed weights, min-max ranges).  Without it,
        dynamic quantization: weights only, activations quantized per call.
    per_channel : bool
        Weight scales per output channel (static quantization only).

    Notes
    -----
    Static quantization first moves the graph to opset 13, the first whose ``DequantizeLinear``
    takes per-axis scales.  Calibrate on images that are not the ones the model will be judged on.
    """
    import onnx
    from onnxruntime import quantization as q

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if calibration is None:
        q.quantize_dynamic(str(source), str(target), weight_type=q.QuantType.QInt8)
        return target
    model = onnx.load(str(source))
    if model.opset_import[0].version < 13:
        model = onnx.version_converter.convert_version(model, 13)
    staged = target.with_suffix(".opset13.onnx")
    onnx.save(model, str(staged))
    q.quant_pre_process(str(staged), str(staged), skip_symbolic_shape=True)
    q.quantize_static(str(staged), str(target), _Calibration(model.graph.input[0].name, calibration),
                      quant_format=q.QuantFormat.QDQ, activation_type=q.QuantType.QUInt8,
                      weight_type=q.QuantType.QInt8, per_channel=per_channel)
    staged.unlink()
    return target


def cached_int8_model(source: str | Path, calibration: Callable[[], Iterable[np.ndarray]], tag: str) -> Path:
    """The static int8 copy of the ONNX model ``source``, built on first use and kept in the model cache.

    Parameters
    ----------
    source : path
    calibration : callable
        Returns the calibration inputs (see :func:`quantize_model`); called only to build.
    tag : str
        Names the calibration (its data and settings): another tag, another copy.

    Returns
    -------
    pathlib.Path
        ``cache_dir()/int8/<model>-<its SHA-256>-<tag>.onnx``.  Processes that need it at once (the
        workers of a machine) wait on a file lock while one of them builds it.
    """
    from filelock import FileLock

    from .download import cache_dir, file_sha256

    source = Path(source)
    target = cache_dir() / "int8" / f"{source.stem}-{file_sha256(source)[:16]}-{tag}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if not target.is_file():
            partial = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.onnx")
            try:
                quantize_model(source, partial, calibration(), per_channel=True)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    return target


class _Calibration:
    """onnxruntime's calibration reader protocol over an iterable of input arrays."""

    def __init__(self, input_name: str, inputs: Iterable[np.ndarray]):
        self.input_name, self.inputs = input_name, iter(inputs)

    def get_next(self):
        batch = next(self.inputs, None)
        return None if batch is None else {self.input_name: np.asarray(batch, dtype=np.float32)}
