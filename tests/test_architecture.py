"""The package's structure (DESIGN.md §3): imports point one way down the data flow, the cluster code
loads on first use, backends carry no demo code, and the tests stand on the package alone."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dask_ocr"
TESTS = ROOT / "tests"

#: The pure modules, bottom of the flow first; each may import only modules before it (and ``models.base``,
#: the dataclasses the backends return, which itself imports only ``defaults`` and ``geometry``).
PURE = ["defaults", "errors", "decode", "geometry", "batching", "layout", "formats"]
ALLOWED = {
    "defaults": set(),
    "errors": set(),
    "decode": {"defaults", "errors"},                  # decode at the bottom: bytes in, arrays out
    "geometry": {"defaults", "errors"},
    "batching": {"defaults", "errors"},
    "models.base": {"defaults", "errors", "geometry"},
    "layout": {"defaults", "errors", "geometry", "models.base"},
    "formats": {"defaults", "errors", "geometry", "models.base", "layout"},
}
HEAVY = {"torch", "transformers", "pandas", "pyarrow", "dask", "distributed", "dask_cuda"}
#: What a backend (``dask_ocr/models/*``) may import from the package: nothing that brings pandas or dask.
# synthetic: the generated pages (numpy and Pillow only, no demo code) that the int8 detector is calibrated on.
BACKEND_ALLOWED = {"defaults", "errors", "decode", "geometry", "batching", "version", "synthetic"}
BACKENDS = ["dask_ocr.models.ppocr", "dask_ocr.models.trocr", "dask_ocr.models.tesseract"]
#: Pure modules outside the data flow: the version, and the page generator the calibration draws on.
PURE_HELPERS = ["dask_ocr.version", "dask_ocr.synthetic", "dask_ocr.models.calibration"]


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(third-party top-level names, ``dask_ocr`` submodules relative to the package) that ``path`` imports,
    at module level or inside functions."""
    parts = path.relative_to(ROOT).with_suffix("").parts           # ("dask_ocr", "models", "base")
    package = list(parts[:-1])
    external, internal = set(), set()

    def add(module: str) -> None:
        if module == "dask_ocr" or module.startswith("dask_ocr."):
            internal.add(module.removeprefix("dask_ocr").lstrip("."))
        else:
            external.add(module.split(".")[0])

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            if module in ("dask_ocr", "dask_ocr.models") and node.level:
                for alias in node.names:                           # ``from . import defaults``
                    add(f"{module}.{alias.name}")
            else:
                add(module)
    internal.discard("")
    return external, internal


def test_import_parser_resolves_relative_imports():
    external, internal = imports(PACKAGE / "models" / "base.py")
    assert internal == {"defaults", "geometry"} and "numpy" in external
    _, partition = imports(PACKAGE / "partition.py")
    assert {"defaults", "cluster", "models.base", "decode", "layout"} <= partition


@pytest.mark.parametrize("module", [*PURE, "models.base"])
def test_pure_modules_import_down_the_flow_only(module):
    external, internal = imports(PACKAGE / (module.replace(".", "/") + ".py"))
    assert not external & HEAVY, f"{module} imports {sorted(external & HEAVY)}"
    assert internal <= ALLOWED[module], f"{module} imports dask_ocr.{sorted(internal - ALLOWED[module])}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "models").glob("*.py")), ids=lambda p: p.name)
def test_backends_never_import_pandas_or_dask(path):
    external, internal = imports(path)
    assert not external & {"pandas", "pyarrow", "dask", "distributed"}, sorted(external)
    outside = {m for m in internal if not m.startswith("models")} - BACKEND_ALLOWED
    assert not outside, f"{path.name} imports dask_ocr.{sorted(outside)}"


def _package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _package_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cluster_package_imports_distributed(path):
    """``distributed`` and ``dask_cuda`` are imported in ``dask_ocr/cluster/`` only (function-level imports too)."""
    external, _ = imports(path)
    if PACKAGE / "cluster" not in path.parents:
        assert not external & {"distributed", "dask_cuda"}, f"{path.relative_to(ROOT)} imports {sorted(external)}"


def test_the_distributed_rule_sees_function_level_imports():
    source = (PACKAGE / "cluster" / "scheduling.py").read_text()
    assert "\n    from distributed import" in source and "\nfrom distributed" not in source
    assert "distributed" in imports(PACKAGE / "cluster" / "scheduling.py")[0]


