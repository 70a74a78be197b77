"""Filter pruning: shapes, FLOPs, the saved model, plans from sensitivity tables, and the prune-qat recipe."""

import json
import os

import numpy as np
import pytest

from edge_ocr.errors import EdgeOCRError
from tests.conftest import label_subset, run_cli


@pytest.fixture(scope="module")
def tiny_labels(shared, tmp_path_factory):
    """4 det train images and 24 rec train crops, with absolute paths."""
    root = tmp_path_factory.mktemp("tiny-prune")
    return {"det": label_subset(shared, "icdar2015", "train_label.txt", 4, root / "det.txt"),
            "rec": label_subset(shared, "ic15_rec", "rec_gt_train.txt", 24, root / "rec.txt")}


def _shapes(net):
    return {path: list(p.shape) for path, p in net.named_parameters()}


def test_pruned_rec_shrinks_runs_saves_and_rebuilds(models_dir, tmp_path):
    import paddle

    from edge_ocr.engines import create_engine
    from edge_ocr.host.quantize.compress.prune import model_cost
    from edge_ocr.host.quantize.nets.export import save_inference_model
    from edge_ocr.host.quantize.nets.pruned import apply_plan, build_network

    net = build_network("rec", models_dir)
    before, cost_before = _shapes(net), model_cost(net, "rec")
    plan = {"role": "rec", "criterion": "l1", "ratios": {"backbone.blocks.7.pointwise.conv.weight": 0.5}}
    apply_plan(net, plan)
    after, cost_after = _shapes(net), model_cost(net, "rec")
    assert after["backbone.blocks.7.pointwise.conv.weight"] == [128, 256, 1, 1]
    assert after["backbone.blocks.8.depthwise.conv.weight"][0] == 128  # the next block follows
    assert after["backbone.blocks.8.pointwise.conv.weight"][1] == 128
    assert after["lstm.weight_ih_l0"] == before["lstm.weight_ih_l0"]  # never the LSTM
    assert cost_after["flops"] < cost_before["flops"] and cost_after["params"] < cost_before["params"]

    x = np.random.default_rng(0).standard_normal((1, 3, 32, 160)).astype("float32")
    net.eval()
    expected = net(paddle.to_tensor(x)).numpy()
    saved = save_inference_model(net, str(tmp_path / "rec"), [None, 3, 32, None])
    out = create_engine(saved, "paddle", threads=1).run(x)
    assert out.shape == expected.shape and np.abs(out - expected).max() < 1e-4

    weights = str(tmp_path / "w.pdparams")
    paddle.save(net.state_dict(), weights)
    rebuilt = build_network("rec", models_dir, plan, weights)
    rebuilt.eval()
    assert np.abs(rebuilt(paddle.to_tensor(x)).numpy() - expected).max() < 1e-6
    with pytest.raises(EdgeOCRError, match="does not fit"):
        build_network("rec", models_dir, None, weights)


def test_pruned_detector_keeps_its_training_branches(models_dir):
    import paddle

    from edge_ocr.host.quantize.compress.prune import model_cost
    from edge_ocr.host.quantize.nets.pruned import apply_plan, build_network

    net = build_network("det", models_dir)
    flops = model_cost(net, "det")["flops"]
    apply_plan(net, {"role": "det", "criterion": "fpgm",
                     "ratios": {"neck.in5.weight": 0.5, "head.binarize.conv.weight": 0.5}})
    assert net.neck.in2.weight.shape[0] == 48  # the four projections are added: they shrink together
    assert net.head.binarize.conv.weight.shape[0] == 12 and net.head.thresh.conv.weight.shape[1] == 96
    assert model_cost(net, "det")["flops"] < 0.8 * flops
    net.train()
    maps = net(paddle.zeros([1, 3, 64, 64]))
    assert {k: v.shape for k, v in maps.items()} == {k: [1, 1, 64, 64] for k in ("shrink", "threshold", "binary")}


