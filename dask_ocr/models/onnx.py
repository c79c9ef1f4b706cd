"""Inference sessions for ONNX models on onnxruntime or OpenVINO, with explicit threading, device placement,
precision and memory settings; and int8 quantization.

Every ONNX model we run (PP-OCR detector, recognizer and angle classifier, ``ppocr_fast``, ONNX model specs) goes
through :func:`make_session`, which returns an object with the part of onnxruntime's ``InferenceSession``
interface the backends use (``get_inputs``, ``get_outputs``, ``get_modelmeta``, ``run``), whichever runtime runs
it.  OpenVINO compiles each model for the CPU it runs on; its compiled models are kept on disk
(``cache_dir()/openvino``), so a worker that starts again loads them instead of compiling.

``benchmarks/profile.py`` measured the session settings side by side: the CPU memory arena on makes
the PP-OCR models 1.2-1.3x faster per call (without it every activation tensor is a fresh allocation
that page-faults on first touch), at the price of holding the largest call's memory for the life
of the session; ``ORT_ENABLE_ALL`` beats the lower optimisation levels (its NCHWc layouts), and the
parallel execution mode has nothing to run in parallel in these sequential graphs.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from .onnx_file import model_metadata

__all__ = ["make_session", "cuda_available", "uses_gpu", "session_settings", "quantize_model", "cached_int8_model",
           "SESSION_DEFAULTS", "RUNTIMES", "PRECISIONS", "openvino_available", "cpu_has_bf16", "resolve_runtime",
           "OpenVinoSession", "class_subset_model"]

#: Where a model runs: ``"auto"`` (see :func:`make_session`), or one runtime by name.
RUNTIMES = ("auto", "onnxruntime", "openvino")
#: The arithmetic OpenVINO runs a model in: ``"auto"`` (the model's own choice), ``"f32"`` or ``"bf16"``.
PRECISIONS = ("auto", "f32", "bf16")

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


def openvino_available() -> bool:
    """Whether OpenVINO can be imported here (it is a dependency on the platforms it has wheels for)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX), as OpenVINO reports it."""
    return openvino_available() and "BF16" in _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def resolve_runtime(runtime: str, precision: str, use_gpu: bool | None,
                    preferences: tuple[tuple[str, str], ...] = (("openvino", "f32"),)) -> tuple[str, str]:
    """The ``(runtime, precision)`` a session runs on.

    ``runtime="auto"`` is onnxruntime on a GPU (its CUDA provider) and where OpenVINO is missing; on a CPU, the
    first of the model's ``preferences`` this machine can run — measured fastest at the fp32 model's accuracy
    for that model (``benchmarks/runtimes.py``), a bf16 entry only on a CPU with native bfloat16.
    ``precision="auto"`` on OpenVINO is f32, unless ``runtime="auto"`` chose bf16.

    Raises
    ------
    ValueError
        An unknown runtime or precision, OpenVINO on a GPU, or bf16 on onnxruntime or without native support
        (OpenVINO would emulate it, slower than f32).
    ImportError
        ``runtime="openvino"`` where OpenVINO is not installed.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    gpu = uses_gpu(use_gpu)
    if runtime == "auto":
        runnable = [(r, p) for r, p in preferences if precision in ("auto", p) and _can_run(r, p, gpu)]
        runtime, precision = runnable[0] if runnable else ("onnxruntime", precision)
    if runtime == "openvino":
        if gpu:
            raise ValueError("runtime='openvino' runs on the CPU; use runtime='onnxruntime' (or 'auto') on a GPU")
        if not openvino_available():
            raise ImportError("runtime='openvino' needs the openvino package (pip install openvino)")
        precision = "f32" if precision == "auto" else precision
        if precision == "bf16" and not cpu_has_bf16():
            raise ValueError("precision='bf16' needs a CPU with AVX512-BF16 or AMX; this one has neither: use 'f32'")
        return runtime, precision
    if precision == "bf16":
        raise ValueError("precision='bf16' is an OpenVINO setting: pass runtime='openvino' (or 'auto')")
    return "onnxruntime", "f32"


def _can_run(runtime: str, precision: str, gpu: bool) -> bool:
    if runtime == "onnxruntime":
        return precision == "f32"
    return not gpu and openvino_available() and (precision == "f32" or cpu_has_bf16())