def run_python(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pure_modules_and_backends_load_without_pandas_or_dask():
    """The same rule, transitively: import them with the package ``__init__`` bypassed."""
    modules = [f"dask_ocr.{m}" for m in PURE] + BACKENDS + PURE_HELPERS
    run_python(
        "import sys, types; pkg = types.ModuleType('dask_ocr'); "
        f"pkg.__path__ = [{str(PACKAGE)!r}]; sys.modules['dask_ocr'] = pkg; import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"    heavy = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r})\n"
        "    assert not heavy, (name, heavy[:5])\n")


def test_importing_the_package_does_not_import_distributed():
    run_python(
        "import sys, dask_ocr\n"
        "assert 'distributed' not in sys.modules, 'import dask_ocr imported distributed'\n"
        "assert 'start_cluster' in dir(dask_ocr) and 'start_cluster' in dask_ocr.__all__\n"
        "start_cluster = dask_ocr.start_cluster\n"
        "import dask_ocr.cluster.plugins as cluster\n"
        "assert start_cluster is cluster.start_cluster and dask_ocr.register_models is cluster.register_models\n"
        "assert dask_ocr.ModelPlugin is cluster.ModelPlugin and 'distributed' in sys.modules\n"
        "assert 'dask_cuda' not in sys.modules\n"
        "try:\n"
        "    dask_ocr.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n")


def test_importing_the_package_patches_nothing_in_pandas_or_pyarrow():
    """DESIGN §3 rule 1: pyarrow's pandas conversion and pandas' dtype registry are as they were before the import
    (the ``ocr`` accessor is the one thing it adds, on purpose)."""
    run_python(
        "import pandas as pd\n"
        "from pandas.core.dtypes.base import _registry\n"
        "from pyarrow import pandas_compat\n"
        "def snapshot():\n"
        "    return (pandas_compat._get_extension_dtypes, pandas_compat.get_extension_dtype_info,\n"
        "            list(_registry.dtypes))\n"
        "before = snapshot()\n"
        "import dask_ocr\n"
        "after = snapshot()\n"
        "assert after[:2] == before[:2], 'pyarrow.pandas_compat was patched'\n"
        "assert after[2] == before[2], ('pandas dtype registry changed', set(after[2]) ^ set(before[2]))\n")


def test_cluster_names_resolve_lazily_in_this_process():
    import dask_ocr
    import dask_ocr.cluster.plugins

    assert dask_ocr.start_cluster is dask_ocr.cluster.plugins.start_cluster
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dask_ocr.nope  # noqa: B018


def test_backends_import_no_demo_code():
    run_python(
        "import sys\n"
        f"for name in {BACKENDS!r}:\n"
        "    __import__(name)\n"
        "assert 'dask_ocr.samples' not in sys.modules, 'a backend imported dask_ocr.samples'\n"
        "assert 'dask_ocr.testing' not in sys.modules and 'dask_ocr.datasets' not in sys.modules\n")


def test_backend_recognize_takes_crops_batch_size_and_decoding_only():
    from dask_ocr.models.base import Recognizer

    recognizers = [Recognizer]
    for name in BACKENDS:
        module = importlib.import_module(name)
        recognizers += [obj for _, obj in inspect.getmembers(module, inspect.isclass)
                        if obj.__module__ == name and callable(getattr(obj, "recognize", None))]
    assert {r.__name__ for r in recognizers} == {"Recognizer", "PPOCRRecognizer", "TrOCRRecognizer",
                                                 "TesseractRecognizer"}
    for recognizer in recognizers:
        parameters = list(inspect.signature(recognizer.recognize).parameters)
        assert parameters == ["self", "crops", "batch_size", "decoding"], (recognizer.__name__, parameters)


def test_no_test_imports_the_benchmarks():
    path_hack = re.compile(r"sys\.path\.(insert|append)|PYTHONPATH|spec_from_file_location")
    names = "|".join(["benchmarks", *sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py"))])
    benchmark_import = re.compile(rf"^\s*(from|import)\s+({names})\b", re.MULTILINE)
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        text = path.read_text()
        if benchmark_import.search(text):
            offenders.append(f"{path.name}: imports from benchmarks/")
        for line in text.splitlines():
            if path_hack.search(line) and "benchmarks" in line and path.name != Path(__file__).name:
                offenders.append(f"{path.name}: {line.strip()}")
    assert not offenders, offenders
    loaded = [name for name, module in list(sys.modules.items())
              if (ROOT / "benchmarks") in Path(getattr(module, "__file__", None) or "/").parents]
    assert not loaded, f"benchmark modules loaded by the tests: {loaded}"
