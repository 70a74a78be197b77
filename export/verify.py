"""``verify_bundle``: run what ships, the bundle's own ``.nb`` files, and compare them with two references.

The bundle runs where its kernels run: natively on an ARM machine, or under qemu-aarch64 on Paddle Lite's real
aarch64 library on an x86 host (``edge_ocr.engines.native``). Paddle Lite's x86 kernels cannot vouch for int8 (they
return NaN for the recognizer), so an x86 twin is used only for FP32 bundles, as a fast path when no ARM runtime is
at hand. The two references, both run by Paddle Inference on the same inputs:

- ``expected``: what the bundle should compute, i.e. the quantized inference models it was exported from (found
  through a compress report, or ``--quantized``); for an FP32 bundle, the FP32 models themselves;
- ``fp32``: what compression cost, i.e. the FP32 source models.

Per model it reports max and mean abs diff; det: pixels whose threshold decision flips, boxes reproduced and the
largest corner move among them; cls: label flips; rec: lines whose text changes and characters changed. Crops come
from the FP32 detector's boxes, so every runtime sees the same inputs. Thresholds are stated and overridable.

det and rec are judged by the reference's sureness: int8 on another CPU rounds a few values the other way, which
moves decisions the reference made with a small margin. A rec line that changes where the reference was sure
(``SURE_GAP``), a det pixel that flips where the reference's map was at least ``DET_SURE_MARGIN`` from the threshold,
and a box lost or moved through such a pixel fail; the rest (a box that appears, merges or moves at the threshold's
edge) is reported.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from edge_ocr.bundle import Bundle, load_bundle
from edge_ocr.cls import TextClassifier
from edge_ocr.det import TextDetector, order_points_clockwise, preprocess_det
from edge_ocr.engines import create_engine
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation import edit_distance
from edge_ocr.geometry import crop_text_line
from edge_ocr.images import list_images, load_image
from edge_ocr.models import resolve_models, sha256_file
from edge_ocr.rec import TextRecognizer, ctc_greedy_decode, load_charset

log = logging.getLogger(__name__)
RUNTIMES = ("auto", "native", "qemu", "x86-twin")


# A rec line change counts as "sure" when, on a frame where the two readings differ, the reference gave its own class
# at least this much more probability than the class the bundle chose. int8 arithmetic on another CPU rounds a few
# activations the other way, each flip moves later layers by a quantum, and lines the reference read with a small
# margin may change (experiments/arm-rec-agreement/arm-rec-agreement.md: ARM and simulation read 5-6% of labelled lines
# differently, PTQ and QAT alike, at equal accuracy); a line the reference was sure of should not.
SURE_GAP = 0.5
# The det counterpart: a pixel of the reference's probability map is "sure" when it lies at least this far from the
# binarization threshold. A box that appears, merges, splits or moves only through pixels the reference was unsure of
# (int8 on another CPU flips those) is reported, not failed; one that changes through a sure pixel fails.
DET_SURE_MARGIN = 0.2


@dataclass
class Limits:
    """How far the bundle may be from one reference (shares are fractions, corner moves pixels)."""

    det_flip: float  # share of the reference's sure pixels (DET_SURE_MARGIN) whose decision flips
    det_box_miss: float  # share of reference boxes lost through a sure pixel
    det_corner_rel: float  # a box's largest corner move through a sure pixel, in its own short sides (text height)
    cls_flip: float
    rec_line_change: float
    rec_sure_change: float = 0.0  # share of lines that change although the reference was sure (SURE_GAP)


@dataclass
class Thresholds:
    # against what the bundle should compute: the same arithmetic up to int8 rounding on another CPU
    expected: Limits = None  # type: ignore[assignment]
    # against FP32: what compression may cost on the sample images
    fp32: Limits = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.expected = self.expected or Limits(det_flip=0.002, det_box_miss=0.05, det_corner_rel=0.5, cls_flip=0.05,
                                                rec_line_change=0.50, rec_sure_change=0.0)
        self.fp32 = self.fp32 or Limits(det_flip=0.05, det_box_miss=0.10, det_corner_rel=1.0, cls_flip=0.10,
                                        rec_line_change=0.50, rec_sure_change=0.10)

    def to_dict(self) -> dict:
        return {"expected": asdict(self.expected), "fp32": asdict(self.fp32)}

    def override(self, items: list[str]) -> Thresholds:
        """Apply ``SIDE.NAME=VALUE`` overrides, e.g. ``expected.rec_line_change=0.2``."""
        for item in items:
            key, _, value = item.partition("=")
            side, _, name = key.partition(".")
            limits = getattr(self, side, None) if side in ("expected", "fp32") else None
            if limits is None or name not in asdict(limits):
                raise EdgeOCRError(f"--limit takes SIDE.NAME=VALUE with SIDE expected or fp32 and NAME one of "
                                   f"{', '.join(asdict(self.expected))}; not {item!r}")
            try:
                setattr(limits, name, float(value))
            except ValueError:
                raise EdgeOCRError(f"--limit {item!r}: {value!r} is not a number") from None
        return self


def _from_report(bundle: Bundle, key: str):
    """``key`` of the report of the compress run that wrote ``bundle`` (beside it), or None."""
    report = bundle.path.rstrip("/") + "-artifacts/report.json"
    if not os.path.isfile(report):
        return None
    with open(report, encoding="utf-8") as handle:
        return json.load(handle).get(key)


def _quantized_from_report(bundle: Bundle) -> str | None:
    """The quantized models a compress run exported ``bundle`` from."""
    folder = _from_report(bundle, "quantized_models")
    return folder if folder and os.path.isdir(folder) else None


def _charset_sources_from_report(bundle: Bundle) -> dict[str, str] | None:
    """The full models a compress run cut a charset bundle's references from."""
    sources = (_from_report(bundle, "charset_sources") if bundle.manifest.get("charset") else None) or {}
    return {side: folder for side, folder in sources.items() if os.path.isdir(folder)} or None


