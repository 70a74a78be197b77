#!/usr/bin/env bash
# Build .venv from pyenv's Python 3.10.13 and install edge-ocr with the host stack and the test tools.
# Usage: bash scripts/setup.sh [VENV_DIR]      (default .venv in the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"

PY=""
if command -v pyenv >/dev/null 2>&1 && [ -x "$(pyenv root)/versions/3.10.13/bin/python" ]; then
  PY="$(pyenv root)/versions/3.10.13/bin/python"
elif command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' 2>/dev/null; then
  PY="$(command -v python3.10)"
else
  echo "setup: Python 3.10 is required (paddlelite 2.13rc0 has wheels for cp38/cp310 only)." >&2
  echo "setup: install it with 'pyenv install 3.10.13' and run this again." >&2
  exit 1
fi

# System packages: the C++ core's toolchain and libraries (android_demo/cpp, tested on the host), a CJK font
# for `edge-ocr predict --draw`, and the Noto CJK fonts `edge-ocr synth` renders Chinese text with. Installed with
# apt when running as root; otherwise listed for the user to install.
APT_PACKAGES="cmake g++ pkg-config libopencv-imgproc-dev libopencv-imgcodecs-dev libpolyclipping-dev nlohmann-json3-dev fonts-wqy-microhei fonts-noto-cjk qemu-user g++-aarch64-linux-gnu libc6-arm64-cross openjdk-17-jdk-headless gcc llvm-19 clang libclang-rt-14-dev"
missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: apt-get install $missing"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: please install these Debian packages (needed by the C++ core tests): $missing" >&2
  fi
fi

"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[host,test]"
"$VENV/bin/python" -m pip install --quiet -r docs/requirements.txt   # the docs site (mkdocs build --strict in CI)
# paddleslim pulls opencv-python (GUI build) beside our headless one; both own the cv2 module,
# so reinstall the headless build last to make the result deterministic.
HEADLESS=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('opencv-python-headless'))")
"$VENV/bin/python" -m pip uninstall --quiet -y opencv-python
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "opencv-python-headless==$HEADLESS"
"$VENV/bin/python" - <<'PY'
import cv2, numpy, pyclipper, paddle, paddlelite.lite  # noqa: F401  (the stack imports together)
import edge_ocr
print(f"edge-ocr {edge_ocr.__version__}: numpy {numpy.__version__}, opencv {cv2.__version__}, paddle {paddle.__version__}")
PY
# The ARM runtime for this x86 host: the native engine cross-built for aarch64 against the Paddle Lite library in
# $EDGE_OCR_SHARED/arm, run under qemu-aarch64 (verify, compress's check of what it wrote, the ARM tests).
SHARED="${EDGE_OCR_SHARED:-$(cd .. && pwd)/shared}"
if [ -f "$SHARED/arm/paddle_lite_armv8/include/paddle_api.h" ] && command -v aarch64-linux-gnu-g++ >/dev/null; then
  bash scripts/build_native.sh --cross "$SHARED/arm/paddle_lite_armv8"
  # bench --estimate: the qemu block-counting plugin and the marked aarch64 runner
  bash scripts/build_estimate.sh "$SHARED/arm/paddle_lite_armv8"
else
  echo "setup: no aarch64 toolchain or no Paddle Lite ARM library in $SHARED/arm: the emulated ARM runtime is not built" >&2
fi
echo "setup: done. Activate with: source $VENV/bin/activate"