def make_session(path: str | Path, threads: int, use_gpu: bool | None, runtime: str = "onnxruntime",
                 precision: str = "auto", preferences: tuple[tuple[str, str], ...] = (("openvino", "f32"),),
                 **settings):
    """Create an inference session for ``path``.

    Parameters
    ----------
    threads : int
        Intra-op threads.  Dask already runs one task per worker thread, so inside a cluster this
        is 1 by default; oversubscribing cores makes everything slower.
    use_gpu : bool or None
        ``None`` uses CUDA when available; ``True`` insists on it.
    runtime : {"onnxruntime", "openvino", "auto"}
        Who runs the model; ``"auto"`` as :func:`resolve_runtime` decides with ``preferences``.
    precision : {"auto", "f32", "bf16"}
        OpenVINO's inference precision (see :func:`resolve_runtime`).
    preferences : tuple of (runtime, precision) pairs
        What ``runtime="auto"`` picks from on a CPU, best first (measured for this model).
    **settings
        onnxruntime's ``arena``, ``optimization``, ``execution_mode``: see :func:`session_settings`
        (defaults :data:`SESSION_DEFAULTS`); OpenVINO has none of them and they are checked, not used.
    """
    unknown = set(settings) - set(SESSION_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown session settings {sorted(unknown)}; known: {sorted(SESSION_DEFAULTS)}")
    runtime, precision = resolve_runtime(runtime, precision, use_gpu, preferences)
    if runtime == "openvino":
        return OpenVinoSession(path, threads, precision)
    import onnxruntime as ort

    options = session_settings(threads, **{**SESSION_DEFAULTS, **settings})
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if uses_gpu(use_gpu) else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def _openvino_core():
    """One OpenVINO ``Core`` per process, caching compiled models in ``cache_dir()/openvino``."""
    global _CORE
    if _CORE is None:
        import openvino as ov

        from .download import cache_dir

        core = ov.Core()
        folder = cache_dir() / "openvino"
        folder.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(folder)})
        _CORE = core
    return _CORE


_CORE = None


class _Port:
    """A model input or output as onnxruntime describes it: its name and (partly symbolic) shape."""

    def __init__(self, name: str, shape: list):
        self.name, self.shape = name, shape