def _is_fp32(bundle: Bundle) -> bool:
    return all(entry["precision"] == "fp32" for entry in bundle.manifest["models"].values())


def _check_source(bundle: Bundle, models_dir: str, what: str) -> None:
    """The reference must be the models the bundle was exported from (their sha256 is in the manifest)."""
    paths = resolve_models(models_dir)
    for role, entry in bundle.manifest["models"].items():
        folder = getattr(paths, role, None)
        if folder is None:
            raise EdgeOCRError(f"{what} {models_dir} has no {role} model")
        source = {name: sha256_file(os.path.join(folder, name)) for name in entry["source"]}
        if source != entry["source"]:
            raise EdgeOCRError(f"the bundle's {role} model was not exported from {what} {folder}")


def choose_runtime(bundle: Bundle, requested: str = "auto") -> str:
    """How to run the bundle's own files here: "native", "qemu", "wheel" (an x86 bundle) or "x86-twin"."""
    from edge_ocr.engines.lite import runtime_target
    from edge_ocr.engines.native.emulated import qemu_path, runner_path

    if requested not in RUNTIMES:
        raise EdgeOCRError(f"unknown runtime {requested!r}; choose from {', '.join(RUNTIMES)}")
    if bundle.target == "x86":
        if not _is_fp32(bundle):
            raise EdgeOCRError("an int8 x86 bundle cannot be verified: Paddle Lite 2.13's x86 int8 kernels return "
                               "NaN (export for arm and verify that)")
        return "wheel"
    if bundle.target != "arm":
        raise EdgeOCRError(f"verify runs arm and x86 bundles; this one targets {bundle.target}")
    if requested != "auto":
        return requested
    if runtime_target() == "arm":
        return "native"
    try:
        qemu_path()
        runner_path()
        return "qemu"
    except EdgeOCRError as exc:
        if _is_fp32(bundle):
            log.warning("no ARM runtime here (%s): checking the FP32 bundle through its x86 twin", exc)
            return "x86-twin"
        raise EdgeOCRError(f"cannot run this int8 ARM bundle here: no ARM CPU and no emulated ARM runtime ({exc})")\
            from None


class _Models:
    """det/cls/rec engines of one side of the comparison."""

    def __init__(self, det, cls, rec) -> None:
        self.det, self.cls, self.rec = det, cls, rec


