#!/usr/bin/env bash
# Persona on a CUDA GPU: runs the runtime parity suite (every family vs transformers, stories260k vs
# run.c, KV-cache and batching behaviour, continuous batching) and `persona bench` on the GPU, then
# prints one JSON line. Needs an NVIDIA driver and a CUDA build of libtorch 2.7.1 (cu128), which DJL
# loads from PYTORCH_LIBRARY_PATH instead of the CPU library on the classpath (no download, no
# classpath change): e.g. the lib/ folder of libtorch-cxx11-abi-shared-with-deps-2.7.1+cu128, or
# site-packages/torch/lib of a pip torch==2.7.1+cu128.
#
#   PYTORCH_LIBRARY_PATH=/opt/libtorch/lib tools/gpu-check.sh
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fail() { printf '{"ok": false, "error": "%s"}\n' "$1"; exit 1; }
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this script needs an NVIDIA GPU and driver"
[ -n "${PYTORCH_LIBRARY_PATH:-}" ] || fail "set PYTORCH_LIBRARY_PATH to the lib/ folder of a CUDA libtorch 2.7.1 (cu128)"
[ -f "$PYTORCH_LIBRARY_PATH/libtorch.so" ] || fail "no libtorch.so in PYTORCH_LIBRARY_PATH=$PYTORCH_LIBRARY_PATH"
export PYTORCH_VERSION="${PYTORCH_VERSION:-2.7.1}" PYTORCH_FLAVOR="${PYTORCH_FLAVOR:-cu128}"
gpu="$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
log="$(mktemp)"
# the parity and generation suites, models loaded on the GPU
if ./mvnw -B -q -pl model test -Dpersona.device=gpu -Dtest='FamilyParityTest,Stories260kTest,RuntimeBehaviourTest,ContinuousBatcherTest' \
     -Dsurefire.failIfNoSpecifiedTests=false >"$log" 2>&1; then parity=true; else parity=false; fi
tests="$(grep -E 'Tests run: [0-9]+, Failures' "$log" | tail -1 | sed 's/^\[[A-Z]*\] //')"
bench="$(./persona bench --device gpu --shape qwen2.5-0.5b --json 2>>"$log" | tr -d '\n' | tr -s ' ')"
[ -n "$bench" ] || bench=null
printf '{"ok": %s, "gpu": "%s", "libtorch": "%s", "parity_suite": "%s", "bench_qwen2.5_0.5b": %s, "log": "%s"}\n' \
  "$parity" "$gpu" "$PYTORCH_LIBRARY_PATH ($PYTORCH_VERSION $PYTORCH_FLAVOR)" "$tests" "$bench" "$log"
[ "$parity" = true ]
