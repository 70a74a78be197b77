"""edge-ocr: the PP-OCRv2 system (det -> cls -> rec) on Paddle Lite and Paddle Inference.

Importing this package needs only numpy, OpenCV and pyclipper; an engine's library is imported when an engine
is created.

The host tools' Python API is here too, imported on first use: ``evaluate`` (``EvalConfig``, ``EvalReport``),
``compress`` (``CompressConfig``, ``CompressReport``), ``export`` (``ExportConfig``) and ``verify``
(``VerifyConfig``, ``VerifyReport``). ``compress``, ``export`` and ``verify`` live in the host packages (``quantize``,
``export``: paddle, PaddleSlim, opt), which stand above this runtime: nothing here imports them until asked for.
"""

import importlib

from . import opencv  # noqa: F401  (first: sets OpenCV's decoder limits before cv2 loads)
from .config import ClsParams, CropParams, DetParams, PipelineParams, RecParams
from .errors import EdgeOCRError, ImageError, ModelError
from .images import load_image
from .pipeline import OCRPipeline
from .results import OCRLine, OCRResult

__version__ = "0.1.0"

# name -> (module, attribute): resolved on first use (PEP 562), so ``import edge_ocr`` stays light and the runtime
# layer has no import-time dependency on the host layers above it
_LAZY = {
    "evaluate": ("edge_ocr.evaluation.api", "evaluate"),
    "EvalConfig": ("edge_ocr.evaluation.api", "EvalConfig"),
    "EvalReport": ("edge_ocr.evaluation.api", "EvalReport"),
    "PipelineOptions": ("edge_ocr.pipeline_options", "PipelineOptions"),
    "compress": ("edge_ocr.host.quantize.compress.api", "compress"),
    "CompressConfig": ("edge_ocr.host.quantize.compress.config", "CompressConfig"),
    "CompressReport": ("edge_ocr.host.quantize.compress.api", "CompressReport"),
    "export": ("edge_ocr.host.export.api", "export"),
    "ExportConfig": ("edge_ocr.host.export.api", "ExportConfig"),
    "verify": ("edge_ocr.host.export.api", "verify"),
    "VerifyConfig": ("edge_ocr.host.export.api", "VerifyConfig"),
    "VerifyReport": ("edge_ocr.host.export.api", "VerifyReport"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'edge_ocr' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    try:
        value = getattr(importlib.import_module(module), attribute)
    except ImportError as exc:
        raise ImportError(f"edge_ocr.{name} needs the host tools (pip install 'edge-ocr[host]'): {exc}") from exc
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(list(globals()) + list(_LAZY))

__all__ = [
    "ClsParams",
    "CompressConfig",
    "CompressReport",
    "EvalConfig",
    "EvalReport",
    "ExportConfig",
    "PipelineOptions",
    "VerifyConfig",
    "VerifyReport",
    "compress",
    "evaluate",
    "export",
    "verify",
    "CropParams",
    "DetParams",
    "EdgeOCRError",
    "ImageError",
    "ModelError",
    "OCRLine",
    "OCRPipeline",
    "OCRResult",
    "PipelineParams",
    "RecParams",
    "__version__",
    "load_image",
]
