"""Planning filter pruning of the PP-OCRv2 networks to a FLOPs target (PaddleSlim's FPGM or L1-norm pruners).

The flow: ``sensitivity`` prunes one layer at a time at ratios 0.1 … 0.8 and measures the task metric on a dev split
(det Hmean, rec word accuracy); ``plan_for_flops`` picks per-layer ratios that reach a FLOPs reduction with the least
metric loss (the smallest loss threshold whose per-layer ratios reach it, channels kept in multiples of ``align``);
``apply_plan`` prunes a network to a plan. Which layers may be pruned, applying a plan and rebuilding a pruned network
(``build_network``) are the networks' (``quantize.nets.pruned``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable

from tqdm import tqdm

from edge_ocr.errors import EdgeOCRError

from ..nets.pruned import apply_plan, make_pruner, prunable_layers, prune_layers

log = logging.getLogger(__name__)

FLOPS_SHAPES = {"det": [1, 3, 544, 960], "rec": [1, 3, 32, 320], "cls": [1, 3, 48, 192]}
RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def model_cost(net, role: str) -> dict:
    """FLOPs and parameters as ``paddle.flops`` counts them (conv/linear/BN; not the LSTM) at the stated input."""
    import contextlib
    import io

    import paddle

    net.eval()
    with contextlib.redirect_stdout(io.StringIO()):  # paddle.flops prints a line per layer type
        flops = paddle.flops(net, FLOPS_SHAPES[role], print_detail=False)
    params = sum(int(p.numel()) for p in net.parameters())
    return {"input_shape": FLOPS_SHAPES[role], "flops": int(flops), "params": params}


def sensitivity(net, role: str, evaluate: Callable[[object], float], criterion: str = "fpgm",
                ratios=RATIOS, layers: list[str] | None = None, progress: bool = True) -> dict:
    """Metric loss (points) when each prunable layer alone is pruned at each ratio; the network is left unpruned.

    ``evaluate(net)`` returns the task metric (0..1) on a dev split.
    """
    pruner = make_pruner(net, role, criterion)
    candidates = prunable_layers(net, role, pruner)
    if layers:
        unknown = [name for name in layers if name not in candidates]
        if unknown:
            raise EdgeOCRError(f"not prunable in {role}: {', '.join(unknown)}")
        candidates = {name: candidates[name] for name in layers}
    baseline = evaluate(net)
    table: dict[str, dict[str, float]] = {}
    with tqdm(total=len(candidates) * len(ratios), desc=f"prune sensitivity {role}", disable=not progress) as bar:
        for path, name in candidates.items():
            table[path] = {}
            for ratio in ratios:
                plan = pruner.prune_var(name, 0, ratio)
                table[path][f"{ratio:.1f}"] = round((baseline - evaluate(net)) * 100, 3)
                plan.restore(net)
                bar.update(1)
    return {"role": role, "criterion": criterion, "baseline": baseline, "ratios": list(ratios),
            "loss_points": table}


def _ratios_at(table: dict[str, dict[str, float]], threshold: float) -> dict[str, float]:
    """Per layer, the largest tested ratio whose loss, and the loss of every smaller ratio, stays within threshold."""
    chosen = {}
    for path, losses in table.items():
        best = 0.0
        for ratio in sorted(losses, key=float):
            if losses[ratio] > threshold:
                break
            best = float(ratio)
        if best > 0:
            chosen[path] = best
    return chosen


def _aligned(net, ratios: dict[str, float], align: int) -> dict[str, float]:
    """Round each layer's kept channels up to a multiple of ``align`` (int8/NEON kernels work in blocks)."""
    shapes = {path: p.shape[0] for path, p in net.named_parameters()}
    out = {}
    for path, ratio in ratios.items():
        channels = shapes[path]
        kept = max(align, math.ceil((1 - ratio) * channels / align - 1e-9) * align)  # round kept channels up
        if kept < channels:
            out[path] = round((channels - kept) / channels, 6)
    return out


def plan_for_flops(net, report: dict, flops_reduction: float, align: int = 8) -> dict:
    """Per-layer ratios reaching ``flops_reduction`` (e.g. 0.3 = 30% fewer FLOPs) with the least metric loss."""
    role, criterion, table = report["role"], report["criterion"], report["loss_points"]
    if not 0 < flops_reduction < 1:
        raise EdgeOCRError(f"the FLOPs reduction must lie in (0, 1), not {flops_reduction}")
    base = model_cost(net, role)["flops"]
    thresholds = sorted({v for losses in table.values() for v in losses.values()} | {0.0})
    found = None
    low, high = 0, len(thresholds) - 1
    while low <= high:  # the pruned FLOPs grow with the loss threshold: bisect for the smallest that suffices
        middle = (low + high) // 2
        ratios = _aligned(net, _ratios_at(table, thresholds[middle]), align)
        reduction = 1 - _flops_with(net, role, criterion, ratios) / base if ratios else 0.0
        if reduction >= flops_reduction:
            found, high = (thresholds[middle], ratios, reduction), middle - 1
        else:
            low = middle + 1
    if found is None:
        ratios = _aligned(net, _ratios_at(table, thresholds[-1]), align)
        reduction = 1 - _flops_with(net, role, criterion, ratios) / base
        raise EdgeOCRError(f"{role}: pruning every layer as far as the sensitivity table goes removes "
                           f"{reduction:.1%} of the FLOPs, short of {flops_reduction:.0%}")
    threshold, ratios, reduction = found
    return {"role": role, "criterion": criterion, "align": align, "target_flops_reduction": flops_reduction,
            "flops_reduction": round(reduction, 4), "loss_threshold_points": threshold, "ratios": ratios}