def _bundle_engines(bundle: Bundle, runtime: str, models_dir: str, work: str) -> tuple[_Models, str]:
    if runtime == "x86-twin":
        from .bundle import export_bundle

        twin = load_bundle(export_bundle(models_dir, os.path.join(work, "twin"), target="x86"))
        return _bundle_engines(twin, "wheel", models_dir, work)[0], twin.path
    kind = "lite-qemu" if runtime == "qemu" else "lite"
    threads = 1 if runtime == "qemu" else 2

    def make(role: str):
        path = bundle.model_file(role)
        return create_engine(path, kind, threads=threads) if path else None

    return _Models(make("det"), make("cls"), make("rec")), bundle.path


def _reference_engines(models_dir: str) -> _Models:
    paths = resolve_models(models_dir)
    return _Models(create_engine(paths.det, "paddle"), create_engine(paths.cls, "paddle") if paths.cls else None,
                   create_engine(paths.rec, "paddle"))


def _charset_sources(bundle: Bundle, charset: list[str], sources: dict[str, str], sides: list[str]) -> dict:
    """{side: (rec engine of the full model, the bundle's class indices in its output)} for the given sources."""
    unknown = sorted(set(sources) - set(sides))
    if unknown:
        raise EdgeOCRError(f"charset source for {unknown[0]!r}: the references are {', '.join(sides)}")
    if sources and not bundle.manifest.get("charset"):
        raise EdgeOCRError("charset sources were given, but the bundle reads the full dictionary")
    found = {}
    for side, folder in sources.items():
        paths = resolve_models(folder)
        full = load_charset(paths.dictionary, bundle.params.rec.use_space_char)
        position = {c: i for i, c in enumerate(full)}
        missing = [c for c in charset if c not in position]
        if missing:
            raise EdgeOCRError(f"charset source {folder}: its dictionary lacks {''.join(missing[:10])!r}")
        found[side] = (create_engine(paths.rec, "paddle"), np.asarray([position[c] for c in charset]))
    return found


def _kept_mass(source, batch: np.ndarray, sliced: np.ndarray) -> np.ndarray | None:
    """Per frame, the share of the full model's softmax on the kept classes; checks that the full model is the one
    the sliced reference was cut from (same logits at the kept classes, so the same probabilities renormalized)."""
    if source is None:
        return None
    engine, keep = source
    kept = engine.run(batch)[..., keep]
    mass = kept.sum(-1)
    renormalized = kept / np.maximum(mass, 1e-12)[..., None]
    if renormalized.shape != sliced.shape or np.abs(renormalized - sliced).max() > 0.05:
        raise EdgeOCRError("the charset source's recognizer is not the one the reference was cut from "
                           "(its kept classes, renormalized, differ from the reference's output)")
    return mass


def _quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / union) if union > 0 else 0.0


def _corner_move(a: np.ndarray, b: np.ndarray) -> float:
    a, b = order_points_clockwise(a), order_points_clockwise(b)
    return float(np.linalg.norm(a - b, axis=1).max())


def match_boxes(reference: list[np.ndarray], boxes: list[np.ndarray]) -> dict:
    """Reference boxes reproduced (IoU > 0.5) and, among them, the largest corner move in pixels and in the
    reference box's short sides (a few flipped pixels move a small box's corners by pixels: its height is the
    scale), and the lowest IoU."""
    matched, worst_px, worst_rel, lowest, used = 0, 0.0, 0.0, 1.0, set()
    outcomes = []  # per reference box: None when lost, else its corner move in its heights
    for ref in reference:
        scores = [(_quad_iou(ref, box), j) for j, box in enumerate(boxes) if j not in used]
        iou, j = max(scores) if scores else (0.0, -1)
        if iou <= 0.5:
            outcomes.append(None)
            continue
        used.add(j)
        matched += 1
        move = _corner_move(ref, boxes[j])
        ordered = order_points_clockwise(ref)
        short = min(np.linalg.norm(ordered[1] - ordered[0]), np.linalg.norm(ordered[2] - ordered[1]))
        rel = move / max(float(short), 1.0)
        outcomes.append(rel)
        worst_px, worst_rel = max(worst_px, move), max(worst_rel, rel)
        lowest = min(lowest, iou)
    return {"matched_boxes": matched, "max_corner_move_px": worst_px, "max_corner_move_rel": worst_rel,
            "lowest_box_iou": lowest, "outcomes": outcomes}


