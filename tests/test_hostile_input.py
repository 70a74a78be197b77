"""Hostile but fair input (issue #19): every class of bad input gives a precise one-line reason, never a lost run,
an unbounded allocation, a process abort or a silently unverified model."""

from __future__ import annotations

import json
import os
import shutil
import sys

import cv2
import numpy as np
import pytest

from edge_ocr.bundle import MANIFEST, load_bundle
from edge_ocr.config import MAX_IMAGE_PIXELS
from edge_ocr.engines.nb_file import check_nb_file
from edge_ocr.errors import ImageError, ModelError
from edge_ocr.images import MAX_IMAGE_BYTES, ImageHeader, decode_image, load_image, plan_decode, read_header_size
from tests.conftest import run_cli


def one_line_error(proc) -> str:
    """The single ``edge-ocr:`` line of a failed command (no traceback)."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-ocr:")]
    assert errors, proc.stderr
    return errors[-1]


# ------------------------------------------------------------------------------------------ .nb structure


@pytest.fixture(scope="module")
def det_nb(x86_bundle) -> bytes:
    with open(os.path.join(x86_bundle, "det.nb"), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("cut", [0, 10, 25, 30, 4096, -100_000, -1])
def test_truncated_nb_is_refused_before_paddle_lite(det_nb, tmp_path, cut):
    from edge_ocr.engines.lite import LiteEngine

    path = tmp_path / "det.nb"
    path.write_bytes(det_nb[:cut] if cut >= 0 else det_nb[:len(det_nb) + cut])
    with pytest.raises(ModelError, match="too small|truncated|damaged"):
        LiteEngine(str(path))  # Paddle Lite itself aborts the process (rc 134) on these


@pytest.mark.parametrize("change", ["padded", "meta_version", "no_nul", "topology_size", "param_size", "garbage"])
def test_damaged_nb_header_and_sizes_are_refused(det_nb, tmp_path, change):
    data = bytearray(det_nb)
    topology = int.from_bytes(data[18:26], "little")
    params = 26 + topology
    if change == "padded":
        data += b"\0" * 7
    elif change == "meta_version":
        data[0:2] = (7).to_bytes(2, "little")
    elif change == "no_nul":
        data[2:18] = b"v" * 16
    elif change == "topology_size":
        data[18:26] = (len(data) * 4).to_bytes(8, "little")
    elif change == "param_size":
        data[params + 10 : params + 14] = (1 << 31).to_bytes(4, "little")  # the first param's total size
    else:
        data = bytearray(os.urandom(len(data)))
    path = tmp_path / "det.nb"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged|truncated|not a Paddle Lite|format 7"):
        check_nb_file(str(path))


def test_valid_nb_files_pass_the_structure_check(x86_bundle, shared):
    reference = os.path.join(shared, "models", "reference", "ch_PP-OCRv2_slim_lite_v2.10_arm")
    for path in [os.path.join(x86_bundle, f"{role}.nb") for role in ("det", "cls", "rec")] + [
        os.path.join(reference, name) for name in sorted(os.listdir(reference)) if name.endswith(".nb")
    ]:
        check_nb_file(path)


def test_nb_that_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.nb")
    with pytest.raises(ModelError, match="not a regular file"):
        check_nb_file(str(tmp_path / "fifo.nb"))  # would block in open() if it were opened


# ------------------------------------------------------------------------------------------ bundle manifests


def _clone(bundle: str, dest) -> str:
    """The bundle's files hard-linked (or copied) into ``dest``, so its manifest can be edited."""
    os.makedirs(dest)
    for name in os.listdir(bundle):
        try:
            os.link(os.path.join(bundle, name), os.path.join(dest, name))
        except OSError:
            shutil.copy(os.path.join(bundle, name), os.path.join(dest, name))
    os.remove(os.path.join(dest, MANIFEST))
    shutil.copy(os.path.join(bundle, MANIFEST), os.path.join(dest, MANIFEST))
    return str(dest)


def _edit_manifest(folder: str, edit) -> str:
    path = os.path.join(folder, MANIFEST)
    with open(path) as handle:
        manifest = json.load(handle)
    edit(manifest)
    with open(path, "w") as handle:
        json.dump(manifest, handle)
    return folder


def _set(path: str, value):
    def edit(manifest):
        *parents, last = path.split("/")
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


def _escape_rec(manifest):
    manifest["models"]["rec"]["file"] = "../x/rec.nb"
    manifest["files"]["../x/rec.nb"] = manifest["files"]["rec.nb"]


def _unlisted_model(manifest):
    del manifest["files"]["rec.nb"]


def _dictionary_elsewhere(manifest):
    manifest["dictionary"]["file"] = "/etc/passwd"


@pytest.mark.parametrize(
    "edit, message",
    [
        (_escape_rec, "inside the bundle folder"),
        (_unlisted_model, "not listed in files"),
        (_set("files", {}), "files is empty"),
        (_dictionary_elsewhere, "inside the bundle folder"),
        (_set("dictionary/file", "notes.txt"), "not listed in files"),
        (_set("format_version", "1"), "format_version must be an integer, not a string"),
        (_set("format_version", True), "format_version must be an integer, not a boolean"),
        (_set("models", ["det.nb"]), "models must be an object, not a list"),
        (_set("models/rec", "rec.nb"), "models.rec must be an object"),
        (_set("models/ocr", {"file": "det.nb", "precision": "fp32"}), "unknown key"),
        (_set("params/det/thresh", "0.3"), "det.thresh must be a number"),
        (_set("params/det/limit_side_len", 10**9), "det.limit_side_len must be an integer"),
        (_set("params/rec/batch_size", 0), "rec.batch_size"),
        (_set("params/max_image_pixels", 10**12), "max_image_pixels"),
        (_set("params/cls/labels", []), "cls.labels"),
        (_set("params/det", [1, 2]), "must be an object"),
        (_set("files/rec.nb", "not-a-digest"), "sha256"),
        (_set("opt_version", 2.13), "opt_version must be a string"),
    ],
)
def test_manifest_schema_violations_are_refused(x86_bundle, tmp_path, edit, message):
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), edit)
    with pytest.raises(ModelError, match=message):
        load_bundle(folder)
    with pytest.raises(ModelError, match=message):
        load_bundle(folder, check_files=False)  # bench's size listing gets the same schema


def test_manifest_with_nan_or_deep_nesting_is_refused(x86_bundle, tmp_path):
    folder = _clone(x86_bundle, tmp_path / "b")
    path = os.path.join(folder, MANIFEST)
    text = open(path).read()
    open(path, "w").write(text.replace('"thresh": 0.3', '"thresh": NaN'))
    with pytest.raises(ModelError, match="NaN is not a valid JSON number"):
        load_bundle(folder)
    open(path, "w").write("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="unreadable manifest"):
        load_bundle(folder)


def test_manifest_extra_keys_stay_valid(x86_bundle, tmp_path):
    """Fields a later version may add at the top level (a charset, notes) do not break older runtimes."""
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), _set("charset", {"name": "ppocr_keys_v1"}))
    assert load_bundle(folder).manifest["charset"] == {"name": "ppocr_keys_v1"}


def test_symlinked_bundle_file_is_refused(x86_bundle, tmp_path):
    folder = _clone(x86_bundle, tmp_path / "b")
    os.remove(os.path.join(folder, "ppocr_keys_v1.txt"))
    os.symlink(os.path.join(x86_bundle, "ppocr_keys_v1.txt"), os.path.join(folder, "ppocr_keys_v1.txt"))
    with pytest.raises(ModelError, match="not a regular file"):
        load_bundle(folder)


def test_truncated_nb_with_a_matching_sha256_is_refused(x86_bundle, tmp_path, img11):
    """A bundle whose export was cut short (and hashed as cut): the structure check catches what sha256 cannot."""
    from edge_ocr.models import sha256_file

    folder = _clone(x86_bundle, tmp_path / "b")
    rec = os.path.join(folder, "rec.nb")
    data = open(rec, "rb").read()
    os.remove(rec)
    open(rec, "wb").write(data[: len(data) // 2])
    _edit_manifest(folder, _set("files/rec.nb", sha256_file(rec)))
    assert "truncated" in one_line_error(run_cli("predict", img11, "--bundle", folder))


def test_predict_eval_and_verify_refuse_the_same_manifest(x86_bundle, models_dir, img11, tmp_path):
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), _escape_rec)
    labels = tmp_path / "rec.txt"
    labels.write_text(f"{img11}\tBEWARE\n")
    for args in (["predict", img11, "--bundle", folder],
                 ["eval", "--bundle", folder, "--rec-labels", str(labels)],
                 ["verify", folder, "--against", models_dir, "--samples", img11]):
        assert "inside the bundle folder" in one_line_error(run_cli(*args)), args


