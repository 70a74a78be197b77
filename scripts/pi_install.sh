#!/usr/bin/env bash
# Install edge-ocr on a Raspberry Pi (Raspberry Pi OS bookworm, 64-bit) or another aarch64 Linux board, from this
# checkout: a venv with the runtime's PyPI wheels (scripts/pi_requirements.txt) and edge-ocr, Paddle Lite's official
# ARM Linux library (scripts/paddle_lite_arm.lock: URL, version, sha256), and the native engine
# (edge_ocr/engines/native, built here with the board's g++ and cmake). With a bundle, it then runs
# `edge-ocr predict` on a sample and `edge-ocr bench`.
#
#   sudo apt install python3-venv cmake g++          (once; Raspberry Pi OS has curl)
#   bash scripts/pi_install.sh [--pin-checksums] [--bundle DIR [--image IMAGE]]   (default bundle: bundles/qat-distill)
#
# Environment (the emulated Pi, scripts/emulated_pi.sh, runs this same script with them):
#   PYTHON            interpreter that makes the venv (default python3); may be a wrapper that runs it under qemu
#   VENV              the venv (default .venv)
#   WHEELS            a folder of aarch64 wheels: install from it only (pip --no-index --find-links)
#   PADDLE_LITE_DIR   an existing Paddle Lite cxx folder (include/paddle_api.h, lib/): no download
#   CXX, CMAKE_TOOLCHAIN_FILE   compiler / toolchain for the native engine (cross builds)
#   BUILD_DIR         cmake build folder (default .arm/build/native-pi)
#   BENCH_ARGS        extra `edge-ocr bench` options (default: --threads 1 2 4 --warmup 2)
#   OUT               where the check writes predict.json and the bench report (default .arm/pi-check)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
say() { echo "pi_install: $*"; }
die() { echo "pi_install: $*" >&2; exit 1; }

PIN=0 BUNDLE=${BUNDLE:-} IMAGE=${IMAGE:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --pin-checksums) PIN=1 ;;
    --bundle) BUNDLE=${2:?--bundle needs a folder}; shift ;;
    --image) IMAGE=${2:?--image needs a file}; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
BUILD_DIR=${BUILD_DIR:-.arm/build/native-pi}
OUT=${OUT:-.arm/pi-check}
LOCK=${PADDLE_LITE_LOCK:-scripts/paddle_lite_arm.lock}  # another lock: for testing the pinning
REQS=scripts/pi_requirements.txt

# --- the interpreter: 64-bit ARM, Python >= 3.8 with venv -------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "no $PYTHON (set PYTHON=...)"
info=$("$PYTHON" -c 'import platform, sys; print(platform.machine(), "%d.%d" % sys.version_info[:2])') \
  || die "$PYTHON does not run"
read -r machine pyver <<<"$info"
case "$machine" in
  aarch64|arm64) ;;
  armv7l|armv6l) die "this is a 32-bit OS ($machine): install the 64-bit Raspberry Pi OS (Paddle Lite's armv8 library)" ;;
  *) die "$PYTHON runs on $machine, not aarch64: on x86 use scripts/emulated_pi.sh" ;;
esac
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))' || die "Python $pyver is too old (3.8 or newer)"

# --- venv, runtime wheels, edge-ocr ------------------------------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
  say "creating $VENV (Python $pyver)"
  "$PYTHON" -m venv --clear "$VENV" || die "'$PYTHON -m venv' failed: sudo apt install python3-venv"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
PIP_IDX=()
if [ -n "${WHEELS:-}" ]; then PIP_IDX=(--no-index --find-links "$(realpath "$WHEELS")"); fi

# Stamps make a second run skip what is already installed (pip itself takes long under emulation).
stamp() { cat "$@" | sha256sum | cut -c1-16; }
deps_stamp="$pyver-$(stamp "$REQS")"
if [ "$(cat "$VENV/.edge-ocr-deps" 2>/dev/null)" != "$deps_stamp" ]; then
  say "installing $(grep -cv '^#' "$REQS") runtime packages from ${WHEELS:-PyPI}"
  # Only wheels: an sdist of numpy or OpenCV would compile for hours on a board.
  "${PIP[@]}" install -q --only-binary=:all: "${PIP_IDX[@]}" -r "$REQS"
  echo "$deps_stamp" > "$VENV/.edge-ocr-deps"