def sure_box_changes(reference: list[np.ndarray], outcomes: list, sure_flips: np.ndarray,
                     image_shape: tuple[int, ...]) -> dict:
    """Which box changes (``match_boxes`` outcomes) the reference was sure of: a lost or moved reference box counts
    as sure when a pixel inside it (on the probability map's grid) flipped where the reference map was sure."""
    scale = np.array([sure_flips.shape[1] / image_shape[1], sure_flips.shape[0] / image_shape[0]], np.float32)
    lost = moved = lost_unsure = 0
    worst_rel = 0.0
    for box, outcome in zip(reference, outcomes):
        if outcome is not None and outcome == 0.0:
            continue
        mask = np.zeros(sure_flips.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(np.asarray(box, np.float32) * scale).astype(np.int32)], 1)
        sure = bool(sure_flips[mask.astype(bool)].any())
        if outcome is None:
            lost += sure
            lost_unsure += not sure
        elif sure:
            moved += 1
            worst_rel = max(worst_rel, outcome)
    return {"sure_lost_boxes": lost, "unsure_lost_boxes": lost_unsure, "sure_moved_boxes": moved,
            "max_sure_corner_move_rel": worst_rel}


def compare_lines(theirs: np.ndarray, mine: np.ndarray, charset: list[str],
                  kept_mass: np.ndarray | None = None) -> dict:
    """The bundle's recognizer output ``mine`` against the reference's ``theirs`` (N × T × classes): lines whose text
    changes, characters changed, and lines that change although the reference was sure (``SURE_GAP``), with the
    largest such gap.

    ``kept_mass`` (N × T), for a charset bundle: the share of the reference's full softmax that lies on the kept
    classes. A sliced head renormalizes over the kept classes, so a frame where the full model believed a removed
    character looks sure of whichever kept class comes next; scaled by the kept mass, the gap is the full model's."""
    their_texts = [t for t, _ in ctc_greedy_decode(theirs, charset)]
    my_texts = [t for t, _ in ctc_greedy_decode(np.nan_to_num(mine), charset)]
    their_pick, my_pick = theirs.argmax(-1), np.nan_to_num(mine).argmax(-1)
    # per frame: how much more the reference believed its own class than the one the bundle chose
    gaps = np.take_along_axis(theirs, their_pick[..., None], -1)[..., 0] - \
        np.take_along_axis(theirs, my_pick[..., None], -1)[..., 0]
    if kept_mass is not None:
        gaps = gaps * kept_mass
    changed = [i for i, (a, b) in enumerate(zip(their_texts, my_texts)) if a != b]
    line_gap = {i: float(gaps[i].max()) for i in changed}
    return {"lines": len(their_texts), "changed_lines": len(changed),
            "changed_chars": sum(edit_distance(their_texts[i], my_texts[i]) for i in changed),
            "sure_changes": sum(gap >= SURE_GAP for gap in line_gap.values()),
            "largest_gap_of_a_change": max(line_gap.values(), default=0.0),
            # every changed line, so that a report says what changed and how sure the reference was
            "changes": [{"reference": their_texts[i], "bundle": my_texts[i], "gap": round(line_gap[i], 4)}
                        for i in changed]}


