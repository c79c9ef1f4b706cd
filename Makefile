# Two entry points, both safe to run on a fresh machine:
#   make demo   install, then OCR generated sample pages and print the text and the CER
#   make test   install, then run the test suite
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install demo test

install:
	# torch first: a bare `torch` requirement would otherwise pull the multi-GB CUDA build
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"

demo: install
	$(PYTHON) -m dask_ocr demo

test: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest
