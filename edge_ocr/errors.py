"""Errors that the CLI turns into a one-line message and a nonzero exit."""


class EdgeOCRError(Exception):
    """Base class: anything the user can fix (bad input, bad model folder, bad option)."""


class ImageError(EdgeOCRError):
    """An image could not be read or is not usable."""


class ModelError(EdgeOCRError):
    """A model folder, model file, dictionary or bundle is missing, damaged or mismatched."""


class ChecksumError(ModelError):
    """A downloaded or mirrored file does not have the expected sha256."""


class OutputError(EdgeOCRError):
    """An output file cannot be written safely (see ``edge_ocr.atomic``)."""


def one_line(exc: BaseException) -> str:
    """An exception as one short line: its OS reason, else the last line of its message, else its type."""
    text = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [""])[-1]
    return text[:200] or type(exc).__name__
