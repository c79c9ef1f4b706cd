# Two entry points, both safe to run on a fresh machine:
#   make demo   install, then OCR generated sample pages and print the text and the CER
#   make test   install (and Tesseract, poppler and qpdf, where apt-get can), then run the test suite
# and the documentation:
#   make docs   build the documentation site into site/ (warnings are errors), installing first if needed
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install system demo test docs

TORCH ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

install:
	# torch first, the CPU build: a bare `torch` requirement would otherwise pull the multi-GB CUDA
	# build on Linux. PyTorch's CPU wheel index where it can be reached, else the plain requirement
	# (which is the CPU wheel on machines that carry one locally, as ours do).
	$(PYTHON) -c "import torch" 2>/dev/null \
		|| $(PIP) install --quiet --retries 0 --timeout 10 --index-url $(TORCH_CPU_INDEX) "$(TORCH)" 2>/dev/null \
		|| $(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[dev]"

# System programs: Tesseract (the benchmarks' peer and the `tesseract` engine), poppler's pdftotext /
# pdftoppm and qpdf (the searchable-PDF checks). Their tests skip without them.
SYSTEM_PACKAGES := tesseract-ocr tesseract-ocr-eng poppler-utils qpdf
system:
	@command -v tesseract >/dev/null && command -v pdftotext >/dev/null && command -v qpdf >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; } \
		|| echo "not installed (apt-get install $(SYSTEM_PACKAGES)): their tests will be skipped"

demo: install
	$(PYTHON) -m dask_ocr demo

test: install system
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest

# The site reads the package from this checkout (docs/hooks.py, mkdocstrings' paths), so an installed
# environment is only needed for the dependencies: install when MkDocs or the package's imports are missing.
docs:
	@$(PYTHON) -c "import mkdocs, material, mkdocstrings_handlers.python, dask_ocr" 2>/dev/null || $(MAKE) install
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir site
