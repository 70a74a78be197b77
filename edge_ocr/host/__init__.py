"""The host-side tools, under one import root: ``edge_ocr.host.quantize`` (PaddleSlim compression: nets, training,
compress) and ``edge_ocr.host.export`` (opt, bundles, verification on ARM). They need the host stack (paddle,
PaddleSlim, paddlelite) and stand above the runtime: nothing in ``edge_ocr`` imports them at import time.

Their code lives in the repository's top-level ``quantize/`` and ``export/`` folders. A wheel installs them here
(``pyproject.toml`` maps the packages), so site-packages gets no generic ``quantize`` or ``export``; in a checkout
(editable install or none) this package's path reaches the two folders."""

from __future__ import annotations

import os

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if all(os.path.isfile(os.path.join(_CHECKOUT, name, "__init__.py")) for name in ("quantize", "export")) and not all(
        os.path.isdir(os.path.join(os.path.dirname(__file__), name)) for name in ("quantize", "export")):
    __path__.append(_CHECKOUT)  # noqa: F821 (a package's __path__)
