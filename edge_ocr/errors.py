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
    return printable(text[:200]) or type(exc).__name__


# C0 controls (\n, \r, ESC...), DEL, C1 controls and the Unicode line and paragraph separators: any of them in a
# file name or a text would split a message into two lines, forge one, or reach the terminal as an escape sequence.
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def printable(text: object) -> str:
    """``text`` as one line that is safe on a terminal: every control character written as a visible escape.
    Everything edge-ocr writes to stderr (and the file names and texts it prints on stdout) goes through this."""
    return str(text).translate(_CONTROL)


def describe_os_error(exc: OSError) -> str:
    """The reason an OS call on a path failed, precise where it matters (a long path or a link loop is not
    "no such file")."""
    import errno

    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return "no such file or folder"
    if code == errno.ENAMETOOLONG:
        return "path too long for this system (a name above 255 bytes, or a path above PATH_MAX)"
    if code == errno.ELOOP:
        return "too many levels of symbolic links (a symbolic link loop)"
    if code == errno.ENOTDIR:
        return "a part of the path is not a folder"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc) or type(exc).__name__
