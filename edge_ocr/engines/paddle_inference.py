"""Paddle Inference engine: ``inference.pdmodel`` + ``inference.pdiparams``, MKLDNN on CPU.

The predictor is configured exactly as PaddleOCR 2.8.1 configures it (same passes removed), so that outputs
are comparable bit for bit; ``paddle`` is imported only when an engine is created.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .base import inference_files


class PaddleInferenceEngine:
    name = "paddle"

    def __init__(self, model_dir: str, threads: int = 2, mkldnn: bool = True, mkldnn_cache: int = 10) -> None:
        model_file, params_file = inference_files(model_dir)
        try:
            from paddle import inference
        except ImportError as exc:  # the runtime may be installed with the Lite engine only
            raise ModelError("the Paddle Inference engine needs paddlepaddle (pip install 'edge-ocr[host]')") from exc
        self.model_path = model_dir
        self.threads = threads
        with open(model_file, "rb") as handle:
            # Quantized (fake-quant) programs: MKLDNN's passes strip the quant ops and run FP32, so run them
            # natively, which simulates the int8 rounding the way Paddle Lite's int8 kernels apply it.
            self.simulates_quantization = any(tag in handle.read() for tag in (b"fake_quantize", b"quantize_linear"))
        mkldnn = mkldnn and not self.simulates_quantization
        config = inference.Config(model_file, params_file)
        config.disable_gpu()
        if mkldnn:
            config.set_mkldnn_cache_capacity(mkldnn_cache)
            config.enable_mkldnn()
        config.set_cpu_math_library_num_threads(threads)
        config.enable_memory_optim()
        config.disable_glog_info()
        config.delete_pass("conv_transpose_eltwiseadd_bn_fuse_pass")
        config.delete_pass("matmul_transpose_reshape_fuse_pass")
        config.switch_use_feed_fetch_ops(False)
        config.switch_ir_optim(True)
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as exc:  # paddle raises its own exception types with multi-line text
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load {model_dir}: {first}") from exc
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._input.reshape(list(batch.shape))
        self._input.copy_from_cpu(np.ascontiguousarray(batch, dtype=np.float32))
        self._predictor.run()
        return self._output.copy_to_cpu()
