"""Registry of the official PP-OCRv2 models, and pulling them into a local cache with sha256 checks.

A model set is installed as one folder laid out like PaddleOCR's tars, unpacked::

    <cache>/ppocrv2/ch_PP-OCRv2_det_infer/inference.{pdmodel,pdiparams,pdiparams.info}
    <cache>/ppocrv2/ch_PP-OCRv2_rec_infer/...
    <cache>/ppocrv2/ch_ppocr_mobile_v2.0_cls_infer/...
    <cache>/ppocrv2/ppocr_keys_v1.txt

Files come from PaddleOCR's URLs or from a mirror folder with that layout (``--from`` or ``EDGE_OCR_MODEL_MIRROR``).
Everything is written to a temporary folder, checked, then renamed into place: a failed pull leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass

from .atomic import replace_dir
from .errors import ChecksumError, ModelError

log = logging.getLogger(__name__)

CACHE_ENV = "EDGE_OCR_CACHE"
MIRROR_ENV = "EDGE_OCR_MODEL_MIRROR"
STAMP = ".edge-ocr-models.json"
MODEL_FILES = ("inference.pdmodel", "inference.pdiparams", "inference.pdiparams.info")


@dataclass(frozen=True)
class Artifact:
    """One published artifact: a tar of an inference model folder, or a single file."""

    role: str  # "det", "rec", "cls" or "dict"
    name: str  # folder (tar) or file name inside the set folder
    url: str
    sha256: dict[str, str]  # path inside the set folder -> sha256

    @property
    def is_tar(self) -> bool:
        return self.url.endswith(".tar")


def _model(role: str, folder: str, url: str, digests: tuple[str, str, str]) -> Artifact:
    return Artifact(role, folder, url, {f"{folder}/{f}": d for f, d in zip(MODEL_FILES, digests)})


MODEL_SETS: dict[str, tuple[Artifact, ...]] = {
    "ppocrv2": (
        _model(
            "det", "ch_PP-OCRv2_det_infer", "https://paddleocr.bj.bcebos.com/PP-OCRv2/chinese/ch_PP-OCRv2_det_infer.tar",
            ("4211628528fb99032cd42654e1d5c5bbb427954703e44869ec35e89334c4bb57",
             "e3ea67f672a00088ad73929bd807ab720f6a311be0e9816ecdd42ec28a8a322f",
             "256bdff0f57c9c7a67d8c337124669ba57ca66a4c44ca21f4350fd3fa4dc129a"),
        ),
        _model(
            "rec", "ch_PP-OCRv2_rec_infer", "https://paddleocr.bj.bcebos.com/PP-OCRv2/chinese/ch_PP-OCRv2_rec_infer.tar",
            ("03ef9dd9245ccb95c2c84808c80f5f78200c6d0a04e51ea39795b39c7f85eafc",
             "1b42a64573a8af8f69ebdcd3336888e11074872b56dc159356180a8699baa110",
             "8b964c8c8264490b18b92afd440f655e1ea346e0455188bb28f1528c2eca3f2d"),
        ),
        _model(
            "cls", "ch_ppocr_mobile_v2.0_cls_infer",
            "https://paddleocr.bj.bcebos.com/dygraph_v2.0/ch/ch_ppocr_mobile_v2.0_cls_infer.tar",
            ("3c4337ec61722a20b1dca2e5bfaffc313c0592bc89ad6e0d45168224186f6683",
             "d1efda1b80e174b4fcb168a035ac96c1af4938892bd86a55f300a6027105d08c",
             "ee0c2eaa4c09814802bf520c01dfdbc1345dc2879dc9e67424d32c7b0ee88e59"),
        ),
        Artifact(
            "dict", "ppocr_keys_v1.txt",
            "https://raw.githubusercontent.com/PaddlePaddle/PaddleOCR/release/2.8/ppocr/utils/ppocr_keys_v1.txt",
            {"ppocr_keys_v1.txt": "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"},
        ),
    )
}
DEFAULT_SET = "ppocrv2"


@dataclass(frozen=True)
class ModelPaths:
    """Where the three inference models and the dictionary of one model set are."""

    det: str
    rec: str
    cls: str | None
    dictionary: str


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "edge-ocr")


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: str, expected: str, label: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(f"checksum mismatch for {label}: expected sha256 {expected[:16]}…, got {actual[:16]}…")


def safe_extract(tar_path: str, dest: str, wanted: set[str] | None = None) -> list[str]:
    """Extract regular files of a tar into ``dest``; absolute paths, ``..`` and links are refused, and a damaged
    or truncated archive is a ``ModelError`` naming it."""
    try:
        return _extract(tar_path, dest, wanted)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ModelError(f"{tar_path}: damaged or truncated archive ({exc or type(exc).__name__})") from None
    except OSError as exc:
        raise ModelError(f"cannot unpack {tar_path}: {exc.strerror or exc}") from None


def _extract(tar_path: str, dest: str, wanted: set[str] | None) -> list[str]:
    extracted = []
    with tarfile.open(tar_path) as archive:
        for member in archive.getmembers():
            name = member.name
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or os.path.isabs(name) or ".." in parts or ":" in parts[0]:
                raise ModelError(f"{tar_path}: refusing unsafe path {name!r} in archive")
            if member.issym() or member.islnk():
                raise ModelError(f"{tar_path}: refusing link {name!r} in archive")
            if member.isdir():
                continue
            if not member.isfile():
                raise ModelError(f"{tar_path}: refusing special file {name!r} in archive")
            clean = "/".join(p for p in parts if p not in ("", "."))
            if wanted is not None and clean not in wanted:
                continue
            target = os.path.join(dest, *clean.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            extracted.append(clean)
    return extracted


def _download(url: str, dest: str, timeout: float = 60.0) -> None:
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "edge-ocr"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url), leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except OSError as exc:
        raise ModelError(f"cannot download {url}: {exc}") from exc


def _fetch(artifact: Artifact, staging: str, mirror: str | None) -> None:
    """Place one artifact's files under ``staging`` from the mirror (folder, tar or file) or its URL."""
    if mirror:
        source = os.path.join(mirror, artifact.name)
        if os.path.isdir(source) or (not artifact.is_tar and os.path.isfile(source)):
            for rel in artifact.sha256:
                src = os.path.join(mirror, *rel.split("/"))
                if not os.path.isfile(src):
                    raise ModelError(f"mirror {mirror} has no {rel}")
                os.makedirs(os.path.dirname(os.path.join(staging, rel)), exist_ok=True)
                shutil.copyfile(src, os.path.join(staging, rel))
            return
        if artifact.is_tar and os.path.isfile(source + ".tar"):
            safe_extract(source + ".tar", staging, set(artifact.sha256))
            return
        raise ModelError(f"mirror {mirror} has neither {artifact.name}/ nor {artifact.name}.tar")
    download = os.path.join(staging, ".download")
    _download(artifact.url, download)
    if artifact.is_tar:
        safe_extract(download, staging, set(artifact.sha256))
        os.remove(download)
    else:
        os.replace(download, os.path.join(staging, artifact.name))


