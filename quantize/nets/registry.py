"""The three PP-OCRv2 networks, how to build them, their official folders and their export input shapes."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from edge_ocr.models import resolve_models


@dataclass(frozen=True)
class NetSpec:
    role: str
    module: str
    cls: str
    input_shape: tuple  # for paddle.jit.save; None = dynamic
    train_only: tuple[str, ...] = ()

    def build(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.cls)()


NETS = {
    "det": NetSpec("det", "edge_ocr.host.quantize.nets.det_mobilenetv3_db", "DBDetector", (None, 3, None, None),
                   ("head.thresh.",)),
    "cls": NetSpec("cls", "edge_ocr.host.quantize.nets.cls_mobilenetv3", "ClsMobileNetV3", (None, 3, 48, 192)),
    "rec": NetSpec("rec", "edge_ocr.host.quantize.nets.rec_lcnet_crnn", "RecCRNN", (None, 3, 32, None)),
}


def load_official(role: str, models_dir: str):
    """A network of ``role`` holding the official weights from ``models_dir`` (any layout resolve_models takes)."""
    from .weights import import_weights

    spec = NETS[role]
    net = spec.build()
    import_weights(net, getattr(resolve_models(models_dir), role), skip=spec.train_only)
    return net


def export_models(init_dir: str, out_dir: str) -> str:
    """Import the official weights into the dygraph networks and save them again, in the layout of ``init_dir``."""
    from .export import save_inference_model

    paths = resolve_models(init_dir)
    os.makedirs(out_dir, exist_ok=True)
    for role, spec in NETS.items():
        source = getattr(paths, role)
        net = load_official(role, init_dir)
        save_inference_model(net, os.path.join(out_dir, os.path.basename(source.rstrip("/"))), list(spec.input_shape))
    shutil.copyfile(paths.dictionary, os.path.join(out_dir, os.path.basename(paths.dictionary)))
    return out_dir
