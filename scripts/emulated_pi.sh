#!/usr/bin/env bash
# The emulated Raspberry Pi on an x86 Debian host: Raspberry Pi OS's arm64 Python (scripts/arm64_sysroot.sh --python)
# run by qemu-aarch64, with a Raspberry Pi 4's /proc/cpuinfo, and the SAME scripts/pi_install.sh a board runs, given:
# aarch64 wheels downloaded here (no pip resolution under emulation), the Paddle Lite ARM library from
# $EDGE_OCR_SHARED/arm instead of the release download, and the native engine cross-built with aarch64-linux-gnu-g++.
#
#   bash scripts/emulated_pi.sh [--bundle DIR [--image IMAGE]]     (--bundle: also pi_install's predict + bench check)
#   .arm/pi/bin/edge-ocr predict --bundle FP32_ARM_BUNDLE IMAGE --json out.json
#
# Everything lives in ignored folders (.arm/sysroot, .arm/debs, .arm/wheels, .arm/pi, .arm/build) and is cached: a
# second run takes seconds. Needs (scripts/setup.sh installs them): qemu-user, g++-aarch64-linux-gnu,
# libc6-arm64-cross, cmake; root once for `dpkg --add-architecture arm64`.
# Timings under emulation say nothing about a Pi's speed; `edge-ocr bench` marks them as emulated.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
die() { echo "emulated_pi: $*" >&2; exit 1; }
SHARED=$(realpath -m "${EDGE_OCR_SHARED:-$ROOT/../shared}")
export EDGE_OCR_SHARED=$SHARED
ARM=$ROOT/.arm
SYSROOT=$ARM/sysroot
PI=$ARM/pi
WHEELS=$ARM/wheels
LITE=$SHARED/arm/paddle_lite_armv8

for tool in qemu-aarch64 aarch64-linux-gnu-g++ cmake; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh (apt: qemu-user g++-aarch64-linux-gnu libc6-arm64-cross cmake)"
done
[ -f "$LITE/lib/libpaddle_light_api_shared.so" ] || die "no Paddle Lite ARM library in $LITE (set EDGE_OCR_SHARED)"
[ -f "$SHARED/arm/cpuinfo/raspberrypi4" ] || die "no $SHARED/arm/cpuinfo/raspberrypi4 (set EDGE_OCR_SHARED)"

start=$SECONDS
# 1. Raspberry Pi OS's Python userland, with a Raspberry Pi 4's cpuinfo as qemu shows it.
bash scripts/arm64_sysroot.sh --python --cpuinfo raspberrypi4 "$SYSROOT"

# 2. aarch64 wheels, fetched by the host's pip (fast) for CPython 3.11 and glibc 2.36 (bookworm): manylinux_2_17..36.
reqs_stamp=$(cat scripts/pi_requirements.txt | sha256sum | cut -c1-16)
if [ "$(cat "$WHEELS/.stamp" 2>/dev/null)" != "$reqs_stamp" ]; then
  HOSTPIP=("$ROOT/.venv/bin/python" -m pip)
  [ -x "$ROOT/.venv/bin/python" ] || HOSTPIP=(python3 -m pip)
  platforms=(--platform manylinux2014_aarch64)
  for v in $(seq 17 36); do platforms+=(--platform "manylinux_2_${v}_aarch64"); done
  mkdir -p "$WHEELS"
  echo "emulated_pi: downloading aarch64 wheels into $WHEELS"
  # setuptools + wheel: the isolated build of `pip install .` in pi_install.sh, offline.
  "${HOSTPIP[@]}" download -q --disable-pip-version-check -d "$WHEELS" "${platforms[@]}" --python-version 3.11 \
    --implementation cp --only-binary=:all: -r scripts/pi_requirements.txt setuptools wheel \
    || die "pip download of the aarch64 wheels failed"
  echo "$reqs_stamp" > "$WHEELS/.stamp"
fi

# 3. The Pi's python3.11 as a host program. `-0 "$0"` makes the guest's sys.executable this wrapper (or the venv's link
# to it), so the venv, pip's subprocesses and console scripts all start through qemu: this host has no binfmt_misc.
mkdir -p "$PI/bin"
qemu_version=$(qemu-aarch64 -version | sed -n '1s/.*version \([0-9.]*\).*/\1/p')
cat > "$PI/python3.11.tmp" <<EOF
#!/bin/sh
# Raspberry Pi OS's python3.11 (arm64) under qemu-aarch64; made by scripts/emulated_pi.sh.
unset PYTHONPATH PYTHONHOME PIP_FIND_LINKS PIP_CONSTRAINT
export PIP_CONFIG_FILE=/dev/null  # not the host's pip configuration
export EDGE_OCR_EMULATED="qemu-aarch64 $qemu_version, Raspberry Pi 4 cpuinfo"  # read by edge-ocr bench
exec qemu-aarch64 -L "$SYSROOT" -0 "\$0" "$SYSROOT/usr/bin/python3.11" "\$@"
EOF
chmod +x "$PI/python3.11.tmp" && mv -f "$PI/python3.11.tmp" "$PI/python3.11"

# 4. The Pi's own install script, with the library from ../shared and a cross build of the native engine.
PYTHON=$PI/python3.11 VENV=$PI/venv WHEELS=$WHEELS PADDLE_LITE_DIR=$LITE \
  CMAKE_TOOLCHAIN_FILE=$ROOT/android_demo/cpp/aarch64-linux-gnu.cmake BUILD_DIR=$ARM/build/native-emulated-pi \
  OUT=${OUT:-$ARM/pi-check} BENCH_ARGS=${BENCH_ARGS:---threads 1 --warmup 0 --limit 1} \
  bash scripts/pi_install.sh "$@"

# 5. The ready command. EDGE_OCR_LITE_LIB: bench's measuring subprocess imports edge_ocr from the current folder
# first, which from this checkout is the x86 host's package (no aarch64 library beside it).
lib=$("$PI/venv/bin/python" -I -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/edge_ocr/engines/native/libedge_ocr_lite.so
cat > "$PI/bin/edge-ocr.tmp" <<EOF
#!/bin/sh
# edge-ocr of the emulated Raspberry Pi (arm64 venv under qemu-aarch64); made by scripts/emulated_pi.sh.
export EDGE_OCR_LITE_LIB="$lib"
exec "$PI/venv/bin/edge-ocr" "\$@"
EOF
chmod +x "$PI/bin/edge-ocr.tmp" && mv -f "$PI/bin/edge-ocr.tmp" "$PI/bin/edge-ocr"
echo "emulated_pi: ready in $((SECONDS - start)) s: $PI/bin/edge-ocr"
