"""Evaluation domains (edge_ocr/evaluation/domains.py): several named label sets scored, reported and gated at once;
train-side code never reads what a domain evaluates on."""

from __future__ import annotations

import json
import os

import pytest

from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.domains import (
    TD500_DEV_IMAGES,
    builtin_domains,
    by_domain,
    domains_from_args,
    parse_domain,
    usable_part,
)
from tests.conftest import label_subset, run_cli


@pytest.fixture(scope="module")
def tiny_domains(shared, tmp_path_factory) -> dict[str, str]:
    """Two ICDAR 2015 test images, three IC15 test crops, two TD500 images (det only) and two Chinese lines."""
    root = tmp_path_factory.mktemp("domains")
    zh = root / "zh_rec.txt"
    zh.write_text(f"{os.path.join(shared, 'data', 'ic15_rec', 'test', 'word_1.png')}\t汉字\n"
                  f"{os.path.join(shared, 'data', 'ic15_rec', 'test', 'word_2.png')}\t中文\n", encoding="utf-8")
    return {"ic15_det": label_subset(shared, "icdar2015", "test_label.txt", 2, root / "ic15_det.txt"),
            "ic15_rec": label_subset(shared, "ic15_rec", "rec_gt_test.txt", 3, root / "ic15_rec.txt"),
            "td500": label_subset(shared, "td500_train", "det_label.txt", 4, root / "td500.txt"), "zh_rec": str(zh)}


def test_parse_domains():
    builtin = builtin_domains()
    assert set(builtin) == {"icdar2015", "td500", "zh_synth", "td500_lines"}
    assert builtin["td500"].tail == TD500_DEV_IMAGES and not builtin["td500"].e2e and builtin["td500"].rec is None
    assert parse_domain("td500") == builtin["td500"]
    custom = parse_domain("mine:det=a.txt,rec=b.txt,tail=5,e2e=no")
    assert (custom.name, custom.det, custom.rec, custom.tail, custom.e2e) == ("mine", "a.txt", "b.txt", 5, False)
    for bad, message in (("nope", "not a built-in domain"), ("x:det", "expected NAME:det=FILE"),
                         ("x:tail=3", "det=FILE and/or rec=FILE"), ("x:det=a,tail=0", "positive integer"),
                         ("x y:det=a", "a domain name"), ("x:det=a,det=b", "expected")):
        with pytest.raises(EdgeOCRError, match=message):
            parse_domain(bad)


def test_single_file_flags_are_the_icdar2015_domain(shared, tiny_domains):
    ic15 = builtin_domains()["icdar2015"]
    assert [d.name for d in domains_from_args([], ic15.det, ic15.rec)] == ["icdar2015"]
    assert [d.name for d in domains_from_args(["td500"], tiny_domains["ic15_det"])] == ["labels", "td500"]
    with pytest.raises(EdgeOCRError, match="given twice"):
        domains_from_args(["icdar2015"], ic15.det)


def test_train_side_never_reads_what_a_domain_scores(shared, tmp_path):
    from edge_ocr.host.quantize.compress.calibration import label_files, merge_label_files
    from edge_ocr.host.quantize.train.loop import split_parts

    data = os.path.join(shared, "data")
    td500 = os.path.join(data, "td500_train", "det_label.txt")
    ic15_train = os.path.join(data, "icdar2015", "train_label.txt")
    assert usable_part(td500) == slice(None, -TD500_DEV_IMAGES) and usable_part(ic15_train) == slice(None)
    assert usable_part(os.path.join(data, "icdar2015", "test_label.txt")) is None
    # training on TD500 with a dev split of 30: both end before the domain's 100 images
    assert split_parts(td500, td500, None, 30) == (slice(-130), slice(-130, -100))
    assert split_parts(td500, td500, None, None)[0] == slice(-100)
    assert label_files(["a,b", "c"]) == ["a", "b", "c"]
    assert merge_label_files([ic15_train], "det", str(tmp_path / "same.txt")) == ic15_train  # nothing to cut
    merged = merge_label_files([td500, ic15_train], "det", str(tmp_path / "calib-det.txt"))
    from edge_ocr.evaluation.labels import read_det_labels

    images = [s.image for s in read_det_labels(merged)]
    held = {s.image for s in read_det_labels(td500)[-TD500_DEV_IMAGES:]}
    assert len(images) == 300 - TD500_DEV_IMAGES + 500 and not held & set(images)
    assert all(os.path.isabs(i) for i in images)
    with pytest.raises(EdgeOCRError, match="never a test set"):
        merge_label_files([os.path.join(data, "ic15_rec", "rec_gt_test.txt")], "rec", str(tmp_path / "x.txt"))


