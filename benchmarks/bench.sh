#!/usr/bin/env bash
# Regenerate the benchmark report: edge-ocr variants and PaddleOCR 2.8.1 on the same images, one run.
# Usage: bash benchmarks/bench.sh [--quick]    (full: the 500 ICDAR2015 test images; quick: 5 images)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$(.venv/bin/python -c "from edge_ocr.evaluation.domains import shared_dir; print(shared_dir())")"  # the one definition
IMAGES="$SHARED/data/icdar2015/ch4_test_images"
LIMIT=(); [ "${1:-}" = "--quick" ] && LIMIT=(--limit 5)
PEER=$(mktemp --suffix=.json)
.venv/bin/python benchmarks/peer_bench.py --images "$IMAGES" "${LIMIT[@]}" --threads 1 2 --out "$PEER"
ACC=(--accuracy fp32-paddle=benchmarks/results/eval-fp32.json fp32-lite=benchmarks/results/eval-fp32.json)
BUNDLES=()
if [ -d "${PTQ_TWIN:-}" ]; then BUNDLES=(--bundle "ptq-x86-twin=$PTQ_TWIN"); ACC+=("ptq-x86-twin=benchmarks/results/compress-ptq.json"); fi
# VARIANTS="ptq=DIR qat=DIR prune-qat=DIR": quantized model folders (BUNDLE-artifacts/quantized of a compress run),
# run on Paddle Inference; their accuracy comes from benchmarks/results/compress-NAME.json.
VARIANT_ARGS=()
for pair in ${VARIANTS:-}; do
  VARIANT_ARGS+=(--variant "$pair")
  name="${pair%%=*}"
  [ -f "benchmarks/results/compress-$name.json" ] && ACC+=("$name=benchmarks/results/compress-$name.json")
done
.venv/bin/edge-ocr bench --images "$IMAGES" "${LIMIT[@]}" --models "$SHARED/models/ppocrv2" --threads 1 2 \
  "${BUNDLES[@]}" "${VARIANT_ARGS[@]}" "${ACC[@]}" --merge "$PEER" --name "${BENCH_NAME:-latest}"
rm -f "$PEER"
