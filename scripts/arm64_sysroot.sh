#!/usr/bin/env bash
# An arm64 Debian bookworm userland in DIR, made from Debian's own .deb files without installing any arm64 package
# (apt-get install of arm64 -dev packages would remove the host's amd64 OpenCV). See ../shared/arm/README.md.
#   --python   Raspberry Pi OS's Python (bookworm = Debian's python3.11, with venv/ensurepip): runs under
#              `qemu-aarch64 -L DIR DIR/usr/bin/python3.11`
#   --opencv   what the C++ core (android_demo/cpp) links for arm64: OpenCV imgproc/imgcodecs, polyclipping,
#              nlohmann-json, and DIR/aarch64-sysroot.cmake, a CMake toolchain file for aarch64-linux-gnu-g++ over them
#   --cpuinfo NAME|FILE|none   DIR/proc/cpuinfo, which qemu's -L DIR shows the program as /proc/cpuinfo and Paddle Lite
#              reads to pick its kernels (default raspberrypi4 from $EDGE_OCR_SHARED/arm/cpuinfo)
# Usage: bash scripts/arm64_sysroot.sh [--python] [--opencv] [--cpuinfo NAME] [DIR]   (no part named = both;
#        DIR defaults to .arm/sysroot). The .debs are cached in $EDGE_OCR_ARM_CACHE (default .arm/debs); a part whose
#        resolved package list equals its stamp is skipped, so a second run takes a few seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${EDGE_OCR_SHARED:-$ROOT/../shared}
DEBS=${EDGE_OCR_ARM_CACHE:-$ROOT/.arm/debs}

parts=() cpuinfo=raspberrypi4 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) parts+=(python) ;;
    --opencv) parts+=(opencv) ;;
    --cpuinfo) cpuinfo=${2:?--cpuinfo needs NAME, FILE or none}; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {print}' "$0"; exit 0 ;;
    -*) echo "arm64_sysroot: unknown option $1" >&2; exit 2 ;;
    *) dir=$1 ;;
  esac
  shift
done
[ ${#parts[@]} -gt 0 ] || parts=(python opencv)
dir=${dir:-$ROOT/.arm/sysroot}
mkdir -p "$dir" "$DEBS"
dir=$(cd "$dir" && pwd)
meta="$dir/.edge-ocr-sysroot"
mkdir -p "$meta"

# Packages of each part; apt computes their closure. python3.11-venv brings ensurepip and the pip/setuptools wheels;
# libstdc++6 and libgomp1 (in every Raspberry Pi OS) are what the OpenCV wheel and Paddle Lite link (the C++ CLI too).
PKG_python="python3.11-minimal libpython3.11-stdlib python3.11-venv libstdc++6 libgomp1"
PKG_opencv="libopencv-imgproc-dev libopencv-imgcodecs-dev libpolyclipping-dev nlohmann-json3-dev libgomp1"
# Their libc.so linker scripts name absolute paths and break the cross link; the cross toolchain provides them.
SKIP_opencv="libc6-dev libcrypt-dev libnsl-dev libtirpc-dev linux-libc-dev"
SKIP_python=""

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
  || { echo "arm64_sysroot: needs Debian's apt-get and dpkg (a Debian/Ubuntu host)" >&2; exit 1; }

# One run at a time per DIR (a test session and a user may start it together).
exec 9>"$meta/lock"
flock 9

APT=(-qq -o APT::Architecture=arm64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)

ensure_arm64_lists() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || { echo "arm64_sysroot: run once as root: dpkg --add-architecture arm64 && apt-get update" >&2; exit 1; }
    dpkg --add-architecture arm64
  fi
  if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "arm64_sysroot: no arm64 package lists: run as root: apt-get update" >&2; exit 1; }
    echo "arm64_sysroot: apt-get update (arm64 lists)"
    apt-get update -qq >/dev/null
  fi
}

# The closure as apt resolves it for an empty system: 'URI' FILE SIZE HASH per line, minus the skipped packages.
resolve() {
  local part=$1 pkgs skip empty
  eval "pkgs=\$PKG_$part skip=\$SKIP_$part"
  empty=$(mktemp -d)
  : > "$empty/status"
  mkdir -p "$empty/archives/partial"
  # shellcheck disable=SC2086
  if ! apt-get install -y --print-uris --no-install-recommends "${APT[@]}" \
      -o Dir::State::status="$empty/status" -o Dir::Cache::archives="$empty/archives" $pkgs > "$empty/uris"; then
    rm -rf "$empty"; echo "arm64_sysroot: apt could not resolve the $part packages ($pkgs)" >&2; return 1
  fi
  local s; for s in $skip; do sed -i "/ ${s}_[^ ]*\.deb /d" "$empty/uris"; done
  awk '{print $2}' "$empty/uris" | sort
  rm -rf "$empty"
}

