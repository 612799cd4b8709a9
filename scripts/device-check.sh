#!/usr/bin/env bash
# The GPU check of the real models, in one run of a few minutes, for a machine
# with an NVIDIA GPU, its driver, and Python with PyTorch, transformers,
# taming-transformers-rom1504 and pytorch-pretrained-biggan (the venv of
# scripts/golden/make_tiny_vqgan.py and make_tiny_biggan.py), but no Rust
# toolchain.
#
# 1. Where Rust and nvcc are (CI's CUDA toolkit is enough), build the binaries:
#        scripts/device-check.sh build
#    This writes target/device-check/: the golden tests (VQGAN, the whole
#    VQGAN+CLIP step, CLIP, BigGAN) and the VQGAN+CLIP and Big Sleep step
#    benches, built with
#    `--features cuda` for CUDA_COMPUTE_CAP (default 80: an A100 and an H100
#    both run it; nvcc 11.8 cannot build 90a).
# 2. Copy the repository with target/device-check to the GPU machine and run,
#    from the repository root:
#        scripts/device-check.sh [SIDE [CUTOUTS [STEPS]]]     (default 512 32 10)
#    It runs the golden tests on the GPU (CLIP_ART_TEST_DEVICE=cuda: the same
#    fixtures and tolerances as on the CPU), then times the VQGAN+CLIP step on
#    the GPU with candle and with PyTorch on the same card, each with the peak
#    GPU memory nvidia-smi saw while it ran. Targets: >= 20 steps/s on one
#    H100 at 512² with 32 cutouts, <= 8 GB. Then the Big Sleep step
#    (biggan-deep-256, 256², the same cutouts) the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/device-check

if [ "${1:-}" = build ]; then
  export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
  rm -rf "$out" && mkdir -p "$out/bin"
  # Each test or bench executable cargo builds, by kind and name (a test and a
  # bench may share a name: vqgan_clip_step).
  executables() {
    python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable"):
        print(message["target"]["kind"][0] + "-" + message["target"]["name"], message["executable"])'
  }
  {
    cargo test --release --features cuda --no-run --message-format=json \
      --test vqgan_golden --test vqgan_clip_step --test clip_golden --test augment_golden \
      --test biggan_golden
    cargo bench --features cuda --no-run --message-format=json --bench vqgan_clip_step \
      --bench biggan_step
  } | executables | while read -r name path; do
    cp "$path" "$out/bin/$name"
  done
  ls -l "$out/bin"
  exit 0
fi

[ -d "$out/bin" ] || { echo "no $out/bin: run 'scripts/device-check.sh build' first" >&2; exit 2; }
side="${1:-512}" cutouts="${2:-32}" steps="${3:-10}"
python="${CLIP_ART_TORCH_PYTHON:-python3}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# The largest GPU memory in use while a command runs, in MiB (sampled every 100 ms).
peak_gpu_memory() {
  local log
  log=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log" &
  local sampler=$!
  local status=0
  "$@" || status=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo "peak GPU memory in use: $(sort -n "$log" | tail -1) MiB (before: $(head -1 "$log") MiB)"
  rm -f "$log"
  return $status
}

echo "=== golden tests on the GPU"
for test in vqgan_golden vqgan_clip_step clip_golden augment_golden biggan_golden; do
  CLIP_ART_TEST_DEVICE=cuda "$out/bin/test-$test" --test-threads 1
done

echo "=== the VQGAN+CLIP step, ${side}², $cutouts cutouts: candle"
CLIP_ART_TEST_DEVICE=cuda CLIP_ART_TORCH_PYTHON=false \
  peak_gpu_memory "$out/bin/bench-vqgan_clip_step" "$side" "$cutouts" "$steps"
echo "=== the same step: PyTorch"
peak_gpu_memory "$python" scripts/bench/torch_vqgan_clip_step.py 1 "$side" "$cutouts" "$steps" cuda

echo "=== the Big Sleep step, biggan-deep-256, 256², $cutouts cutouts: candle"
CLIP_ART_TEST_DEVICE=cuda CLIP_ART_TORCH_PYTHON=false \
  peak_gpu_memory "$out/bin/bench-biggan_step" "$cutouts" "$steps"
echo "=== the same step: PyTorch"
peak_gpu_memory "$python" scripts/bench/torch_biggan_step.py 1 "$cutouts" "$steps" cuda
