"""Writing files and folders so that a reader never sees them half-written: temp file or folder, then rename.

The rule for output targets (README, "Bad input"): a file is written to a temporary file beside it and renamed
over it, so an existing regular file is replaced whole. An existing symbolic link, folder, FIFO or device at the
target, or a read-only file, is refused, never replaced and never written through. ``check_output_file`` applies
the rule up front (the CLI calls it before any work); ``write_bytes`` applies it again when writing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile

from .errors import OutputError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def replace_dir(staging: str, final: str) -> str:
    """Move the complete folder ``staging`` to ``final``, replacing what was there only once it is in place."""
    if os.path.isdir(final):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(os.path.abspath(final)))
        os.replace(final, os.path.join(old, "previous"))
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
    return final


def check_output_file(path: str) -> None:
    """Raise ``OutputError`` unless ``path`` can be (re)placed by a rename: its folder exists and is writable, and
    nothing is there or a writable regular file is."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(f"refusing to replace {path}: it is a symbolic link (give the real path)")
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
        raise OutputError(f"refusing to replace {path}: it is {kind}, not a regular file")
    if not os.access(path, os.W_OK) or not info.st_mode & 0o222:  # the mode bits too: root may write anything
        raise OutputError(f"refusing to replace {path}: it is read-only")


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to a new temporary file beside ``path`` and rename it over ``path`` (see the module rule);
    the temporary file never outlives a failure."""
    check_output_file(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o666 & ~_UMASK)  # as open() would have made it, not mkstemp's 0600
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    # Text that carries undecodable file-name bytes (surrogates) is written escaped rather than not at all.
    write_bytes(path, text.encode("utf-8", "backslashreplace"))


def write_json(path: str, data) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