# FILE = name_version_arch.deb (version with %3a for ':') -> name:arch=version for apt-get download.
download() {
  local file spec missing=()
  for file in "$@"; do [ -s "$DEBS/$file" ] || missing+=("$file"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "arm64_sysroot: downloading ${#missing[@]} .deb files into $DEBS"
  local specs=()
  for file in "${missing[@]}"; do
    spec=${file%.deb}
    local name=${spec%%_*} rest=${spec#*_}
    local arch=${rest##*_} version=${rest%_*}
    specs+=("$name:$arch=${version//%3a/:}")
  done
  # apt-get download checks each file against the signed package lists.
  (cd "$DEBS" && apt-get download "${APT[@]}" "${specs[@]}")
}

relative_symlinks() {
  # dpkg would resolve absolute links against /; inside DIR they must point inside DIR (qemu's -L and the linker
  # read them from the host).
  local link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    case "$target" in
      /*) ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" "$dir$target")" "$link" ;;
    esac
  done < <(find "$dir" -path "$meta" -prune -o -type l -print0)
}

post_process() {
  relative_symlinks
  # What dpkg's alternatives would create for libblas3/liblapack3 (OpenCV's core links them).
  local lib=$dir/usr/lib/aarch64-linux-gnu name
  for name in blas lapack; do
    if [ -e "$lib/$name/lib$name.so.3" ]; then ln -sfn "$name/lib$name.so.3" "$lib/lib$name.so.3"; fi
    if [ -e "$lib/$name/lib$name.so" ]; then ln -sfn "$name/lib$name.so" "$lib/lib$name.so"; fi
  done
}

write_toolchain() {
  # DIR/aarch64-sysroot.cmake: aarch64-linux-gnu-g++ (its own libc) + this folder's libraries. Not --sysroot: the
  # libc -dev packages are left out. -rpath-link: OpenCV's transitive libraries (some in /usr/lib, e.g. armadillo).
  local rpath="$dir/usr/lib/aarch64-linux-gnu:$dir/lib/aarch64-linux-gnu:$dir/usr/lib"
  cat > "$dir/aarch64-sysroot.cmake" <<EOF
# Made by scripts/arm64_sysroot.sh --opencv: cross-compile for arm64 Debian bookworm / Raspberry Pi OS with
#   cmake -S SRC -B BUILD -DCMAKE_TOOLCHAIN_FILE=$dir/aarch64-sysroot.cmake
# and run the result with: qemu-aarch64 -L $dir PROGRAM
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH "$dir" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "$dir/usr/lib/aarch64-linux-gnu/pkgconfig:$dir/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "$dir")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,$rpath")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,$rpath")
EOF
}

install_cpuinfo() {
  # /proc/cpuinfo as a Raspberry Pi 4 shows it; without it Paddle Lite reads the host's x86 cpuinfo.
  local src=""
  case "$cpuinfo" in
    none) rm -rf "$dir/proc/cpuinfo" "$dir/sys/devices/system/cpu" ;;
    */*) src=$cpuinfo ;;
    *) src=$SHARED/arm/cpuinfo/$cpuinfo ;;
  esac
  if [ -n "$src" ]; then
    [ -f "$src" ] || { echo "arm64_sysroot: no cpuinfo file $src (set EDGE_OCR_SHARED or --cpuinfo)" >&2; exit 1; }
    mkdir -p "$dir/proc"
    cmp -s "$src" "$dir/proc/cpuinfo" 2>/dev/null || cp "$src" "$dir/proc/cpuinfo"
    # Each listed core online, as on a board (the x86 host's cpu0 has no such file, and Paddle Lite then takes it
    # as offline and stops binding threads).
    local n cpus
    cpus=$(grep -c '^processor' "$src" || true)
    rm -rf "$dir/sys/devices/system/cpu"
    for ((n = 0; n < cpus; n++)); do
      mkdir -p "$dir/sys/devices/system/cpu/cpu$n" && echo 1 > "$dir/sys/devices/system/cpu/cpu$n/online"
    done
  fi
}

ensure_arm64_lists
for part in "${parts[@]}"; do
  list=$(resolve "$part") || { apt-get update -qq >/dev/null 2>&1 || true; list=$(resolve "$part"); }
  stamp="$meta/$part.stamp"
  if [ -f "$stamp" ] && [ "$list" = "$(cat "$stamp")" ]; then
    echo "arm64_sysroot: $part part up to date in $dir ($(wc -l <<<"$list") packages)"
    continue
  fi
  # shellcheck disable=SC2086
  download $list || { echo "arm64_sysroot: retrying after apt-get update" >&2; apt-get update -qq >/dev/null; download $list; }
  touch "$meta/extracted"
  n=0
  for file in $list; do
    grep -qxF "$file" "$meta/extracted" && continue
    dpkg-deb -x "$DEBS/$file" "$dir"
    echo "$file" >> "$meta/extracted"
    n=$((n + 1))
  done
  echo "arm64_sysroot: $part: unpacked $n of $(wc -l <<<"$list") packages into $dir"
  if [ "$part" = python ]; then
    # Precompile the stdlib with a host CPython 3.11 (same bytecode) so the emulated first import doesn't.
    host311=$(command -v python3.11 || true)
    if [ -n "$host311" ] && "$host311" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      "$host311" -m compileall -q -j 0 -x 'lib2to3/tests|test/' "$dir/usr/lib/python3.11" >/dev/null 2>&1 || true
    fi
  fi
  post_process
  if [ "$part" = opencv ]; then write_toolchain; fi
  printf '%s\n' "$list" > "$stamp"
done
install_cpuinfo
echo "arm64_sysroot: ready: $dir (parts: ${parts[*]})"