fi
# The package's Python sources decide whether edge-ocr is reinstalled.
src_stamp=$(find edge_ocr quantize export pyproject.toml -type f \( -name '*.py' -o -name '*.json' -o -name pyproject.toml \) -print0 | sort -z | xargs -0 sha256sum | stamp)
if [ "$(cat "$VENV/.edge-ocr-src" 2>/dev/null)" != "$src_stamp" ]; then
  say "installing edge-ocr from $ROOT"
  # --no-deps: the runtime needs only the wheels above (no paddlelite: PyPI has no ARM build; the native engine
  # replaces it). --ignore-requires-python: pyproject.toml's cap is the x86 host's (paddlelite wheels); the runtime runs
  # on 3.11.
  # pyproject.toml's build needs setuptools' bdist_wheel: the wheel package (in WHEELS for the emulated Pi)
  "${PIP[@]}" install -q --only-binary=:all: "${PIP_IDX[@]}" "setuptools>=64" wheel
  "${PIP[@]}" install -q --no-deps --no-build-isolation --ignore-requires-python "${PIP_IDX[@]}" .
  echo "$src_stamp" > "$VENV/.edge-ocr-src"
fi
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
native_dir="$site/edge_ocr/engines/native"
[ -d "$native_dir" ] || die "edge-ocr is not installed in $VENV ($native_dir missing)"

# --- Paddle Lite's ARM Linux library ---------------------------------------------------------------------------------
lock_get() { sed -n "s/^$1=//p" "$LOCK"; }
downloaded=0
if [ -z "${PADDLE_LITE_DIR:-}" ]; then
  version=$(lock_get version) url=$(lock_get url) pinned=$(lock_get sha256)
  [ -n "$url" ] || die "$LOCK has no url="
  dest=".arm/paddle_lite/$version"
  archive=".arm/downloads/$(basename "$url")"
  if [ ! -f "$dest/.complete" ]; then
    mkdir -p .arm/downloads
    if [ ! -s "$archive" ]; then
      say "downloading Paddle Lite $version: $url"
      if command -v curl >/dev/null; then curl -fL --progress-bar --retry 3 -o "$archive.part" "$url"
      else wget -O "$archive.part" "$url"; fi || die "download failed: $url"
      mv "$archive.part" "$archive"
    fi
    actual=$(sha256sum "$archive" | cut -d' ' -f1)
    if [ "$actual" != "$pinned" ]; then
      if [ -z "$pinned" ] && [ "$PIN" = 1 ]; then
        sed -i "s/^sha256=.*/sha256=$actual/" "$LOCK"
        say "pinned Paddle Lite $version sha256 $actual in $LOCK: check it against the release page, then commit it"
      else
        rm -f "$archive"
        die "$(basename "$archive"): sha256 $actual does not match $LOCK (${pinned:-not pinned yet: run again with --pin-checksums})"
      fi
    fi
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    tar -xzf "$archive" -C "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    echo "$actual" > "$dest/.complete"
  fi
  header=$(find "$dest" -path '*/cxx/include/paddle_api.h' | head -n 1)
  [ -n "$header" ] || die "no cxx/include/paddle_api.h in $dest (unexpected archive layout)"
  PADDLE_LITE_DIR=$(dirname "$(dirname "$header")")
  downloaded=1
fi
[ -f "$PADDLE_LITE_DIR/include/paddle_api.h" ] && [ -f "$PADDLE_LITE_DIR/lib/libpaddle_light_api_shared.so" ] \
  || die "PADDLE_LITE_DIR=$PADDLE_LITE_DIR is not a Paddle Lite cxx folder (include/paddle_api.h, lib/libpaddle_light_api_shared.so)"
PADDLE_LITE_DIR=$(cd "$PADDLE_LITE_DIR" && pwd)

# --- the native engine: libedge_ocr_lite.so, with this machine's g++ (or the given toolchain) -----------------------
command -v cmake >/dev/null || die "cmake is missing: sudo apt install cmake g++"
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DPADDLE_LITE_DIR="$PADDLE_LITE_DIR")
if [ -n "${CMAKE_TOOLCHAIN_FILE:-}" ]; then cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$(realpath "$CMAKE_TOOLCHAIN_FILE")"); fi
cmake -S edge_ocr/engines/native -B "$BUILD_DIR" "${cmake_args[@]}" >/dev/null \
  || die "cmake could not configure edge_ocr/engines/native (sudo apt install cmake g++)"
