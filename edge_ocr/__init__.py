"""edge-ocr: the PP-OCRv2 system (det -> cls -> rec) on Paddle Lite and Paddle Inference.

Importing this package needs only numpy, OpenCV and pyclipper; an engine's library is imported when an engine
is created.
"""

from .config import ClsParams, CropParams, DetParams, PipelineParams, RecParams
from .errors import EdgeOCRError, ImageError, ModelError
from .images import load_image
from .pipeline import OCRPipeline
from .results import OCRLine, OCRResult

__version__ = "0.1.0"

__all__ = [
    "ClsParams",
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
