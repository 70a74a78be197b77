#!/usr/bin/env bash
# Copy a bundle made by `edge-ocr export --target arm` into the app's assets (app/src/main/assets/bundle).
# Usage: bash android_demo/scripts/copy_bundle.sh [BUNDLE_DIR]
#   default: the released full-charset bundle, bundles/qat-distill (edge_ocr/releases.json)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${1:-}" ]; then  # the release by name: files checked against the registry, the official dictionary added
  PY="$ROOT/.venv/bin/python"; [ -x "$PY" ] || PY=python3
  BUNDLE=$(cd "$ROOT" && "$PY" -c 'from edge_ocr.releases import resolve_bundle; print(resolve_bundle("qat-distill")[0])') \
    || { echo "copy_bundle: the released bundle qat-distill cannot be resolved" >&2; exit 1; }
else
  BUNDLE="$1"
fi
ASSETS="$(cd "$(dirname "$0")/.." && pwd)/app/src/main/assets/bundle"
[ -f "$BUNDLE/manifest.json" ] || { echo "copy_bundle: $BUNDLE is not a bundle (no manifest.json)" >&2; exit 1; }
TARGET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$BUNDLE/manifest.json")
[ "$TARGET" = "arm" ] || { echo "copy_bundle: $BUNDLE targets $TARGET; the app needs --target arm" >&2; exit 1; }
# Check every file against the manifest's sha256 before it goes into an APK.
python3 - "$BUNDLE" <<'PY'
import hashlib, json, os, sys
bundle = sys.argv[1]
files = json.load(open(os.path.join(bundle, "manifest.json")))["files"]
for name, entry in files.items():
    digest = hashlib.sha256(open(os.path.join(bundle, name), "rb").read()).hexdigest()
    expected = entry["sha256"] if isinstance(entry, dict) else entry
    if digest != expected:
        sys.exit(f"copy_bundle: {name} does not match the manifest's sha256")
PY
TMP="$ASSETS.tmp"
rm -rf "$TMP" && mkdir -p "$TMP"
cp "$BUNDLE"/* "$TMP"/
rm -rf "$ASSETS" && mv "$TMP" "$ASSETS"
echo "copied $(ls "$ASSETS" | wc -l) files into $ASSETS"