def artifacts_of(model_set: str) -> tuple[Artifact, ...]:
    """The registry entry of ``model_set``; ``ModelError`` listing the known sets for any other name."""
    if model_set not in MODEL_SETS:
        raise ModelError(f"unknown model set {model_set!r}; known: {', '.join(MODEL_SETS)}")
    return MODEL_SETS[model_set]


def pull(
    model_set: str = DEFAULT_SET, mirror: str | None = None, cache: str | None = None, force: bool = False
) -> str:
    """Install ``model_set`` into ``cache`` (verified) and return its folder; a no-op when already there."""
    artifacts = artifacts_of(model_set)
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror and not os.path.isdir(mirror):
        raise ModelError(f"mirror folder {mirror} does not exist")
    cache = cache or default_cache_dir()
    final = os.path.join(cache, model_set)
    if not force and os.path.isfile(os.path.join(final, STAMP)):
        return final
    os.makedirs(cache, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{model_set}-", dir=cache)
    try:
        for artifact in artifacts:
            log.info("fetching %s from %s", artifact.name, mirror or artifact.url)
            _fetch(artifact, staging, mirror)
            for rel, expected in artifact.sha256.items():
                path = os.path.join(staging, *rel.split("/"))
                if not os.path.isfile(path):
                    raise ModelError(f"{artifact.name} lacks {rel}")
                _check(path, expected, rel)
        stamp = {rel: d for a in artifacts for rel, d in a.sha256.items()}
        with open(os.path.join(staging, STAMP), "w") as handle:
            json.dump({"set": model_set, "sha256": stamp}, handle, indent=1)
        try:
            replace_dir(staging, final)
        except OSError:
            # another process installed the same verified set between our check and our rename: use theirs
            if force or not os.path.isfile(os.path.join(final, STAMP)):
                raise
            log.info("%s was installed by another process meanwhile", model_set)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return final


def verify(folder: str, model_set: str = DEFAULT_SET) -> None:
    """Re-hash every file of an installed (or mirrored) set; raises ``ChecksumError`` on the first mismatch."""
    for artifact in artifacts_of(model_set):
        for rel, expected in artifact.sha256.items():
            path = os.path.join(folder, *rel.split("/"))
            if not os.path.isfile(path):
                raise ModelError(f"{folder} has no {rel}")
            _check(path, expected, rel)


def _is_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "inference.pdmodel"))


