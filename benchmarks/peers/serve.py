"""The peer protocol shared by the runners: build the OCR system, then answer one image path per stdin line.

``@@READY`` once built; ``@@RESULT {"image", "lines", "ms"}`` per image; an empty line ends with
``@@STATS {"load_ms", "peak_rss_mb"}``. Runs inside a peer's own venv, so it imports nothing from edge-ocr.
"""

import json
import resource
import sys
import time
from collections.abc import Callable


def serve(build: Callable[[], object], ocr_one: Callable[[object, str], dict]) -> None:
    start = time.perf_counter()
    system = build()
    load_ms = (time.perf_counter() - start) * 1000
    print("@@READY", flush=True)
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            break
        print("@@RESULT " + json.dumps(ocr_one(system, path)), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("@@STATS " + json.dumps({"load_ms": load_ms, "peak_rss_mb": peak_mb}), flush=True)
