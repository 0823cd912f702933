#!/bin/sh
# Both models on one GPU: the LLM takes 80 % of its memory, the encoder 10 %, 10 % stays free
# for the CUDA context of each process. The LLM starts first (vLLM sizes its KV cache from the
# memory it finds free); the encoder starts when the LLM is healthy. Either dying stops both,
# so the orchestrator restarts the pair.
set -eu
LLM_UTIL="${LLM_GPU_MEMORY_UTILIZATION:-0.80}"
EMBED_UTIL="${EMBED_GPU_MEMORY_UTILIZATION:-0.10}"

vllm serve /models/llm --served-model-name "${LLM_NAME:-qwen3-4b-instruct}" \
  --host 0.0.0.0 --port 8000 \
  --gpu-memory-utilization "$LLM_UTIL" \
  --max-model-len "${LLM_MAX_MODEL_LEN:-8192}" \
  --max-num-seqs "${LLM_MAX_NUM_SEQS:-64}" \
  --enable-prefix-caching \
  --structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}' \
  --generation-config vllm &
LLM=$!

until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')" 2>/dev/null; do
  kill -0 "$LLM" || exit 1
  sleep 2
done

vllm serve /models/modtriage-moderation --served-model-name modtriage-minilm-l6-moderation \
  --host 0.0.0.0 --port 8001 --runner pooling \
  --gpu-memory-utilization "$EMBED_UTIL" --max-model-len 256 &
EMBED=$!

trap 'kill -TERM "$LLM" "$EMBED" 2>/dev/null' TERM INT
# exit (and let the orchestrator restart the pair) when either server exits
while kill -0 "$LLM" 2>/dev/null && kill -0 "$EMBED" 2>/dev/null; do sleep 5; done
kill -TERM "$LLM" "$EMBED" 2>/dev/null || true
wait
exit 1