def plan_from_ratios(net, role: str, ratios: dict[str, float], criterion: str = "fpgm", align: int = 8) -> dict:
    """A plan from per-layer ratios chosen by hand (kept channels rounded up to ``align`` as the planner does)."""
    layers = prunable_layers(net, role, make_pruner(net, role, criterion))
    for path, ratio in ratios.items():
        if path not in layers:
            raise EdgeOCRError(f"{path} cannot be pruned in {role}; prunable: {', '.join(layers)}")
        if not 0 < ratio < 1:
            raise EdgeOCRError(f"{path}: a pruning ratio lies in (0, 1), not {ratio}")
    aligned = _aligned(net, ratios, align)
    base = model_cost(net, role)["flops"]
    reduction = 1 - _flops_with(net, role, criterion, aligned) / base if aligned else 0.0
    return {"role": role, "criterion": criterion, "align": align, "flops_reduction": round(reduction, 4),
            "ratios": aligned, "chosen_by": "hand"}


def _flops_with(net, role: str, criterion: str, ratios: dict[str, float]) -> int:
    pruner = make_pruner(net, role, criterion)
    plan = prune_layers(net, role, pruner, ratios)
    try:
        return model_cost(net, role)["flops"]
    finally:
        plan.restore(net)


def dev_metric(role: str, train_labels: str, dev: int, init_models: str) -> Callable[[object], float]:
    """``evaluate(net)`` on the last ``dev`` samples of a train label file (before any tail an evaluation domain
    owns): det Hmean or rec word accuracy."""
    from ..train.loop import split_parts

    _, dev_part = split_parts(train_labels, train_labels, None, dev)
    if role == "det":
        from ..train.det import DetData, evaluate_det

        data = DetData(train_labels, dev_part)
        return lambda net: evaluate_det(net, data)["hmean"]
    from edge_ocr.models import resolve_models
    from edge_ocr.rec import load_charset

    from ..train.rec import RecData, evaluate

    charset = load_charset(resolve_models(init_models).dictionary)
    data = RecData(train_labels, charset, 320, dev_part)
    return lambda net: evaluate(net, data, charset)["accuracy"]


def prune_model(role: str, init_models: str, train_labels: str, out_dir: str, flops_reduction: float,
                criterion: str = "fpgm", dev: int = 16, align: int = 8, sensitivity_report: str | None = None,
                layers: list[str] | None = None, progress: bool = True, ratios: dict[str, float] | None = None) -> dict:
    """Sensitivity (or a saved one) -> plan -> pruned network; writes ``out_dir``/sensitivity.json, plan.json
    (with FLOPs and parameters before and after) and model/ (the pruned FP32 inference model, not yet recovered).
    With ``ratios`` (layer -> ratio) the plan is those, and no sensitivity analysis runs."""
    from edge_ocr.atomic import write_text

    from ..nets.export import save_inference_model
    from ..nets.registry import NETS, load_official

    net = load_official(role, init_models)
    os.makedirs(out_dir, exist_ok=True)
    evaluate = dev_metric(role, train_labels, dev, init_models)
    before = model_cost(net, role)
    if ratios:
        plan = plan_from_ratios(net, role, ratios, criterion, align)
        baseline = evaluate(net)
    elif sensitivity_report:
        with open(sensitivity_report) as handle:
            report = json.load(handle)
        if report.get("role") != role or report.get("criterion") != criterion:
            raise EdgeOCRError(f"{sensitivity_report} is a {report.get('criterion')} report for "
                               f"{report.get('role')}, not {criterion} for {role}")
    else:
        report = sensitivity(net, role, evaluate, criterion, layers=layers, progress=progress)
        report.update(dev_samples=dev, dev_from=f"last {dev} samples of {train_labels}")
    if not ratios:
        write_text(os.path.join(out_dir, "sensitivity.json"), json.dumps(report, indent=1))
        plan, baseline = plan_for_flops(net, report, flops_reduction, align), report["baseline"]
    apply_plan(net, plan)
    after = model_cost(net, role)
    plan.update(before=before, after=after, dev_metric_before=baseline, dev_metric_after=evaluate(net),
                flops_counted_by="paddle.flops (conv, linear, BN, activations it knows; not the LSTM)")
    write_text(os.path.join(out_dir, "plan.json"), json.dumps(plan, indent=1))
    save_inference_model(net, os.path.join(out_dir, "model"), list(NETS[role].input_shape))
    log.info("%s pruned: FLOPs %.3f G -> %.3f G (-%.1f%%), params %d -> %d", role, before["flops"] / 1e9,
             after["flops"] / 1e9, 100 * plan["flops_reduction"], before["params"], after["params"])
    return plan