# ------------------------------------------------------------------------------------------ image decoding bounds


def _peak_rss_of_decode(path: str) -> tuple[float, str]:
    """(peak RSS in MB, outcome) of ``load_image(path)`` in a fresh process, as benchmarks/image_bombs.py does."""
    from benchmarks.image_bombs import DECODE_ONLY, measure, outcome_of_decode

    run = measure(DECODE_ONLY, [path], timeout=120)
    return run["peak_rss_mb"], outcome_of_decode(run)


@pytest.mark.parametrize("kind", ["png", "tiff", "webp", "pam", "hdr", "jpeg-1/8-too-big"])
def test_bombs_are_refused_from_their_header_with_little_memory(tmp_path, kind):
    from benchmarks.image_bombs import crafted_png, crafted_tiff, jpeg_with_size, text_header

    path = str(tmp_path / f"bomb.{kind[:4]}")
    if kind == "png":
        crafted_png(path, 30000, 30000)  # 900 MP, < 1 MB
    elif kind == "tiff":
        crafted_tiff(path, 30000, 30000)
    elif kind == "webp":
        cv2.imwrite(path, np.zeros((9000, 9000, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 1])  # 81 MP
    elif kind == "pam":
        text_header(path, b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n")
    elif kind == "hdr":
        text_header(path, b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 30000 +X 30000\n")
    else:
        jpeg_with_size(path, 65500, 65500)
    peak, outcome = _peak_rss_of_decode(path)
    assert outcome.startswith("refused") and ("limit" in outcome or "1/8" in outcome), outcome
    assert peak < 300, peak


def test_header_that_lies_below_the_limit_decodes_within_bounds(tmp_path):
    """A JPEG whose header claims 50000 x 50000 (its data is 1 KB) is decoded at 1/8, as a JPEG of that size is."""
    from benchmarks.image_bombs import jpeg_with_size

    jpeg_with_size(str(tmp_path / "lie.jpg"), 50000, 50000)
    peak, outcome = _peak_rss_of_decode(str(tmp_path / "lie.jpg"))
    assert outcome == "decoded 6250x6250, scale 8.0" and peak < 600, (outcome, peak)


def test_opencv_side_limit_is_a_clear_refusal(tmp_path):
    from benchmarks.image_bombs import crafted_tiff

    crafted_tiff(str(tmp_path / "tall.tif"), 1, 1_100_000)
    with pytest.raises(ImageError, match="above OpenCV's 1,048,576 px limit"):
        load_image(str(tmp_path / "tall.tif"))


def test_decoder_working_memory_is_bounded_too(tmp_path):
    """What the codec holds counts: OpenJPEG's int32 planes under the pixel limit, and a progressive JPEG's
    full-size coefficients even when it would be decoded at reduced size."""
    with pytest.raises(ImageError, match="JPEG2000 .* would need about 805 MiB"):
        plan_decode(ImageHeader(7500, 7500, "JPEG2000", 3, 1), "big.jp2", MAX_IMAGE_PIXELS)
    with pytest.raises(ImageError, match="would need about .* MiB"):
        plan_decode(ImageHeader(16000, 12000, "JPEG", 3, 1, progressive=True), "p.jpg", MAX_IMAGE_PIXELS)
    assert plan_decode(ImageHeader(16000, 12000, "JPEG", 3, 1), "b.jpg", MAX_IMAGE_PIXELS)[1] == 2
    flag, _ = plan_decode(ImageHeader(8000, 8000, "PNG", 4, 2), "deep.png", MAX_IMAGE_PIXELS)
    assert flag == cv2.IMREAD_COLOR  # 512 MB with alpha and depth: decoded straight to 8-bit BGR


@pytest.mark.parametrize("make", ["fifo", "device", "folder", "too_big"])
def test_non_regular_and_oversized_files_are_refused_without_reading(tmp_path, make):
    path = str(tmp_path / "x.jpg")
    if make == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif make == "device":
        os.symlink("/dev/zero", path)  # reading it would never end
    elif make == "folder":
        os.mkdir(path)
    else:
        with open(path, "wb") as handle:
            handle.truncate(MAX_IMAGE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ImageError, match="not a regular file|is a folder|file size limit"):
        load_image(path)


def test_text_header_formats_give_their_size(tmp_path):
    for ext, image in ((".pfm", np.zeros((7, 9, 3), np.float32)), (".hdr", np.zeros((7, 9, 3), np.float32)),
                       (".pam", np.zeros((7, 9, 3), np.uint8)), (".tif", np.zeros((7, 9, 3), np.float32))):
        ok, data = cv2.imencode(ext, image)
        assert ok and read_header_size(data.tobytes()) == (9, 7), ext
        assert decode_image(data.tobytes(), ext).image.shape == (7, 9, 3)


def test_large_exif_rotated_jpeg_has_the_right_scale_and_size(tmp_path):
    """16000 x 6000 stored, orientation 6 (shown 6000 x 16000): decoded at 1/2, so boxes scale by 2, not 5.33."""
    from benchmarks.image_bombs import exif_jpeg

    exif_jpeg(str(tmp_path / "tall.jpg"), 16000, 6000, 6)
    loaded = load_image(str(tmp_path / "tall.jpg"))
    assert loaded.image.shape[:2] == (8000, 3000)
    assert loaded.scale == 2.0 and loaded.size == (6000, 16000)


def test_boxes_are_clipped_to_the_original_image(pipeline, img11):
    image = load_image(img11).image
    analysis = pipeline.analyze(image, scale=3.0, size=(100, 50))
    assert analysis.boxes and all(0 <= x <= 99 and 0 <= y <= 49 for box in analysis.boxes for x, y in box)


# ------------------------------------------------------------------------------------------ folder runs


@pytest.fixture
def hostile_folder(test_images, tmp_path):
    """Two good images, one good image under a name that is not UTF-8, and one file of each bad kind."""
    from benchmarks.image_bombs import crafted_png, crafted_tiff

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("img_11.jpg", "img_13.jpg"):
        shutil.copy(os.path.join(test_images, name), folder / name)
    shutil.copy(os.path.join(test_images, "img_11.jpg"), os.path.join(os.fsencode(folder), b"caf\xe9.jpg"))
    crafted_tiff(str(folder / "tall.tif"), 1, 1_100_000)
    crafted_png(str(folder / "bomb.png"), 30000, 30000)
    (folder / "cut.jpg").write_bytes(open(os.path.join(test_images, "img_13.jpg"), "rb").read()[:600])
    (folder / "empty.png").write_bytes(b"")
    os.mkfifo(folder / "pipe.jpg")
    os.symlink("/dev/zero", folder / "zero.png")
    return folder


def test_folder_run_finishes_and_keeps_every_result(models_dir, hostile_folder, tmp_path):
    out = tmp_path / "out.json"
    draw = tmp_path / "draw"
    proc = run_cli("predict", str(hostile_folder), "--models", models_dir, "--json", str(out), "--draw", str(draw))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    results = {os.path.basename(r["image"]): r for r in json.loads(out.read_text(encoding="utf-8"))}
    assert len(results) == 9
    good = ("img_11.jpg", "img_13.jpg", "caf\\xe9.jpg")
    for name in good:
        assert "error" not in results[name] and results[name]["lines"], name
    assert [line["text"] for line in results["caf\\xe9.jpg"]["lines"]] == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    failed = [name for name in results if name not in good]
    for name in failed:
        assert name in results[name]["error"]
        assert sum(line.startswith(f"edge-ocr: {results[name]['image']}") for line in proc.stderr.splitlines()) == 1
    assert "6 of 9 image(s) failed" in proc.stderr
    assert sorted(os.listdir(draw)) == sorted(["img_11_ocr.jpg", "img_13_ocr.jpg", "caf\udce9_ocr.jpg"])


def test_same_named_inputs_get_distinct_drawings(models_dir, img11, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(img11, tmp_path / sub / "photo.jpg")
    shutil.copy(img11, tmp_path / "a" / "photo.png")
    proc = run_cli("predict", str(tmp_path / "a"), str(tmp_path / "b"), "--models", models_dir, "--draw",
                   str(tmp_path / "draw"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "draw")) == ["photo_ocr-2.jpg", "photo_ocr-3.jpg", "photo_ocr.jpg"]


def test_a_drawing_that_cannot_be_written_is_one_failure_not_a_lost_run(pipeline, img11, tmp_path):
    from edge_ocr.cli import _draw

    result = pipeline.ocr_file(img11)
    _draw(pipeline, img11, result, str(tmp_path / "gone" / "x_ocr.jpg"))  # its folder vanished mid-run
    assert result.lines and "drawing not written" in result.error
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


# ------------------------------------------------------------------------------------------ output targets


@pytest.mark.parametrize("kind", ["symlink", "read_only", "fifo", "folder", "dev_stdout", "no_folder"])
def test_json_target_is_checked_before_any_work(img11, tmp_path, kind):
    target = str(tmp_path / "out.json")
    if kind == "symlink":
        (tmp_path / "real.json").write_text("precious")
        os.symlink(tmp_path / "real.json", target)
    elif kind == "read_only":
        (tmp_path / "out.json").write_text("precious")
        os.chmod(target, 0o444)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        os.mkdir(target)
    elif kind == "dev_stdout":
        target = "/dev/stdout"
    else:
        target = str(tmp_path / "missing" / "out.json")
    # The models folder does not exist either: the output is checked first, so its error is the one reported.
    line = one_line_error(run_cli("predict", img11, "--models", str(tmp_path / "no-models"), "--json", target))
    assert target in line and ("refusing to replace" in line or "does not exist" in line), line
    if kind in ("symlink", "read_only"):
        assert open(target).read() == "precious"


def test_draw_target_that_is_a_link_is_refused_before_any_work(img11, models_dir, tmp_path):
    draw = tmp_path / "draw"
    draw.mkdir()
    os.symlink("/etc/hostname", draw / "img_11_ocr.jpg")
    line = one_line_error(run_cli("predict", img11, "--models", models_dir, "--draw", str(draw)))
    assert "symbolic link" in line
    (tmp_path / "file").write_text("x")
    assert "not a folder" in one_line_error(run_cli("predict", img11, "--draw", str(tmp_path / "file")))


# ------------------------------------------------------------------------------------------ non-finite outputs


class NonFiniteOutputs:
    """A real engine whose outputs get NaN/inf written where ``spoil`` says, as Paddle Lite 2.13's x86 int8 kernels
    return them: the fault is injected into real outputs, nothing stands in for the engine."""

    def __init__(self, engine, spoil) -> None:
        self.engine, self.spoil = engine, spoil
        self.name, self.model_path = engine.name, engine.model_path

    def run(self, batch):
        out = self.engine.run(batch)
        self.spoil(out)
        return out


def _rebuilt(pipeline, models_dir, det=None, cls=None, rec=None):
    from edge_ocr import OCRPipeline
    from edge_ocr.cls import TextClassifier
    from edge_ocr.det import TextDetector
    from edge_ocr.rec import TextRecognizer

    def wrap(engine, spoil):
        return NonFiniteOutputs(engine, spoil) if spoil else engine

    dictionary = os.path.join(models_dir, "ppocr_keys_v1.txt")
    return OCRPipeline(TextDetector(wrap(pipeline.detector.engine, det), pipeline.params.det),
                       TextRecognizer(wrap(pipeline.recognizer.engine, rec), dictionary, pipeline.params.rec),
                       TextClassifier(wrap(pipeline.classifier.engine, cls), pipeline.params.cls), pipeline.params)


def test_detector_nan_drops_the_boxes_over_it(pipeline, models_dir, img11, caplog):
    image = load_image(img11).image
    clean = pipeline.analyze(image)
    assert [line.text for line in clean.lines] == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]
    ys = [box[0][1] for box in clean.boxes]  # MAINTENANCE is the second line; spoil its rows of the map

    def spoil(prob):
        scale = prob.shape[2] / image.shape[0]
        prob[0, 0, int((ys[1] + 5) * scale) : int((ys[1] + 15) * scale)] = np.nan

    analysis = _rebuilt(pipeline, models_dir, det=spoil).analyze(image)
    assert [line.text for line in analysis.lines] == ["BEWARE OF", "VEHICLES"]
    assert all(np.isfinite(score) for score in analysis.det_scores)
    assert "non-finite" in caplog.text
    everything_inf = _rebuilt(pipeline, models_dir, det=lambda prob: prob.fill(np.inf)).analyze(image)
    assert everything_inf.boxes == [] and everything_inf.lines == []


def test_recognizer_and_classifier_nan_give_no_text_and_no_rotation(pipeline, models_dir, img11, caplog):
    def spoil_first(out):
        out[0] = np.nan

    ocr = _rebuilt(pipeline, models_dir, cls=spoil_first, rec=spoil_first)
    result = ocr.ocr_file(img11)
    texts = [line.text for line in result.lines]
    assert len(texts) == 2 and set(texts) < {"BEWARE OF", "MAINTENANCE", "VEHICLES"}
    assert all(np.isfinite(line.score) for line in result.lines)
    assert "recognizer returned non-finite" in caplog.text and "classifier returned non-finite" in caplog.text
    crops = [np.full((32, 100, 3), 255, np.uint8)]
    _, labels = ocr.classifier(crops)
    assert labels == [("0", 0.0)]
    json.dumps([result.to_dict()], allow_nan=False)  # the JSON holds no NaN


def test_ctc_decode_of_non_finite_rows():
    from edge_ocr.rec import ctc_greedy_decode

    probs = np.full((3, 4, 3), 0.1, np.float32)
    probs[:, :, 1] = 0.8
    probs[1, 2, 0] = np.nan
    probs[2, 0, 2] = np.inf
    assert ctc_greedy_decode(probs, ["blank", "a", "b"]) == [("a", pytest.approx(0.8)), ("", 0.0), ("", 0.0)]


# ------------------------------------------------------------------------------------------ eval labels and metric


@pytest.mark.parametrize(
    "payload, message",
    [
        ('[{"transcription": "A", "points": [[NaN, 0], [1, 0], [1, 1]]}]', "NaN is not a number"),
        ('[{"transcription": "A", "points": [[0, 0], [Infinity, 0], [1, 1]]}]', "Infinity is not a number"),
        ('[{"transcription": "A", "points": [[0, 0], [1e999, 0], [1, 1]]}]', "box 0 point 1 has a coordinate outside"),
        ('[{"transcription": "A", "points": [[0, 0], [1, 0], [1, 10000000000000000000000]]}]', "point 2 has a coord"),
        ('[{"transcription": "A", "points": [[0, 0], [1, 0, 5], [1, 1]]}]', "point 1 must be \\[x, y\\]"),
        ('[{"transcription": "A", "points": [[0, 0], ["1", 0], [1, 1]]}]', 'not a number: "1"'),
        ('[{"transcription": "A", "points": [[0, 0], [true, 0], [1, 1]]}]', "not a number: true"),
        ('[{"transcription": 7, "points": [[0, 0], [1, 0], [1, 1]]}]', "transcription must be a string"),
        ('[{"transcription": "A", "points": {"x": 1}}]', "points must be a list"),
        ('[{"transcription": "A", "points": [[0, 0], [1, 0]', "invalid JSON"),
    ],
)
def test_malformed_det_labels_name_their_line(tmp_path, payload, message):
    from edge_ocr.evaluation.labels import LabelError, read_det_labels

    path = tmp_path / "det.txt"
    path.write_text(f'a.jpg\t[{{"transcription": "OK", "points": [[0, 0], [9, 0], [9, 9]]}}]\n\nb.jpg\t{payload}\n')
    with pytest.raises(LabelError, match=f"det.txt:3: (box 0 )?.*{message}"):
        read_det_labels(str(path))


def test_empty_and_undecodable_label_files_are_errors(tmp_path, models_dir):
    from edge_ocr.evaluation.labels import LabelError, read_det_labels, read_rec_labels

    (tmp_path / "empty.txt").write_text("\n  \n")
    for reader in (read_det_labels, read_rec_labels):
        with pytest.raises(LabelError, match="has no labels"):
            reader(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes(b"a.jpg\tok\nb.jpg\tcaf\xe9\n")
    with pytest.raises(LabelError, match="latin1.txt:2: not UTF-8"):
        read_rec_labels(str(tmp_path / "latin1.txt"))
    line = one_line_error(run_cli("eval", "--models", models_dir, "--rec-labels", str(tmp_path / "empty.txt")))
    assert "has no labels" in line


@pytest.mark.parametrize(
    "points",
    [
        [(0, 0), (10, 10), (10, 0), (0, 10)],  # bowtie
        [(0, 0), (10, 0), (10, 10), (0, 10)] * 2,  # traced twice
        [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (-10, 0), (-10, -10), (0, -10)],  # pinched at a vertex
        [(0, 0), (10, 0), (20, 0)],  # flat
    ],
)
def test_degenerate_polygons_keep_iou_in_unit_range(points):
    from edge_ocr.evaluation.labels import GtBox
    from edge_ocr.evaluation.metrics import Polygon, is_simple_polygon, score_detection

    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    for other in (square, points, [(5, 5), (15, 5), (15, 15), (5, 15)]):
        iou = Polygon(points).iou(Polygon(other))
        assert 0.0 <= iou <= 1.0 and iou == Polygon(other).iou(Polygon(points))
    assert not is_simple_polygon(points)  # not scored as ground truth (the protocol skips invalid polygons)
    counts = score_detection([GtBox(points, "A"), GtBox(square, "B")], [points])
    assert counts.gt_care == 1 and counts.det_care == 1 and counts.matched <= 1


# ------------------------------------------------------------------------------ precise messages, no leftovers


@pytest.fixture
def tar_mirror(models_dir, tmp_path):
    """A mirror whose detector comes as a tar (as PaddleOCR publishes it), the rest as folders."""
    import tarfile

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in os.listdir(models_dir):
        if name != "ch_PP-OCRv2_det_infer":
            os.symlink(os.path.join(models_dir, name), mirror / name)
    with tarfile.open(mirror / "ch_PP-OCRv2_det_infer.tar", "w") as archive:
        archive.add(os.path.join(models_dir, "ch_PP-OCRv2_det_infer"), "ch_PP-OCRv2_det_infer")
    return mirror


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_tar_is_a_precise_error_and_leaves_nothing(tar_mirror, tmp_path, damage):
    tar = tar_mirror / "ch_PP-OCRv2_det_infer.tar"
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    cache = tmp_path / "cache"
    line = one_line_error(run_cli("models", "pull", "--from", str(tar_mirror), "--cache", str(cache)))
    assert "ch_PP-OCRv2_det_infer.tar: damaged or truncated archive" in line, line
    assert os.listdir(cache) == []  # the staging folder went with the failure


def test_unknown_model_set_is_a_precise_error(tmp_path, models_dir):
    for args in (["models", "pull", "--set", "ppocrv9", "--from", models_dir, "--cache", str(tmp_path)],
                 ["models", "verify", str(tmp_path), "--set", "ppocrv9"]):
        assert "unknown model set 'ppocrv9'; known: ppocrv2" in one_line_error(run_cli(*args))


def test_sigterm_during_a_pull_leaves_no_staging_folder(tar_mirror, tmp_path):
    """SIGTERM while the set is being unpacked and hashed: the process ends with 143 and removes its staging
    folder (Python's default SIGTERM action would leave it, 200+ MB for a real download)."""
    import signal
    import subprocess
    import time

    from tests.conftest import REPO

    for attempt in range(5):
        cache = tmp_path / f"cache{attempt}"
        cache.mkdir()
        proc = subprocess.Popen([sys.executable, "-m", "edge_ocr", "models", "pull", "--from", str(tar_mirror),
                                 "--cache", str(cache)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while proc.poll() is None and not any(n.startswith(".ppocrv2-") for n in os.listdir(cache)):
            time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        if proc.returncode == 143:  # the signal came while it worked (not after it finished)
            assert b"terminated by signal 15" in stderr and os.listdir(cache) == []
            return
        assert proc.returncode == 0, stderr
    pytest.fail("the pull always finished before SIGTERM arrived")
