#!/bin/sh
# Measure the GPU servers (deploy/vllm/) from a machine with the project checked out:
#   deploy/vllm/measure-gpu.sh http://GPU-HOST:8000/v1 http://GPU-HOST:8001/v1 [LLM_NAME]
# Prints JSON: requests/s, p50/p99 at 1, 8 and 32 concurrent clients for the LLM (real policy
# prompt, structured outputs) and the encoder, beside the in-process ONNX encoder.
set -eu
cd "$(dirname "$0")/../.."
make --quiet venv encoder
exec .venv/bin/python -m tests.vllm.bench --json \
  --llm-url "$1" --embeddings-url "$2" --llm-model "${3:-qwen3-4b-instruct}" \
  --concurrency 1 8 32 --requests 256
