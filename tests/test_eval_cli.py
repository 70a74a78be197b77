"""``edge-ocr eval`` end to end on a few real images and crops."""

import json
import os

from tests.conftest import run_cli


def test_eval_json_has_every_metric(models_dir, shared, tmp_path):
    out, md, preds = tmp_path / "e.json", tmp_path / "e.md", tmp_path / "p.json"
    proc = run_cli(
        "eval", "--models", models_dir,
        "--det-labels", os.path.join(shared, "data", "icdar2015", "test_label.txt"),
        "--rec-labels", os.path.join(shared, "data", "ic15_rec", "rec_gt_test.txt"),
        "--limit", "12", "--json", str(out), "--markdown", str(md), "--save-predictions", str(preds),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    for section, keys in {
        "det": ("precision", "recall", "hmean"),
        "e2e": ("precision", "recall", "hmean", "hmean_normalized"),
        "rec": ("accuracy", "accuracy_normalized", "norm_edit_distance"),
    }.items():
        for key in keys:
            assert 0.0 <= report[section][key] <= 1.0, (section, key)
    assert report["images"] == 12 and report["boxes"] > 12 and report["rec"]["samples"] == 12
    assert report["det"]["hmean"] > 0.2 and report["rec"]["accuracy"] > 0.5  # the real models find real text
    assert report["settings"]["params"]["det"]["box_thresh"] == 0.6
    assert "det precision" in md.read_text()
    assert len(json.loads(preds.read_text())["det"]) == 12


def test_eval_bad_image_is_counted_as_missed(models_dir, shared, tmp_path):
    labels = tmp_path / "labels.txt"
    src = os.path.join(shared, "data", "icdar2015", "ch4_test_images", "img_11.jpg")
    (tmp_path / "good.jpg").write_bytes(open(src, "rb").read())
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    box = '[{"transcription": "VEHICLES", "points": [[0,0],[10,0],[10,10],[0,10]]}]'
    labels.write_text(f"good.jpg\t[]\nbad.jpg\t{box}\n")
    out = tmp_path / "e.json"
    proc = run_cli("eval", "--models", models_dir, "--det-labels", str(labels), "--json", str(out))
    assert proc.returncode == 1, proc.stderr  # scored, reported, and the exit says a sample was unreadable (#25)
    assert "1 of 2 sample(s) could not be read" in proc.stderr
    report = json.loads(out.read_text())
    assert report["det"]["gt_care"] == 1 and report["det"]["matched"] == 0
    assert [os.path.basename(f["image"]) for f in report["failed_images"]] == ["bad.jpg"]


def test_eval_errors(models_dir, tmp_path):
    proc = run_cli("eval", "--models", models_dir)
    assert proc.returncode != 0 and "nothing to evaluate" in proc.stderr
    bad = tmp_path / "l.txt"
    bad.write_text("img.jpg\tnot json\n")
    proc = run_cli("eval", "--models", models_dir, "--det-labels", str(bad))
    assert proc.returncode != 0 and "l.txt:1: invalid JSON" in proc.stderr and "Traceback" not in proc.stderr
    # every image missing (label file copied away from its images): an error, not a score of 0
    moved = tmp_path / "moved.txt"
    moved.write_text("img_1.jpg\t[]\nimg_2.jpg\t[]\n")
    out = tmp_path / "none.json"
    proc = run_cli("eval", "--models", models_dir, "--det-labels", str(moved), "--json", str(out))
    assert proc.returncode != 0 and "none of the 2 images" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    words = tmp_path / "words.txt"
    words.write_text("w1.png\tHELLO\n")
    proc = run_cli("eval", "--models", models_dir, "--rec-labels", str(words))
    assert proc.returncode != 0 and "none of the 1 images" in proc.stderr
