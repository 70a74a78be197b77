"""Benchmark logic: statistics and report generation from a small results file (no timing assertions)."""

import json

import pytest

from edge_ocr.bench.report import plots, to_markdown
from edge_ocr.bench.stats import summarize_ms
from tests.conftest import run_cli


def test_summary_statistics():
    s = summarize_ms([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert s == {"n": 10, "mean": 5.5, "median": 5.5, "p90": 9.0, "min": 1.0, "max": 10.0}
    assert summarize_ms([2.0])["p90"] == 2.0
    assert summarize_ms([]) == {"n": 0}


def _entry(name, threads, e2e, size, accuracy=None):
    ms = {"e2e": summarize_ms([e2e, e2e + 2]), "det": summarize_ms([e2e * 0.6]), "cls": summarize_ms([1.0]),
          "rec": summarize_ms([e2e * 0.3])}
    return {"name": name, "threads": threads, "threads_settable": True, "load_ms": 100.0, "peak_rss_mb": 300.0,
            "size_bytes": size, "ms": ms, "accuracy": accuracy}


@pytest.fixture()
def report():
    return {"created": "2026-11-24T00:00:00", "command": "edge-ocr bench",
            "machine": {"cpu": "Test CPU", "cores": 2, "arch": "x86_64", "avx2": True, "avx512": False},
            "settings": {"images": 3, "warmup": 1, "repeats": 1, "threads": [1, 2]},
            "results": [_entry("fp32", 2, 50.0, 14_600_000,
                               {"det_hmean": 0.39, "e2e_hmean": 0.19, "rec_accuracy": 0.53}),
                        _entry("ptq", 1, 80.0, 5_400_000, {"det_hmean": 0.38, "e2e_hmean": 0.18, "rec_accuracy": 0.5}),
                        {"name": "broken", "threads": 1, "error": "no such bundle"}]}


def test_markdown_report(report):
    text = to_markdown(report)
    assert "| fp32 | 2 | 51.0 (52.0) |" in text
    assert "| ptq | 1 |" in text and "5.40" in text and "0.1800" in text
    assert "failed: no such bundle" in text
    assert "| PP-OCRv2 | 11.6 | 0.576 | 330 | 3300 | 111 |" in text
    assert "| fp32 (measured here) | 14.60 | – | 51.0 (2 threads) | 102 | – |" in text


def test_plots_are_written(report, tmp_path):
    written = plots(report, str(tmp_path / "r"))
    assert [p.rsplit("/", 1)[-1] for p in written] == ["r-latency.png", "r-accuracy-size.png", "r-accuracy-latency.png"]
    for path in written:
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(written) == 3


@pytest.mark.slow
def test_bench_quick_run_and_merge(models_dir, test_images, tmp_path):
    other = tmp_path / "pi.json"
    other.write_text(json.dumps({"machine": {"cpu": "", "arch": "aarch64"},
                                 "results": [_entry("arm-bundle", 4, 300.0, 5_000_000)]}))
    proc = run_cli("bench", "--images", test_images, "--limit", "2", "--warmup", "0", "--threads", "1",
                   "--models", models_dir, "--engines", "paddle", "--merge", str(other),
                   "--out-dir", str(tmp_path), "--name", "b")
    assert proc.returncode == 0, proc.stderr[-1500:]
    data = json.loads((tmp_path / "b.json").read_text())
    names = [r["name"] for r in data["results"]]
    assert names == ["fp32-paddle", "arm-bundle @ aarch64"]
    first = data["results"][0]
    assert first["ms"]["e2e"]["n"] == 2 and first["peak_rss_mb"] > 50 and first["size_bytes"] > 10_000_000
    assert (tmp_path / "b.md").read_text().startswith("# edge-ocr bench")
    assert (tmp_path / "b-latency.png").exists()


def test_model_complexity_of_the_official_models(models_dir):
    from edge_ocr.program import complexity

    det = complexity(f"{models_dir}/ch_PP-OCRv2_det_infer", (1, 3, 544, 960))
    rec = complexity(f"{models_dir}/ch_PP-OCRv2_rec_infer", (1, 3, 32, 320))
    assert det["params"] == 2_296_317 // 4 or abs(det["params"] * 4 - 2_296_317) < 20_000  # fp32 weights file
    assert 2.0e9 < det["macs"] < 3.0e9 and det["flops"] == 2 * det["macs"]
    assert rec["macs_by_op_type"]["rnn"] == 80 * 2 * 4 * 64 * (512 + 64) + 80 * 2 * 4 * 64 * (128 + 64)
    assert rec["macs_by_op_type"]["matmul_v2"] >= 80 * 96 * 6625
