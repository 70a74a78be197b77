"""Evaluation domains: named sets of det (+ e2e) and rec labels, so every accuracy figure is judged on each of them.

Built in (paths under ``$EDGE_OCR_SHARED``, default ``../shared`` beside the repository, and ``$EDGE_OCR_SYNTH``,
default ``data/synth`` in the repository):

- ``icdar2015``: ICDAR 2015 test images (det, e2e) and the IC15 word test crops (rec): English scene text.
- ``td500``: the last ``TD500_DEV_IMAGES`` images of MSRA-TD500's train split (det only: no transcriptions), long
  multi-oriented Chinese and English lines. Training and calibration never see them (``usable_part``).
- ``zh_synth``: the dev splits that ``edge-ocr synth`` generates (Chinese + English + digits; det, e2e, rec).
- ``td500_lines``: the lines of the ``td500`` dev images, read by the FP32 models where they are sure (``edge-ocr
  read-lines``; rec only): a model's score there is its agreement with FP32 on real Chinese + English photos.

A domain on the command line is a built-in name or ``NAME:det=FILE,rec=FILE[,tail=N][,e2e=no]`` (``tail``: only
the last N samples of each file; ``e2e=no``: the det labels carry no transcriptions).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from ..errors import EdgeOCRError, describe_os_error

TD500_DEV_IMAGES = 100
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DOMAIN = "icdar2015"  # what the single-file flags (--det-labels / --eval-det ...) are called
HEADLINE_KEYS = ("det_hmean", "e2e_hmean", "rec_accuracy")


def shared_dir() -> str:
    return os.environ.get("EDGE_OCR_SHARED") or os.path.join(os.path.dirname(REPO), "shared")


def synth_dir() -> str:
    return os.environ.get("EDGE_OCR_SYNTH") or os.path.join(REPO, "data", "synth")


def lines_dir() -> str:
    return os.environ.get("EDGE_OCR_LINES") or os.path.join(REPO, "data", "td500_lines")


@dataclass(frozen=True)
class Domain:
    name: str
    det: str | None = None  # det label file: det Hmean, and e2e Hmean when ``e2e``
    rec: str | None = None  # rec label file: recognition accuracy
    tail: int | None = None  # only the last ``tail`` samples of each file (a dev split cut from a train file)
    e2e: bool = True  # False when the det labels have no transcriptions

    def check(self) -> None:
        if not self.det and not self.rec:
            raise EdgeOCRError(f"domain {self.name}: no det or rec labels")
        for path in (self.det, self.rec):
            if path and not os.path.isfile(path):
                hint = {"zh_synth": " (generate it with: edge-ocr synth --out data/synth)",
                        "td500_lines": " (generate it with: edge-ocr read-lines)"}.get(self.name, "")
                try:
                    os.stat(path)
                    reason = "is not a regular file"
                except OSError as exc:  # a long path or a link loop is not "does not exist"
                    reason = ("does not exist" if exc.errno == errno.ENOENT
                              else f"cannot be read: {describe_os_error(exc)}")
                raise EdgeOCRError(f"domain {self.name}: label file {path} {reason}{hint}")

    def to_dict(self) -> dict:
        return {"det": self.det, "rec": self.rec, "tail": self.tail, "e2e": self.e2e}


def builtin_domains() -> dict[str, Domain]:
    data = os.path.join(shared_dir(), "data")
    synth = synth_dir()
    return {
        "icdar2015": Domain("icdar2015", os.path.join(data, "icdar2015", "test_label.txt"),
                            os.path.join(data, "ic15_rec", "rec_gt_test.txt")),
        "td500": Domain("td500", os.path.join(data, "td500_train", "det_label.txt"), None, TD500_DEV_IMAGES, False),
        "zh_synth": Domain("zh_synth", os.path.join(synth, "e2e_dev.txt"), os.path.join(synth, "rec_dev.txt")),
        "td500_lines": Domain("td500_lines", None, os.path.join(lines_dir(), "rec_dev.txt")),
    }


def parse_domain(spec: str) -> Domain:
    """``NAME`` (built in) or ``NAME:det=FILE,rec=FILE[,tail=N][,e2e=no]``."""
    name, sep, rest = spec.partition(":")
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise EdgeOCRError(f"--domain {spec!r}: a domain name is letters, digits, '_' and '-'")
    if not sep:
        builtin = builtin_domains()
        if name not in builtin:
            raise EdgeOCRError(f"--domain {name}: not a built-in domain ({', '.join(builtin)}); "
                               f"give NAME:det=FILE,rec=FILE")
        return builtin[name]
    values: dict[str, str] = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        if not eq or key not in ("det", "rec", "tail", "e2e") or not value or key in values:
            raise EdgeOCRError(f"--domain {spec!r}: expected NAME:det=FILE,rec=FILE[,tail=N][,e2e=no], "
                               f"not {item!r}")
        values[key] = value
    if "det" not in values and "rec" not in values:
        raise EdgeOCRError(f"--domain {spec!r}: give det=FILE and/or rec=FILE")
    tail = None
    if "tail" in values:
        if not values["tail"].isdigit() or int(values["tail"]) < 1:
            raise EdgeOCRError(f"--domain {spec!r}: tail must be a positive integer")
        tail = int(values["tail"])
    if values.get("e2e", "yes") not in ("yes", "no"):
        raise EdgeOCRError(f"--domain {spec!r}: e2e is yes or no")
    return Domain(name, values.get("det"), values.get("rec"), tail, values.get("e2e", "yes") == "yes")


def domains_from_args(specs: list[str] | None, det: str | None = None, rec: str | None = None) -> list[Domain]:
    """The domains of ``--domain`` options, after the one the single-file flags give (named ``icdar2015`` when they
    are its files, else ``labels``); names must be distinct."""
    domains = []
    if det or rec:
        builtin = builtin_domains()[DEFAULT_DOMAIN]
        same = all(_same_file(given, known) for given, known in ((det, builtin.det), (rec, builtin.rec)) if given)
        domains.append(Domain(DEFAULT_DOMAIN if same else "labels", det, rec))
    domains += [parse_domain(spec) for spec in specs or []]
    names = [d.name for d in domains]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EdgeOCRError(f"domain {', '.join(duplicates)} given twice")
    return domains


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def usable_part(label_file: str) -> slice | None:
    """The part of a label file that training and calibration may use: all of it, all but the tail a built-in
    domain evaluates on (TD500), or None when a built-in domain evaluates on the whole file (a test or dev set)."""
    for domain in builtin_domains().values():
        for path in (domain.det, domain.rec):
            if path and _same_file(label_file, path):
                return slice(None, -domain.tail) if domain.tail else None
    return slice(None)


def by_domain(section: dict | None) -> dict[str, dict]:
    """A report section as {domain: {det_hmean, e2e_hmean, rec_accuracy}}; reports written before domains existed
    hold the three numbers directly, for ICDAR 2015."""
    if not section:
        return {}
    if any(key in section for key in HEADLINE_KEYS):
        return {DEFAULT_DOMAIN: section}
    return section
