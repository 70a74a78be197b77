#!/usr/bin/env bash
# Virtual environments for the peers we compare against, kept apart from the project's runtime.
# Usage: bash benchmarks/peers/setup_peers.sh [paddleocr] [rapidocr]   (default: paddleocr)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python"
[ -x "$PY" ] || PY="$(command -v python3.10)"
ROOT=benchmarks/.venvs
mkdir -p "$ROOT"
for peer in "${@:-paddleocr}"; do
  venv="$ROOT/$peer"
  [ -x "$venv/bin/python" ] && [ -f "$venv/.ok" ] && { echo "$peer: ready ($venv)"; continue; }
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  case "$peer" in
    paddleocr) "$venv/bin/python" -m pip install --quiet "paddlepaddle==2.6.2" "paddleocr==2.8.1" "numpy<2" ;;
    rapidocr) "$venv/bin/python" -m pip install --quiet "rapidocr-onnxruntime==1.4.4" "paddle2onnx==1.2.11" "paddlepaddle==2.6.2" "numpy<2" ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
  touch "$venv/.ok"
  echo "$peer: installed in $venv"
done
