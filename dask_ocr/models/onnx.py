"""onnxruntime sessions with explicit threading and device placement."""

from __future__ import annotations

from pathlib import Path

__all__ = ["make_session", "cuda_available"]


def cuda_available() -> bool:
    """Whether onnxruntime was built with, and can see, the CUDA execution provider."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def make_session(path: str | Path, threads: int, use_gpu: bool | None):
    """Create an inference session for ``path``.

    Parameters
    ----------
    threads : int
        Intra-op threads.  Dask already runs one task per worker thread, so inside a cluster this
        is 1 by default; oversubscribing cores makes everything slower.
    use_gpu : bool or None
        ``None`` uses CUDA when available; ``True`` insists on it.
    """
    import onnxruntime as ort

    gpu = cuda_available() if use_gpu is None else use_gpu
    if gpu and not cuda_available():
        raise RuntimeError("use_gpu=True but onnxruntime has no CUDAExecutionProvider here; "
                           "install the 'gpu' extra (onnxruntime-gpu) on a machine with CUDA")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)
