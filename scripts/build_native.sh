#!/usr/bin/env bash
# Build the native Paddle Lite engine (edge_ocr/engines/native: libedge_ocr_lite.so + edge_ocr_lite_run).
#
#   bash scripts/build_native.sh [PADDLE_LITE_DIR]          on an ARM board: this machine's g++, the library is put
#                                                          beside the package (edge_ocr/engines/native/)
#   bash scripts/build_native.sh --cross [PADDLE_LITE_DIR]  on x86: aarch64 cross build for the emulated runtime
#                                                          (qemu-aarch64), put in edge_ocr/engines/native/aarch64/
# PADDLE_LITE_DIR is Paddle Lite's cxx folder (include/paddle_api.h, lib/libpaddle_light_api_shared.so); default
# $PADDLE_LITE_DIR, else $EDGE_OCR_SHARED/arm/paddle_lite_armv8. CXX/CMAKE_TOOLCHAIN_FILE are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
CROSS=0
if [ "${1:-}" = "--cross" ]; then CROSS=1; shift; fi
SHARED="${EDGE_OCR_SHARED:-$(cd .. && pwd)/shared}"
LITE="${1:-${PADDLE_LITE_DIR:-$SHARED/arm/paddle_lite_armv8}}"
if [ ! -f "$LITE/include/paddle_api.h" ]; then
  echo "build_native: no Paddle Lite library at '$LITE' (want include/paddle_api.h and lib/)" >&2
  exit 1
fi
LITE="$(cd "$LITE" && pwd)"
SRC=edge_ocr/engines/native
if [ "$CROSS" = 1 ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null || { echo "build_native: aarch64-linux-gnu-g++ missing (apt-get install g++-aarch64-linux-gnu)" >&2; exit 1; }
  BUILD=build/native-aarch64
  DEST=$SRC/aarch64
  EXTRA=(-DCMAKE_TOOLCHAIN_FILE="$PWD/android_demo/cpp/aarch64-linux-gnu.cmake")
else
  BUILD=build/native
  DEST=$SRC
  EXTRA=()
  if [ -n "${CMAKE_TOOLCHAIN_FILE:-}" ]; then EXTRA=(-DCMAKE_TOOLCHAIN_FILE="$CMAKE_TOOLCHAIN_FILE"); fi
fi
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPADDLE_LITE_DIR="$LITE" "${EXTRA[@]}" >/dev/null
cmake --build "$BUILD" -j 2 >/dev/null
mkdir -p "$DEST"
# Copy through a temp name and rename: a running process may have the old library mapped.
for f in libedge_ocr_lite.so edge_ocr_lite_run; do
  cp "$BUILD/$f" "$DEST/.$f.tmp" && mv -f "$DEST/.$f.tmp" "$DEST/$f"
done
echo "build_native: $DEST/libedge_ocr_lite.so and $DEST/edge_ocr_lite_run (Paddle Lite: $LITE)"