cmake --build "$BUILD_DIR" -j "$(nproc)" >/dev/null || die "building the native engine failed (cmake --build $BUILD_DIR)"
# Into the installed package, where edge_ocr looks for it; Paddle Lite beside it ($ORIGIN) when it was downloaded
# here, so the library keeps working if .arm/ is cleaned.
install_file() { cmp -s "$1" "$2" 2>/dev/null || { cp "$1" "$2.tmp" && mv -f "$2.tmp" "$2"; }; }
targets=("$native_dir")
# On the board also beside the checkout's package (as scripts/build_native.sh does), for `python -m edge_ocr ...`
# run from the checkout; not when cross-building on an x86 host, whose checkout is an x86 one.
if [ -z "${CMAKE_TOOLCHAIN_FILE:-}" ]; then targets+=("$ROOT/edge_ocr/engines/native"); fi
for target in "${targets[@]}"; do
  install_file "$BUILD_DIR/libedge_ocr_lite.so" "$target/libedge_ocr_lite.so"
  if [ "$downloaded" = 1 ]; then
    install_file "$PADDLE_LITE_DIR/lib/libpaddle_light_api_shared.so" "$target/libpaddle_light_api_shared.so"
  fi
done
say "native engine: $native_dir/libedge_ocr_lite.so (Paddle Lite: $PADDLE_LITE_DIR)"
# -I: the installed edge_ocr, not the checkout's (the current folder), and no EDGE_OCR_LITE_LIB.
(unset EDGE_OCR_LITE_LIB; "$VENV/bin/python" -I -c 'from edge_ocr.engines.native import load_library; load_library()') \
  || die "the native engine does not load (see above)"
say "ready: $VENV/bin/edge-ocr"

# --- check with a bundle: predict one image, then bench ---------------------------------------------------------------
# Default: the released full-charset bundle committed in this checkout (bundles/qat-distill, edge_ocr/releases.json).
# The release is resolved by name: its files checked against the registry, the official dictionary added.
if [ -z "$BUNDLE" ] && [ -f bundles/qat-distill/manifest.json ]; then
  BUNDLE=$("$VENV/bin/python" -c 'from edge_ocr.releases import resolve_bundle; print(resolve_bundle("qat-distill")[0])') \
    || die "the released bundle qat-distill cannot be resolved (see above)"
  say "no --bundle given: checking with the released full-charset bundle qat-distill ($BUNDLE)"
fi
if [ -z "$BUNDLE" ]; then
  say "no --bundle given and no released bundle here: skipped the check. Copy a bundle from the host (edge-ocr export"
  say "--target arm) and run: $VENV/bin/edge-ocr predict --bundle BUNDLE IMAGE"
  exit 0
fi
[ -f "$BUNDLE/manifest.json" ] || die "$BUNDLE is not a bundle (no manifest.json)"
IMAGE=${IMAGE:-${EDGE_OCR_SHARED:-../shared}/data/icdar2015/ch4_test_images/img_11.jpg}
[ -f "$IMAGE" ] || die "no sample image $IMAGE (pass --image IMAGE)"
mkdir -p "$OUT"
BUNDLE=$(realpath "$BUNDLE") IMAGE=$(realpath "$IMAGE") OUT=$(realpath "$OUT") EDGE_OCR=$(realpath "$VENV/bin/edge-ocr")
cd "$OUT"  # bench's measuring subprocess imports edge_ocr from the current folder first: not the checkout's
say "predict: $IMAGE"
"$EDGE_OCR" predict --bundle "$BUNDLE" "$IMAGE" --json "$OUT/predict.json"
# shellcheck disable=SC2086
"$EDGE_OCR" bench --images "$IMAGE" --engines --bundle "arm=$BUNDLE" --out-dir "$OUT" \
  ${BENCH_ARGS:---threads 1 2 4 --warmup 2}
say "check done: $OUT/predict.json and the bench report in $OUT"