def test_eval_scores_report_and_markdown_every_domain(models_dir, tiny_domains, tmp_path):
    out = tmp_path / "eval.json"
    md = tmp_path / "eval.md"
    proc = run_cli("eval", "--models", models_dir, "--engine", "paddle", "--det-labels", tiny_domains["ic15_det"],
                   "--rec-labels", tiny_domains["ic15_rec"],
                   "--domain", f"td:det={tiny_domains['td500']},tail=2,e2e=no", f"zh:rec={tiny_domains['zh_rec']}",
                   "--json", str(out), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert list(report["domains"]) == ["labels", "td", "zh"] and "det" not in report  # several: no top-level copy
    assert report["domains"]["td"]["images"] == 2 and "e2e" not in report["domains"]["td"]
    assert report["domains"]["labels"]["rec"]["samples"] == 3 and report["domains"]["labels"]["e2e"]["hmean"] >= 0
    zh = report["domains"]["zh"]["rec"]
    assert zh["samples"] == 2 and zh["accuracy"] == 0.0 and zh["out_of_charset"] == 0
    header = md.read_text().splitlines()[4]
    assert header == "| metric | labels | td | zh |"
    from edge_ocr.bench.cli import headline_from

    assert headline_from(str(out))["rec_accuracy"] == report["domains"]["labels"]["rec"]["accuracy"]


def test_gate_and_report_per_domain():
    from edge_ocr.host.quantize.compress.cli import accuracy_markdown
    from edge_ocr.host.quantize.compress.recipes import accuracy_drop, gate

    fp32 = {"icdar2015": {"det_hmean": 0.40, "e2e_hmean": 0.20, "rec_accuracy": 0.50},
            "td500": {"det_hmean": 0.50, "e2e_hmean": None, "rec_accuracy": None}}
    compressed = {"icdar2015": {"det_hmean": 0.395, "e2e_hmean": 0.20, "rec_accuracy": 0.49},
                  "td500": {"det_hmean": 0.40, "e2e_hmean": None, "rec_accuracy": None}}
    drop = {name: accuracy_drop(fp32[name], compressed[name]) for name in fp32}
    assert drop["td500"] == {"det_hmean": 10.0}
    assert gate(drop, 2.0) == ["td500 det_hmean fell 10.00 points (> 2.0)"]
    assert gate(drop, None) == [] and gate(drop, 20) == []
    assert gate({"rec_accuracy": 3.0}, 1.0) == ["icdar2015 rec_accuracy fell 3.00 points (> 1.0)"]  # old reports
    table = accuracy_markdown({"fp32": fp32, "compressed": compressed, "drop": drop})
    assert table.splitlines()[0].endswith("| icdar2015 | td500 |")
    assert "| det_hmean | 0.4000 → 0.3950 (+0.50) | 0.5000 → 0.4000 (+10.00) |" in table
    assert "| e2e_hmean | 0.2000 → 0.2000 (+0.00) | – |" in table
    old = accuracy_markdown({"fp32": fp32["icdar2015"], "compressed": compressed["icdar2015"],
                             "drop": drop["icdar2015"]})
    assert old.splitlines()[0].endswith("| icdar2015 |")
    assert by_domain(None) == {} and by_domain(fp32) is fp32


def test_compress_summary_reads_old_and_new_reports(tmp_path, shared):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
    from compress_summary import load_variants, markdown

    numbers = {"det_hmean": 0.38, "e2e_hmean": 0.18, "rec_accuracy": 0.51}
    (tmp_path / "compress-old.json").write_text(json.dumps(
        {"bundle_bytes": 5_000_000, "compressed": numbers, "drop": {k: 1.0 for k in numbers}}))
    (tmp_path / "compress-new.json").write_text(json.dumps(
        {"bundle_bytes": 4_000_000, "compressed": {"icdar2015": numbers, "zh_synth": {**numbers, "det_hmean": 0.9}},
         "drop": {"icdar2015": {k: 1.0 for k in numbers}, "zh_synth": {k: 2.0 for k in numbers}}}))
    rows = {row["name"]: row for row in load_variants(str(tmp_path), shared)}
    assert rows["old"]["det_hmean"] == rows["new"]["det_hmean"] == 0.38
    text = markdown(list(rows.values()))
    # a column per domain and metric: IC15 det/e2e/rec, TD500 det, zh det/e2e/rec (drops from the report here: no
    # FP32 evaluation in this folder)
    assert "| new | 4.00 | 38.00 (-1.00) | 18.00 (-1.00) | 51.00 (-1.00) | n/a | 90.00 (-2.00) | 18.00 (-2.00) | " \
           "51.00 (-2.00) |" in text
    assert "| old | 5.00 | 38.00 (-1.00) | 18.00 (-1.00) | 51.00 (-1.00) | n/a | n/a | n/a | n/a |" in text


@pytest.mark.slow
def test_compress_mixes_calibration_files_scores_each_domain_and_gates(models_dir, shared, tiny_domains, tmp_path):
    """PTQ with two det and two rec calibration files (TD500's dev tail left out), a digits charset, two domains."""
    data = os.path.join(shared, "data")
    rec_part = label_subset(shared, "ic15_rec", "rec_gt_train.txt", 20, tmp_path / "rec_part.txt")
    out = tmp_path / "bundle"
    common = ["compress", "--recipe", "ptq", "--models", models_dir,
              "--calib-det", os.path.join(data, "icdar2015", "train_label.txt"),
              os.path.join(data, "td500_train", "det_label.txt"),
              "--calib-rec", f"{os.path.join(data, 'ic15_rec', 'rec_gt_train.txt')},{rec_part}",
              "--target", "arm", "--out", str(out), "--eval-rec", tiny_domains["ic15_rec"],
              "--domain", f"zh:rec={tiny_domains['zh_rec']}", "--charset", "digits", "--no-verify",
              "--det-algo", "abs_max", "--rec-algo", "abs_max", "--cls-algo", "abs_max",
              "--calib-det-images", "2", "--calib-rec-crops", "12", "--keep-fp32-first", "rec=16",
              # the LSTM's input projection factored (weighted by 16 train crops, distilled 2 steps), in int8
              "--rec-lstm-rank", "128", "--rec-lstm-distill-steps", "2", "--rec-lstm-train-crops", "16"]
    proc = run_cli(*common, "--max-drop", "-100")  # every domain's drop (>= -100 points) fails this gate
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "labels rec_accuracy fell" in proc.stderr and "zh rec_accuracy fell" in proc.stderr
    report = json.loads((tmp_path / "bundle-artifacts" / "report.json").read_text())
    assert set(report["fp32"]) == set(report["compressed"]) == set(report["drop"]) == {"labels", "zh"}
    assert report["charset"]["name"] == "digits" and report["charset"]["classes"] == 19
    merged = (tmp_path / "bundle-artifacts" / "calib-det.txt").read_text(encoding="utf-8").splitlines()
    assert len(merged) == 500 + 300 - TD500_DEV_IMAGES
    assert len((tmp_path / "bundle-artifacts" / "calib-rec.txt").read_text(encoding="utf-8").splitlines()) == 3020
    from edge_ocr.host.quantize.compress.program import op_counts

    assert op_counts(str(tmp_path / "bundle-artifacts" / "quantized" / "rec"))["matmul_v2"] == 3  # factor, fc_mid, fc
    assert os.path.isfile(tmp_path / "bundle-artifacts" / "fp32-rec-lowrank" / "inference.pdmodel")
    markdown = (tmp_path / "bundle-artifacts" / "report.md").read_text()
    assert "| metric (FP32 → compressed, drop in points) | labels | zh |" in markdown