@pytest.mark.slow
def test_plan_for_flops_spares_the_sensitive_layer(models_dir):
    from edge_ocr.host.quantize.compress.prune import plan_for_flops
    from edge_ocr.host.quantize.nets.pruned import build_network

    net = build_network("det", models_dir)
    fragile = {f"{r:.1f}": 50.0 for r in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    robust = {f"{r:.1f}": round(r, 1) for r in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    report = {"role": "det", "criterion": "fpgm",
              "loss_points": {"head.binarize.conv.weight": fragile, "neck.in5.weight": robust}}
    plan = plan_for_flops(net, report, 0.1)
    assert plan["flops_reduction"] >= 0.1 and "head.binarize.conv.weight" not in plan["ratios"]
    assert 0 < plan["ratios"]["neck.in5.weight"] <= 0.8 and plan["loss_threshold_points"] <= 0.8
    assert net.neck.in5.weight.shape[0] == 96  # planning leaves the network as it was
    with pytest.raises(EdgeOCRError, match="short of"):
        plan_for_flops(net, {**report, "loss_points": {"neck.in5.weight": robust}}, 0.9)


@pytest.mark.slow
def test_plan_from_ratios_rounds_channels_and_refuses_bad_layers(models_dir):
    from edge_ocr.host.quantize.compress.prune import plan_from_ratios
    from edge_ocr.host.quantize.nets.pruned import build_network

    net = build_network("det", models_dir)
    plan = plan_from_ratios(net, "det", {"neck.in5.weight": 0.59, "head.binarize.conv.weight": 0.2})
    # 96 * 0.41 = 39.4 kept -> 40; 24 * 0.8 = 19.2 kept -> 24, so the head is left whole
    assert plan["ratios"] == {"neck.in5.weight": pytest.approx(56 / 96, abs=1e-6)}
    assert 0.15 < plan["flops_reduction"] < 0.3 and net.neck.in5.weight.shape[0] == 96
    with pytest.raises(EdgeOCRError, match="cannot be pruned in det"):
        plan_from_ratios(net, "det", {"head.thresh.conv1.weight": 0.5})
    with pytest.raises(EdgeOCRError, match="ratio lies in"):
        plan_from_ratios(net, "det", {"neck.in5.weight": 1.5})


@pytest.mark.slow
def test_sensitivity_table_and_prune_cli(models_dir, tiny_labels, tmp_path):
    from edge_ocr.host.quantize.compress.prune import dev_metric, sensitivity
    from edge_ocr.host.quantize.nets.pruned import build_network

    net = build_network("rec", models_dir)
    evaluate = dev_metric("rec", tiny_labels["rec"], 8, models_dir)
    layer = "backbone.blocks.9.pointwise.conv.weight"
    report = sensitivity(net, "rec", evaluate, "l1", ratios=(0.1, 0.8), layers=[layer], progress=False)
    assert set(report["loss_points"][layer]) == {"0.1", "0.8"} and 0 < report["baseline"] <= 1
    # 80% of a late layer's channels gone costs accuracy (a sensitivity that never pruned would report 0)
    assert report["loss_points"][layer]["0.8"] > 0
    assert report["loss_points"][layer]["0.8"] >= report["loss_points"][layer]["0.1"]
    assert net.backbone.blocks[9].pointwise.conv.weight.shape[0] == 256  # restored after each trial

    out = tmp_path / "pruned"
    proc = run_cli("prune", "rec", "--init", models_dir, "--labels", tiny_labels["rec"], "--out", str(out),
                   "--dev", "4", "--layers", layer, "--flops-reduction", "0.05")
    assert proc.returncode == 0, proc.stderr[-2000:]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["after"]["flops"] < plan["before"]["flops"] and plan["flops_reduction"] >= 0.05
    assert os.path.isfile(out / "model" / "inference.pdmodel")
    bad = run_cli("prune", "rec", "--init", models_dir, "--labels", tiny_labels["rec"], "--out", str(out),
                  "--layers", "lstm.weight_ih_l0", "--dev", "4")
    assert bad.returncode != 0 and "not prunable in rec: lstm.weight_ih_l0" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = run_cli("prune", "rec", "--init", models_dir, "--labels", tiny_labels["rec"], "--out", str(out),
                  "--flops-reduction", "1.5")
    assert bad.returncode != 0 and "--flops-reduction must lie between 0 and 1" in bad.stderr
    for ratios, message in ((["lstm"], "PARAM=RATIO"), (["neck.in5.weight=half"], "is not a number")):
        bad = run_cli("prune", "rec", "--init", models_dir, "--labels", tiny_labels["rec"], "--out", str(out),
                      "--ratios", *ratios)
        assert bad.returncode != 0 and message in bad.stderr and "Traceback" not in bad.stderr


def test_qat_keeps_the_first_layers_fp32(models_dir):
    from paddle import nn

    from edge_ocr.host.quantize.nets.registry import load_official
    from edge_ocr.host.quantize.train.qat import quantize_aware

    net = load_official("rec", models_dir)
    quantize_aware(net, keep_fp32_first=2)
    def inner(layer):  # QAT wraps every layer in an output-scale recorder; quantized ones hold a QuantizedConv2D
        return type(getattr(layer, "_layer", layer))

    assert inner(net.backbone.stem.conv) is nn.Conv2D
    assert inner(net.backbone.blocks[0].depthwise.conv) is nn.Conv2D
    assert inner(net.backbone.blocks[0].pointwise.conv) is not nn.Conv2D


def test_split_parts_holds_out_the_dev_tail(tmp_path):
    from edge_ocr.host.quantize.train.loop import split_parts

    labels = tmp_path / "train.txt"
    labels.write_text("a\nb\n")
    assert split_parts(str(labels), str(labels), None, 5) == (slice(-5), slice(-5, None))
    assert split_parts(str(labels), str(tmp_path / "other.txt"), None, 5) == (slice(None), slice(-5, None))
    assert split_parts(str(labels), str(labels), 7, None) == (slice(None), slice(7))


@pytest.mark.train
@pytest.mark.slow
def test_compress_prune_qat_tiny_end_to_end(models_dir, tiny_labels, shared, tmp_path):
    # det pruned to a plan chosen by hand, rec to one planned from a sensitivity analysis
    for role, how in (("det", ["--ratios", "neck.in5.weight=0.5"]),
                      ("rec", ["--layers", "backbone.blocks.8.pointwise.conv.weight", "--flops-reduction", "0.05"])):
        proc = run_cli("prune", role, "--init", models_dir, "--labels", tiny_labels[role],
                       "--out", str(tmp_path / f"s-{role}"), "--dev", "2", *how)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert not os.path.exists(tmp_path / "s-det" / "sensitivity.json")
    hand_plan = json.loads((tmp_path / "s-det" / "plan.json").read_text())
    assert hand_plan["ratios"] == {"neck.in5.weight": 0.5} and hand_plan["chosen_by"] == "hand"
    out = tmp_path / "bundle"
    common = ["compress", "--recipe", "prune-qat", "--models", models_dir, "--calib-det", tiny_labels["det"],
              "--calib-rec", tiny_labels["rec"], "--target", "arm", "--out", str(out),
              "--eval-det", os.path.join(shared, "data", "icdar2015", "test_label.txt"),
              "--eval-rec", os.path.join(shared, "data", "ic15_rec", "rec_gt_test.txt"), "--eval-limit", "2",
              "--cls-algo", "abs_max", "--calib-rec-crops", "12", "--det-steps", "2", "--rec-steps", "2",
              "--recovery-det-steps", "1", "--recovery-rec-steps", "1", "--det-batch-size", "1",
              "--rec-batch-size", "4", "--eval-every", "1", "--dev", "det=1", "rec=4",
              "--det-flops-reduction", "0.05", "--rec-flops-reduction", "0.05",
              "--prune-plan", f"det={tmp_path / 's-det' / 'plan.json'}",
              "--prune-sensitivity", f"rec={tmp_path / 's-rec' / 'sensitivity.json'}", "--max-drop", "100",
              # two training steps cannot be judged against FP32; the bundle against its own models can
              "--verify-images", "1", "--verify-limit", "fp32.rec_line_change=1", "--verify-limit",
              "fp32.det_box_miss=1", "--verify-limit", "fp32.det_flip=1", "--verify-limit",
              "fp32.det_corner_rel=1000", "--verify-limit", "fp32.cls_flip=1"]
    proc = run_cli(*common, "--prune-fallback-drop", "100")  # two steps: keep the pruned models whatever they cost
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bundle-artifacts" / "report.json").read_text())
    for key in ("bundle_bytes", "files", "fp32", "compressed", "drop", "flops", "stages", "fp32_bundle_bytes"):
        assert key in report
    assert report["precision"] == {"det": "int8", "cls": "int8", "rec": "int8"}
    assert report["command"].startswith("edge-ocr compress --recipe prune-qat ")
    assert report["flops"]["det"]["compressed"]["flops"] < report["flops"]["det"]["fp32"]["flops"]
    assert report["bundle_bytes"] < report["fp32_bundle_bytes"]
    assert report["stages"]["det"]["plan"]["ratios"] == {"neck.in5.weight": 0.5}
    assert os.path.isfile(out / "rec.nb") and os.path.isfile(out / "manifest.json")
    verification = report["verification"]  # the pruned int8 bundle ran on the ARM runtime and matched its models
    assert verification["passed"] and verification["runtime"] == "qemu"
    assert verification["thresholds"]["fp32"]["rec_line_change"] == 1.0
    # a pruned model that ends further below FP32 on the dev split than --prune-fallback-drop is replaced by the
    # unpruned QAT model (the finished pruning stages are kept with --resume; every pruned model "fails" at -100)
    # The pruned detector is also judged on each --domain that is a dev split (here one train image: not a test set).
    dev = label_subset(shared, "icdar2015", "train_label.txt", 1, tmp_path / "one_dev.txt")
    proc = run_cli(*common, "--prune-fallback-drop", "-100", "--resume", "--no-verify", "--domain",
                   f"one:det={dev},e2e=no")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bundle-artifacts" / "report.json").read_text())
    judged = report["stages"]["det"]["domain_dev"]["one"]
    assert 0 <= judged["pruned"] <= 1 and 0 < judged["fp32"] <= 1
    assert judged["points_below_fp32"] == pytest.approx((judged["fp32"] - judged["pruned"]) * 100, abs=1e-3)
    for role in ("det", "rec"):
        assert report["stages"][role]["fallback"]["to"] == "unpruned QAT"
        assert report["flops"][role]["compressed"]["flops"] == report["flops"][role]["fp32"]["flops"]
    assert "the unpruned QAT model ships" in (tmp_path / "bundle-artifacts" / "report.md").read_text()


def test_resume_keeps_only_a_finished_stage_with_the_same_config(tmp_path):
    from dataclasses import asdict

    from edge_ocr.host.quantize.compress.recipes import _finished
    from edge_ocr.host.quantize.train.rec import RecTrainConfig

    config = RecTrainConfig(steps=4, qat=True, distill="teacher")
    stage = tmp_path / "qat-rec"
    (stage / "final").mkdir(parents=True)
    (stage / "final" / "inference.pdmodel").write_bytes(b"x")
    (stage / "checkpoint.json").write_text(json.dumps({"step": 4, "best": {"accuracy": 0.5, "step": 4},
                                                       "config": asdict(config)}))
    assert _finished(str(stage), config) == {"accuracy": 0.5, "step": 4}
    assert _finished(str(stage), RecTrainConfig(steps=4, qat=True, distill="udml")) is None  # other config
    assert _finished(str(stage), RecTrainConfig(steps=8, qat=True, distill="teacher")) is None  # not finished
    # the labels it trained on are recorded beside it: other labels retrain it, the same ones keep it
    from edge_ocr.host.quantize.compress.recipes import LABELS_DIGEST, _labels_digest

    labels = tmp_path / "calib-rec.txt"
    labels.write_text("a.png\tHELLO\n")
    (stage / LABELS_DIGEST).write_text(_labels_digest(str(labels)) + "\n")
    assert _finished(str(stage), config, str(labels)) == {"accuracy": 0.5, "step": 4}
    labels.write_text("a.png\tHELLO\nb.png\tWORLD\n")
    assert _finished(str(stage), config, str(labels)) is None
    (stage / "final" / "inference.pdmodel").unlink()
    assert _finished(str(stage), config) is None
