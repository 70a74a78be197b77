#!/usr/bin/env bash
# Run the test suite (ruff + pytest) in .venv. Models and data are read from $EDGE_OCR_SHARED
# (default: ../shared beside the repository). pytest's "no tests collected" (exit 5) counts as a failure.
# Usage: bash scripts/test.sh [--fast] [PYTEST_ARGS...]
#   --fast  leaves out the tests marked slow, arm (emulated ARM runs) and train (the developer's loop, < 3 min on
#           2 cores); CI runs everything. Missing dependencies fail in both tiers, they are never skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export EDGE_OCR_SHARED="${EDGE_OCR_SHARED:-$(cd .. && pwd)/shared}"
export EDGE_OCR_MODEL_MIRROR="${EDGE_OCR_MODEL_MIRROR:-$EDGE_OCR_SHARED/models/ppocrv2}"
# A private cache: tests never read or write the user's, and never touch the network. A temporary one is removed
# when the run ends; $EDGE_OCR_TEST_CACHE (kept) lets runs share converted models.
if [ -n "${EDGE_OCR_TEST_CACHE:-}" ]; then
  export EDGE_OCR_CACHE="$EDGE_OCR_TEST_CACHE"
else
  EDGE_OCR_CACHE="$(mktemp -d -t edge-ocr-test-cache.XXXXXX)"
  export EDGE_OCR_CACHE
  trap 'rm -rf "$EDGE_OCR_CACHE"' EXIT
fi

MARKS=()
if [ "${1:-}" = "--fast" ]; then
  shift
  MARKS=(-m "not slow and not arm and not train")
fi

"$VENV/bin/ruff" check . || exit 1
"$VENV/bin/python" -m pytest "${MARKS[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
