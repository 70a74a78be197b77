"""Writing files and folders so that a reader never sees them half-written: temp file or folder, then rename."""

from __future__ import annotations

import json
import os
import shutil
import tempfile


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


def write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"folder {folder} does not exist")
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, data) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