class _Side:
    """Accumulates one comparison (the bundle against one reference)."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name, self.limits = name, limits
        self.stats: dict[str, dict] = {}
        self.checks: list[dict] = []

    def diff(self, role: str, a: np.ndarray, b: np.ndarray) -> None:
        entry = self.stats.setdefault(role, {"max_abs_diff": 0.0, "mean_abs_diff_sum": 0.0, "calls": 0})
        delta = np.abs(a - b) if np.isfinite(b).all() else np.full(a.shape, np.inf)
        entry["max_abs_diff"] = max(entry["max_abs_diff"], float(delta.max()))
        entry["mean_abs_diff_sum"] += float(delta.mean())
        entry["calls"] += 1

    def add(self, role: str, **values) -> None:
        """Counts (ints) and lists add up; "largest_"/"max_" values keep the maximum, "lowest_" ones the minimum."""
        entry = self.stats.setdefault(role, {})
        for key, value in values.items():
            if isinstance(value, int):
                entry[key] = entry.get(key, 0) + value
            elif isinstance(value, list):  # items of every batch
                entry[key] = entry.get(key, []) + value
            elif key.startswith(("largest_", "max_")):
                entry[key] = max(value, entry.get(key, value))
            elif key.startswith("lowest_"):
                entry[key] = min(value, entry.get(key, value))
            else:
                entry[key] = value

    def check(self, name: str, value: float, limit: float, detail: str = "", reported: bool = False) -> None:
        """``reported``: shown, never gating (what the reference was unsure of)."""
        self.checks.append({"against": self.name, "check": name, "value": round(float(value), 6), "limit": limit,
                            "passed": bool(np.isfinite(value) and value <= limit), "detail": detail,
                            "reported_only": reported})

    def finish(self) -> dict:
        limits = self.limits
        for role, entry in self.stats.items():
            if entry.get("calls"):
                entry["mean_abs_diff"] = entry.pop("mean_abs_diff_sum") / entry.pop("calls")
                self.check(f"{role}: outputs are finite", 0.0 if np.isfinite(entry["max_abs_diff"]) else 1.0, 0.0,
                           f"max abs diff {entry['max_abs_diff']:.4g}, mean {entry['mean_abs_diff']:.4g}")
        det = self.stats.get("det", {})
        if det:
            margin = f"|p - thresh| >= {DET_SURE_MARGIN}"
            self.check(f"det: share of sure pixels ({margin}) whose threshold decision flips",
                       det["sure_flipped"] / max(det["sure_pixels"], 1), limits.det_flip,
                       f"{det['sure_flipped']}/{det['sure_pixels']}; any pixel: {det['flipped']}/{det['pixels']}")
            refs = max(det["ref_boxes"], 1)
            self.check("det: share of reference boxes lost (IoU <= 0.5) through a sure pixel",
                       det["sure_lost_boxes"] / refs, limits.det_box_miss,
                       f"{det['sure_lost_boxes']}/{det['ref_boxes']}, the bundle found {det['boxes']}")
            self.check("det: largest corner move through a sure pixel, in the box's heights",
                       det["max_sure_corner_move_rel"], limits.det_corner_rel,
                       f"{det['sure_moved_boxes']} boxes moved through a sure pixel")
            # what the reference was unsure of: boxes that appear, merge or move at the threshold's edge
            missed = det["ref_boxes"] - det["matched_boxes"]
            self.check("det: share of reference boxes not reproduced (IoU > 0.5), any reason", missed / refs,
                       limits.det_box_miss, f"{missed}/{det['ref_boxes']} ({det['unsure_lost_boxes']} only through "
                       "pixels the reference was unsure of)", reported=True)
            self.check("det: largest corner move of a reproduced box, in its heights", det["max_corner_move_rel"],
                       limits.det_corner_rel, f"{det['max_corner_move_px']:.1f} px at most; lowest IoU of a "
                       f"reproduced box {det['lowest_box_iou']:.3f}", reported=True)
        cls = self.stats.get("cls", {})
        if cls.get("crops"):
            self.check("cls: share of crops whose label flips", cls["flipped"] / cls["crops"], limits.cls_flip,
                       f"{cls['flipped']}/{cls['crops']}")
        rec = self.stats.get("rec", {})
        if rec.get("lines"):
            self.check("rec: share of lines whose text changes", rec["changed_lines"] / rec["lines"],
                       limits.rec_line_change,
                       f"{rec['changed_lines']}/{rec['lines']} lines, {rec['changed_chars']} characters changed")
            self.check(f"rec: share of lines that change although the reference was sure (gap >= {SURE_GAP})",
                       rec["sure_changes"] / rec["lines"], limits.rec_sure_change,
                       f"{rec['sure_changes']}/{rec['lines']} lines; the largest gap of a changed line "
                       f"{rec['largest_gap_of_a_change']:.3f}")
        return {"stats": self.stats, "checks": self.checks}


def verify_bundle(
    bundle_dir: str,
    models_dir: str,
    samples: list[str],
    quantized: str | None = None,
    thresholds: Thresholds | None = None,
    max_images: int = 8,
    runtime: str = "auto",
    gate_fp32: bool = False,
    charset_sources: dict[str, str] | None = None,
) -> dict:
    """Run the bundle's own models on the samples and compare them with what they should compute and with FP32.

    ``charset_sources`` (a charset bundle): per reference ("expected", "fp32"), the models its recognizer was cut
    from. The rec sureness is then measured on their full softmax (``compare_lines``' ``kept_mass``); without them,
    on the charset's classes only, which overstates the sureness of frames where the model saw a removed character.
    """
    thresholds = thresholds or Thresholds()
    bundle = load_bundle(bundle_dir)  # schema, names inside the bundle, sha256 of every file
    images = list_images(samples)[:max_images]
    if not images:
        raise EdgeOCRError("no sample images to verify with (--samples)")
    fp32_bundle = _is_fp32(bundle)
    quantized = quantized or (None if fp32_bundle else _quantized_from_report(bundle))
    charset_sources = charset_sources or _charset_sources_from_report(bundle)
    if not fp32_bundle and not quantized:
        raise EdgeOCRError(f"{bundle_dir} holds int8 models: give --quantized DIR, the quantized models it was "
                           "exported from (a compress run's report names them)")
    expected_dir = quantized or models_dir
    _check_source(bundle, expected_dir, "the quantized models" if quantized else "the FP32 models")
    how = choose_runtime(bundle, runtime)
    paths = resolve_models(models_dir)
    same_dict = sha256_file(bundle.dictionary) == sha256_file(paths.dictionary)
    dictionary_check = {"against": "fp32", "check": "dictionary matches the source models'",
                        "value": float(same_dict), "limit": 1.0, "passed": same_dict,
                        "detail": os.path.basename(bundle.dictionary)}
    params = bundle.params
    # an FP32 bundle should compute what FP32 computes: one comparison, at the tight limits
    sides = ({"fp32": _Side("fp32", thresholds.expected)} if not quantized else
             {"expected": _Side("expected", thresholds.expected), "fp32": _Side("fp32", thresholds.fp32)})
    with tempfile.TemporaryDirectory() as work:
        ours, ran = _bundle_engines(bundle, how, models_dir, work)
        refs = {"fp32": _reference_engines(models_dir)}
        refs["expected"] = _reference_engines(expected_dir) if quantized else refs["fp32"]
        detector = TextDetector(refs["fp32"].det, params.det)
        crops: list[np.ndarray] = []
        for path in images:
            image = load_image(path).image
            x = preprocess_det(image, params.det)
            mine = ours.det.run(x)[0, 0]
            my_boxes, _ = detector.postprocess(np.nan_to_num(mine), image.shape)
            maps = {name: refs[name].det.run(x)[0, 0] for name in sides}
            for name, side in sides.items():
                theirs = maps[name]
                side.diff("det", theirs, mine)
                their_boxes, _ = detector.postprocess(theirs, image.shape)
                flips = (theirs > params.det.thresh) != (mine > params.det.thresh)
                sure = np.abs(theirs - params.det.thresh) >= DET_SURE_MARGIN
                matched = match_boxes(list(their_boxes), list(my_boxes))
                outcomes = matched.pop("outcomes")
                side.add("det", flipped=int(flips.sum()), pixels=int(mine.size), sure_flipped=int((flips & sure).sum()),
                         sure_pixels=int(sure.sum()), ref_boxes=len(their_boxes), boxes=len(my_boxes), **matched,
                         **sure_box_changes(list(their_boxes), outcomes, flips & sure, image.shape))
            fp32_boxes, _ = detector.postprocess(maps["fp32"], image.shape)
            crops += [crop_text_line(image, box, params.crop.rotate_ratio) for box in fp32_boxes]
        if crops and ours.cls is not None and refs["fp32"].cls is not None:
            batcher = TextClassifier(ours.cls, params.cls)
            for _, batch in batcher.batches(crops):
                mine = ours.cls.run(batch)
                for name, side in sides.items():
                    theirs = refs[name].cls.run(batch)
                    side.diff("cls", theirs, mine)
                    side.add("cls", flipped=int((theirs.argmax(1) != np.nan_to_num(mine).argmax(1)).sum()),
                             crops=len(batch))
        if crops:
            charset = load_charset(bundle.dictionary, params.rec.use_space_char)
            sources = _charset_sources(bundle, charset, charset_sources or {}, list(sides))
            batcher = TextRecognizer(ours.rec, bundle.dictionary, params.rec)
            for _, batch in batcher.batches(crops):
                mine = ours.rec.run(batch)
                if mine.shape[-1] != len(charset):
                    raise EdgeOCRError(f"bundle dictionary has {len(charset)} classes, its rec model outputs "
                                       f"{mine.shape[-1]}: wrong dictionary")
                for name, side in sides.items():
                    theirs = refs[name].rec.run(batch)
                    side.diff("rec", theirs, mine)
                    side.add("rec", **compare_lines(theirs, mine, charset, _kept_mass(sources.get(name), batch,
                                                                                        theirs)))
    results = {name: side.finish() for name, side in sides.items()}
    checks = [dictionary_check] + [check for result in results.values() for check in result["checks"]]
    # The gate: the bundle computes what its quantized models compute (what the accuracy was measured on). What
    # compression costs against FP32 is an accuracy question, gated by --max-drop on evaluation sets: on a few sample
    # images the FP32 side is reported, and gates only with gate_fp32 (an FP32 bundle has only that side: it gates).
    for check in checks:
        gating_side = check["against"] != "fp32" or gate_fp32 or "expected" not in sides
        check["gates"] = not check.get("reported_only") and (gating_side or check["check"].startswith("dictionary"))
    failed = [f"[{c['against']}] {c['check']} {c['value']:.4g} > {c['limit']}" for c in checks
              if c["gates"] and not c["passed"]]
    return {
        "bundle": os.path.abspath(bundle_dir), "bundle_files": bundle.manifest["files"],  # sha256 of what was run
        "target": bundle.target, "runtime": how, "ran": ran,
        "emulated": how == "qemu",
        "precision": {r: e["precision"] for r, e in bundle.manifest["models"].items()},
        "references": {"expected": os.path.abspath(expected_dir), "fp32": os.path.abspath(models_dir)},
        "images": [os.path.abspath(p) for p in images], "crops": len(crops), "thresholds": thresholds.to_dict(),
        "stats": {name: result["stats"] for name, result in results.items()},
        "rec_sureness": ({name: ("the full softmax of " + os.path.abspath(charset_sources[name])
                                 if name in (charset_sources or {}) else "the charset's classes only")
                          for name in sides} if bundle.manifest.get("charset") else "all classes"),
        "checks": checks, "passed": not failed, "failed": "; ".join(failed),
        "all_checks_passed": all(c["passed"] for c in checks),
        "gate": "every check" if gate_fp32 or "expected" not in sides else
                "the checks against the quantized models (and the dictionary); the FP32 side is reported",
    }


def verify_markdown(report: dict) -> str:
    runtime = {"qemu": "Paddle Lite's aarch64 library under qemu-aarch64 (emulated)",
               "native": "Paddle Lite on this ARM machine", "wheel": "Paddle Lite x86 (paddlelite wheel)",
               "x86-twin": "the FP32 bundle's x86 twin (no ARM runtime here)"}[report["runtime"]]
    lines = [f"# verify {report['bundle']}", "",
             f"Ran: {runtime}; {len(report['images'])} images, {report['crops']} crops. Precision: "
             + ", ".join(f"{r} {p}" for r, p in report["precision"].items()) + ".",
             f"Expected: `{report['references']['expected']}`; FP32: `{report['references']['fp32']}` "
             "(both Paddle Inference).", "",
             "| against | check | value | limit | result | detail |", "|---|---|---|---|---|---|"]
    for c in report["checks"]:
        lines.append(f"| {c['against']} | {c['check']} | {c['value']:.4g} | {c['limit']} | "
                     f"{'ok' if c['passed'] else '**FAIL**' if c.get('gates', True) else 'over (reported)'} | "
                     f"{c['detail']} |")
    for side, stats in report.get("stats", {}).items():
        changes = stats.get("rec", {}).get("changes") or []
        if changes:
            lines += ["", f"Lines the bundle reads differently from {side} (gap: how much more the reference believed "
                      "its own class, at the frame where they differ most; sure at 0.5):", ""]
            lines += [f"- `{c['reference']}` → `{c['bundle']}` (gap {c['gap']:.3f})" for c in changes]
    lines += ["", f"Gate: {report.get('gate', 'every check')}.", "",
              f"**{'passed' if report['passed'] else 'FAILED'}**", ""]
    return "\n".join(lines)
