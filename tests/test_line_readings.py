"""edge-ocr read-lines (quantize/train/line_readings.py): real line photos without transcriptions become labelled
crops, read by the FP32 models; the td500_lines domain reads them."""

from __future__ import annotations

import json
import os

import pytest

from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.labels import read_det_labels, read_rec_labels
from tests.conftest import label_subset, run_cli


@pytest.mark.parametrize("boxes", ["labels", "detector"])
def test_read_lines_writes_train_and_dev_crops_labelled_by_fp32(shared, models_dir, tmp_path, boxes):
    from edge_ocr.host.quantize.train.line_readings import read_lines

    labels = label_subset(shared, "td500_train", "det_label.txt", 3, tmp_path / "three.txt")
    out = tmp_path / "lines"
    summary = read_lines(labels, str(out), models_dir, dev_tail=1, min_score=0.5, progress=False, boxes=boxes)
    assert summary["train"]["images"] == 2 and summary["dev"]["images"] == 1 and summary["boxes"] == boxes
    if boxes == "labels":  # every cared-for labelled box is a line; some are kept
        cared = sum(not b.dont_care for s in read_det_labels(labels)[:2] for b in s.boxes)
        assert summary["train"]["lines"] == cared
    assert json.loads((out / "lines.json").read_text())["train"] == summary["train"]
    for split in ("train", "dev"):
        samples = read_rec_labels(str(out / f"rec_{split}.txt"))
        assert len(samples) == summary[split]["kept"]
        for sample in samples:
            assert os.path.isfile(sample.image) and sample.text.strip()
    assert summary["train"]["kept"] > 0
    assert not os.path.exists(str(out) + ".partial")


def test_read_lines_cli_refuses_bad_input_in_one_line(tmp_path):
    proc = run_cli("read-lines", "--det-labels", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o"))
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("read-lines", "--min-score", "2", "--out", str(tmp_path / "o"))
    assert proc.returncode != 0 and "--min-score" in proc.stderr and "Traceback" not in proc.stderr


def test_td500_lines_domain_says_how_to_make_it(monkeypatch, tmp_path):
    from edge_ocr.evaluation.domains import parse_domain

    monkeypatch.setenv("EDGE_OCR_LINES", str(tmp_path / "nowhere"))
    domain = parse_domain("td500_lines")
    assert domain.det is None and domain.rec.endswith("rec_dev.txt")
    with pytest.raises(EdgeOCRError, match="edge-ocr read-lines"):
        domain.check()
