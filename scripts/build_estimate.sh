#!/usr/bin/env bash
# Build the ARM latency estimator's native parts (edge_ocr/bench/estimate/native) into edge_ocr/bench/estimate/bin:
#   bbcount.so              qemu-user TCG plugin (host gcc) that counts translated-block executions between marks
#   edge_ocr_estimate_run   aarch64 runner (aarch64-linux-gnu-g++) that marks Predictor::Run() of a .nb model
#
#   bash scripts/build_estimate.sh [PADDLE_LITE_DIR]    default $PADDLE_LITE_DIR, else $EDGE_OCR_SHARED/arm/paddle_lite_armv8
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${EDGE_OCR_SHARED:-$(cd .. && pwd)/shared}"
LITE="${1:-${PADDLE_LITE_DIR:-$SHARED/arm/paddle_lite_armv8}}"
[ -f "$LITE/include/paddle_api.h" ] || { echo "build_estimate: no Paddle Lite ARM library at '$LITE'" >&2; exit 1; }
LITE="$(cd "$LITE" && pwd)"
for t in gcc aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$t" >/dev/null || { echo "build_estimate: $t missing (apt-get install gcc g++-aarch64-linux-gnu qemu-user)" >&2; exit 1; }
done
SRC=edge_ocr/bench/estimate/native
DEST=edge_ocr/bench/estimate/bin
mkdir -p "$DEST"
gcc -O2 -shared -fPIC -Wall -Wextra -o "$DEST/.bbcount.so.tmp" "$SRC/bbcount.c"
aarch64-linux-gnu-g++ -O2 -std=c++14 -Wall -Wno-unused-function -I"$LITE/include" "$SRC/estimate_run.cc" -L"$LITE/lib" \
  -lpaddle_light_api_shared -o "$DEST/.edge_ocr_estimate_run.tmp"
mv -f "$DEST/.bbcount.so.tmp" "$DEST/bbcount.so"
mv -f "$DEST/.edge_ocr_estimate_run.tmp" "$DEST/edge_ocr_estimate_run"
echo "$LITE" > "$DEST/paddle_lite_dir"
echo "build_estimate: $DEST/bbcount.so and $DEST/edge_ocr_estimate_run (Paddle Lite: $LITE)"
