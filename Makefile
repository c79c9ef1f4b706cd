# Two entry points, both safe to run on a fresh machine:
#   make demo   install, then OCR generated sample pages and print the text and the CER
#   make test   install (and Tesseract, where apt-get can), then run the test suite
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install tesseract demo test

install:
	# torch first: a bare `torch` requirement would otherwise pull the multi-GB CUDA build
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"

# Tesseract is a system program (the benchmarks' peer and the `tesseract` engine); its tests skip without it.
tesseract:
	@command -v tesseract >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; } \
		|| echo "tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-eng): its tests will be skipped"

demo: install
	$(PYTHON) -m dask_ocr demo

test: install tesseract
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest
