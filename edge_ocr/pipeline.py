"""The PP-OCRv2 system: detection -> direction classification -> recognition, on any engine."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from .bundle import load_bundle
from .cls import TextClassifier
from .config import PipelineParams
from .det import TextDetector
from .engines import create_engine
from .errors import EdgeOCRError, ModelError, one_line
from .geometry import crop_text_line, reading_order
from .images import as_bgr8, display_path, load_image
from .models import default_models, resolve_models
from .rec import TextRecognizer
from .results import OCRLine, OCRResult

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    boxes: list[list[list[int]]]  # every detector box, reading order, original pixels
    det_scores: list[float]
    texts: list[tuple[str, float]]  # (text, score) for each box
    lines: list[OCRLine]  # boxes whose text score passes drop_score


class OCRPipeline:
    """Run OCR on BGR images. Build it with ``from_models`` (inference models) or ``from_bundle`` (``.nb``)."""

    def __init__(
        self,
        detector: TextDetector,
        recognizer: TextRecognizer,
        classifier: TextClassifier | None = None,
        params: PipelineParams | None = None,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.classifier = classifier
        self.params = params or PipelineParams()
        self.last_timings_ms: dict[str, float] = {}

    @classmethod
    def from_models(
        cls,
        models_dir: str | None = None,
        engine: str = "auto",
        threads: int = 2,
        use_cls: bool = True,
        params: PipelineParams | None = None,
        power_mode: str | None = None,
    ) -> OCRPipeline:
        """From a folder of inference models (the default PP-OCRv2 set, pulled on first use, if None)."""
        params = params or PipelineParams()
        params.use_cls = use_cls and params.use_cls
        paths = resolve_models(models_dir or default_models(), need_cls=params.use_cls)

        def make(model: str):
            return create_engine(model, engine, threads=threads, power_mode=power_mode)

        detector = TextDetector(make(paths.det), params.det)
        classifier = TextClassifier(make(paths.cls), params.cls) if params.use_cls and paths.cls else None
        recognizer = TextRecognizer(make(paths.rec), paths.dictionary, params.rec)
        return cls(detector, recognizer, classifier, params)

    @classmethod
    def from_bundle(
        cls, bundle_dir: str, threads: int = 2, use_cls: bool = True, power_mode: str | None = None,
        engine: str = "lite",
    ) -> OCRPipeline:
        """From a bundle written by ``edge-ocr export``: every parameter comes from its manifest.

        ``engine``: "lite" (this machine's Paddle Lite) or "lite-qemu" (an ARM bundle on an x86 host, emulated).
        """
        bundle = load_bundle(bundle_dir)
        params = bundle.params
        params.use_cls = use_cls and params.use_cls and bundle.model_file("cls") is not None

        def make(role: str):
            return create_engine(bundle.model_file(role), engine, threads=threads, power_mode=power_mode)

        detector = TextDetector(make("det"), params.det)
        classifier = TextClassifier(make("cls"), params.cls) if params.use_cls else None
        recognizer = TextRecognizer(make("rec"), bundle.dictionary, params.rec)
        return cls(detector, recognizer, classifier, params)

    def detect(self, image: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        """Sorted detector boxes (before recognition's drop_score filter) and their DB scores. ``image``: as
        ``analyze`` takes it."""
        image = as_bgr8(image, self.params.max_image_pixels)
        boxes, scores = self.detector(image)
        order = reading_order(boxes)
        return [boxes[i] for i in order], [scores[i] for i in order]

    def analyze(self, image: np.ndarray, scale: float = 1.0, size: tuple[int, int] | None = None) -> Analysis:
        """Everything one image gives: all detector boxes in reading order, their texts, and the kept lines.

        ``image``: HxWx3 uint8 BGR; gray (HxW, HxWx1), BGRA and 16-bit arrays are converted as decoded files are,
        anything else (float, bool, other shapes, empty) is an ``ImageError`` saying what is wrong, before any work.
        ``scale`` multiplies box coordinates (for images decoded at reduced size); ``size`` (width, height) of the
        original image, when given, clips them to it.
        """
        image = as_bgr8(image, self.params.max_image_pixels)
        if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
            raise EdgeOCRError(f"scale must be a finite number above 0, not {scale!r}")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        boxes, det_scores = self.detect(image)
        timings["det"] = (time.perf_counter() - start) * 1000
        texts: list[tuple[str, float]] = []
        timings["cls"] = timings["rec"] = 0.0
        if boxes:
            crops = [crop_text_line(image, box, self.params.crop.rotate_ratio) for box in boxes]
            mark = time.perf_counter()
            if self.classifier is not None:
                crops, _ = self.classifier(crops)
            timings["cls"] = (time.perf_counter() - mark) * 1000
            mark = time.perf_counter()
            texts = self.recognizer(crops)
            timings["rec"] = (time.perf_counter() - mark) * 1000
        self.last_timings_ms = timings
        corners = [(np.round(box * scale) if scale != 1.0 else box).astype(int) for box in boxes]
        if size is not None:
            corners = [np.clip(c, 0, (size[0] - 1, size[1] - 1)) for c in corners]
        corners = [c.tolist() for c in corners]
        # A line needs text: an empty one (all blanks, or a non-finite recognizer output) is not a result.
        lines = [OCRLine(c, text, score) for c, (text, score) in zip(corners, texts)
                 if text and score >= self.params.rec.drop_score]
        return Analysis(corners, det_scores, texts, lines)

    def __call__(self, image: np.ndarray, scale: float = 1.0) -> list[OCRLine]:
        """OCR one BGR uint8 image: the lines whose recognition score passes ``drop_score``."""
        return self.analyze(image, scale).lines

    def ocr_file(self, path: str | os.PathLike) -> OCRResult:
        """OCR an image file. One bad file never raises: it gives a result with ``error`` set to a one-line reason
        naming the file. Only a ``ModelError`` (a wrong dictionary, a model that cannot run), which every image
        would hit, is raised. ``image`` is the path as printable text (see ``display_path``)."""
        name = display_path(os.fspath(path))
        try:
            loaded = load_image(os.fspath(path), self.params.max_image_pixels)
            lines = self.analyze(loaded.image, loaded.scale, loaded.size).lines
        except ModelError:
            raise
        except EdgeOCRError as exc:
            return OCRResult(name, error=str(exc))
        except Exception as exc:  # one image's failure (cv2.error, MemoryError...) must not end the run
            log.debug("%s failed", name, exc_info=True)
            return OCRResult(name, error=f"{name}: cannot process this image ({type(exc).__name__}: {one_line(exc)})")
        return OCRResult(name, lines, timings_ms=dict(self.last_timings_ms))
