#!/usr/bin/env bash
# The GPU path of training, in one command: SFT then DPO through accelerate with DeepSpeed ZeRO-2 (bf16 where the
# GPU has it) on a synthetic campaign and a model built from a config; then the final-model experiment's GPU steps on
# the embedded Qwen2.5-Coder-0.5B (a LoRA step, pass@1 on held-out McEval tasks). Fails loudly (exit 1) when it breaks.
# Usage: scripts/gpu-check.sh [--deepspeed zero2|zero3|zero3-offload] [--num-processes N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu-check: FAILED: no CUDA GPU')"
"$PYTHON" -c "import deepspeed" || { echo "gpu-check: FAILED: deepspeed does not import (DS_BUILD_OPS=0 pip install deepspeed)" >&2; exit 1; }
exec "$PYTHON" scripts/gpu_check.py "$@"