class _Metadata:
    def __init__(self, custom_metadata_map: dict[str, str]):
        self.custom_metadata_map = custom_metadata_map


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU, behind the part of onnxruntime's session interface the
    backends use.

    Parameters
    ----------
    path : path
        The ONNX file.
    threads : int
        Threads of one call.  Calls from several threads at once (a threaded scheduler sharing the model) run at
        once, each on an inference request of its own thread, on ``streams`` streams.
    precision : {"f32", "bf16"}
        OpenVINO's inference precision hint.
    streams : int, optional
        Calls that can run at once (default: the cores over ``threads``).  Threads are not pinned to cores, so
        that the worker processes of one machine share its cores as onnxruntime's do.
    """

    def __init__(self, path: str | Path, threads: int, precision: str, streams: int | None = None):
        core = _openvino_core()
        threads = max(1, int(threads))
        self.path, self.precision = Path(path), precision
        streams = streams or max(1, (os.cpu_count() or 1) // threads)
        self.compiled = core.compile_model(str(path), "CPU", {  # the threads are those of all streams together
            "INFERENCE_NUM_THREADS": threads * streams, "NUM_STREAMS": streams, "ENABLE_CPU_PINNING": False,
            "INFERENCE_PRECISION_HINT": precision})
        self._local = threading.local()

    @property
    def request(self):
        """This thread's inference request (one request must not run two calls at once)."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request

    def get_inputs(self) -> list[_Port]:
        return [_port(port) for port in self.compiled.inputs]

    def get_outputs(self) -> list[_Port]:
        return [_port(port) for port in self.compiled.outputs]

    def get_modelmeta(self) -> _Metadata:
        """The ONNX file's metadata (OpenVINO does not keep it)."""
        return _Metadata(model_metadata(self.path))

    def run(self, output_names, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs (all, or those named) for ``feeds`` (input name -> array), as onnxruntime returns them."""
        results = self.request.infer({name: np.ascontiguousarray(value) for name, value in feeds.items()})
        outputs = self.compiled.outputs
        wanted = outputs if output_names is None else [self.compiled.output(name) for name in output_names]
        return [np.array(results[port], copy=True) for port in wanted]


def _port(port) -> _Port:
    shape = [dimension.get_length() if dimension.is_static else None for dimension in port.get_partial_shape()]
    return _Port(port.any_name, shape)


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
    return _cached_model(_cache_path(source, "int8", tag),
                         lambda target: quantize_model(source, target, calibration(), per_channel=True))


def class_subset_model(source: str | Path, classes: Sequence[int]) -> Path | None:
    """A copy of the ONNX classifier ``source`` that outputs the probabilities of ``classes`` only — the same
    values as its softmax over every class — or None when its output is not a softmax over the last axis.

    The last layer still scores every class (log-sum-exp over all of them, then the kept ones), so the
    probabilities, which ``min_confidence`` filters on, do not change (to float32 rounding, ~1e-4); what shrinks is
    the output tensor and the work after the layer: OpenVINO reads a line crop with a PP-OCR recognizer decoding
    760 Latin classes of 18,710 1.1-1.2x faster in bf16 (onnxruntime, which does not fuse the log-sum-exp, 10 %
    slower).  Built on first use and kept in ``cache_dir()/subset`` (as :func:`cached_int8_model`).
    """
    import hashlib

    kept = np.asarray(classes, dtype=np.int64)
    tag = f"{len(kept)}-{hashlib.sha256(kept.tobytes()).hexdigest()[:12]}"
    target = _cache_path(source, "subset", tag)
    if not target.is_file() and not _softmax_output(source):  # (a copy in the cache was made of a softmax)
        return None
    return _cached_model(target, lambda path: _write_subset(source, kept, path))


def _softmax_output(source: str | Path) -> bool:
    """Whether the only output of the ONNX model ``source`` is a softmax over its last axis."""
    import onnx

    model = onnx.load(str(source), load_external_data=False)
    outputs = [node for node in model.graph.node if node.op_type == "Softmax"
               and node.output[0] == model.graph.output[0].name]
    return len(model.graph.output) == 1 and bool(outputs) and _axis(outputs[0]) in (-1, _rank(model) - 1)


def _axis(node) -> int:
    return next((attribute.i for attribute in node.attribute if attribute.name == "axis"), 1)


def _rank(model) -> int:
    return len(model.graph.output[0].type.tensor_type.shape.dim)


def _write_subset(source: str | Path, kept: np.ndarray, target: Path) -> None:
    """Replace the output softmax of ``source`` by ``exp(logits[..., kept] - logsumexp(logits))``."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    output = model.graph.output[0]
    softmax = next(node for node in model.graph.node if node.op_type == "Softmax" and node.output[0] == output.name)
    logits = softmax.input[0]
    model.graph.node.remove(softmax)
    opset = next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    model.graph.initializer.append(numpy_helper.from_array(kept, "dask_ocr_kept_classes"))
    if opset >= 18:  # axes became an input
        model.graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "dask_ocr_last_axis"))
        reduce = helper.make_node("ReduceLogSumExp", [logits, "dask_ocr_last_axis"], ["dask_ocr_lse"], keepdims=1)
    else:
        reduce = helper.make_node("ReduceLogSumExp", [logits], ["dask_ocr_lse"], axes=[-1], keepdims=1)
    model.graph.node.extend([
        reduce,
        helper.make_node("Gather", [logits, "dask_ocr_kept_classes"], ["dask_ocr_kept"], axis=-1),
        helper.make_node("Sub", ["dask_ocr_kept", "dask_ocr_lse"], ["dask_ocr_log_probabilities"]),
        helper.make_node("Exp", ["dask_ocr_log_probabilities"], [output.name])])
    output.type.tensor_type.shape.dim[-1].Clear()
    output.type.tensor_type.shape.dim[-1].dim_value = len(kept)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def _cache_path(source: str | Path, kind: str, tag: str) -> Path:
    """``cache_dir()/<kind>/<model>-<its SHA-256>-<tag>.onnx``: where a copy of ``source`` is kept."""
    from .download import cache_dir, file_sha256

    source = Path(source)
    return cache_dir() / kind / f"{source.stem}-{file_sha256(source)[:16]}-{tag}.onnx"


def _cached_model(target: Path, build: Callable[[Path], object]) -> Path:
    """``target`` (see :func:`_cache_path`), made by ``build(path)`` on first use: one process per machine builds
    it under a file lock while the others wait, into a temporary file moved into place (a failed build leaves
    nothing)."""
    from filelock import FileLock

    from .download import built_atomically

    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if not target.is_file():
            built_atomically(target, build)
    return target


class _Calibration:
    """onnxruntime's calibration reader protocol over an iterable of input arrays."""

    def __init__(self, input_name: str, inputs: Iterable[np.ndarray]):
        self.input_name, self.inputs = input_name, iter(inputs)

    def get_next(self):
        batch = next(self.inputs, None)
        return None if batch is None else {self.input_name: np.asarray(batch, dtype=np.float32)}
