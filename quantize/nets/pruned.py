"""Filter pruning applied to the PP-OCRv2 networks: which layers may lose filters, PaddleSlim's dygraph pruners
(FPGM or L1-norm), pruning plans, and ``build_network``, how a network (pruned or not, fine-tuned or not) is built.

Which filters may go (``PRUNABLE``): the detector's backbone, the neck's 1×1 input projections (one group: their
outputs are added together) and the head's first 3×3 conv; the recognizer's backbone. Never the LSTM, the CTC head
or the detector head's transposed convs. PaddleSlim traces each network to find the tensors that must shrink with
a pruned filter (the depthwise conv and BN after it, every member of a residual chain, the next layer's inputs).

A plan is plain JSON (role, criterion, ratios by parameter path; ``quantize.compress.prune`` makes them), so a
pruned network is rebuilt from the official weights and the plan, then given its fine-tuned weights.
"""

from __future__ import annotations

import json
import logging
import os

from edge_ocr.errors import EdgeOCRError

PRUNABLE = {
    "det": ("backbone.", "neck.in", "head.binarize.conv."),
    "rec": ("backbone.",),
}
TRACE_SHAPES = {"det": [1, 3, 64, 64], "rec": [1, 3, 32, 64]}  # small: PaddleSlim traces with a constant input
CRITERIA = ("fpgm", "l1")


def make_pruner(net, role: str, criterion: str = "fpgm"):
    from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner

    if criterion not in CRITERIA:
        raise EdgeOCRError(f"unknown pruning criterion {criterion!r} (choose from {', '.join(CRITERIA)})")
    if role not in PRUNABLE:
        raise EdgeOCRError(f"no pruning for {role!r} (det or rec)")
    net.eval()
    pruner_cls = FPGMFilterPruner if criterion == "fpgm" else L1NormFilterPruner
    _quiet_paddleslim()
    return pruner_cls(net, TRACE_SHAPES[role])


def _quiet_paddleslim() -> None:
    """PaddleSlim gives each module's logger its own level and logs every traced tensor; keep that out of ours."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("paddleslim") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.ERROR)


def prunable_layers(net, role: str, pruner) -> dict[str, str]:
    """Parameter path (``backbone.blocks.3.expand.conv.weight``) -> PaddleSlim's tensor name, for the groups that
    PaddleSlim can prune (a group is named by its first conv) and that ``PRUNABLE`` allows."""
    by_name = {p.name: path for path, p in net.named_parameters()}
    layers = {}
    for collection in pruner.collections:
        path = by_name.get(collection.master_name)
        if path and path.startswith(PRUNABLE[role]) and collection.master_axis == 0:
            layers[path] = collection.master_name
    return layers


def prune_layers(net, role: str, pruner, ratios: dict[str, float]):
    layers = prunable_layers(net, role, pruner)
    unknown = [path for path in ratios if path not in layers]
    if unknown:
        raise EdgeOCRError(f"plan names layers that cannot be pruned in {role}: {', '.join(unknown)}")
    return pruner.prune_vars({layers[path]: ratio for path, ratio in ratios.items()}, 0)


def apply_plan(net, plan: dict):
    """Prune ``net`` (holding the weights the filters are ranked by) in place to ``plan``; returns ``net``."""
    pruner = make_pruner(net, plan["role"], plan["criterion"])
    prune_layers(net, plan["role"], pruner, plan["ratios"])
    return net


def load_plan(path: str) -> dict:
    try:
        with open(path) as handle:
            plan = json.load(handle)
    except (OSError, ValueError) as exc:
        raise EdgeOCRError(f"cannot read pruning plan {path}: {exc}") from None
    if not isinstance(plan, dict) or not {"role", "criterion", "ratios"} <= set(plan):
        raise EdgeOCRError(f"{path} is not a pruning plan (role, criterion, ratios)")
    return plan


def build_network(role: str, init_models: str, plan: dict | None = None, weights: str | None = None):
    """The official network of ``role``, pruned to ``plan`` when given, then holding ``weights`` (.pdparams) if
    given: how a pruned and fine-tuned network is rebuilt for further training (QAT after recovery)."""
    import paddle

    from .registry import load_official

    net = load_official(role, init_models)
    if plan is not None:
        if plan["role"] != role:
            raise EdgeOCRError(f"the pruning plan is for {plan['role']}, not {role}")
        apply_plan(net, plan)
    if weights is not None:
        if not os.path.isfile(weights):
            raise EdgeOCRError(f"weights file {weights} does not exist")
        # PaddleSlim's pruner keeps "<param>_backup" copies named by Paddle's global parameter counter, which differs
        # from process to process: they are not weights of the network
        state = {k: v for k, v in paddle.load(weights).items() if not k.endswith("_backup")}
        misfits = [k for k, v in net.state_dict().items() if not k.endswith("_backup")
                   and (k not in state or list(state[k].shape) != v.shape)]
        if misfits:
            raise EdgeOCRError(f"{weights} does not fit this network (pruned to another plan?): "
                               f"{', '.join(misfits[:3])}")
        net.set_state_dict(state)
    return net
