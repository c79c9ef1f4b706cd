"""Everything that talks to ``distributed``: the per-process model cache, the worker plugin and cluster start-up,
client and partition sizing, and progress.

The only package that imports ``distributed`` (inside functions, or in :mod:`~dask_ocr.cluster.plugins`, which
loads on first use): :func:`start_cluster`, :func:`register_models` and :class:`ModelPlugin` are resolved lazily,
so ``import dask_ocr`` never imports ``distributed``.
"""

__all__ = ["start_cluster", "register_models", "ModelPlugin"]


def __getattr__(name: str):
    if name in __all__:
        from . import plugins

        return getattr(plugins, name)
    raise AttributeError(f"module 'dask_ocr.cluster' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