def resolve_models(folder: str, need_cls: bool = True) -> ModelPaths:
    """Find det/rec/cls inference folders and the dictionary inside ``folder``.

    Accepts the official layout (``ch_PP-OCRv2_det_infer``...), plain ``det/``, ``rec/``, ``cls/`` sub-folders,
    and anything whose sub-folder names contain ``det``, ``rec`` and ``cls``.
    """
    if not os.path.isdir(folder):
        raise ModelError(f"model folder {folder} does not exist")
    subdirs = sorted(d for d in os.listdir(folder) if _is_model_dir(os.path.join(folder, d)))
    found: dict[str, str] = {}
    for role in ("det", "rec", "cls"):
        exact = [d for d in subdirs if d == role]
        tagged = [d for d in subdirs if f"_{role}" in d or d.startswith(f"{role}_")]
        matches = exact or tagged
        if len(matches) > 1:
            raise ModelError(f"{folder}: several {role} models ({', '.join(matches)})")
        if matches:
            found[role] = os.path.join(folder, matches[0])
    for role in ("det", "rec") + (("cls",) if need_cls else ()):
        if role not in found:
            raise ModelError(f"{folder}: no {role} model folder with inference.pdmodel and inference.pdiparams")
        for name in ("inference.pdmodel", "inference.pdiparams"):
            if not os.path.isfile(os.path.join(found[role], name)):
                raise ModelError(f"{found[role]} has no {name}")
    texts = sorted(f for f in os.listdir(folder) if f.endswith(".txt") and os.path.isfile(os.path.join(folder, f)))
    preferred = [f for f in texts if "keys" in f or "dict" in f] or texts
    if not preferred:
        raise ModelError(f"{folder}: no dictionary (.txt) file")
    return ModelPaths(found["det"], found["rec"], found.get("cls"), os.path.join(folder, preferred[0]))


def default_models(cache: str | None = None) -> str:
    """The default PP-OCRv2 set, pulled on first use (from ``EDGE_OCR_MODEL_MIRROR`` or the official URLs)."""
    return pull(DEFAULT_SET, cache=cache)
