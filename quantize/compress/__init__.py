"""The compression room: calibration data, post-training quantization (``ptq``), per-layer quantization sensitivity,
pruning plans to a FLOPs target (``prune``), program analysis (``program``: the layers PTQ quantizes) and the
``compress`` recipes (``ptq``, ``qat``, ``prune-qat``: models in, quantized models, a bundle and a report out), with
the commands that drive them. It stands on ``quantize.nets`` and ``quantize.train``, neither of which imports it."""
